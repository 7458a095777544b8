"""Session-wide hooks: the adversarial suite's figures (tests/reliability.py)."""

from __future__ import annotations

import pytest

from tests.reliability import write_report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = write_report()
    if path is not None:
        print(f"\nreliability figures written to {path}")
