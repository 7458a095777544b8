"""A restart rebuilds the analytics windows from InfluxDB and brings the kept alerts in line
with them."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import aiomqtt
import pytest
from aiohttp import web

import ioc.service
from alerts.lifecycle import AlertBook
from ioc import appkeys
from ioc.config import IocConfig
from ioc.messages import RuleTransition, Severity
from ioc.registry import StationRegistry
from ioc.service import create_app
from store.influx import InfluxStore
from tests.factories import payload
from tests.integration.conftest import eventually


async def test_a_restart_rebuilds_windows_and_reconciles_alerts(config: IocConfig) -> None:
    rules = {r.id: r for r in config.analytics.rules}
    hour_ms = 3_600_000
    now = int(time.time() * 1000) // hour_ms * hour_ms
    # History the previous run stored: AIR-1 at 60 µg/m³ for 20 hours (its 24 h mean is over
    # 45), AIR-2 spiked to 150 two hours ago and has been at 10 since.
    lines = [
        f"reading,kind=air,owner=state,station=AIR-1 pm25={58 + h % 5}.0 {now - h * hour_ms}"
        for h in range(20)
    ] + [
        f"reading,kind=air,owner=state,station=AIR-2 pm25=150.0 {now - 2 * hour_ms}",
        f"reading,kind=air,owner=state,station=AIR-2 pm25=10.0 {now - hour_ms}",
    ]
    async with aiohttp.ClientSession() as session:
        store = InfluxStore(config.influx, session)
        await store.ensure_database()
        await store.write_lines("\n".join(lines).encode())
    # ...and the alert book it left: the AIR-2 spike alert still open.
    book = AlertBook(rules, config.alerts)
    [(_, stuck)] = book.apply(
        [
            RuleTransition(
                "pm25_instant",
                "AIR-2",
                "pm25",
                True,
                150.0,
                100.0,
                now - 2 * hour_ms,
                Severity.CRITICAL,
            )
        ]
    )
    book.shutdown()

    app = create_app(config, StationRegistry.from_file(config.registry))
    runner = web.AppRunner(app)
    await runner.setup()  # the warm-up runs in start-up
    try:
        await asyncio.wait_for(app[appkeys.MQTT].connected.wait(), 10)
        book = app[appkeys.ALERTS]
        assert book.get(stuck.id).state.value == "resolved"
        active = {(a.rule_id, a.station_id) for a in book.open_alerts()}
        assert active == {("pm25_24h", "AIR-1")}
    finally:
        await runner.cleanup()


async def test_readings_received_during_the_warm_up_are_processed_after_it(
    config: IocConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service subscribes before the warm-up: a reading published meanwhile waits in the
    inbox, and is processed once the history is in."""
    app = create_app(config, StationRegistry.from_file(config.registry))
    real_warm_up = ioc.service.warm_up
    processed_during_warm_up: list[int] = []

    async def warm_up_while_a_reading_arrives(*args: object) -> int:
        mqtt, pipeline = app[appkeys.MQTT], app[appkeys.PIPELINE]
        await asyncio.wait_for(mqtt.connected.wait(), 10)
        async with aiomqtt.Client("127.0.0.1", config.mqtt.port) as client:
            topic = f"{config.mqtt.topic_prefix}/stations/AIR-1/readings"
            await client.publish(topic, payload({"pm25": 12}), qos=1)

        async def received() -> int:
            return mqtt.stats.received

        await eventually(received)
        await asyncio.sleep(0.2)  # time the pipeline would have had to take it
        processed_during_warm_up.append(pipeline.stats.messages)
        return await real_warm_up(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ioc.service, "warm_up", warm_up_while_a_reading_arrives)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        assert processed_during_warm_up == [0]

        async def processed() -> bool:
            return app[appkeys.PIPELINE].stats.readings == 1

        await eventually(processed)
    finally:
        await runner.cleanup()


async def test_an_instant_rule_is_warmed_up_on_the_last_reading_not_a_five_minute_mean(
    config: IocConfig,
) -> None:
    """A dust-like spike and its return within one 5-minute bucket: the mean is above the
    limit, the last reading below its clearing level. No alert may open at the restart."""
    bucket_ms = 300_000
    bucket = (int(time.time() * 1000) - 2 * bucket_ms) // bucket_ms * bucket_ms
    lines = [
        f"reading,kind=air,owner=state,station=AIR-2 pm25=300.0 {bucket + 10_000}",
        f"reading,kind=air,owner=state,station=AIR-2 pm25=10.0 {bucket + 20_000}",
    ]
    async with aiohttp.ClientSession() as session:
        store = InfluxStore(config.influx, session)
        await store.ensure_database()
        await store.write_lines("\n".join(lines).encode())
    app = create_app(config, StationRegistry.from_file(config.registry))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await asyncio.wait_for(app[appkeys.MQTT].connected.wait(), 10)
        active = {(a.rule_id, a.station_id) for a in app[appkeys.ALERTS].open_alerts()}
        assert ("pm25_instant", "AIR-2") not in active  # the mean (155) is above 100
    finally:
        await runner.cleanup()
