"""Property-based fuzzing of the whole REST API from its own OpenAPI document (Schemathesis).

Every operation of ``GET /api/v1/openapi.json`` is called against the real service (real
Mosquitto and InfluxDB): the document's examples, Schemathesis' boundary cases ("coverage")
and random data, valid and invalid, as an admin with a bearer token; the ingest routes once
more as an enterprise user. No answer may be a 5xx, and every answer must be one the document
describes: its status code, content type and schema.

The run is deterministic (Hypothesis derandomized, no example database), so a finding comes
back on every run. All findings are collected and reported together, each with a reproducing
``curl`` and the service's traceback, rather than stopping (and shrinking) at the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import overrides
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ioc.accounts import Role
from ioc.config import IocConfig
from tests.integration.conftest import TEST_PASSWORD, TEST_USERS, RunningService, run_service
from tests.reliability import Outcome, record, scale
from web.access import ACCOUNTS
from web.openapi import OPENAPI_PATH

pytestmark = pytest.mark.adversarial

#: Random cases per operation and generation run, on top of the examples and boundary cases.
MAX_EXAMPLES = scale(60, 200)
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # the same cases on every run: a finding never comes and goes
    database=None,  # ... and no replay of earlier runs' failures from .hypothesis/
    deadline=None,  # the service's answer time is not under test here
    suppress_health_check=list(hypothesis.HealthCheck),  # slow real calls, filtered data
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # no shrinking: we don't fail
)
MODES = [HypothesisTestMode.EXAMPLES, HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

#: No operation is left out. Those that end the caller's own login get a throwaway login
#: instead of the fuzzing token, so they are fuzzed too without logging the fuzzer out; a
#: password change (should a random `current` ever match) ends every login of its user: a
#: viewer's then. The user routes cannot hurt the fuzzing admin: removing oneself is a 409,
#: and random names never hit `test-admin`.
OWN_LOGIN = {
    ("POST", "/api/v1/auth/logout"): Role.ADMIN,
    ("POST", "/api/v1/auth/password"): Role.VIEWER,
}


# --- the service, on a thread of its own ---------------------------------------------------


@dataclass
class ThreadedService:
    """The service on its own event loop in a thread: Schemathesis calls it synchronously
    (requests) from the test's thread."""

    running: RunningService
    loop: asyncio.AbstractEventLoop

    def fresh_login(self, role: Role) -> dict[str, str]:
        """Headers with a new bearer token of the test user of ``role``, straight from the
        account book: the fuzzed login routes lock 127.0.0.1 out now and then."""
        login = self.running.app[ACCOUNTS].login(TEST_USERS[role], TEST_PASSWORD, "fuzz", "bearer")
        token, _ = asyncio.run_coroutine_threadsafe(login, self.loop).result(30)
        return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def service_in_thread(config: IocConfig) -> Iterator[ThreadedService]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fuzzed-service", daemon=True)
    thread.start()
    service = run_service(config)
    try:
        running = asyncio.run_coroutine_threadsafe(service.__aenter__(), loop).result(60)
        try:
            yield ThreadedService(running, loop)
        finally:
            stop = service.__aexit__(None, None, None)
            asyncio.run_coroutine_threadsafe(stop, loop).result(60)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@pytest.fixture
def fuzzed(config: IocConfig) -> Iterator[ThreadedService]:
    with service_in_thread(config) as threaded:
        yield threaded


# --- what the run found --------------------------------------------------------------------


class ServerTracebacks(logging.Handler):
    """The tracebacks the service logs (aiohttp logs every unhandled handler error)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: dict[tuple[str, str, int], str] = {}  # one per error type and place

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if error is None:
            return
        frames = traceback.extract_tb(error.__traceback__)
        ours = [f for f in frames if "site-packages" not in f.filename] or frames
        place = (type(error).__name__, ours[-1].filename, ours[-1].lineno or 0)
        self.seen.setdefault(place, "".join(traceback.format_exception(error)[-7:]))


@dataclass
class Findings:
    statuses: Counter[int] = field(default_factory=Counter)
    #: (operation, check, status) → a reproducing curl and what the check said
    failures: dict[tuple[str, str, int], str] = field(default_factory=dict)

    def report(self, tracebacks: ServerTracebacks) -> str:
        lines = [f"{len(self.failures)} finding(s); answers {sorted(self.statuses.items())}:"]
        for (operation, check, status), detail in sorted(self.failures.items()):
            lines.append(f"- {operation}: {check} ({status})\n    {detail}")
        if tracebacks.seen:
            lines.append("\nServer tracebacks (last frames):")
            lines.extend(tracebacks.seen.values())
        return "\n".join(lines)


def fuzz_operation(
    operation: schemathesis.APIOperation, headers: Callable[[], dict[str, str]], found: Findings
) -> None:
    """Run the examples, boundary cases and random cases of ``operation``; keep findings."""

    def call(case: schemathesis.Case) -> None:
        sent_headers = headers()
        response = case.call(headers=sent_headers, timeout=30)
        found.statuses[response.status_code] += 1
        if is_router_answer(response):
            return
        try:
            case.validate_response(response, checks=CHECKS, headers=sent_headers)
        except FailureGroup as failed:
            curl = case.as_curl_command(headers=dict(response.request.headers))
            for failure in failed.exceptions:
                if response.status_code >= 500 and failure.code == "ST103":
                    continue  # "undocumented status 500": the server error says it already
                said = " ".join(failure.message.split())[:300]
                key = (operation.label, f"{failure.code} {failure.title}", response.status_code)
                found.failures.setdefault(key, f"{curl}\n    {said}")

    # The Hypothesis test Schemathesis' own pytest integration builds for an operation
    # (examples + coverage + fuzzing); its lazy `from_fixture` loader does not run under
    # pytest 9, so the operations are walked here instead.
    config = operation.schema.config
    create_test(
        operation=operation,
        test_func=call,
        config=HypothesisTestConfig(
            project=config,
            modes=MODES,
            settings=SETTINGS,
            explicit_settings=SETTINGS,
            override=overrides.with_config_headers(config, operation=operation),
        ),
    )()


def is_router_answer(response: schemathesis.Response) -> bool:
    """aiohttp's own plain-text 404/405 for a request no route takes (a path parameter outside
    its route's pattern, e.g. POST /alerts/1/AAA, or a method the path does not have): no
    operation of the document answered it, so there is nothing to hold it to."""
    status = response.status_code
    return status in (404, 405) and response.text.startswith(f"{status}: ")


def caller(
    fuzzed: ThreadedService, operation: schemathesis.APIOperation, role: Role
) -> Callable[[], dict[str, str]]:
    """The headers each call of ``operation`` is sent with: ``role``'s login, or a fresh one
    for the operations that end it (OWN_LOGIN)."""
    own = OWN_LOGIN.get((operation.method.upper(), operation.path))
    if own is not None:
        return lambda: fuzzed.fresh_login(own)
    headers = fuzzed.running.auth(role)
    return lambda: headers


def test_every_operation_answers_as_documented_and_never_5xx(fuzzed: ThreadedService) -> None:
    tracebacks = ServerTracebacks()
    logging.getLogger().addHandler(tracebacks)
    found = Findings()
    try:
        schema = schemathesis.openapi.from_url(fuzzed.running.url + OPENAPI_PATH)
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            fuzz_operation(operation, caller(fuzzed, operation, Role.ADMIN), found)
        # Ingest as an enterprise user too: its own stations pass, others are `not_owner`.
        for operation in operations:
            if operation.path.startswith("/api/v1/ingest"):
                fuzz_operation(operation, caller(fuzzed, operation, Role.ENTERPRISE), found)
    finally:
        logging.getLogger().removeHandler(tracebacks)

    sent = sum(found.statuses.values())
    server_errors = sum(n for status, n in found.statuses.items() if status >= 500)
    record(
        Outcome(
            fault="none",
            input="HTTP API fuzz (Schemathesis)",
            sent=sent,
            stored=0,
            refused=sum(n for status, n in found.statuses.items() if 400 <= status < 500),
            lost=0,
            duplicated=0,
            note=f"{len(operations)} operations; {server_errors} answers 5xx",
        )
    )
    assert found.statuses, "nothing was sent"
    if found.failures:
        pytest.fail(found.report(tracebacks), pytrace=False)


# --- regressions of what the fuzzer found --------------------------------------------------

#: Numbers in paths and queries that str.isdigit() takes for digits but int() refuses ("²"),
#: or that SQLite cannot hold: each must be a 4xx, never a 500.
BAD_NUMBERS = [
    ("POST", "/api/v1/config/history/651517850776014532963729408/rollback", 400),
    ("POST", "/api/v1/config/history/%C2%B2/rollback", 400),
    ("GET", "/api/v1/config/history?limit=%C2%B2", 400),
    ("DELETE", "/api/v1/config/rules/pm25_instant?version=%C2%B2", 400),
    ("GET", "/api/v1/portal/stations?days=%C2%B2", 400),
]


async def test_numbers_that_are_no_numbers_are_refused(service: RunningService) -> None:
    answers = []
    async with service.http() as http:
        for method, path, _ in BAD_NUMBERS:
            async with http.request(method, service.url + path) as response:
                answers.append((method, path, response.status))
    assert answers == BAD_NUMBERS
