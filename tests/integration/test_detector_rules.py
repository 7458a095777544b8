"""The built-in anomaly and camera rules are tunable like limit rules (issue #14): listed with
their fields, changed through the configuration API (versioned, audited), in force at once,
invalid values refused with field problems, and silenced by their ids."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from ioc import appkeys
from ioc.accounts import Role
from tests.factories import payload
from tests.integration.conftest import RunningService, eventually
from tests.integration.test_end_to_end import publish

BASE_S = time.time() - 600  # the readings' times: one a second from ten minutes ago


def at(n: int) -> str:
    return datetime.fromtimestamp(BASE_S + n, UTC).isoformat()


async def call(
    service: RunningService, method: str, path: str, body: Any = None, role: Role = Role.OFFICER
) -> tuple[int, Any]:
    async with (
        service.http(role) as http,
        http.request(method, f"{service.url}{path}", json=body) as response,
    ):
        return response.status, await response.json()


async def alerts_of(service: RunningService, rule_id: str) -> list[dict[str, Any]]:
    _, body = await call(service, "GET", "/api/v1/alerts?station=AIR-1&state=all", role=Role.VIEWER)
    return [a for a in body["alerts"] if a["rule_id"] == rule_id]


async def test_a_raised_spike_threshold_stops_the_sensor_fault_alerts_live(
    service: RunningService,
) -> None:
    # a quiet PM2.5 history, then a jump its neighbour AIR-2 does not share, back at the next
    # reading: a sensor fault (decided at that next reading)
    for n in range(20):
        await publish(service, "AIR-1", payload({"pm25": 20 + (n % 3) - 1, "pm10": 30}, ts=at(n)))
    await publish(service, "AIR-1", payload({"pm25": 60, "pm10": 30}, ts=at(20)))
    await publish(service, "AIR-1", payload({"pm25": 20, "pm10": 30}, ts=at(21)))
    [fault] = await eventually(lambda: alerts_of(service, "anomaly.sensor_fault"))  # type: ignore[misc]
    assert fault["severity"] == "warning" and fault["rule_name"]

    # the spike threshold raised (and the hysteresis off: one normal reading clears), and the
    # sensor-fault alerts made critical
    status, change = await call(
        service,
        "PUT",
        "/api/v1/config/detector-rules/anomaly.spike",
        {"item": {"zscore_threshold": 50, "event_clear_after_s": 0}, "version": 0},
    )
    assert status == 200, change
    assert (change["kind"], change["key"], change["actor"]) == (
        "detector",
        "anomaly.spike",
        "test-officer",
    )
    status, _ = await call(
        service,
        "PUT",
        "/api/v1/config/detector-rules/anomaly.sensor_fault",
        {"item": {"severity": "critical"}},
    )
    assert status == 200
    _, listed = await call(service, "GET", "/api/v1/detector-rules", role=Role.VIEWER)
    spike = next(r for r in listed["rules"] if r["id"] == "anomaly.spike")
    assert spike["settings"]["zscore_threshold"] == 50 and spike["version"] == change["id"]
    assert {"zscore_threshold", "enabled", "severity"} <= {f["key"] for f in spike["fields"]}

    # back to normal (the open alert resolves), then the same jump again, and a reading over
    # the PM2.5 limit after it: once that one's alert is there, the jump was judged
    await publish(service, "AIR-1", payload({"pm25": 20, "pm10": 30}, ts=at(22)))

    async def fault_resolved() -> bool:
        return all(
            a["state"] == "resolved" for a in await alerts_of(service, "anomaly.sensor_fault")
        )

    await eventually(fault_resolved)
    await publish(service, "AIR-1", payload({"pm25": 60, "pm10": 30}, ts=at(23)))
    await publish(service, "AIR-1", payload({"pm25": 150, "pm10": 30}, ts=at(24)))
    await eventually(lambda: alerts_of(service, "pm25_instant"))
    faults = await alerts_of(service, "anomaly.sensor_fault")
    assert [a["state"] for a in faults] == ["resolved"]  # no new alert at threshold 50

    # disabled rule → no alert; enabled again at the default threshold → alerts again, critical
    status, _ = await call(
        service,
        "PUT",
        "/api/v1/config/detector-rules/anomaly.spike",
        {"item": {}, "version": change["id"]},
    )
    assert status == 200
    await publish(service, "AIR-1", payload({"pm25": 20, "pm10": 30}, ts=at(25)))
    await publish(service, "AIR-1", payload({"pm25": 70, "pm10": 30}, ts=at(26)))
    await publish(service, "AIR-1", payload({"pm25": 20, "pm10": 30}, ts=at(27)))

    async def fault_again() -> list[dict[str, Any]]:
        return [
            a for a in await alerts_of(service, "anomaly.sensor_fault") if a["state"] != "resolved"
        ]

    [again] = await eventually(fault_again)  # type: ignore[misc]
    assert again["severity"] == "critical"

    status, _ = await call(
        service,
        "PUT",
        "/api/v1/config/detector-rules/anomaly.sensor_fault",
        {"item": {"enabled": False}},
    )
    assert status == 200
    await publish(service, "AIR-1", payload({"pm25": 21, "pm10": 30}, ts=at(28)))  # held open

    async def fault_gone() -> bool:
        return all(
            a["state"] == "resolved" for a in await alerts_of(service, "anomaly.sensor_fault")
        )

    await eventually(fault_gone)  # switched off: its open alert resolves

    _, history = await call(
        service, "GET", "/api/v1/config/history?kind=detector&key=anomaly.spike", role=Role.ADMIN
    )
    assert [c["action"] for c in history["changes"]] == ["update", "create"]
    _, audit = await call(service, "GET", "/api/v1/audit?action=detector.create", role=Role.ADMIN)
    assert any(e["action"] == "detector.create" for e in audit["entries"])


async def test_invalid_settings_are_refused_with_their_fields(service: RunningService) -> None:
    cases = [
        ("anomaly.spike", {"zscore_threshold": -1}, "zscore_threshold"),
        ("anomaly.spike", {"zscore_window": 2}, "zscore_window"),
        ("anomaly.spike", {"no_such_field": 1}, "no_such_field"),
        ("anomaly.seasonal", {"seasonal_min_days": 30, "seasonal_days": 10}, "seasonal_min_days"),
        ("traffic.congestion", {"jam_occupancy": 0.05}, "jam_occupancy"),
        ("camera.smoke", {"severity": "fatal"}, "severity"),
        ("anomaly.no_such_rule", {"enabled": False}, ""),
    ]
    for rule_id, item, field in cases:
        status, body = await call(
            service, "PUT", f"/api/v1/config/detector-rules/{rule_id}", {"item": item}
        )
        assert status == 400, (rule_id, item, body)
        assert field in [p["field"] for p in body["problems"]], (rule_id, body)
    status, _ = await call(
        service, "PUT", "/api/v1/config/detector-rules/anomaly.spike", {"item": {}}, Role.OPERATOR
    )
    assert status == 403
    status, body = await call(
        service,
        "PUT",
        "/api/v1/config/detector-rules/traffic.congestion?dry_run=1",
        {"item": {"jam_occupancy": 0.5, "congestion_after_s": 60}},
    )
    assert (status, body) == (200, {"valid": True})


async def test_the_built_in_rules_are_listed_and_can_be_silenced(service: RunningService) -> None:
    _, listed = await call(service, "GET", "/api/v1/detector-rules", role=Role.VIEWER)
    ids = {r["id"]: r for r in listed["rules"]}
    assert {"anomaly.sensor_fault", "anomaly.pollution_event", "camera.smoke",
            "traffic.congestion", "traffic.stopped_vehicle"} <= set(ids)  # fmt: skip
    assert ids["anomaly.sensor_fault"]["name_vi"] and ids["anomaly.sensor_fault"]["name_en"]
    congestion = {f["key"]: f for f in ids["traffic.congestion"]["fields"]}
    assert (
        congestion["jam_occupancy"]["maximum"] == 1 and congestion["jam_occupancy"]["description"]
    )
    for rule_id in ("anomaly.sensor_fault", "camera.smoke"):
        status, body = await call(
            service,
            "POST",
            "/api/v1/silences",
            {"rule_id": rule_id, "end": datetime.fromtimestamp(time.time() + 3600, UTC).isoformat(),
             "reason": "tuning"},
        )  # fmt: skip
        assert status == 201, body
    end = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
    body = {"rule_id": "anomaly.nothing", "end": end, "reason": "x"}
    status, _ = await call(service, "POST", "/api/v1/silences", body)
    assert status == 400


async def test_a_camera_rule_change_reaches_the_running_cameras(service: RunningService) -> None:
    workers = service.app[appkeys.CAMERAS].workers
    status, change = await call(
        service,
        "PUT",
        "/api/v1/config/detector-rules/traffic.congestion",
        {"item": {"congestion_after_s": 90, "severity": "warning", "enabled": False}},
    )
    assert status == 200, change
    traffic = [w for w in workers.values() if w.config.kind == "traffic"]
    assert traffic and all(w.config.traffic.congestion_after_s == 90 for w in traffic)
    assert all(w.config.disabled_rules == ["traffic.congestion"] for w in traffic)
    forest = [w for w in workers.values() if w.config.kind == "forest"]
    assert all(w.config.traffic.congestion_after_s == 90 for w in forest)  # unused there

    status, _ = await call(service, "POST", f"/api/v1/config/history/{change['id']}/rollback")
    assert status == 200
    assert all(w.config.traffic.congestion_after_s == 20 for w in traffic)
    assert all(w.config.disabled_rules == [] for w in traffic)


async def test_a_new_window_rebuilds_the_analytics_with_it(service: RunningService) -> None:
    live = service.app[appkeys.LIVE_CONFIG]
    status, _ = await call(
        service,
        "PUT",
        "/api/v1/config/detector-rules/anomaly.spike",
        {"item": {"zscore_window": 64}},
    )
    assert status == 200
    await asyncio.wait_for(live.rebuilt.wait(), 10)  # a longer ring: a new engine
    engine = service.app[appkeys.PIPELINE].engine
    assert engine.config.anomaly.zscore_window == 64
    assert engine.anomalies is not None and engine.anomalies._keep == 64
