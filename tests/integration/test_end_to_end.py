"""Simulated station → Mosquitto → ingest → InfluxDB → rules → alerts → websocket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import aiomqtt

from ioc import appkeys
from ioc.accounts import Role
from tests.factories import payload
from tests.integration.conftest import TEST_USERS, RunningService, eventually


async def publish(service: RunningService, station: str, body: bytes) -> None:
    mqtt = service.config.mqtt
    async with aiomqtt.Client("127.0.0.1", mqtt.port) as client:
        await client.publish(service.topic(station), body, qos=1)


async def stored(service: RunningService, influxql: str) -> list[dict[str, Any]]:
    return await service.app[appkeys.STORE].query(influxql)


async def next_frame(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next frame of ``kind``, skipping others (heartbeats, station deltas)."""
    while True:
        frame = json.loads((await ws.receive(timeout=15)).data)
        if frame["type"] == kind:
            return frame


async def test_a_published_reading_is_queryable_in_influxdb(service: RunningService) -> None:
    await publish(
        service, "AIR-1", payload({"pm25": 35.2, "pm10": 51}, ts="2026-11-23T15:00:00+07:00")
    )
    rows = await eventually(
        lambda: stored(service, "SELECT pm25, pm10 FROM reading WHERE station = 'AIR-1'")
    )
    assert rows == [{"time": 1795420800000, "pm25": 35.2, "pm10": 51.0, "tags": {}}]


async def test_the_wall_receives_an_alert_and_its_resolution(service: RunningService) -> None:
    async with service.http() as http, http.ws_connect(f"{service.url}/ws") as ws:
        snapshot = await next_frame(ws, "snapshot")
        assert {s["id"] for s in snapshot["stations"]} == {"AIR-1", "AIR-2", "STK-1"}
        assert snapshot["alerts"] == []

        await publish(service, "STK-1", payload({"dust": 260.5}))
        opened = await next_frame(ws, "alert")
        assert (opened["event"], opened["alert"]["rule_id"]) == ("opened", "dust")
        assert opened["alert"]["value"] == 260.5 and opened["alert"]["severity"] == "warning"

        await publish(service, "STK-1", payload({"dust": 120}))
        resolved = await next_frame(ws, "alert")
        assert (resolved["event"], resolved["alert"]["id"]) == ("resolved", opened["alert"]["id"])
        assert resolved["seq"] > opened["seq"]

        async with http.get(f"{service.url}/api/v1/alerts?state=all") as response:
            alerts = (await response.json())["alerts"]
        assert [(a["id"], a["state"]) for a in alerts] == [(opened["alert"]["id"], "resolved")]


async def test_bad_input_is_rejected_with_its_reason_and_valid_neighbours_are_stored(
    service: RunningService,
) -> None:
    rejected_topic = f"{service.config.mqtt.topic_prefix}/rejected"
    async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as listener:
        await listener.subscribe(rejected_topic, qos=1)
        await publish(service, "AIR-1", payload({"pm25": 11}))
        await publish(service, "AIR-1", b"{oops")
        await publish(service, "GHOST-9", payload({"pm25": 12}))
        await publish(service, "AIR-2", payload({"pm25": 13, "benzene": 2}))
        await publish(service, "AIR-2", payload({"pm10": 14}, ts=1_795_000_000))
        reasons = []
        async with asyncio.timeout(10):
            async for message in listener.messages:  # a notice per station and batch
                notice = json.loads(message.payload)  # type: ignore[arg-type]
                reasons += [r["reason"] for r in notice["rejected"]]
                if len(reasons) == 3:
                    break
    assert reasons == ["malformed", "unknown_station", "unknown_parameter"]

    async def three_readings() -> list[dict[str, Any]]:
        rows = await stored(service, "SELECT * FROM reading GROUP BY station")
        return rows if len(rows) >= 3 else []

    rows = await eventually(three_readings)
    values = {(r["tags"]["station"], r["pm25"], r["pm10"]) for r in rows}  # type: ignore[attr-defined]
    assert values == {("AIR-1", 11.0, None), ("AIR-2", 13.0, None), ("AIR-2", None, 14.0)}

    async with service.http() as http:

        async def dead_letters() -> list[dict[str, Any]]:
            async with http.get(f"{service.url}/api/v1/rejected") as response:
                return list((await response.json())["rejected"])

        letters = await eventually(dead_letters)
        assert sorted(r["reason"] for r in letters) == [  # type: ignore[attr-defined]
            "malformed",
            "unknown_parameter",
            "unknown_station",
        ]
        async with http.get(f"{service.url}/api/v1/health") as response:
            health = await response.json()
    assert health["rejected_by_reason"] == {
        "malformed": 1,
        "unknown_station": 1,
        "unknown_parameter": 1,
    }
    assert health["mqtt"]["connected"] is True


async def test_a_reconnecting_wall_gets_exactly_what_it_missed(service: RunningService) -> None:
    async with service.http() as http:
        async with http.ws_connect(f"{service.url}/ws") as ws:
            last_seq = (await next_frame(ws, "snapshot"))["seq"]
        await publish(service, "AIR-1", payload({"pm25": 500}))
        await publish(service, "AIR-1", payload({"pm25": 10}))
        broadcaster = service.app[appkeys.BROADCASTER]

        async def two_alert_events() -> bool:
            return service.app[appkeys.PIPELINE].stats.alert_events >= 2

        await eventually(two_alert_events)
        missed_up_to = broadcaster.seq
        async with http.ws_connect(f"{service.url}/ws?since={last_seq}") as ws:
            frames = [
                json.loads((await ws.receive(timeout=5)).data)
                for _ in range(missed_up_to - last_seq)
            ]
    assert [f["seq"] for f in frames] == list(range(last_seq + 1, missed_up_to + 1))
    alert_frames = [(f["event"], f["alert"]["value"]) for f in frames if f["type"] == "alert"]
    assert alert_frames == [("opened", 500.0), ("resolved", 10.0)]


async def test_a_malformed_client_message_gets_an_error_and_the_connection_stays(
    service: RunningService,
) -> None:
    async with service.http() as http, http.ws_connect(f"{service.url}/ws") as ws:
        await next_frame(ws, "snapshot")
        await ws.send_str("not json")
        assert (await next_frame(ws, "error"))["reason"] == "message is not JSON"
        await ws.send_str('{"type": "ping"}')
        assert (await next_frame(ws, "pong"))["type"] == "pong"


async def test_an_alert_acknowledged_from_the_wall_reaches_every_wall(
    service: RunningService,
) -> None:
    async with (
        service.http(Role.OPERATOR) as http,
        http.ws_connect(f"{service.url}/ws") as operator,
        http.ws_connect(f"{service.url}/ws") as other_wall,
    ):
        await next_frame(operator, "snapshot")
        await next_frame(other_wall, "snapshot")
        await publish(service, "STK-1", payload({"dust": 480}))
        alert_id = (await next_frame(operator, "alert"))["alert"]["id"]
        await operator.send_json({"type": "ack", "alert_id": alert_id})
        while True:
            frame = await next_frame(other_wall, "alert")
            if frame["event"] == "acknowledged":
                break
        assert frame["alert"]["acknowledged_by"] == TEST_USERS[Role.OPERATOR]
        await operator.send_json({"type": "ack", "alert_id": alert_id})
        error = await next_frame(operator, "error")
        assert "acknowledge" in error["reason"] and error["alert_id"] == alert_id
        async with http.get(f"{service.url}/api/v1/alerts/{alert_id}") as response:
            history = (await response.json())["history"]
        assert [h["action"] for h in history] == ["opened", "acknowledged"]


BAD_VALUES = [
    ("wrong_unit", b'{"ts": %(ts)s, "values": {"pm25": 5, "pm10": 9}, "units": {"pm25": "m3/h"}}'),
    ("not_numeric", b'{"ts": %(ts)s, "values": {"pm25": NaN, "pm10": 9}}'),
    ("not_numeric", b'{"ts": %(ts)s, "values": {"pm25": "5", "pm10": 9}}'),
    ("out_of_range", b'{"ts": %(ts)s, "values": {"pm25": 100000, "pm10": 9}}'),
    ("duplicate", b'{"ts": %(ts)s, "values": {"pm10": 9}}'),
]


async def test_every_bad_value_class_over_mqtt_keeps_its_valid_neighbour(
    service: RunningService,
) -> None:
    """Each message carries one bad value and a valid pm10; the pm10 values must be stored
    (one per distinct timestamp) and each bad one answered with its reason."""
    rejected_topic = f"{service.config.mqtt.topic_prefix}/rejected"
    base = 1_795_000_000
    async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as listener:
        await listener.subscribe(rejected_topic, qos=1)
        for i, (_, template) in enumerate(BAD_VALUES):
            ts = base + (i if i < len(BAD_VALUES) - 1 else 0)  # the last repeats the first
            await publish(service, "AIR-1", template % {b"ts": str(ts).encode()})
        await publish(service, "AIR-1", payload({"pm25": 1}, ts=4_000_000_000))  # future
        await publish(service, "AIR-1", payload({"pm25": 1}, ts=1_000_000_000))  # too old
        reasons = []
        async with asyncio.timeout(10):
            async for message in listener.messages:  # a notice per station and batch
                notice = json.loads(message.payload)  # type: ignore[arg-type]
                reasons += [r["reason"] for r in notice["rejected"]]
                if len(reasons) == len(BAD_VALUES) + 2:
                    break
    assert reasons == [reason for reason, _ in BAD_VALUES] + ["bad_timestamp"] * 2

    async def four_pm10() -> list[dict[str, Any]]:
        rows = await stored(service, "SELECT pm10 FROM reading WHERE station = 'AIR-1'")
        return rows if len(rows) == 4 else []

    rows = await eventually(four_pm10)
    assert [r["pm10"] for r in rows] == [9.0] * 4  # type: ignore[attr-defined]
