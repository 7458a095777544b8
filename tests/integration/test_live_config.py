"""Configuration changes through the API are in force at once, without a restart: a new
threshold, a rolled-back one, and a station added to the registry."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from ioc import appkeys
from ioc.accounts import Role
from tests.factories import payload
from tests.integration.conftest import RunningService, eventually
from tests.integration.test_end_to_end import publish


async def open_alerts(service: RunningService, station: str) -> list[dict[str, Any]]:
    async with (
        service.http(Role.VIEWER) as http,
        http.get(f"{service.url}/api/v1/alerts?station={station}") as response,
    ):
        return list((await response.json())["alerts"])


async def put(service: RunningService, path: str, item: dict[str, Any], role: Role) -> Any:
    async with (
        service.http(role) as http,
        http.put(f"{service.url}/api/v1/config/{path}", json={"item": item}) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


async def test_a_lowered_threshold_raises_the_next_reading_and_a_rollback_undoes_it(
    service: RunningService,
) -> None:
    rule = {"name": "PM2.5 instant", "parameter": "pm25", "kinds": ["air"], "above": 40}
    change = await put(service, "rules/pm25_instant", rule, Role.OFFICER)
    assert change["actor"] == "test-officer" and change["old"]["above"] == 100

    await publish(service, "AIR-1", payload({"pm25": 55, "pm10": 20}))
    [alert] = await eventually(lambda: open_alerts(service, "AIR-1"))  # type: ignore[misc]
    assert (alert["rule_id"], alert["value"], alert["limit"]) == ("pm25_instant", 55, 40)

    async with (
        service.http(Role.OFFICER) as http,
        http.post(f"{service.url}/api/v1/config/history/{change['id']}/rollback") as response,
    ):
        assert response.status == 200, await response.text()
    await publish(service, "AIR-1", payload({"pm25": 56, "pm10": 20}, ts=later()))

    async def resolved() -> bool:
        return not [a for a in await open_alerts(service, "AIR-1") if a["state"] != "resolved"]

    await eventually(resolved)  # back at 100: the old rule's alert clears


async def test_a_station_added_by_an_admin_reports_at_once(service: RunningService) -> None:
    station = {
        "id": "AIR-9",
        "name": "Air nine",
        "kind": "air",
        "lat": 12.0,
        "lon": 108.5,
        "parameters": "air",
        "interval_s": 60,
    }
    async with (
        service.http(Role.OFFICER) as http,
        http.put(f"{service.url}/api/v1/config/stations/AIR-9", json={"item": station}) as r,
    ):
        assert r.status == 403  # officers change rules, not the registry
    await put(service, "stations/AIR-9", station, Role.ADMIN)
    await eventually(lambda: _rebuilt(service))
    await publish(service, "AIR-9", payload({"pm25": 150, "pm10": 20}))
    [alert] = await eventually(lambda: open_alerts(service, "AIR-9"))  # type: ignore[misc]
    assert alert["station_name"] == "Air nine"


def later() -> str:
    """A timestamp a second after ``payload``'s default (a new reading, not a duplicate)."""
    return datetime.fromtimestamp(time.time() + 1, UTC).isoformat()


async def _rebuilt(service: RunningService) -> bool:
    return service.app[appkeys.LIVE_CONFIG].rebuilt.is_set()
