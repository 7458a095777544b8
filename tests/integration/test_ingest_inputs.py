"""Every input over its real interface: HTTP JSON and SenML, station files (upload and drop
folder), MQTT SenML, and broker credentials with topic ACLs."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
from aiohttp import web

from ingest.credentials import Credentials, write_broker_files
from ioc import appkeys
from ioc.config import IocConfig
from ioc.private_services import PrivateInfluxDB, PrivateMosquitto, free_port
from ioc.registry import StationRegistry
from ioc.service import create_app
from tests.factories import TEST_RULES, fresh_ts, payload, registry, write_registry
from tests.integration.conftest import RunningService, eventually


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def stored(
    service: RunningService, station: str, having: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The station's stored rows; none until every row has each field of ``having``.
    InfluxDB 1.x may answer a point while it is being written with some of its fields not
    yet there (influxdata/influxdb#8546), so a test waits for the fields it reads."""
    query = f"SELECT * FROM reading WHERE station = '{station}'"
    rows = await service.app[appkeys.STORE].query(query)
    complete = all(row.get(f) is not None for row in rows for f in having)
    return rows if complete else []


def local_stamp(ts_s: float) -> str:
    from datetime import datetime

    from ioc.clock import LOCAL_TZ

    return datetime.fromtimestamp(ts_s, LOCAL_TZ).strftime("%Y%m%d%H%M%S")


async def test_http_batch_accepts_the_good_items_and_explains_the_bad(
    service: RunningService, api_keys: dict[str, str]
) -> None:
    ts = fresh_ts()
    batch = {
        "readings": [
            {"station_id": "AIR-1", "ts": ts, "values": {"pm25": 21.5, "pm10": 33}},
            {"station_id": "AIR-1", "ts": ts + 1, "values": {"pm25": -4}},
            {"station_id": "NOPE", "ts": ts, "values": {"pm25": 1}},
            {"ts": ts, "values": {"pm25": 1}},
        ]
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{service.url}/api/v1/ingest", json=batch, headers=auth(api_keys["ioc-publisher"])
        ) as response:
            assert response.status == 200
            answer = await response.json()
        async with http.post(f"{service.url}/api/v1/ingest", json=batch) as response:
            assert response.status == 401
            assert "Bearer" in (await response.json())["error"]
        async with http.post(
            f"{service.url}/api/v1/ingest", json=batch, headers=auth("ioc_wrong")
        ) as response:
            assert (response.status, (await response.json())["error"]) == (
                401,
                "unknown or revoked API key",
            )
    assert answer["accepted"] == 2 and answer["accepted_readings"] == 1
    assert [(r["station_id"], r["reason"]) for r in answer["rejected"]] == [
        ("AIR-1", "out_of_range"),
        ("NOPE", "unknown_station"),
        (None, "malformed"),
    ]
    # Durable before the answer; in InfluxDB soon after.
    rows = await eventually(lambda: stored(service, "AIR-1", ("pm25", "pm10")))
    assert [(r["pm25"], r["pm10"]) for r in rows] == [(21.5, 33.0)]  # type: ignore[attr-defined]


async def test_an_enterprise_key_writes_only_its_own_stations(
    service: RunningService, api_keys: dict[str, str]
) -> None:
    pack = [{"bn": "STK-1:", "bt": fresh_ts(), "n": "dust", "u": "mg/Nm3", "v": 88.5}]
    async with service.http() as http:
        async with http.post(
            f"{service.url}/api/v1/ingest", json=pack, headers=auth(api_keys["ENT-B"])
        ) as response:
            refused = await response.json()
        async with http.post(
            f"{service.url}/api/v1/ingest",
            data=json.dumps(pack),
            headers={**auth(api_keys["ENT-A"]), "Content-Type": "application/senml+json"},
        ) as response:
            accepted = await response.json()
    assert refused["accepted"] == 0
    assert refused["rejected"][0]["reason"] == "not_owner"
    assert "ENT-B may not write station STK-1" in refused["rejected"][0]["detail"]
    assert accepted == {"accepted": 1, "accepted_readings": 1, "rejected": []}
    rows = await eventually(lambda: stored(service, "STK-1"))
    assert rows[0]["dust"] == 88.5  # type: ignore[index]


async def test_uploaded_station_files_answer_line_by_line(
    service: RunningService, api_keys: dict[str, str]
) -> None:
    now = time.time()
    good = local_stamp(now - 300)
    file_a = f"PM2,5\t41,7\tug/m3\t{good}\t00\nPM10\t60\tug/m3\t{good}\t02\n"
    file_b = f"NO2\t12\tug/m3\t{good}\t00\nSO2\t5\tug/m3\t{good}\t00\n"
    form = aiohttp.FormData()
    form.add_field("file", file_a, filename=f"AIR-1_{good}.txt")
    form.add_field("file", file_b, filename=f"AIR-2_{good}.txt")
    async with (
        service.http() as http,
        http.post(
            f"{service.url}/api/v1/ingest/files", data=form, headers=auth(api_keys["ioc-publisher"])
        ) as response,
    ):
        assert response.status == 200
        files = (await response.json())["files"]
    assert [(f["station_id"], f["accepted"], f["rejected"]) for f in files] == [
        ("AIR-1", 2, 0),
        ("AIR-2", 1, 1),
    ]
    assert files[1]["lines"][1]["reason"] == "unknown_parameter"
    rows = await eventually(lambda: stored(service, "AIR-1", ("pm25", "pm10", "pm10_status")))
    [row] = rows  # type: ignore[misc]
    assert (row["pm25"], row["pm10"], row["pm10_status"]) == (41.7, 60.0, 2)
    assert row["time"] == int(now - 300) * 1000  # local file time stored as UTC


async def test_the_drop_folder_processes_files_and_leaves_a_result(
    service: RunningService, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    stamp = local_stamp(time.time() - 120)
    (drop / "ENT-A").mkdir(parents=True, exist_ok=True)
    for folder, station in (("ENT-A", "STK-1"), ("ENT-A", "AIR-1")):
        path = drop / folder / f"{station}_{stamp}.txt"
        path.write_text(
            f"PM 90 mg/Nm3 {stamp} 00\n" if station == "STK-1" else f"PM2,5 10 ug/m3 {stamp} 00\n"
        )
        os.utime(path, (time.time() - 10, time.time() - 10))  # complete: not growing
    results = await eventually(lambda: _results(drop), 10)
    by_station = {r["station_id"]: r for r in results}  # type: ignore[attr-defined]
    assert by_station["STK-1"]["accepted"] == 1
    assert by_station["AIR-1"]["lines"][0]["reason"] == "not_owner"  # ENT-A's folder
    assert await eventually(lambda: stored(service, "STK-1"))


async def _results(drop: Path) -> list[dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in drop.rglob("*.result.json")]
    return found if len(found) == 2 else []


async def test_senml_over_mqtt(service: RunningService) -> None:
    pack = [{"bt": fresh_ts(), "n": "pm25", "u": "ug/m3", "v": 7.25}]
    topic = f"{service.config.mqtt.topic_prefix}/stations/AIR-2/senml"
    async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as client:
        await client.publish(topic, json.dumps(pack), qos=1)
    rows = await eventually(lambda: stored(service, "AIR-2"))
    assert rows[0]["pm25"] == 7.25  # type: ignore[index]


async def test_broker_acls_keep_enterprises_to_their_own_topics(
    tmp_path: Path, influxdb: PrivateInfluxDB
) -> None:
    reg = registry(tmp_path)
    credentials, _ = Credentials.generate(reg)
    prefix = f"acl/{uuid.uuid4().hex[:8]}"
    broker = PrivateMosquitto(
        tmp_path / "broker",
        free_port(),
        auth=write_broker_files(credentials, reg, prefix, tmp_path / "broker"),
    )
    broker.start()
    service_account = credentials.first("service")
    assert service_account is not None
    config = IocConfig.model_validate(
        {
            "registry": str(write_registry(tmp_path / "stations.yaml")),
            "mqtt": {
                "port": broker.port,
                "topic_prefix": prefix,
                "client_id": "acl-test",
                "username": service_account.username,
                "password": service_account.password,
            },
            "influx": {
                "url": influxdb.url,
                "database": "acl_test",
                "spool_dir": str(tmp_path / "spool"),
                "flush_interval_s": 0.05,
            },
            "analytics": {"rules": TEST_RULES},
            "alerts": {"database": ":memory:"},
            "access": {"database": str(tmp_path / "ioc.sqlite3")},
            "cameras": {"snapshot_dir": str(tmp_path / "snapshots")},
        }
    )
    app = create_app(config, StationRegistry.from_file(config.registry))
    runner = web.AppRunner(app)
    await runner.setup()
    accounts = {a.username: a for a in credentials.accounts}
    try:
        await asyncio.wait_for(app[appkeys.MQTT].connected.wait(), 10)
        topic = f"{prefix}/stations/STK-1/readings"  # owned by ENT-A
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, username="ENT-B", password=accounts["ENT-B"].password
        ) as intruder:
            await intruder.publish(topic, payload({"dust": 999}), qos=1)
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, username="ENT-A", password=accounts["ENT-A"].password
        ) as owner:
            await owner.publish(topic, payload({"dust": 111}), qos=1)
        store = app[appkeys.STORE]

        async def readings() -> list[dict[str, Any]]:
            return await store.query("SELECT dust FROM reading")

        rows = await eventually(readings)
        assert [r["dust"] for r in rows] == [111.0]  # type: ignore[attr-defined]
        assert app[appkeys.MQTT].stats.received == 1
        try:
            async with aiomqtt.Client("127.0.0.1", broker.port) as anonymous:
                await anonymous.publish(topic, b"{}")
            raise AssertionError("the broker accepted an anonymous client")
        except aiomqtt.MqttError as exc:
            assert "authori" in str(exc).lower() or "refused" in str(exc).lower()
    finally:
        await runner.cleanup()
        broker.stop()
