"""Vehicles through the real service (Mosquitto, InfluxDB): positions over MQTT and the OsmAnd
protocol are stored, a speeding episode becomes an alert on the wall's feed, bad input is
refused with its reason and recorded, and the day's track comes back as GeoJSON and GPX."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest
import yaml
from PIL import Image
from playwright.async_api import Browser, expect

from ioc import appkeys
from ioc.accounts import Role
from ioc.clock import iso_utc
from ioc.config import IocConfig
from tests.integration.conftest import ARTIFACTS, RunningService, eventually
from tests.integration.test_wall_browser import open_wall
from web.access import SESSION_COOKIE

PLATE = "49C12345"
OTHER = "49B67890"
#: Traccar's own OsmAnd decoder test string (OsmAndProtocolDecoderTest), with our device id.
TRACCAR_QUERY = (
    "/api/v1/osmand?id=TRK-1&timestamp={ts}&lat=11.9404&lon=108.4583"
    "&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24"
)


@pytest.fixture
def config(config: IocConfig, tmp_path: Path) -> IocConfig:
    """The test service with two vehicles; trucks are limited to 60 km/h everywhere."""
    fleet = {
        "companies": [{"id": "VT-01", "name": "Vận tải Một", "types": ["truck", "bus"]}],
        "vehicles": [
            {"id": PLATE, "type": "truck", "company": "VT-01"},
            {"id": OTHER, "type": "bus", "company": "VT-01"},
        ],
        "speed_limits": {"rural": {"truck": 60, "bus": 60}},
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet, allow_unicode=True), encoding="utf-8")
    vehicles = {
        "fleet": str(path),
        "osmand_devices": {"TRK-1": {"vehicle": OTHER}},
        "images": {"directory": str(tmp_path / "vehicle-images")},
        "journeys_database": str(tmp_path / "journeys.sqlite3"),
    }
    return config.model_copy(update={"vehicles": config.vehicles.model_validate(vehicles)})


def positions_topic(service: RunningService, plate: str) -> str:
    return f"{service.config.mqtt.topic_prefix}/vehicles/{plate}/positions"


def track(start_ms: int, speeds: Sequence[float], step_s: int = 10) -> list[dict[str, Any]]:
    """Fixes every ``step_s`` going east along 11.94 N at the given speeds (km/h)."""
    fixes, lon = [], 108.40
    for n, speed in enumerate(speeds):
        fixes.append({"ts": start_ms + n * step_s * 1000, "lat": 11.94, "lon": lon, "speed": speed})
        lon += speed / 3.6 * step_s / (111_320 * 0.978)
    return fixes


async def _count(service: RunningService, plate: str) -> int:
    rows = await service.app[appkeys.STORE].query(
        f"SELECT count(lat) FROM position WHERE vehicle = '{plate}'"
    )
    return int(rows[0]["count"]) if rows else 0


async def test_a_speeding_episode_over_mqtt_is_an_alert_on_the_wall(
    service: RunningService,
) -> None:
    now = int(time.time() * 1000)
    speeds = [50, 55, 80, 82, 85, 84, 80, 50, 45, 40]  # 20-25 km/h over 60 for 40 s
    fixes = track(now - 120_000, speeds)
    async with (
        aiohttp.ClientSession(cookies={SESSION_COOKIE: service.tokens[Role.VIEWER]}) as wall,
        wall.ws_connect(service.url.replace("http", "ws") + "/ws") as socket,
    ):
        first = json.loads((await socket.receive()).data)
        assert first["type"] == "snapshot" and "vehicles" in first
        async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as client:
            await client.publish(positions_topic(service, PLATE), json.dumps(fixes[:5]), qos=1)
            for fix in fixes[5:]:  # the episode's end arrives fix by fix
                await client.publish(positions_topic(service, PLATE), json.dumps(fix), qos=1)
        alert = None
        async with asyncio.timeout(10):
            while alert is None:
                frame = json.loads((await socket.receive()).data)
                if frame["type"] == "alert" and frame["alert"]["rule_id"] == "journey.speeding":
                    alert = frame["alert"]
        assert alert["station_id"] == PLATE
        assert alert["station_name"] == "49C-123.45"
        assert alert["value"] == 85 and alert["limit"] == 60
        assert alert["severity"] == "critical"  # 25 km/h over: the 20-35 band
    assert await eventually(lambda: _count(service, PLATE)) == len(fixes)
    async with service.http(Role.VIEWER) as http:
        async with http.get(f"{service.url}/api/v1/vehicles") as response:
            vehicles = {v["id"]: v for v in (await response.json())["vehicles"]}
        assert vehicles[PLATE]["plate"] == "49C-123.45"
        assert vehicles[PLATE]["state"] == "violating"


async def test_osmand_positions_are_stored_and_bad_ones_refused(service: RunningService) -> None:
    ts = int(time.time())
    async with aiohttp.ClientSession() as device:  # trackers log in to nothing
        async with device.get(service.url + TRACCAR_QUERY.format(ts=ts)) as response:
            assert response.status == 200, await response.text()
        unknown = TRACCAR_QUERY.format(ts=ts).replace("TRK-1", "NOPE")
        async with device.get(service.url + unknown) as response:
            assert response.status == 400
            body = await response.json()
            assert body["refused"] == "unknown_vehicle" and "NOPE" in body["error"]
        async with device.post(service.url + "/api/v1/osmand", data=b"id=TRK-1&lat=x") as response:
            assert response.status == 400
    assert await eventually(lambda: _count(service, OTHER)) == 1
    rows = await service.app[appkeys.STORE].query(
        f"SELECT speed, attributes FROM position WHERE vehicle = '{OTHER}'"
    )
    assert rows[0]["speed"] == pytest.approx(74.08)  # 40 knots, as Traccar reads it
    assert json.loads(rows[0]["attributes"]) == {"rpm": 933, "fuel": 24}

    async def refused() -> list[dict[str, Any]]:
        return await service.app[appkeys.STORE].query(
            "SELECT * FROM rejected WHERE source = 'osmand'"
        )

    found = await eventually(refused)
    assert isinstance(found, list) and {r["reason"] for r in found} >= {"unknown_vehicle"}


async def test_a_bad_fix_in_a_backlog_is_refused_alone(service: RunningService) -> None:
    now = int(time.time() * 1000)
    fixes: list[dict[str, Any]] = track(now - 60_000, [30, 31, 32, 33])
    fixes.insert(2, {"ts": now, "lat": 95.0, "lon": 108.4, "speed": 30})  # no latitude
    async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as client:
        await client.publish(positions_topic(service, PLATE), json.dumps(fixes), qos=1)
        await client.publish(positions_topic(service, "NOT-A-PLATE"), b"{}", qos=1)
    assert await eventually(lambda: _count(service, PLATE)) == 4

    async def refusals() -> set[str]:
        rows = await service.app[appkeys.STORE].query(
            "SELECT * FROM rejected WHERE source = 'mqtt'"
        )
        return {r["reason"] for r in rows}

    assert await eventually(lambda: _has(refusals, {"out_of_range", "invalid_plate"}))


async def _has(probe: Callable[[], Awaitable[set[str]]], wanted: set[str]) -> bool:
    return wanted <= await probe()


async def test_the_track_of_the_day_as_geojson_and_gpx(service: RunningService) -> None:
    now = int(time.time() * 1000)
    fixes = track(now - 60_000, [40, 42, 44])
    async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as client:
        await client.publish(positions_topic(service, PLATE), json.dumps(fixes), qos=1)
    assert await eventually(lambda: _count(service, PLATE)) == 3
    async with service.http(Role.VIEWER) as http:
        async with http.get(f"{service.url}/api/v1/vehicles/{PLATE}/track") as response:
            geojson = await response.json()
        async with http.get(f"{service.url}/api/v1/vehicles/{PLATE}/track?format=gpx") as r:
            gpx = await r.text()
            assert r.content_type == "application/gpx+xml"
        async with http.get(f"{service.url}/api/v1/vehicles/NOPE/track") as response:
            assert response.status == 404
    line = geojson["features"][0]
    assert line["geometry"]["coordinates"][0] == [fixes[0]["lon"], fixes[0]["lat"]]
    assert line["properties"]["speeds"] == [40, 42, 44]
    assert gpx.count("<trkpt") == 3


async def test_a_driver_image_is_kept_and_served(service: RunningService) -> None:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (40, 80, 120)).save(out, "JPEG")
    jpeg, ts = out.getvalue(), int(time.time() * 1000)
    body = {"ts": ts, "jpeg": base64.b64encode(jpeg).decode(), "driver": "790123456789"}
    topic = f"{service.config.mqtt.topic_prefix}/vehicles/{OTHER}/images"
    async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as client:
        await client.publish(topic, json.dumps(body), qos=1)
        await client.publish(topic, json.dumps({"jpeg": "bm90IGEganBlZw=="}), qos=1)
    async with service.http(Role.VIEWER) as http:

        async def listed() -> list[dict[str, Any]]:
            async with http.get(f"{service.url}/api/v1/vehicles/{OTHER}/images") as response:
                images: list[dict[str, Any]] = (await response.json())["images"]
                return images

        found = await eventually(listed)
        assert isinstance(found, list) and [i["url"] for i in found] == [
            f"/api/v1/vehicles/{OTHER}/images/{ts}.jpg"
        ]
        async with http.get(service.url + found[0]["url"]) as response:
            assert response.content_type == "image/jpeg"
            assert await response.read() == jpeg

    async def refused() -> bool:
        rows = await service.app[appkeys.STORE].query(
            "SELECT * FROM rejected WHERE parameter = 'jpeg'"
        )
        return any("not a JPEG" in r["detail"] for r in rows)

    assert await eventually(refused)


async def test_the_wall_shows_a_violating_vehicle_and_its_driver_image(
    service: RunningService, browser: Browser
) -> None:
    """In Chromium: the speeding truck is in the violation ticker; a click opens its panel
    with today's driver image."""
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 40)).save(out, "JPEG")
    now = int(time.time() * 1000)
    image = {"ts": now - 150_000, "jpeg": base64.b64encode(out.getvalue()).decode()}
    page = await open_wall(browser, service, "/wall?lang=en", Role.VIEWER)
    async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as client:
        topic = f"{service.config.mqtt.topic_prefix}/vehicles/{PLATE}/images"
        await client.publish(topic, json.dumps(image), qos=1)
        speeds = [50, 80, 82, 85, 84, 50, 45]
        fixes = track(now - 120_000, speeds)
        await client.publish(positions_topic(service, PLATE), json.dumps(fixes), qos=1)
    entry = page.get_by_test_id("vehicle-violation").first
    await expect(entry).to_contain_text("49C-123.45")
    await expect(entry).to_contain_text("85 / 60 km/h")
    await entry.click()
    await expect(page.get_by_test_id("vehicle-panel-plate")).to_have_text("49C-123.45")
    picture = page.get_by_test_id("vehicle-driver-image")
    await expect(picture).to_be_visible()
    await expect(picture).to_have_attribute(
        "src", f"/api/v1/vehicles/{PLATE}/images/{image['ts']}.jpg"
    )
    await page.screenshot(path=str(ARTIFACTS / "wall-vehicle-driver-image.png"))


async def test_an_officer_backtests_journey_rules_over_stored_positions(
    service: RunningService,
) -> None:
    now = int(time.time() * 1000)
    fixes = track(now - 300_000, [50, 55, 80, 82, 85, 84, 80, 50, 45, 40])
    async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as client:
        await client.publish(positions_topic(service, PLATE), json.dumps(fixes), qos=1)
    assert await eventually(lambda: _count(service, PLATE)) == len(fixes)
    period = {"start": iso_utc(now - 3_600_000), "end": iso_utc(now + 60_000)}
    async with service.http(Role.OFFICER) as http:

        async def backtest(**rules: Any) -> dict[str, Any]:
            url = f"{service.url}/api/v1/journeys/backtest"
            async with http.post(url, json=period | rules) as response:
                assert response.status == 200, await response.text()
                answer: dict[str, Any] = await response.json()
                return answer

        in_force = await backtest()
        assert in_force["summary"]["speeding_bands"] == {"20-35": 1}
        [found] = in_force["violations"]
        assert (found["kind"], found["vehicle"], found["peak_kmh"]) == ("speeding", PLATE, 85)
        lenient = await backtest(speeding={"min_duration_s": 120})  # 40 s over: too short
        assert lenient["summary"]["violations"] == {}
        async with http.post(
            f"{service.url}/api/v1/journeys/backtest", json=period | {"vehicles": ["NOPE"]}
        ) as response:
            assert response.status == 400
    url = f"{service.url}/api/v1/journeys/backtest"
    async with service.http(Role.VIEWER) as http, http.post(url, json=period) as response:
        assert response.status == 403
