"""A restart rebuilds the analytics windows from InfluxDB and brings the kept alerts in line
with them."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web

from alerts.lifecycle import AlertBook
from ioc import appkeys
from ioc.config import IocConfig
from ioc.messages import RuleTransition, Severity
from ioc.registry import StationRegistry
from ioc.service import create_app
from store.influx import InfluxStore


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
