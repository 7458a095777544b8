"""The journey journal against the real service: positions published over Mosquitto with a
speeding episode → the kernel → the SQLite journal → the violations (JSON and CSV), the
company's monthly summary and the day's trips; a company's user sees its own company only
(another's is a 403, audited); and the portal's fleet section in a real headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest
import yaml
from playwright.async_api import Browser, expect

from ioc.accounts import Role
from ioc.clock import LOCAL_TZ, iso_utc
from ioc.config import IocConfig
from tests.integration.conftest import (
    ARTIFACTS,
    TEST_PASSWORD,
    RunningService,
    eventually,
    logged_in_context,
)
from web.access import ACCOUNTS, SESSION_COOKIE

PLATE_A, PLATE_B = "49B15613", "49C84829"
FLEET = {
    "companies": [
        {"id": "VT-01", "name": "Công ty CP Vận tải Hành khách Lâm Đồng", "types": ["bus"]},
        {"id": "VT-02", "name": "Công ty TNHH Vận tải Hàng hóa Bảo Lộc", "types": ["truck"]},
    ],
    "vehicles": [
        {"id": "49B-156.13", "type": "bus", "company": "VT-01", "driver": "790123456789"},
        {"id": "49B-145.14", "type": "bus", "company": "VT-01", "driver": "790000000002"},
        {"id": "49C-848.29", "type": "truck", "company": "VT-02", "driver": "790000000003"},
    ],
    "drivers": [
        {"licence": "790123456789", "company": "VT-01", "name": "Nguyễn Văn An"},
        {"licence": "790000000002", "company": "VT-01", "name": "Lê Văn Cường"},
        {"licence": "790000000003", "company": "VT-02", "name": "Trần Thị Bình"},
    ],
}
STEP_MS = 30_000
M_PER_DEG = 111_320.0


def journey(start_ms: int, fast_kmh: float) -> list[dict[str, Any]]:
    """Fixes every 30 s driving north: 5 min at 60 km/h, 2 min at ``fast_kmh`` (limit 80),
    2 min at 60, then 7 min parked (a stop: the trip ends)."""
    speeds = [60.0] * 10 + [fast_kmh] * 4 + [60.0] * 4 + [0.0] * 14
    fixes, lat = [], 11.90
    for n, speed in enumerate(speeds):
        if n:
            lat += speed / 3.6 * (STEP_MS / 1000) / M_PER_DEG
        fixes.append(
            {"ts": start_ms + n * STEP_MS, "lat": round(lat, 6), "lon": 108.4, "speed": speed}
        )
    return fixes


@pytest.fixture
def config(config: IocConfig, tmp_path: Path) -> IocConfig:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(FLEET, allow_unicode=True), encoding="utf-8")
    vehicles = config.vehicles.model_copy(
        update={"fleet": fleet, "journeys_database": str(tmp_path / "journeys.sqlite3")}
    )
    return config.model_copy(update={"vehicles": vehicles})


async def company_user(service: RunningService, name: str, company: str) -> dict[str, str]:
    """Headers of a new enterprise user of a transport company, made through the API."""
    async with service.http(Role.ADMIN) as http:
        body = {
            "username": name,
            "role": "enterprise",
            "password": TEST_PASSWORD,
            "enterprise": company,
        }
        async with http.post(f"{service.url}/api/v1/users", json=body) as response:
            assert response.status == 201, await response.text()
    token, _ = await service.app[ACCOUNTS].login(name, TEST_PASSWORD, "test", "bearer")
    return {"Authorization": f"Bearer {token}"}


async def publish_journeys(service: RunningService, start_ms: int) -> None:
    prefix = service.config.mqtt.topic_prefix
    async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as client:
        for plate, fast in ((PLATE_A, 110.0), (PLATE_B, 95.0)):
            body = json.dumps(journey(start_ms, fast)).encode()
            await client.publish(f"{prefix}/vehicles/{plate}/positions", body, qos=1)


async def get(service: RunningService, path: str, headers: dict[str, str]) -> tuple[int, Any, str]:
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.get(f"{service.url}{path}") as response,
    ):
        text = await response.text()
        kind = response.content_type
        return response.status, json.loads(text) if kind == "application/json" else text, kind


@pytest.fixture
def start_ms() -> int:
    """20 minutes ago, on a 30 s boundary: the journey is over by now."""
    return (int(time.time() * 1000) - 20 * 60_000) // STEP_MS * STEP_MS


async def test_a_speeding_episode_reaches_violations_summary_trips_and_stays_in_its_company(
    service: RunningService, start_ms: int
) -> None:
    company_a = await company_user(service, "vt-01", "VT-01")
    company_b = await company_user(service, "vt-02", "VT-02")
    await publish_journeys(service, start_ms)
    admin = service.auth(Role.ADMIN)

    async def both_found() -> Any:
        _, body, _ = await get(service, "/api/v1/violations?kind=speeding", admin)
        return body["violations"] if body["count"] == 2 else None

    found = await eventually(both_found, within_s=15)
    assert isinstance(found, list)
    by_plate = {v["vehicle"]: v for v in found}
    fast = by_plate[PLATE_A]
    assert (fast["company"], fast["driver"], fast["band"], fast["level"]) == (
        "VT-01",
        "790123456789",
        "20-35",  # 110 km/h where 80 is the limit: 30 over
        "violation",
    )
    assert (fast["peak_kmh"], fast["limit_kmh"], fast["excess_kmh"]) == (110.0, 80.0, 30.0)
    assert fast["start"] == iso_utc(start_ms + 10 * STEP_MS)  # the first fix over
    assert by_plate[PLATE_B]["band"] == "10-20"

    # The company's user sees its own only; another company's is a 403.
    status, mine, _ = await get(service, "/api/v1/violations", company_a)
    assert status == 200 and {v["vehicle"] for v in mine["violations"]} == {PLATE_A}
    for path in (
        "/api/v1/violations?company=VT-02",
        f"/api/v1/violations?vehicle={PLATE_B}",
        "/api/v1/companies/VT-02/summary",
        f"/api/v1/vehicles/{PLATE_B}/trips",
        f"/api/v1/vehicles/{PLATE_B}/track",
    ):
        status, body, _ = await get(service, path, company_a)
        assert status == 403, (path, body)
    status, theirs, _ = await get(service, "/api/v1/violations", company_b)
    assert {v["vehicle"] for v in theirs["violations"]} == {PLATE_B}
    _, audit, _ = await get(service, "/api/v1/audit?action=access&outcome=denied", admin)
    assert sum(e["actor"] == "vt-01" for e in audit["entries"]) == 5

    # The vehicle list is confined too.
    async def listed() -> Any:
        _, body, _ = await get(service, "/api/v1/vehicles", company_a)
        return body if body["vehicles"] else None

    vehicles = await eventually(listed)
    assert isinstance(vehicles, dict)
    assert {v["id"] for v in vehicles["vehicles"]} == {PLATE_A}
    assert vehicles["counts"]["violations_today"] >= 1
    _, everyone, _ = await get(service, "/api/v1/vehicles", admin)
    assert {v["id"] for v in everyone["vehicles"]} == {PLATE_A, PLATE_B}

    # The day's trip (it ended when the stop began) and the month's summary.
    day = datetime.fromtimestamp(start_ms / 1000, LOCAL_TZ).date().isoformat()
    status, trips, _ = await get(service, f"/api/v1/vehicles/{PLATE_A}/trips?date={day}", company_a)
    assert status == 200, trips
    [trip] = trips["trips"]
    expected_km = (10 * 0.5 + 4 * 110 / 120 + 4 * 0.5) - 0.5  # speeds of the fixes ending each step
    assert trip["ended_by"] == "stop" and math.isclose(
        trip["distance_km"], expected_km, rel_tol=0.05
    )
    assert trip["start"].endswith("Z") and trips["timezone"] == "Asia/Ho_Chi_Minh"

    month = day[:7]
    status, summary, _ = await get(
        service, f"/api/v1/companies/VT-01/summary?month={month}", company_a
    )
    assert status == 200, summary
    assert (summary["vehicles"], summary["active_vehicles"], summary["speeding_violations"]) == (
        2,
        1,
        1,
    )
    assert summary["bands"] == {"5-10": 0, "10-20": 0, "20-35": 1, ">35": 0}
    assert math.isclose(summary["distance_km"], trip["distance_km"], abs_tol=0.001)
    rate = 1000 / summary["distance_km"]
    assert math.isclose(summary["per_1000_km"], rate, rel_tol=1e-3) and summary["flagged"]
    [driver] = summary["drivers"]
    assert (driver["driver"], driver["name"], driver["violations"]) == (
        "790123456789",
        "Nguyễn Văn An",
        1,
    )
    status, _, _ = await get(service, "/api/v1/companies/VT-09/summary", admin)
    assert status == 404

    # CSV: local times with the offset stated.
    status, text, kind = await get(service, "/api/v1/violations?format=csv&kind=speeding", admin)
    assert status == 200 and kind == "text/csv"
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r["vehicle"] for r in rows} == {PLATE_A, PLATE_B}
    start_column = "start (Asia/Ho_Chi_Minh, UTC+07:00)"
    row_a = next(r for r in rows if r["vehicle"] == PLATE_A)
    assert row_a["band"] == "20-35" and row_a[start_column].endswith("+07:00")
    local = datetime.fromisoformat(row_a[start_column])
    assert local == datetime.fromisoformat(fast["start"])


async def test_a_station_enterprise_sees_no_vehicles_and_an_unknown_company_is_refused(
    service: RunningService,
) -> None:
    enterprise = service.auth(Role.ENTERPRISE)  # ENT-A: stations, no vehicles
    status, body, _ = await get(service, "/api/v1/vehicles", enterprise)
    assert status == 200 and body["vehicles"] == []
    status, body, _ = await get(service, "/api/v1/violations", enterprise)
    assert status == 200 and body["count"] == 0
    async with service.http(Role.ADMIN) as http:
        body = {
            "username": "nobody",
            "role": "enterprise",
            "password": TEST_PASSWORD,
            "enterprise": "VT-99",
        }
        async with http.post(f"{service.url}/api/v1/users", json=body) as response:
            assert response.status == 400


async def test_the_portal_shows_a_company_its_fleet_in_vietnamese_and_english(
    service: RunningService, browser: Browser, start_ms: int
) -> None:
    headers = await company_user(service, "vt-01", "VT-01")
    await publish_journeys(service, start_ms)

    async def counted() -> Any:
        _, body, _ = await get(service, "/api/v1/violations?kind=speeding", headers)
        return body["count"]

    await eventually(counted, within_s=15)
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    token = headers["Authorization"].removeprefix("Bearer ")
    await context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": service.url}])
    page = await context.new_page()
    await page.goto(f"{service.url}/portal?lang=vi")

    fleet = page.get_by_test_id("portal-fleet")
    await expect(fleet).to_be_visible()
    await expect(page.locator("body")).to_have_attribute("data-fleet", "company")
    await expect(page.locator("#stations")).to_be_hidden()  # no stations: the fleet only
    await expect(fleet.locator("#fleet-title")).to_have_text("Đội xe")
    await expect(page.get_by_test_id("portal-enterprise")).to_contain_text("Vận tải Hành khách")
    await expect(page.get_by_test_id("fleet-vehicles")).to_have_text("2")
    await expect(page.get_by_test_id("fleet-violations")).to_have_text("1")
    await expect(page.get_by_test_id("fleet-flag")).to_have_attribute("data-flagged", "true")
    await expect(page.get_by_test_id("fleet-flag")).to_contain_text("≥ 5")
    vehicle = page.get_by_test_id("fleet-vehicle")
    await expect(vehicle).to_have_count(1)  # its own: not VT-02's truck
    await expect(vehicle).to_have_attribute("data-vehicle", PLATE_A)
    driver = page.get_by_test_id("fleet-driver")
    await expect(driver).to_have_attribute("data-driver", "790123456789")
    await expect(driver).to_contain_text("Nguyễn Văn An")
    violation = page.get_by_test_id("fleet-violation")
    await expect(violation).to_have_count(1)
    await expect(violation).to_contain_text("Quá tốc độ")
    await expect(violation).to_contain_text("20-35")
    csv_link = page.get_by_test_id("fleet-csv")
    await expect(csv_link).to_have_attribute("href", re.compile(r"company=VT-01.*format=csv"))
    await expect(csv_link).to_have_text("Tải CSV")

    await page.get_by_test_id("lang-en").click()
    await expect(fleet.locator("#fleet-title")).to_have_text("Fleet")
    await expect(violation).to_contain_text("Speeding")
    await expect(csv_link).to_have_text("Download CSV")
    await expect(page.get_by_test_id("fleet-flag")).to_contain_text("badge")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "portal-fleet.png"), full_page=True)

    # The CSV the link names, with the page's own login.
    href = await csv_link.get_attribute("href")
    assert href is not None
    status, text, kind = await get(service, href, headers)
    assert status == 200 and kind == "text/csv" and PLATE_A in text and PLATE_B not in text
    # The station sections' routes still answer a company (no stations: empty).
    for path in (
        "/api/v1/portal/stations",
        "/api/v1/portal/alerts",
        "/api/v1/portal/reports/monthly",
    ):
        status, _, _ = await get(service, path, headers)
        assert status == 200, path
    await context.close()


async def test_a_station_enterprise_s_portal_has_no_fleet_section(
    service: RunningService, browser: Browser
) -> None:
    context = await logged_in_context(browser, service, Role.ENTERPRISE, 1400, 1000)
    page = await context.new_page()
    await page.goto(f"{service.url}/portal")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.get_by_test_id("portal-station-table")).to_be_visible()
    await expect(page.locator("body")).to_have_attribute("data-fleet", "none")
    await expect(page.get_by_test_id("portal-fleet")).to_be_hidden()
    await context.close()
