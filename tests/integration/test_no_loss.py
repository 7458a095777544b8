"""Nothing is lost: a database killed, a broker restarted and a killed service, with real
processes. Each test records its exact counts for docs/reliability.md (tests/reliability.py);
``make soak`` runs them with bigger counts."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import aiohttp
import aiomqtt
import pytest
import yaml
from aiohttp import web

from ioc import appkeys
from ioc.config import IocConfig
from ioc.private_services import PrivateInfluxDB, PrivateMosquitto, free_port
from ioc.registry import StationRegistry
from ioc.service import create_app
from tests.factories import TEST_RULES, write_registry
from tests.integration.conftest import eventually
from tests.reliability import Outcome, record, scale

pytestmark = pytest.mark.adversarial
READINGS = scale(300, 30_000)


def reading(i: int) -> bytes:
    return json.dumps({"ts": 1_795_000_000 + i, "values": {"pm25": float(i % 200)}}).encode()


async def stored_count(url: str, database: str) -> int:
    query = {"db": database, "q": "SELECT count(pm25) FROM reading"}
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{url}/query", params=query) as r:
            series = (await r.json())["results"][0].get("series")
    except (aiohttp.ClientError, OSError):
        return -1
    return int(series[0]["values"][0][1]) if series else 0


def in_process_config(
    tmp_path: Path, mqtt: dict[str, object], influx: dict[str, object]
) -> IocConfig:
    """A service run in the test's process, with its state under ``tmp_path``."""
    return IocConfig.model_validate(
        {
            "registry": str(write_registry(tmp_path / "stations.yaml")),
            "mqtt": mqtt,
            "influx": {"flush_interval_s": 0.05, "spool_dir": str(tmp_path / "spool")} | influx,
            "analytics": {"rules": TEST_RULES},
            "alerts": {"database": ":memory:"},
            "access": {"database": str(tmp_path / "ioc.sqlite3")},
        }
    )


@pytest.fixture
async def own_influxdb(tmp_path: Path) -> AsyncIterator[PrivateInfluxDB]:
    database = PrivateInfluxDB(tmp_path / "influxdb", free_port())
    database.start()
    yield database
    database.stop()


async def test_an_influxdb_outage_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, mosquitto: PrivateMosquitto, own_influxdb: PrivateInfluxDB
) -> None:
    unique = uuid.uuid4().hex[:8]
    config = in_process_config(
        tmp_path,
        {"port": mosquitto.port, "topic_prefix": f"t/{unique}", "client_id": f"outage-{unique}"},
        {"url": own_influxdb.url, "database": "outage", "timeout_s": 2},
    )
    app = create_app(config, StationRegistry.from_file(config.registry))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await asyncio.wait_for(app[appkeys.MQTT].connected.wait(), 10)
        topic = f"t/{unique}/stations/AIR-1/readings"
        store = app[appkeys.STORE]
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as publisher:
            third = READINGS // 3
            for i in range(READINGS):
                if i == third:
                    await eventually(
                        lambda: _is(stored_count(own_influxdb.url, "outage"), third), 30
                    )
                    own_influxdb.kill()
                if i == 2 * third:
                    await eventually(lambda: _true(store.stats.failed_requests > 0))
                    own_influxdb.start()
                await publisher.publish(topic, reading(i), qos=1)
        await eventually(lambda: _is(stored_count(own_influxdb.url, "outage"), READINGS), 60)
        assert app[appkeys.STORE].pending_bytes == 0
        stored = await stored_count(own_influxdb.url, "outage")
        _record("InfluxDB SIGKILLed, restarted later", READINGS, stored)
    finally:
        await runner.cleanup()


async def test_a_killed_service_loses_no_qos1_reading(
    tmp_path: Path, mosquitto: PrivateMosquitto, influxdb: PrivateInfluxDB
) -> None:
    unique = uuid.uuid4().hex[:8]
    database = f"kill_{unique}"
    web_port = free_port()
    config_path = tmp_path / "ioc.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "registry": str(write_registry(tmp_path / "stations.yaml")),
                "mqtt": {
                    "port": mosquitto.port,
                    "topic_prefix": f"k/{unique}",
                    "client_id": f"kill-{unique}",
                },
                "influx": {
                    "url": influxdb.url,
                    "database": database,
                    "spool_dir": str(tmp_path / "spool"),
                },
                "web": {"port": web_port},
                "workers": {"ingest": 0},  # one process, whatever the cores
                "analytics": {"rules": TEST_RULES},
                "alerts": {"database": str(tmp_path / "alerts.sqlite3")},
                "access": {"database": str(tmp_path / "ioc.sqlite3")},
            }
        )
    )
    command = [sys.executable, "-m", "ioc", "serve", "-c", str(config_path)]
    total = scale(2000, 40_000)
    kill_at = total // 3

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / "service.log").open("ab")
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    service = start()
    try:
        # The service subscribes with a persistent session…
        await eventually(lambda: _connected(web_port), 20)
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as publisher:
            topic = f"k/{unique}/stations/AIR-2/readings"
            for i in range(total):
                if i == kill_at:
                    await eventually(lambda: _positive(stored_count(influxdb.url, database)), 15)
                    service.send_signal(signal.SIGKILL)
                    service.wait()
                if i == kill_at + total // 6:
                    service = start()  # …so the broker kept what came meanwhile
                await publisher.publish(topic, reading(i), qos=1)
        await eventually(lambda: _is(stored_count(influxdb.url, database), total), 60)
        _record("service SIGKILLed, restarted later", total, total)
    finally:
        service.terminate()
        service.wait(timeout=15)


async def test_a_broker_restart_loses_nothing(tmp_path: Path, influxdb: PrivateInfluxDB) -> None:
    """The broker stopped and started again on its data mid-stream: the service's persistent
    session and the publisher's unacknowledged messages carry every reading over."""
    broker = PrivateMosquitto(tmp_path / "broker", free_port())
    broker.start()
    unique = uuid.uuid4().hex[:8]
    database = f"restart_{unique}"
    config = in_process_config(
        tmp_path,
        {
            "port": broker.port,
            "topic_prefix": f"r/{unique}",
            "client_id": f"restart-{unique}",
            "reconnect_max_s": 0.5,
        },
        {"url": influxdb.url, "database": database},
    )
    app = create_app(config, StationRegistry.from_file(config.registry))
    runner = web.AppRunner(app)
    await runner.setup()
    total = scale(600, 30_000)
    try:
        mqtt = app[appkeys.MQTT]
        await asyncio.wait_for(mqtt.connected.wait(), 10)
        topic = f"r/{unique}/stations/AIR-1/readings"

        def count() -> Awaitable[int]:
            return stored_count(influxdb.url, database)

        sent, restarted = 0, False
        while sent < total:
            try:
                async with aiomqtt.Client("127.0.0.1", broker.port) as publisher:
                    while sent < total:
                        if sent == total // 2 and not restarted:
                            await eventually(lambda: _positive(count()))
                            broker.stop()  # SIGTERM: Mosquitto saves its sessions
                            broker.start()
                            restarted = True
                        await publisher.publish(topic, reading(sent), qos=1, timeout=5)
                        sent += 1
            except aiomqtt.MqttError:
                continue  # reconnect and send the unacknowledged one again
        await eventually(lambda: _is(stored_count(influxdb.url, database), total), 60)
        assert mqtt.stats.reconnects >= 1
        _record("broker restarted (SIGTERM)", total, total)
    finally:
        await runner.cleanup()
        broker.stop()


def _record(fault: str, sent: int, stored: int) -> None:
    """Readings carry distinct timestamps, so InfluxDB holds each at most once: stored beyond
    ``sent`` cannot happen, and a duplicate delivery shows as a ``duplicate`` refusal."""
    record(Outcome(fault, "MQTT JSON, QoS 1", sent, stored, 0, sent - stored, 0))


async def _connected(web_port: int) -> bool:
    url = f"http://127.0.0.1:{web_port}/api/v1/health"
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            return bool((await response.json())["mqtt"]["connected"])
    except (aiohttp.ClientError, OSError):
        return False


async def _is(count: object, expected: int) -> bool:
    return await count == expected  # type: ignore[misc]


async def _positive(count: object) -> bool:
    return await count > 0  # type: ignore[misc,operator]


async def _true(value: bool) -> bool:
    return value
