"""The transport registry edited over the API is in force at once: a vehicle added by an
officer has its MQTT positions accepted (refused ``unknown_vehicle`` before), and a zone's
changed forbidden hours raise an alert on the next drive through it. In the console (Chromium),
an officer adds a vehicle and sees it listed; a bad plate shows its field error."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
import yaml
from playwright.async_api import Browser, expect

from ioc import appkeys
from ioc.accounts import Role
from ioc.config import IocConfig
from tests.integration.conftest import RunningService, eventually
from tests.integration.test_console_browser import open_console, watch_errors
from tests.integration.test_live_config import open_alerts, put

TRUCK = "49C12345"
NEW = "49C55555"
ZONE_CENTRE = (11.94, 108.41)


@pytest.fixture
def config(config: IocConfig, tmp_path: Path) -> IocConfig:
    fleet = {
        "companies": [{"id": "VT-01", "name": "Vận tải Một", "types": ["truck"]}],
        "vehicles": [{"id": TRUCK, "type": "truck", "company": "VT-01"}],
        "zones": [
            {
                "id": "Z-1",
                "name": "Trung tâm",
                "shape": "circle",
                "centre": list(ZONE_CENTRE),
                "radius_m": 400,
                "vehicle_types": ["truck"],
            }
        ],
        "speed_limits": {"rural": {"truck": 80}},
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet, allow_unicode=True), encoding="utf-8")
    vehicles = {
        "fleet": str(path),
        "images": {"directory": str(tmp_path / "images")},
        "journeys_database": str(tmp_path / "journeys.sqlite3"),
    }
    return config.model_copy(update={"vehicles": config.vehicles.model_validate(vehicles)})


def drive(start_ms: int, lon: float, east: bool, n: int = 20) -> list[dict[str, Any]]:
    """A fix every 10 s at 40 km/h along 11.94 N, from ``lon`` east or west."""
    step = 40 / 3.6 * 10 / (111_320 * 0.978) * (1 if east else -1)
    return [
        {"ts": start_ms + k * 10_000, "lat": 11.94, "lon": lon + k * step, "speed": 40}
        for k in range(n)
    ]


async def send(service: RunningService, plate: str, fixes: list[dict[str, Any]]) -> None:
    topic = f"{service.config.mqtt.topic_prefix}/vehicles/{plate}/positions"
    async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as client:
        await client.publish(topic, json.dumps(fixes), qos=1)


async def stored(service: RunningService, plate: str) -> int:
    rows = await service.app[appkeys.STORE].query(
        f"SELECT * FROM position WHERE vehicle = '{plate}'"
    )
    return len(rows)


async def test_a_vehicle_added_over_the_api_sends_at_once(service: RunningService) -> None:
    now = int(time.time() * 1000)
    counts = service.app[appkeys.REJECTIONS].by_reason

    async def refused() -> int:
        return counts["unknown_vehicle"]

    await send(service, NEW, drive(now - 300_000, 108.30, east=True, n=3))
    assert await eventually(refused) == 3
    assert await stored(service, NEW) == 0
    assert NEW not in service.app[appkeys.PIPELINE].vehicles.fleet.vehicles

    change = await put(
        service,
        "vehicles/49C55555",
        {"id": "49C-555.55", "type": "truck", "company": "VT-01"},
        Role.OFFICER,
    )
    assert change["kind"] == "vehicle" and change["new"]["id"] == NEW
    await send(service, NEW, drive(now - 200_000, 108.30, east=True, n=3))
    assert await eventually(lambda: stored(service, NEW)) == 3
    async with (
        service.http(Role.VIEWER) as http,
        http.get(f"{service.url}/api/v1/vehicles") as response,
    ):
        vehicles = {v["id"]: v for v in (await response.json())["vehicles"]}
    assert vehicles[NEW]["company"] == "VT-01" and vehicles[NEW]["type"] == "truck"


async def test_a_zone_given_forbidden_hours_raises_an_alert_on_the_next_drive(
    service: RunningService,
) -> None:
    now = int(time.time() * 1000)
    through = drive(now - 500_000, 108.40, east=True)  # through the zone, no ban yet
    await send(service, TRUCK, through)
    assert await eventually(lambda: stored(service, TRUCK)) == len(through)
    assert not [a for a in await open_alerts(service, TRUCK) if "zone" in a["rule_id"]]

    async with (
        service.http(Role.OFFICER) as http,
        http.get(f"{service.url}/api/v1/config/zones/Z-1") as response,
    ):
        zone = await response.json()
    await put(service, "zones/Z-1", zone["item"] | {"forbidden_hours": [[0, 23.99]]}, Role.OFFICER)
    back = drive(now - 250_000, through[-1]["lon"], east=False)  # and back, banned all day
    await send(service, TRUCK, back)

    async def zone_alerts() -> list[dict[str, Any]]:
        return [
            a for a in await open_alerts(service, TRUCK) if a["rule_id"] == "journey.zone_forbidden"
        ]

    [alert] = await eventually(zone_alerts)  # type: ignore[misc]
    assert alert["station_id"] == TRUCK


async def test_an_officer_adds_a_vehicle_in_the_console(
    service: RunningService, browser: Browser
) -> None:
    page = await open_console(browser, service, Role.OFFICER)
    errors = watch_errors(page)
    await page.get_by_test_id("tab-fleet").click()
    rows = page.get_by_test_id("fleet-row")
    await expect(rows).to_have_count(1)  # the file's truck, seeded
    await expect(rows.first).to_have_attribute("data-key", TRUCK)

    await page.get_by_test_id("fleet-new").click()
    plate = page.get_by_test_id("fleet-field-id")
    await plate.fill("49C-ABC")  # not a plate
    error = page.locator("[data-testid='field-error'][data-field='id']")
    await expect(error).to_contain_text("plate")
    await expect(page.get_by_test_id("fleet-save")).to_be_disabled()

    await plate.fill("49C-555.55")
    await expect(error).to_have_count(0)
    await page.get_by_test_id("fleet-save").click()
    await expect(page.get_by_test_id("fleet-status")).to_have_attribute("data-state", "ok")
    new_row = page.locator(f"[data-testid='fleet-row'][data-key='{NEW}']")
    await expect(new_row).to_contain_text("VT-01")
    assert NEW in service.app[appkeys.PIPELINE].vehicles.fleet.vehicles
    await expect(
        page.get_by_test_id("fleet-history").get_by_test_id("history-action")
    ).to_have_count(1)

    await page.get_by_test_id("fleet-kind").select_option("zone")
    await expect(page.locator("[data-testid='fleet-row'][data-key='Z-1']")).to_be_visible()
    await page.get_by_role("button", name="EN").click()
    await expect(page.get_by_test_id("tab-fleet")).to_have_text("Vehicles")
    assert not errors
