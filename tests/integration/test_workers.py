"""The worker layout (ioc.workers) on the private Mosquitto: 2 ingest workers on a shared
subscription and 2 analytics partitions against the single process, on the same stream — a
burst of twelve stations' readings with exact duplicates, published as a logger backlog is
(every station in time order, all at once): nothing lost, no alert twice, and the same
alerts and hourly AQI; and an ingest worker killed mid-stream loses nothing."""

from __future__ import annotations

import asyncio
import copy
import json
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest
import yaml
from pydantic import SecretStr

from analytics.config import AnomalyConfig
from ingest.credentials import Credentials, write_broker_files
from ioc import appkeys
from ioc.clock import iso_utc
from ioc.config import IocConfig
from ioc.partitions import assign_partitions
from ioc.private_services import PrivateMosquitto, free_port
from ioc.registry import StationRegistry
from ioc.workers import INGEST, WORKERS
from store.influx import InfluxStore
from tests.factories import REGISTRY_DOC, TEST_RULES
from tests.integration.conftest import RunningService, eventually, run_service

pytestmark = pytest.mark.integration
STATIONS = [f"AIR-{n}" for n in range(1, 13)]
STEPS = 80  # readings per station, 30 s apart
STEP_MS = 30_000
RULES = [
    *TEST_RULES,
    {
        "id": "pm10_1h",
        "name": "PM10 1h",
        "parameter": "pm10",
        "kinds": ["air"],
        "window": "1h",
        "open_hour": True,  # the 40 minutes of data end no hour
        "above": 60,
        "clear_at": 55,
    },
]


def twelve_stations(path: Path) -> Path:
    document = copy.deepcopy(REGISTRY_DOC)
    template = document["stations"][0]
    document["stations"] = [
        {**template, "id": s, "name": f"Air {s}", "lat": 11.9 + i / 100}
        for i, s in enumerate(STATIONS)
    ] + [document["stations"][2]]
    path.write_text(yaml.safe_dump(document))
    return path


def layout_config(
    base: IocConfig, tmp: Path, name: str, workers: int, run_here: list[str] | None = None
) -> IocConfig:
    """``base`` with its own topics, database, files and MQTT identity."""
    tmp.mkdir()
    unique = f"{base.mqtt.client_id}-{name}"
    return IocConfig.model_validate(
        {
            **base.model_dump(exclude_unset=True, mode="json"),
            "registry": str(twelve_stations(tmp / "stations.yaml")),
            "mqtt": {
                **base.mqtt.model_dump(exclude_unset=True, mode="json"),
                "topic_prefix": f"{base.mqtt.topic_prefix}/{name}",
                "client_id": unique,
            },
            "influx": {
                **base.influx.model_dump(exclude_unset=True, mode="json"),
                "database": f"{base.influx.database}_{name}",
                "spool_dir": str(tmp / "spool"),
            },
            "alerts": {"database": str(tmp / "alerts.sqlite3")},
            "access": {"database": str(tmp / "ioc.sqlite3"), "scrypt_n": 2**12},
            "analytics": {"rules": RULES},
            "workers": {"ingest": workers, "partitions": workers or None, "run_here": run_here},
        }
    )


def stream(start_ms: int) -> list[tuple[str, bytes]]:
    """(station, payload) in publishing order: time order, every 7th message twice. Each
    station has its own PM2.5 spikes (an instant alert opened and resolved) and PM10 rise
    (a 1 h window alert), so the alerts depend on the order of each station's readings."""
    messages = []
    for k in range(STEPS):
        ts = start_ms + k * STEP_MS
        for i, station in enumerate(STATIONS):
            spike = k % (17 + i) in (5, 6)
            pm25 = 130.0 + i if spike else 20.0 + 5 * math.sin(k / 5 + i)
            pm10 = 40.0 + (k * (i % 4 + 1)) % 35
            no2 = 30.0 + (k * 7 + i) % 40
            values = f'"pm25": {pm25:.2f}, "pm10": {pm10}, "no2": {no2}'
            body = f'{{"ts": {ts / 1000}, "values": {{{values}}}}}'
            messages.append((station, body.encode()))
            if len(messages) % 7 == 0:
                messages.append(messages[-1])
    return messages


async def publish(config: IocConfig, messages: list[tuple[str, bytes]]) -> None:
    prefix = config.mqtt.topic_prefix
    async with aiomqtt.Client("127.0.0.1", config.mqtt.port, max_inflight_messages=200) as client:
        for station, body in messages:
            await client.publish(f"{prefix}/stations/{station}/readings", body, qos=1)


async def query(config: IocConfig, influxql: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        return await InfluxStore(config.influx, session).query(influxql)


async def stored_readings(config: IocConfig) -> int:
    rows = await query(config, "SELECT count(pm10) FROM reading")
    return int(rows[0]["count"]) if rows else 0


def alerts(service: RunningService) -> list[tuple[Any, ...]]:
    """Every alert the book keeps, as data (no ids or wall-clock times)."""
    book = service.app[appkeys.ALERTS]
    return sorted(
        (a.rule_id, a.station_id, a.opened_ms, a.resolved_ms, a.peak, a.severity.value)
        for a in book.query(limit=10_000)
        # not the configured cameras (silent here), nor the clock's offline alerts (the
        # readings are old: when each process's clock ticks, not what the data say)
        if not a.rule_id.startswith("camera.") and a.rule_id != "anomaly.offline"
    )


async def hourly_aqi(config: IocConfig) -> list[tuple[Any, ...]]:
    rows = await query(config, "SELECT * FROM aqi GROUP BY station")
    return sorted(
        (r["tags"]["station"], r["tags"].get("period"), r["time"], r.get("aqi"), r.get("no2"))
        for r in rows
    )


async def run_stream(
    config: IocConfig, messages: list[tuple[str, bytes]], kill_at: int | None = None
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[dict[str, Any]]]:
    """Publish the stream to a running service and wait until every reading is stored and
    analysed; the alerts, the hourly AQI and (worker layout) the children's health."""
    expected = STEPS * len(STATIONS)
    async with run_service(config) as service:
        if config.workers.ingest:
            supervisor = service.app[WORKERS]
            await asyncio.wait_for(supervisor.all_ready.wait(), 30)
        if kill_at is None:
            await publish(config, messages)
        else:
            await publish(config, messages[:kill_at])
            victim = next(c for c in supervisor.children if c.role == INGEST)
            assert victim.process is not None
            os.kill(victim.process.pid, signal.SIGKILL)
            await publish(config, messages[kill_at:])

        async def everything_stored() -> bool:
            return await stored_readings(config) == expected

        await eventually(everything_stored, within_s=60, interval=0.2)
        board = service.app[appkeys.BOARD]

        last = iso_utc(_start_of(messages) + (STEPS - 1) * STEP_MS)

        async def everything_analysed() -> bool:  # the last readings are on the board
            snapshot = board.snapshot(int(time.time() * 1000))
            latest = {s["id"]: s["last_seen"] for s in snapshot}
            return all(latest.get(s) == last for s in STATIONS)

        await eventually(everything_analysed, within_s=30)

        async def hour_closed() -> bool:  # by the analytics' clock (ticks every 10 s)
            rows = await query(config, "SELECT count(aqi) FROM aqi WHERE period = 'hour'")
            return bool(rows) and rows[0]["count"] >= len(STATIONS)

        await eventually(hour_closed, within_s=30, interval=0.2)
        await asyncio.sleep(0.5)  # nothing is expected later; this only lets a wrong one come
        children = service.app[WORKERS].health() if config.workers.ingest else []
        return alerts(service), await hourly_aqi(config), children


def hour_crossing_start() -> int:
    """40 minutes of readings across the end of an hour that the analytics' clock closes
    (the hour before the previous one, after the 5-minute grace for late data, with a minute
    to spare): its AQI is written whatever the time of day, and no reading is in the future."""
    hour = 3_600_000
    open_hour = (int(time.time() * 1000) - 360_000) // hour
    return (open_hour - 1) * hour - STEPS * STEP_MS // 2


def _start_of(messages: list[tuple[str, bytes]]) -> int:
    return int(json.loads(messages[0][1])["ts"] * 1000)


def test_the_stations_spread_over_both_partitions(tmp_path: Path) -> None:
    registry = StationRegistry.from_file(twelve_stations(tmp_path / "stations.yaml"))
    partitions = assign_partitions(registry, 2, AnomalyConfig())
    assert {partitions.owner[s] for s in STATIONS} == {0, 1}
    assert any(len(partitions.destinations[s]) == 2 for s in STATIONS)  # neighbours across


async def test_two_workers_and_two_partitions_match_one_process(
    config: IocConfig, tmp_path: Path
) -> None:
    messages = stream(hour_crossing_start())
    single = layout_config(config, tmp_path / "single", "single", 0)
    workers = layout_config(config, tmp_path / "workers", "workers", 2)

    one_alerts, one_aqi, _ = await run_stream(single, messages)
    two_alerts, two_aqi, children = await run_stream(workers, messages)

    assert [c["starts"] for c in children] == [1, 1, 1, 1]  # no child restarted
    assert one_alerts, "the stream raises alerts"
    assert {a[0] for a in one_alerts} >= {"pm25_instant", "pm10_1h"}
    assert two_alerts == one_alerts  # the same alerts, none twice
    assert one_aqi, "an hour closed"
    assert two_aqi == one_aqi


async def test_an_ingest_worker_killed_mid_stream_loses_nothing(
    config: IocConfig, tmp_path: Path
) -> None:
    messages = stream(hour_crossing_start())
    workers = layout_config(config, tmp_path / "killed", "killed", 2)

    alerts_seen, _, children = await run_stream(workers, messages, kill_at=len(messages) // 2)

    assert sorted(c["starts"] for c in children) == [1, 1, 1, 2]  # the killed worker, started again
    opened = [(rule, station, opened) for rule, station, opened, *_ in alerts_seen]
    assert len(opened) == len(set(opened))  # no alert twice
    assert {a[0] for a in alerts_seen} >= {"pm25_instant"}


async def test_a_changed_rule_starts_the_children_again_with_it(
    config: IocConfig, tmp_path: Path
) -> None:
    workers = layout_config(config, tmp_path / "changed", "changed", 1)
    async with run_service(workers) as service:
        supervisor = service.app[WORKERS]
        await asyncio.wait_for(supervisor.all_ready.wait(), 30)
        assert [c.starts for c in supervisor.children] == [1, 1]
        rule = {**RULES[0], "above": 120}
        service.app[appkeys.SETTINGS].put("rule", "pm25_instant", rule, "test")

        async def started_again() -> bool:
            return all(c.starts == 2 and c.ready for c in supervisor.children)

        await eventually(started_again, within_s=30, interval=0.2)
        assert all(c.crashes == 0 for c in supervisor.children)
        async with service.http() as http, http.get(f"{service.url}/api/v1/health") as answer:
            health = await answer.json()
        assert [w["name"] for w in health["workers"]] == ["analytics-0", "ingest-0"]
        assert "worker_down" not in health["reasons"]


async def test_a_worker_on_another_machine_takes_its_share(
    config: IocConfig, tmp_path: Path
) -> None:
    """``ioc worker ingest-1`` with a configuration file of its own machine: no registry file,
    another configuration database and spool. It takes the stations and rules from the
    broker, and the layout gives the single process's alerts and AQI."""
    messages = stream(hour_crossing_start())
    single = layout_config(config, tmp_path / "single", "single", 0)
    here = ["analytics-0", "analytics-1", "ingest-0"]
    split = layout_config(config, tmp_path / "split", "split", 2, run_here=here)
    other = tmp_path / "other-machine"
    other.mkdir()
    document = split.model_dump(mode="json", exclude_unset=True)
    document["registry"] = str(other / "no-such-stations.yaml")
    document["access"] = {"database": str(other / "ioc.sqlite3")}
    document["influx"] = {**document["influx"], "spool_dir": str(other / "spool")}
    document["ingest"] = {}
    (other / "ioc.yaml").write_text(yaml.safe_dump(document))
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ioc", "worker", "ingest-1", "-c", str(other / "ioc.yaml")
    )
    try:
        one_alerts, one_aqi, _ = await run_stream(single, messages)
        two_alerts, two_aqi, children = await run_stream(split, messages)
    finally:
        worker.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(worker.wait(), 30)

    assert code == 0
    assert not (other / "ioc.sqlite3").exists()  # it never needed a database of its own
    elsewhere = next(c for c in children if c["name"] == "ingest-1")
    assert elsewhere["elsewhere"] and elsewhere["ready"]
    assert elsewhere["counters"]["messages"] > 0  # it took its share of the stream
    assert [c["name"] for c in children if not c.get("elsewhere")] == here
    assert one_alerts and {a[0] for a in one_alerts} >= {"pm25_instant", "pm10_1h"}
    assert two_alerts == one_alerts
    assert one_aqi and two_aqi == one_aqi


async def test_the_layout_runs_on_a_broker_that_binds_client_ids_to_accounts(
    config: IocConfig, tmp_path: Path
) -> None:
    """The production broker (docker/, ``ioc dev``) makes each account's user name its client
    id: the layout's connections need accounts of their own, or they take each other's
    session over and nothing gets through."""
    layout = layout_config(config, tmp_path / "secured", "secured", 1)
    registry = StationRegistry.from_file(layout.registry)
    credentials, _ = Credentials.generate(registry)
    passwords = {a.username: a.password for a in credentials.accounts}
    auth = write_broker_files(
        credentials, registry, layout.mqtt.topic_prefix, tmp_path / "auth", layout=layout.workers
    )
    broker = PrivateMosquitto(tmp_path / "broker", free_port(), auth)
    broker.start()
    try:
        mqtt = layout.mqtt.model_copy(
            update={
                "port": broker.port,
                "username": "ioc-service",
                "password": SecretStr(passwords["ioc-service"]),
                "live_username": "ioc-service-live",
                "live_password": SecretStr(passwords["ioc-service-live"]),
                "cameras_username": "ioc-cameras",
                "cameras_password": SecretStr(passwords["ioc-cameras"]),
            }
        )
        secured = layout.model_copy(update={"mqtt": mqtt})
        messages = stream(hour_crossing_start())[:240]
        async with run_service(secured) as service:
            supervisor = service.app[WORKERS]
            await asyncio.wait_for(supervisor.all_ready.wait(), 30)
            async with aiomqtt.Client(
                "127.0.0.1",
                broker.port,
                username="ioc-publisher",
                password=passwords["ioc-publisher"],
                max_inflight_messages=200,
            ) as client:
                for station, body in messages:
                    topic = f"{mqtt.topic_prefix}/stations/{station}/readings"
                    await client.publish(topic, body, qos=1)
            expected = len({(s, b) for s, b in messages})

            async def everything_stored() -> bool:
                return await stored_readings(secured) == expected

            await eventually(everything_stored, within_s=60, interval=0.2)
            assert [c.starts for c in supervisor.children] == [1, 1]  # none thrown out
    finally:
        broker.stop()
