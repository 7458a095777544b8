"""Hostile input against the real service: poison messages among valid ones over MQTT and
HTTP, floods of refusals (each its own dead-letter row), station files that would amplify,
and the bodies and queries a fuzzer found answering 500. Counts go to tests/reliability.py."""

from __future__ import annotations

import json
import time
from typing import Any

import aiomqtt

from ioc import appkeys
from tests.integration.conftest import RunningService, eventually
from tests.reliability import Outcome, record, scale

BIG = "9" * 400
DEEP = b"[" * 100_000 + b"]" * 100_000


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def count(service: RunningService, influxql: str) -> int:
    rows = await service.app[appkeys.STORE].query(influxql)
    return int(rows[0]["count"]) if rows else 0


async def reaches(service: RunningService, influxql: str, expected: int) -> int:
    """The count once it reaches ``expected`` (fails after the timeout); never more."""

    async def probe() -> int | None:
        found = await count(service, influxql)
        assert found <= expected, f"{found} > {expected}: {influxql}"
        return found if found == expected else None

    await eventually(probe, within_s=60)
    return expected


def local_stamp(ts_s: float) -> str:
    from datetime import datetime

    from ioc.clock import LOCAL_TZ

    return datetime.fromtimestamp(ts_s, LOCAL_TZ).strftime("%Y%m%d%H%M%S")


async def test_poison_over_mqtt_sinks_no_batch_mate(service: RunningService) -> None:
    valid = scale(2_000, 12_000)
    prefix = service.config.mqtt.topic_prefix
    start = time.time() - 3_600
    readings, senml = f"{prefix}/stations/AIR-2/readings", f"{prefix}/stations/AIR-2/senml"
    poison: list[tuple[str, bytes]] = [
        (readings, DEEP),
        (readings, b'{"ts": 1e308, "values": {"pm25": 1}}'),
        (readings, f'{{"ts": {BIG}, "values": {{"pm25": 1}}}}'.encode()),
        (readings, f'{{"ts": {int(start)}, "values": {{"pm25": {BIG}}}}}'.encode()),
        (senml, b'[{"bt": 1e308, "t": 1e308, "n": "pm25", "v": 1}]'),
    ] * 4
    every = valid // len(poison)
    async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as client:
        for n in range(valid):
            body: dict[str, Any] = {"ts": start + n / 1000, "values": {"pm25": 10 + n % 30}}
            if n == 7:
                body["status"] = {"pm25": "²"}  # not a status: the value is kept
            await client.publish(service.topic("AIR-1"), json.dumps(body), qos=1)
            if n % every == 0 and poison:
                await client.publish(*poison.pop(), qos=1)
    refused = 20
    stored = await reaches(
        service, "SELECT count(pm25) FROM reading WHERE station = 'AIR-1'", valid
    )
    letters = await reaches(service, "SELECT count(detail) FROM rejected", refused)
    reasons = service.app[appkeys.REJECTIONS].by_reason
    assert dict(reasons) == {"malformed": 4, "bad_timestamp": 12, "out_of_range": 4}
    outcome = record(
        Outcome(
            "none",
            "MQTT JSON + poison",
            valid + refused,
            stored,
            letters,
            valid + refused - stored - letters,
            0,
            "20 poison messages among valid ones",
        )
    )
    assert outcome.lost == 0
