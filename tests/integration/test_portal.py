"""The enterprise portal against the real service: its API (own stations, daily data
completeness counted from InfluxDB, admin view), access refusals in the audit log, API keys
from creation to revocation, and the page in a real headless Chromium (station-file upload
with per-line results, API key shown once)."""

from __future__ import annotations

import copy
import time
from collections import Counter
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import yaml
from playwright.async_api import Browser, FilePayload, Page, expect

from ioc import appkeys
from ioc.accounts import Role
from ioc.clock import LOCAL_TZ
from ioc.config import IocConfig
from ioc.errors import StoreUnavailable
from tests.factories import REGISTRY_DOC
from tests.integration.conftest import (
    ARTIFACTS,
    TEST_USERS,
    RunningService,
    eventually,
    logged_in_context,
)

PORTAL = "/api/v1/portal/stations"
#: Besides the shared test registry (STK-1 of ENT-A, state stations AIR-1 and AIR-2): an
#: ENT-A air station with several parameters every 5 minutes, and a station of ENT-B.
EXTRA_STATIONS: list[dict[str, Any]] = [
    {
        "id": "AIR-A",
        "name": "Air of A",
        "kind": "air",
        "owner": "ENT-A",
        "lat": 11.85,
        "lon": 108.35,
        "parameters": "air",
        "interval_s": 300,
    },
    {
        "id": "STK-B",
        "name": "Stack of B",
        "kind": "stack",
        "owner": "ENT-B",
        "lat": 11.7,
        "lon": 108.2,
        "parameters": "stack",
        "interval_s": 60,
    },
]


@pytest.fixture
def config(config: IocConfig) -> IocConfig:
    """The shared test configuration, with :data:`EXTRA_STATIONS` in its registry."""
    document = copy.deepcopy(REGISTRY_DOC)
    document["stations"] += EXTRA_STATIONS
    config.registry.write_text(yaml.safe_dump(document, allow_unicode=True))
    return config


async def get_json(
    service: RunningService, path: str, role: Role = Role.ENTERPRISE
) -> tuple[int, Any]:
    async with service.http(role) as http, http.get(f"{service.url}{path}") as response:
        return response.status, await response.json()


async def post_readings(service: RunningService, readings: list[dict[str, Any]]) -> Any:
    async with (
        service.http(Role.ENTERPRISE) as http,
        http.post(f"{service.url}/api/v1/ingest", json={"readings": readings}) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


def local_day(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, LOCAL_TZ).date().isoformat()


def by_id(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in answer["stations"]}


async def test_the_portal_lists_only_the_enterprise_s_own_stations(
    service: RunningService,
) -> None:
    answer = await post_readings(
        service, [{"station_id": "STK-1", "ts": time.time() - 5, "values": {"dust": 42.5}}]
    )
    assert answer["accepted"] == 1

    async def latest() -> dict[str, Any] | None:
        status, body = await get_json(service, PORTAL)
        assert status == 200, body
        return body if by_id(body)["STK-1"]["values"] else None

    body: dict[str, Any] = await eventually(latest)  # type: ignore[assignment]
    stations = by_id(body)
    assert set(stations) == {"STK-1", "AIR-A"}
    assert body["enterprise"] == "ENT-A"
    assert body["enterprises"] == [{"id": "ENT-A", "name": "Enterprise A"}]
    assert body["timezone"] == "Asia/Ho_Chi_Minh"
    assert len(body["days"]) == 7 and body["days"][-1] == local_day(time.time())
    stack = stations["STK-1"]
    assert (stack["name"], stack["kind"], stack["owner"]) == ("Stack one", "stack", "ENT-A")
    assert stack["values"] == {"dust": 42.5}
    assert stack["units"] == {"dust": "mg/Nm³"}
    assert stack["last_seen"] is not None and stack["status"] == "ok"
    assert stations["AIR-A"]["values"] == {} and stations["AIR-A"]["last_seen"] is None

    assert (await get_json(service, f"{PORTAL}?days=0"))[0] == 400
    assert (await get_json(service, f"{PORTAL}?days=32"))[0] == 400
    assert (await get_json(service, f"{PORTAL}?days=x"))[0] == 400
    assert len((await get_json(service, f"{PORTAL}?days=31"))[1]["days"]) == 31
    # A viewer of the wall has no portal.
    assert (await get_json(service, PORTAL, Role.VIEWER))[0] == 403


async def test_completeness_counts_the_readings_stored_per_local_day(
    service: RunningService,
) -> None:
    now = time.time()
    midnight = datetime.fromtimestamp(now, LOCAL_TZ).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    yesterday = midnight.timestamp() - 86_400
    air: list[dict[str, Any]] = [
        # Yesterday: five instants. Two carry different single parameters and one has its
        # pm25 refused, so no field is present at every instant (a count() would be short).
        {"ts": yesterday + 3600, "values": {"pm25": 10, "pm10": 20, "no2": 5}},
        {"ts": yesterday + 3900, "values": {"pm25": 11}},
        {"ts": yesterday + 4200, "values": {"pm10": 22}},
        {"ts": yesterday + 4500, "values": {"pm25": -3, "pm10": 23, "no2": 6}},
        {"ts": yesterday + 86_100, "values": {"no2": 7}},
        # Today so far (just before now: the same local day unless run at midnight).
        {"ts": now - 120, "values": {"pm25": 12, "pm10": 24}},
        {"ts": now - 60, "values": {"pm25": 13, "pm10": 25}},
    ]
    stack: list[dict[str, Any]] = [
        {"ts": yesterday + 60 * k, "values": {"dust": 50 + k}} for k in range(1, 4)
    ]
    readings = [{"station_id": "AIR-A", **r} for r in air]
    readings += [{"station_id": "STK-1", **r} for r in stack]
    answer = await post_readings(service, readings)
    assert answer["accepted_readings"] == 10
    assert [r["reason"] for r in answer["rejected"]] == ["out_of_range"]
    # A reading sent twice is refused as a duplicate and is not counted twice.
    again = await post_readings(service, [{"station_id": "STK-1", **stack[0]}])
    assert [r["reason"] for r in again["rejected"]] == ["duplicate"]

    expected_air = Counter(local_day(r["ts"]) for r in air)
    expected_stack = Counter(local_day(r["ts"]) for r in stack)

    async def counted() -> dict[str, dict[str, Any]] | None:
        status, body = await get_json(service, f"{PORTAL}?days=3")
        assert status == 200, body
        stations = by_id(body)
        got_air = {c["day"]: c["received"] for c in stations["AIR-A"]["completeness"]}
        got_stack = {c["day"]: c["received"] for c in stations["STK-1"]["completeness"]}
        done = all(got_air[d] == n for d, n in expected_air.items()) and all(
            got_stack[d] == n for d, n in expected_stack.items()
        )
        return stations if done else None

    stations: dict[str, dict[str, Any]] = await eventually(counted)  # type: ignore[assignment]
    day_before, yesterday_day, today = (c["day"] for c in stations["AIR-A"]["completeness"])
    assert yesterday_day == local_day(yesterday) and today == local_day(now)
    cells = {c["day"]: c for c in stations["AIR-A"]["completeness"]}
    assert cells[day_before] == {
        "day": day_before,
        "received": 0,
        "expected": 288,
        "ratio": 0.0,
        "partial": False,
    }
    assert expected_air[yesterday_day] >= 5  # 7 when run in the first 2 minutes of a day
    assert cells[yesterday_day]["received"] == expected_air[yesterday_day]
    assert cells[yesterday_day]["expected"] == 288  # 86400 s / 300 s
    assert cells[yesterday_day]["ratio"] == round(expected_air[yesterday_day] / 288, 4)
    elapsed = time.time() - midnight.timestamp()
    assert cells[today]["partial"] is True
    assert int(elapsed // 300) - 1 <= cells[today]["expected"] <= int(elapsed // 300)
    stack_cells = {c["day"]: c for c in stations["STK-1"]["completeness"]}
    assert stack_cells[yesterday_day]["received"] == 3
    assert stack_cells[yesterday_day]["expected"] == 1440  # 86400 s / 60 s
    total = stations["STK-1"]["completeness_total"]
    assert total["received"] == 3 and total["expected"] >= 2 * 1440


async def test_another_enterprise_s_station_is_refused_and_audited(
    service: RunningService,
) -> None:
    status, body = await get_json(service, "/api/v1/readings?station=STK-B")
    assert status == 403
    assert "STK-B" in body["error"]
    status, body = await get_json(service, f"{PORTAL}?enterprise=ENT-B")
    assert status == 403

    status, audit = await get_json(
        service, "/api/v1/audit?action=access&outcome=denied", Role.ADMIN
    )
    assert status == 200
    mine = [e for e in audit["entries"] if e["actor"] == TEST_USERS[Role.ENTERPRISE]]
    readings = next(e for e in mine if e["detail"].get("station") == "STK-B")
    assert readings["target"].startswith("GET /api/v1/readings")
    assert "ENT-A" in readings["detail"]["reason"]
    portal = next(e for e in mine if e["detail"].get("enterprise") == "ENT-B")
    assert portal["target"] == f"GET {PORTAL}"
    # The enterprise cannot read the audit log itself.
    assert (await get_json(service, "/api/v1/audit"))[0] == 403


async def test_an_api_key_sends_data_until_it_is_revoked(service: RunningService) -> None:
    url = service.url
    async with service.http(Role.ENTERPRISE) as http:
        async with http.post(f"{url}/api/v1/apikeys", json={"label": "logger 1"}) as response:
            assert response.status == 201
            created = await response.json()
        assert created["key"].startswith("ioc_")
        assert (created["enterprise"], created["label"]) == ("ENT-A", "logger 1")
        async with http.get(f"{url}/api/v1/apikeys") as response:
            listed = (await response.json())["api_keys"]
        # Its own keys only (with the one of the credentials file), never a secret.
        assert created["id"] in [k["id"] for k in listed]
        assert {k["enterprise"] for k in listed} == {"ENT-A"}
        assert all("key" not in k for k in listed)

    key_headers = {"Authorization": f"Bearer {created['key']}"}
    reading = {"station_id": "STK-1", "ts": time.time() - 1, "values": {"dust": 61.0}}
    foreign = {"station_id": "STK-B", "ts": time.time() - 1, "values": {"dust": 62.0}}
    async with aiohttp.ClientSession(headers=key_headers) as with_key:
        async with with_key.post(f"{url}/api/v1/ingest", json=reading) as response:
            assert response.status == 200
            assert (await response.json())["accepted"] == 1
        async with with_key.post(f"{url}/api/v1/ingest", json=foreign) as response:
            refused = await response.json()
        assert [r["reason"] for r in refused["rejected"]] == ["not_owner"]
        # A key only sends data: it does not open the portal.
        async with with_key.get(f"{url}{PORTAL}") as response:
            assert response.status == 403

        async with (
            service.http(Role.ENTERPRISE) as http,
            http.delete(f"{url}/api/v1/apikeys/{created['id']}") as response,
        ):
            assert response.status == 200
            assert (await response.json())["revoked_at"] is not None

        async with with_key.post(f"{url}/api/v1/ingest", json=reading) as response:
            assert response.status == 401


async def test_an_admin_sees_every_enterprise(service: RunningService) -> None:
    status, body = await get_json(service, PORTAL, Role.ADMIN)
    assert status == 200
    assert set(by_id(body)) == {"STK-1", "AIR-A", "STK-B"}  # no state station
    assert body["enterprise"] is None
    assert {e["id"] for e in body["enterprises"]} == {"ENT-A", "ENT-B"}
    assert by_id(body)["STK-B"]["owner_name"] == "B"

    status, body = await get_json(service, f"{PORTAL}?enterprise=ENT-B", Role.ADMIN)
    assert (status, set(by_id(body)), body["enterprise"]) == (200, {"STK-B"}, "ENT-B")
    status, body = await get_json(service, f"{PORTAL}?enterprise=NOPE", Role.ADMIN)
    assert status == 400 and "NOPE" in body["error"]


async def test_a_database_outage_answers_503(
    service: RunningService, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(influxql: str) -> list[dict[str, Any]]:
        raise StoreUnavailable("ClientConnectorError: connection refused")

    monkeypatch.setattr(service.app[appkeys.STORE], "query", unreachable)
    status, body = await get_json(service, PORTAL)
    assert status == 503
    assert body["error"].startswith("database unavailable")
    assert "connection refused" in body["detail"]


# ---------------------------------------------------------------------------- the page


async def open_portal(
    browser: Browser, service: RunningService, query: str = "", role: Role = Role.ENTERPRISE
) -> tuple[Page, list[str]]:
    """The portal, logged in (session cookie) as the test user of ``role``, once loaded."""
    context = await logged_in_context(browser, service, role, 1400, 1000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(f"{service.url}/portal{query}")
    await page.wait_for_selector("body[data-ready='true']", timeout=15_000)
    return page, errors


def local_stamp(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, LOCAL_TZ).strftime("%Y%m%d%H%M%S")


async def test_the_portal_page_uploads_a_station_file_and_shows_each_line(
    service: RunningService, browser: Browser
) -> None:
    page, errors = await open_portal(browser, service)
    assert (
        TEST_USERS[Role.ENTERPRISE]
        in await page.locator("[data-testid='portal-user']").inner_text()
    )
    assert "ENT-A" in await page.locator("[data-testid='portal-enterprise']").inner_text()
    rows = page.locator("[data-testid='station-row']")
    assert {await r.get_attribute("data-station-id") for r in await rows.all()} == {
        "STK-1",
        "AIR-A",
    }
    cells = page.locator("[data-testid='completeness-cell'][data-station-id='STK-1']")
    assert await cells.count() == 7

    stamp = local_stamp(time.time() - 300)
    content = (
        f"PM\t88,5\tmg/Nm3\t{stamp}\t00\n"  # dust (PM on a stack logger): accepted
        f"NO2\t12\tug/m3\t{stamp}\t00\n"  # not a parameter of a stack station
        "oops 1\n"  # too few fields
    )
    upload = FilePayload(name=f"STK-1_{stamp}.txt", mimeType="text/plain", buffer=content.encode())
    await page.locator("[data-testid='upload-input']").set_input_files([upload])
    await page.locator("[data-testid='upload-submit']").click()

    result = page.locator(f"[data-testid='upload-result'][data-file-name='STK-1_{stamp}.txt']")
    await result.wait_for(timeout=10_000)
    assert (
        await result.get_attribute("data-accepted"),
        await result.get_attribute("data-rejected"),
    ) == ("1", "2")
    lines = result.locator("[data-testid='upload-line']")
    assert await lines.count() == 3
    first, second, third = (lines.nth(i) for i in range(3))
    assert await first.get_attribute("data-accepted") == "true"
    assert await second.get_attribute("data-accepted") == "false"
    assert await second.get_attribute("data-reason") == "unknown_parameter"
    assert "no parameter 'no2'" in await second.inner_text()
    assert await third.get_attribute("data-accepted") == "false"
    assert await third.get_attribute("data-reason") == "malformed"

    # The refusals reach the dead-letter store and the page's table of refused data.
    refused = page.locator(
        "[data-testid='rejected-row'][data-station-id='STK-1'][data-reason='unknown_parameter']"
    )
    await refused.first.wait_for(timeout=15_000)
    assert "no2" in await refused.first.inner_text()
    # The accepted value shows up as the station's latest.
    value = page.locator(
        "[data-testid='station-row'][data-station-id='STK-1'] [data-parameter='dust']"
    )
    await value.wait_for(timeout=15_000)
    assert "88,5" in await value.inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "portal-upload.png"), full_page=True)
    assert errors == []


async def test_the_portal_page_shows_a_new_api_key_once_and_revokes_it(
    service: RunningService, browser: Browser
) -> None:
    page, errors = await open_portal(browser, service, "?lang=en")
    assert "Enterprise portal" in await page.locator("header").inner_text()
    await page.locator("[data-testid='api-key-label']").fill("plant logger")
    await page.locator("[data-testid='api-key-create']").click()
    box = page.locator("[data-testid='new-api-key']")
    await box.wait_for(timeout=10_000)
    key = await box.input_value()
    assert key.startswith("ioc_")
    row = page.locator("[data-testid='api-key-row']", has_text="plant logger")
    await row.wait_for(timeout=10_000)
    assert await row.get_attribute("data-revoked") == "false"
    assert await box.is_visible()

    # The key shown is the one that works.
    reading = {"station_id": "STK-1", "ts": time.time() - 1, "values": {"dust": 70.0}}
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as with_key,
        with_key.post(f"{service.url}/api/v1/ingest", json=reading) as response,
    ):
        assert response.status == 200

    await row.locator("[data-testid='api-key-revoke']").click()
    revoked = page.locator("[data-testid='api-key-row'][data-revoked='true']")
    await revoked.wait_for(timeout=10_000)
    assert "plant logger" in await revoked.inner_text()
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as with_key,
        with_key.post(f"{service.url}/api/v1/ingest", json=reading) as response,
    ):
        assert response.status == 401

    page_vi, _ = await open_portal(browser, service)
    assert "Cổng thông tin doanh nghiệp" in await page_vi.locator("header").inner_text()
    assert errors == []


async def test_the_portal_page_sends_a_stranger_to_the_login(
    service: RunningService, browser: Browser
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{service.url}/portal")
    await page.wait_for_url(
        lambda url: (
            urlsplit(url).path == "/login"
            and parse_qs(urlsplit(url).query).get("next") == ["/portal"]
        ),
        timeout=10_000,
    )


async def test_an_admin_chooses_the_enterprise_on_the_portal_page(
    service: RunningService, browser: Browser
) -> None:
    page, errors = await open_portal(browser, service, role=Role.ADMIN)
    rows = page.locator("[data-testid='station-row']")
    assert {await r.get_attribute("data-station-id") for r in await rows.all()} == {
        "STK-1",
        "AIR-A",
        "STK-B",
    }
    await page.locator("[data-testid='enterprise-select']").select_option("ENT-B")
    await expect(rows).to_have_count(1)  # no wait_for_function: the CSP forbids its eval
    assert await rows.first.get_attribute("data-station-id") == "STK-B"
    cells = page.locator("[data-testid='completeness-cell']")
    assert {await c.get_attribute("data-station-id") for c in await cells.all()} == {"STK-B"}
    assert "enterprise=ENT-B" in page.url
    assert errors == []

    await page.locator("[data-testid='logout']").click()
    await page.wait_for_url(lambda url: urlsplit(url).path == "/login", timeout=10_000)
    status, _ = await get_json(service, "/api/v1/auth/me", Role.ADMIN)
    assert status == 401  # that login is over
