"""The live lane over the real broker: after a restart with a backlog queued for the
persistent session, a reading published meanwhile comes in on the lane, and every message —
backlog and live — is stored exactly once, with no duplicate refused."""

from __future__ import annotations

import time

import aiomqtt
from aiohttp import web

from ioc import appkeys
from ioc.config import IocConfig
from ioc.registry import StationRegistry
from ioc.service import create_app
from tests.factories import payload
from tests.integration.conftest import eventually

BACKLOG = 600


async def stored(app: web.Application) -> int:
    rows = await app[appkeys.STORE].query("SELECT count(pm25) FROM reading")
    return int(rows[0]["count"]) if rows else 0


async def test_a_reading_published_during_a_catch_up_comes_on_the_live_lane_once(
    config: IocConfig,
) -> None:
    config = config.model_copy(
        update={"ingest": config.ingest.model_copy(update={"batch_size": 20, "gather_ms": 0})}
    )
    registry = StationRegistry.from_file(config.registry)
    prefix = config.mqtt.topic_prefix
    first = web.AppRunner(create_app(config, registry))
    await first.setup()  # registers the persistent session
    await first.cleanup()
    start = time.time() - 3_000
    async with aiomqtt.Client("127.0.0.1", config.mqtt.port) as publisher:
        for n in range(BACKLOG):  # queued for the stopped service
            station = ("AIR-1", "AIR-2")[n % 2]
            body = payload({"pm25": 10.0 + n % 7}, ts=round(start + n, 3))
            await publisher.publish(f"{prefix}/stations/{station}/readings", body, qos=1)

        app = create_app(config, registry)
        runner = web.AppRunner(app)
        await runner.setup()
        try:
            lane = app[appkeys.LIVE_LANE]
            assert await eventually(lambda: _true(lane.active))
            live = payload({"pm25": 33.0}, ts=round(time.time(), 3))
            await publisher.publish(f"{prefix}/stations/AIR-1/readings", live, qos=1)
            assert await eventually(lambda: _true(lane.copies_skipped >= 1), within_s=20)
            assert lane.received >= 1
            assert await eventually(lambda: _equal(stored(app), BACKLOG + 1), within_s=20)
            refused = app[appkeys.REJECTIONS].by_reason
            assert refused.get("duplicate", 0) == 0, refused
        finally:
            await runner.cleanup()


async def _true(value: bool) -> bool:
    return value


async def _equal(count: object, wanted: int) -> bool:
    return await count == wanted  # type: ignore[misc]
