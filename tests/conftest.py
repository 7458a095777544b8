"""Session-wide hooks.

- Tests never write into the checkout: every test module is checked for files it left in the
  working tree (a relative default such as ``var/ioc.sqlite3`` that a fixture forgot to point
  at its temporary directory), and fails naming them.
- The adversarial suite's figures (tests/reliability.py) are written at the end.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from tests.reliability import write_report

# Property tests keep no example database, and Hypothesis's caches go to the temp dir: both
# would otherwise be written into the checkout (.hypothesis/).
settings.register_profile("ioc", database=None)
settings.load_profile("ioc")
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "ioc-tests-hypothesis")

CHECKOUT = Path(__file__).resolve().parent.parent
#: What running Python and the tools leave by design (all ignored by git).
TOOL_LEFTOVERS = (".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache")


def _left_in_checkout() -> set[str]:
    """Untracked and ignored paths of the working tree, without the tools' own caches."""
    listing = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=normal"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    paths = {line[3:] for line in listing.splitlines() if line[:2] in ("??", "!!")}
    return {
        p
        for p in paths
        if not p.startswith(TOOL_LEFTOVERS) and "__pycache__" not in p and ".egg-info" not in p
    }


_AT_START: set[str] = set()


def pytest_sessionstart(session: pytest.Session) -> None:
    _AT_START.update(_left_in_checkout())


@pytest.fixture(autouse=True, scope="module")
def checkout_stays_clean() -> Iterator[None]:
    before = _left_in_checkout()
    yield
    written = sorted(_left_in_checkout() - before)
    if written:
        pytest.fail(f"tests of this module wrote into the checkout: {', '.join(written)}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    written = sorted(_left_in_checkout() - _AT_START)  # also what collection and plugins wrote
    if written:
        print(f"\nthe test session wrote into the checkout: {', '.join(written)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    path = write_report()
    if path is not None:
        print(f"\nreliability figures written to {path}")
