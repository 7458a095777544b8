"""Who may call what, over every route of the real service.

The expectation table below is written from the roles' documented duties, independently of
``web.access.ROUTE_ACCESS``: a change of the access rules that disagrees with it fails here.
Each caller — nobody, a user of each role, and an API key of ENT-A — calls every route once
(one test per caller, listing every mismatch). Allowed callers must never get 401/403 (a
400/404/409 of a harmless body is fine); refused ones get 401 when anonymous (pages: a 302 to
/login) and 403 when logged in. Calls with side effects use ids that do not exist, or a
fresh login of their own (logout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from ioc.accounts import Role
from tests.integration.conftest import TEST_PASSWORD, TEST_USERS, RunningService
from web.access import ACCOUNTS

ANONYMOUS, API_KEY = "anonymous", "api_key"
VIEWER, OPERATOR, OFFICER, ADMIN, ENTERPRISE = (
    "viewer",
    "operator",
    "officer",
    "admin",
    "enterprise",
)
CALLERS = (ANONYMOUS, VIEWER, OPERATOR, OFFICER, ADMIN, ENTERPRISE, API_KEY)

EVERYONE = frozenset(CALLERS)
USERS = frozenset({VIEWER, OPERATOR, OFFICER, ADMIN, ENTERPRISE})  # any login, no API key
STAFF = frozenset({VIEWER, OPERATOR, OFFICER, ADMIN})  # the centre's people: read it all
STAFF_AND_ENTERPRISE = STAFF | {ENTERPRISE}  # enterprises: their own stations' data
OPERATORS = frozenset({OPERATOR, OFFICER, ADMIN})  # handle alerts
OFFICERS = frozenset({OFFICER, ADMIN})  # rules, silences, backtests, history
ADMINS = frozenset({ADMIN})  # accounts, registry, audit
SENDERS = frozenset({ENTERPRISE, ADMIN, API_KEY})  # send data
PORTAL = frozenset({ENTERPRISE, ADMIN})

OWN_STATION = "STK-1"  # ENT-A's station in tests/factories.py
NO_SUCH = "no-such-item"


@dataclass(frozen=True)
class Row:
    allowed: frozenset[str]
    url: str  # the route with its parameters filled in
    body: Any = None  # JSON body; None sends none
    fresh_login: bool = False  # the call ends the login it uses: give it one of its own


def _config_rows() -> dict[tuple[str, str], Row]:
    rows: dict[tuple[str, str], Row] = {}
    existing = {
        "rules": ("pm25_instant", OFFICERS),
        "stations": ("AIR-1", ADMINS),
        "enterprises": ("ENT-A", ADMINS),
        "parameter-sets": ("air", ADMINS),
        # the transport registry (none in the test service: 404 for the one item)
        "companies": (NO_SUCH, ADMINS),  # portal accounts' companies, like enterprises
        "vehicles": ("49C12345", OFFICERS),  # the transport officer's daily registry work
        "drivers": (NO_SUCH, OFFICERS),
        "zones": (NO_SUCH, OFFICERS),
        "speed-limits": ("urban", OFFICERS),
        "detector-rules": (NO_SUCH, OFFICERS),  # built-in rules' overrides: none stored
    }
    for kind, (key, writers) in existing.items():
        base = f"/api/v1/config/{kind}"
        rows[("GET", base)] = Row(OFFICERS, base)
        rows[("GET", base + "/{key}")] = Row(OFFICERS, f"{base}/{key}")
        rows[("PUT", base + "/{key}")] = Row(writers, f"{base}/{key}", {})  # 400: no item
        rows[("DELETE", base + "/{key}")] = Row(writers, f"{base}/{NO_SUCH}")  # 400: no item
    return rows


#: (method, route path) → who may call it, and how to call it harmlessly.
EXPECTED: dict[tuple[str, str], Row] = {
    # pages
    ("GET", "/"): Row(EVERYONE, "/"),
    ("GET", "/login"): Row(EVERYONE, "/login"),
    ("GET", "/static"): Row(EVERYONE, "/static/wall.css"),
    ("GET", "/api/docs"): Row(EVERYONE, "/api/docs"),
    ("GET", "/vendor/swagger-ui"): Row(EVERYONE, "/vendor/swagger-ui/swagger-ui.css"),
    ("GET", "/wall"): Row(STAFF, "/wall"),
    ("GET", "/console"): Row(OFFICERS, "/console"),
    ("GET", "/portal"): Row(PORTAL, "/portal"),
    ("GET", "/ws"): Row(STAFF, "/ws"),
    # public API
    ("GET", "/api/v1/health"): Row(EVERYONE, "/api/v1/health"),
    ("GET", "/api/v1/openapi.json"): Row(EVERYONE, "/api/v1/openapi.json"),
    ("POST", "/api/v1/auth/login"): Row(EVERYONE, "/api/v1/auth/login", {}),
    ("POST", "/api/v1/auth/token"): Row(EVERYONE, "/api/v1/auth/token", {}),
    # one's own login
    ("POST", "/api/v1/auth/logout"): Row(USERS, "/api/v1/auth/logout", {}, fresh_login=True),
    ("GET", "/api/v1/auth/me"): Row(USERS, "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/password"): Row(USERS, "/api/v1/auth/password", {}),
    # stations and their data
    ("GET", "/api/v1/stations"): Row(STAFF_AND_ENTERPRISE, "/api/v1/stations"),
    ("GET", "/api/v1/readings"): Row(
        STAFF_AND_ENTERPRISE, f"/api/v1/readings?station={OWN_STATION}"
    ),
    ("GET", "/api/v1/rejected"): Row(STAFF_AND_ENTERPRISE, "/api/v1/rejected"),
    # alerts
    ("GET", "/api/v1/alerts"): Row(STAFF, "/api/v1/alerts"),
    ("GET", "/api/v1/alerts/{id}"): Row(STAFF, f"/api/v1/alerts/{NO_SUCH}"),
    ("POST", "/api/v1/alerts/{id}/{action}"): Row(OPERATORS, f"/api/v1/alerts/{NO_SUCH}/ack", {}),
    ("POST", "/api/v1/alerts/{id}/comment"): Row(
        OPERATORS, f"/api/v1/alerts/{NO_SUCH}/comment", {"text": "checking"}
    ),
    ("GET", "/api/v1/incidents"): Row(STAFF, "/api/v1/incidents"),
    ("GET", "/api/v1/incidents/{id}"): Row(STAFF, f"/api/v1/incidents/{NO_SUCH}"),
    ("GET", "/api/v1/silences"): Row(STAFF, "/api/v1/silences"),
    ("POST", "/api/v1/silences"): Row(OFFICERS, "/api/v1/silences", {}),
    ("DELETE", "/api/v1/silences/{id}"): Row(OFFICERS, f"/api/v1/silences/{NO_SUCH}"),
    # analytics and cameras
    ("POST", "/api/v1/rules/backtest"): Row(OFFICERS, "/api/v1/rules/backtest", {}),
    ("POST", "/api/v1/detector-rules/{id}/backtest"): Row(
        OFFICERS, "/api/v1/detector-rules/anomaly.spike/backtest", {}
    ),
    ("GET", "/api/v1/detector-rules"): Row(STAFF, "/api/v1/detector-rules"),
    ("GET", "/api/v1/aqi"): Row(STAFF, "/api/v1/aqi"),
    ("GET", "/api/v1/fire-danger"): Row(STAFF, "/api/v1/fire-danger"),
    ("GET", "/api/v1/cameras"): Row(STAFF, "/api/v1/cameras"),
    ("GET", "/api/v1/basemap"): Row(STAFF, "/api/v1/basemap"),
    ("GET", "/api/v1/basemap/outlines"): Row(STAFF, "/api/v1/basemap/outlines"),
    ("GET", "/api/v1/cameras/{id}/snapshots/{name}"): Row(
        STAFF, "/api/v1/cameras/CAM-NONE/snapshots/latest.jpg"
    ),
    # sending data
    ("POST", "/api/v1/ingest"): Row(SENDERS, "/api/v1/ingest", {}),
    ("POST", "/api/v1/ingest/files"): Row(SENDERS, "/api/v1/ingest/files", {}),
    # configuration
    **_config_rows(),
    ("GET", "/api/v1/config/history"): Row(OFFICERS, "/api/v1/config/history"),
    ("POST", "/api/v1/config/history/{id}/rollback"): Row(
        OFFICERS, "/api/v1/config/history/999999/rollback", {}
    ),
    # accounts and the audit log
    ("GET", "/api/v1/users"): Row(ADMINS, "/api/v1/users"),
    ("POST", "/api/v1/users"): Row(ADMINS, "/api/v1/users", {}),
    ("PATCH", "/api/v1/users/{username}"): Row(ADMINS, f"/api/v1/users/{NO_SUCH}", {}),
    ("DELETE", "/api/v1/users/{username}"): Row(ADMINS, f"/api/v1/users/{NO_SUCH}"),
    ("POST", "/api/v1/users/{username}/password"): Row(
        ADMINS, f"/api/v1/users/{NO_SUCH}/password", {}
    ),
    ("GET", "/api/v1/audit"): Row(ADMINS, "/api/v1/audit"),
    # the enterprise portal
    ("GET", "/api/v1/apikeys"): Row(PORTAL, "/api/v1/apikeys"),
    ("POST", "/api/v1/apikeys"): Row(PORTAL, "/api/v1/apikeys", {}),
    ("DELETE", "/api/v1/apikeys/{id}"): Row(PORTAL, "/api/v1/apikeys/999999"),
    ("GET", "/api/v1/portal/stations"): Row(PORTAL, "/api/v1/portal/stations"),
    # vehicles: the wall's people read them all, a transport company's user its own (ENT-A
    # has none: empty answers, 404s); trackers send without a login (device secret)
    ("GET", "/api/v1/vehicles"): Row(STAFF_AND_ENTERPRISE, "/api/v1/vehicles"),
    ("GET", "/api/v1/vehicles/{id}/track"): Row(
        STAFF_AND_ENTERPRISE, f"/api/v1/vehicles/{NO_SUCH}/track"
    ),
    ("GET", "/api/v1/vehicles/{id}/trips"): Row(
        STAFF_AND_ENTERPRISE, f"/api/v1/vehicles/{NO_SUCH}/trips"
    ),
    ("GET", "/api/v1/violations"): Row(STAFF_AND_ENTERPRISE, "/api/v1/violations"),
    ("GET", "/api/v1/companies/{id}/summary"): Row(
        STAFF_AND_ENTERPRISE, "/api/v1/companies/ENT-A/summary"
    ),
    ("GET", "/api/v1/fleet/map"): Row(STAFF, "/api/v1/fleet/map"),
    ("GET", "/api/v1/vehicles/{id}/images"): Row(STAFF, f"/api/v1/vehicles/{NO_SUCH}/images"),
    ("GET", "/api/v1/vehicles/{id}/images/{name}"): Row(
        STAFF, f"/api/v1/vehicles/{NO_SUCH}/images/1.jpg"
    ),
    ("POST", "/api/v1/journeys/backtest"): Row(OFFICERS, "/api/v1/journeys/backtest", {}),
    ("GET", "/api/v1/osmand"): Row(EVERYONE, "/api/v1/osmand"),
    ("POST", "/api/v1/osmand"): Row(EVERYONE, "/api/v1/osmand", {}),
    ("GET", "/api/v1/portal/alerts"): Row(PORTAL, "/api/v1/portal/alerts"),
    ("GET", "/api/v1/portal/reports/monthly"): Row(PORTAL, "/api/v1/portal/reports/monthly"),
    ("GET", "/portal/report"): Row(PORTAL, "/portal/report"),
    # the regulator's monthly reports: officers, not every wall viewer
    ("GET", "/api/v1/reports/monthly"): Row(OFFICERS, "/api/v1/reports/monthly"),
    ("GET", "/reports/monthly"): Row(OFFICERS, "/reports/monthly"),
    ("GET", "/api/v1/reports/daily"): Row(OFFICERS, "/api/v1/reports/daily"),
    ("GET", "/reports/daily"): Row(OFFICERS, "/reports/daily"),
    # the station page: the wall's people; its data like the readings (own stations)
    ("GET", "/stations/{id}"): Row(STAFF, f"/stations/{OWN_STATION}"),
    ("GET", "/api/v1/stations/{id}/history"): Row(
        STAFF_AND_ENTERPRISE, f"/api/v1/stations/{OWN_STATION}/history"
    ),
    ("GET", "/api/v1/stations/{id}/export"): Row(
        STAFF_AND_ENTERPRISE, f"/api/v1/stations/{OWN_STATION}/export"
    ),
}


def is_page(path: str) -> bool:
    return not path.startswith("/api/") and path != "/ws"


def app_routes(service: RunningService) -> set[tuple[str, str]]:
    routes = set()
    for route in service.app.router.routes():
        if route.method != "HEAD":
            assert route.resource is not None
            routes.add((route.method, route.resource.canonical))
    return routes


async def headers_for(
    service: RunningService, api_keys: dict[str, str], caller: str, fresh: bool = False
) -> dict[str, str]:
    if caller == ANONYMOUS:
        return {}
    if caller == API_KEY:
        return {"Authorization": f"Bearer {api_keys['ENT-A']}"}
    role = Role(caller)
    if not fresh:
        return service.auth(role)
    token, _ = await service.app[ACCOUNTS].login(TEST_USERS[role], TEST_PASSWORD, "t", "bearer")
    return {"Authorization": f"Bearer {token}"}


async def send(
    http: aiohttp.ClientSession,
    service: RunningService,
    method: str,
    row: Row,
    headers: dict[str, str],
) -> tuple[int, str]:
    """(status, Location) of one call; the websocket's status is that of its handshake."""
    url = service.url + row.url
    if row.url == "/ws":
        try:
            async with http.ws_connect(url, headers=headers) as ws:
                await ws.close()
                return 101, ""
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status, exc.headers.get("Location", "") if exc.headers else ""
    async with http.request(
        method,
        url,
        headers=headers,
        json=row.body if row.body is not None else None,
        allow_redirects=False,
    ) as response:
        await response.read()
        return response.status, response.headers.get("Location", "")


def mismatch(caller: str, path: str, row: Row, status: int, location: str) -> str | None:
    """What is wrong with this answer, or None."""
    to_login = status == 302 and location.startswith("/login")
    if caller in row.allowed:
        if status in (401, 403) or to_login:
            return f"allowed but refused: {status} {location}".rstrip()
        if status >= 500 and status != 503:
            return f"allowed but the server failed: {status}"
        return None
    if caller == ANONYMOUS and is_page(path):
        return None if to_login else f"expected a 302 to /login, got {status} {location}"
    expected = 401 if caller == ANONYMOUS else 403
    return None if status == expected else f"expected {expected}, got {status}"


@pytest.mark.parametrize("caller", CALLERS)
async def test_every_route_answers_the_caller_as_the_table_says(
    service: RunningService, api_keys: dict[str, str], caller: str
) -> None:
    problems = []
    async with aiohttp.ClientSession() as http:
        for (method, path), row in EXPECTED.items():
            headers = await headers_for(service, api_keys, caller, fresh=row.fresh_login)
            status, location = await send(http, service, method, row, headers)
            wrong = mismatch(caller, path, row, status, location)
            if wrong:
                problems.append(f"{method} {row.url}: {wrong}")
        if caller in USERS:  # nothing in the round ended the caller's own login
            me = Row(USERS, "/api/v1/auth/me")
            status, _ = await send(http, service, "GET", me, service.auth(Role(caller)))
            if status != 200:
                problems.append(f"the {caller}'s login no longer works after the round: {status}")
    assert not problems, f"{caller}: {len(problems)} mismatch(es)\n" + "\n".join(problems)


async def test_the_table_covers_exactly_the_routes_of_the_app(service: RunningService) -> None:
    routes = app_routes(service)
    missing = sorted(routes - EXPECTED.keys())
    extra = sorted(EXPECTED.keys() - routes)
    assert not missing, f"routes without an expectation: {missing}"
    assert not extra, f"expectations for routes the app does not have: {extra}"


async def test_a_bad_credential_is_a_401_and_pages_send_to_the_login(
    service: RunningService,
) -> None:
    problems = []
    headers = {"Authorization": "Bearer not-a-token"}
    async with aiohttp.ClientSession() as http:
        for (method, path), row in EXPECTED.items():
            if row.allowed == EVERYONE:
                continue
            status, location = await send(http, service, method, row, headers)
            if is_page(path):
                if not (status == 302 and location.startswith("/login")):
                    problems.append(f"{method} {row.url}: expected 302 to /login, got {status}")
            elif status != 401:
                problems.append(f"{method} {row.url}: expected 401, got {status}")
    assert not problems, "\n".join(problems)
