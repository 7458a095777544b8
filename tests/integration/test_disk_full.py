"""A full disk under the spool, with the real broker and database: input is refused with a
reason (HTTP 503 + Retry-After, MQTT not acknowledged, drop-folder file left in place), health
says so, and when space returns the service carries on by itself — every value sent is stored
exactly once.

The full disk is a real one: a small tmpfs mounted in the test's directory, filled with a
filler file and emptied again. Mounting needs CAP_SYS_ADMIN (root here and in CI); without it
the test is skipped and says why."""

from __future__ import annotations

import asyncio
import errno
import itertools
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from ioc import appkeys
from ioc.clock import LOCAL_TZ
from ioc.config import IocConfig
from tests.integration.conftest import RunningService, eventually, run_service
from tests.reliability import Outcome, record, scale

pytestmark = pytest.mark.adversarial

FS_BYTES = 4 * 1024 * 1024
#: Whole seconds from a day ago, one per reading: distinct after the ms conversion.
STAMPS = itertools.count(int(time.time()) - 86_400)
NO_SPACE = os.strerror(errno.ENOSPC)  # "No space left on device"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB file system of its own, mounted at tmp_path/small."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={FS_BYTES}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the file system is full; the file is returned."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    os.write(fd, bytes(chunk))
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


async def stored_count(service: RunningService, station: str, parameter: str) -> int:
    config = service.config.influx
    query = {
        "db": config.database,
        "q": f"SELECT count({parameter}) FROM reading WHERE station = '{station}'",
    }
    async with aiohttp.ClientSession() as http, http.get(f"{config.url}/query", params=query) as r:
        series = (await r.json())["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


async def health(service: RunningService) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{service.url}/api/v1/health") as r:
        return dict(await r.json())


def readings_body(count: int) -> dict[str, Any]:
    reading = {"station_id": "AIR-2", "values": {"pm25": 5.0}}
    return {"readings": [{**reading, "ts": next(STAMPS)} for _ in range(count)]}


async def test_a_full_disk_refuses_input_and_recovers_by_itself_losing_nothing(
    config: IocConfig, small_disk: Path, api_keys: dict[str, str], tmp_path: Path
) -> None:
    influx = config.influx.model_copy(
        update={"spool_dir": small_disk / "spool", "spool_segment_bytes": 2 * FS_BYTES}
    )
    config = config.model_copy(update={"influx": influx})
    before_full, while_full = scale(50, 2_000), scale(40, 2_000)
    http_before, http_batch = scale(20, 1_000), 5
    key = {"Authorization": f"Bearer {api_keys['ioc-publisher']}"}
    async with (
        run_service(config) as service,
        aiohttp.ClientSession(headers=key) as http,
        aiomqtt.Client("127.0.0.1", config.mqtt.port) as publisher,
    ):
        app = service.app
        mqtt, pipeline, store = app[appkeys.MQTT], app[appkeys.PIPELINE], app[appkeys.STORE]
        ingest = f"{service.url}/api/v1/ingest"

        async def publish(count: int) -> None:
            for _ in range(count):
                body = {"ts": next(STAMPS), "values": {"pm25": 7.0}}
                await publisher.publish(service.topic("AIR-1"), json.dumps(body), qos=1)

        # Before: MQTT and HTTP stored and acknowledged.
        await publish(before_full)
        http_sent = 0
        async with http.post(ingest, json=readings_body(http_before)) as response:
            assert response.status == 200
            http_sent += http_before

        async def settled() -> bool:
            return mqtt.stats.acknowledged == before_full and store.pending_bytes == 0

        await eventually(settled, 15)

        # The disk fills: the next input that needs room finds it missing.
        filler = fill(small_disk)
        refused_batch: dict[str, Any] | None = None
        for _ in range(200):  # the segment's last page may still take a few lines
            batch = readings_body(http_batch)
            async with http.post(ingest, json=batch) as response:
                if response.status == 200:
                    http_sent += http_batch
                    continue
                assert response.status == 503
                assert response.headers["Retry-After"] == "5"
                error = await response.json()
                refused_batch = batch
                break
        assert refused_batch is not None, "the full disk was never noticed"
        assert error["storage"] == "full" and error["reason"] == NO_SPACE
        report = await health(service)
        assert report["status"] == "degraded"
        assert report["storage"]["state"] == "full"
        assert report["storage"]["reason"] == NO_SPACE and report["storage"]["since"]
        assert report["mqtt"]["connected"]  # still true: it is the storage that is down
        async with http.post(ingest, json=readings_body(1)) as response:
            assert response.status == 503 and "Retry-After" in response.headers
        stamp = time.strftime("%Y%m%d%H%M%S", time.localtime())
        async with http.post(
            f"{service.url}/api/v1/ingest/files",
            params={"filename": f"STK-1_{stamp}.txt"},
            data=b"PM 1 mg/Nm3 " + stamp.encode() + b" 00\n",
        ) as response:
            assert response.status == 503 and "Retry-After" in response.headers

        # MQTT: held, not acknowledged; the broker keeps them.
        acknowledged = mqtt.stats.acknowledged
        await publish(while_full)

        async def held() -> bool:
            return pipeline.stats.held_batches > 0 and (
                mqtt.stats.received == before_full + while_full or mqtt.stats.backpressure_waits
            )

        await eventually(held, 15)
        assert mqtt.stats.acknowledged == acknowledged

        # A station file in the drop folder waits where it is.
        drop_stamp = _local_stamp(time.time() - 120)
        dropped = Path(config.ingest.drop_folder or tmp_path / "drop") / f"STK-1_{drop_stamp}.txt"
        dropped.parent.mkdir(parents=True, exist_ok=True)
        dropped.write_text(f"PM 90 mg/Nm3 {drop_stamp} 00\n")
        os.utime(dropped, (time.time() - 10, time.time() - 10))  # complete: not growing
        refused_so_far = store.spool.stats.refused_appends

        async def tried() -> bool:
            return store.spool.stats.refused_appends > refused_so_far

        await eventually(tried, 10)
        assert dropped.exists()
        for name in ("pipeline", "influx-writer", "cameras", "drop-folder", "spool-space"):
            assert _task_alive(name), f"{name} stopped on a full disk"

        # Space returns: the service carries on by itself.
        filler.unlink()

        async def healthy() -> bool:  # storage only: a loaded machine may report a loop stall
            answer = await health(service)
            return answer["storage"]["state"] == "ok" and "storage_full" not in answer["reasons"]

        await eventually(healthy, 15)
        async with http.post(ingest, json=refused_batch) as response:
            assert response.status == 200
            answer = await response.json()
        assert answer["accepted"] == http_batch and answer["rejected"] == []  # no duplicates
        http_sent += http_batch
        mqtt_sent = before_full + while_full

        async def all_stored() -> bool:
            counts = (
                await stored_count(service, "AIR-1", "pm25"),
                await stored_count(service, "AIR-2", "pm25"),
                await stored_count(service, "STK-1", "dust"),
            )
            return counts == (mqtt_sent, http_sent, 1) and store.pending_bytes == 0

        if not await _within(all_stored, 30):
            counts = [
                await stored_count(service, "AIR-1", "pm25"),
                await stored_count(service, "AIR-2", "pm25"),
                await stored_count(service, "STK-1", "dust"),
            ]
            pytest.fail(f"stored {counts}, sent {[mqtt_sent, http_sent, 1]}")
        assert mqtt.stats.acknowledged == mqtt_sent
        assert not dropped.exists()  # processed once space returned
        stored_mqtt = await stored_count(service, "AIR-1", "pm25")
        stored_http = await stored_count(service, "AIR-2", "pm25")
        stored_file = await stored_count(service, "STK-1", "dust")
        report = await health(service)
        assert report["storage"]["state"] == "ok" and report["storage"]["full_episodes"] == 1

    note = "spool on a filled 4 MiB tmpfs; filler deleted, no restart"
    for kind, sent, stored, extra in (
        ("MQTT JSON", mqtt_sent, stored_mqtt, f"{while_full} held unacknowledged while full"),
        ("HTTP JSON", http_sent, stored_http, f"{http_batch} answered 503, sent again"),
        ("station file (drop folder)", 1, stored_file, "left in the folder while full"),
    ):
        outcome = record(
            Outcome(
                fault="disk full (spool)",
                input=kind,
                sent=sent,
                stored=stored,
                refused=0,
                lost=sent - stored,
                duplicated=max(stored - sent, 0),
                note=f"{note}; {extra}",
            )
        )
        assert (outcome.lost, outcome.duplicated) == (0, 0)


async def _within(probe: Any, within_s: float) -> bool:
    try:
        await eventually(probe, within_s)
    except AssertionError:
        return False
    return True


def _task_alive(name: str) -> bool:
    return any(t.get_name() == name and not t.done() for t in asyncio.all_tasks())


def _local_stamp(ts_s: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ts_s, LOCAL_TZ).strftime("%Y%m%d%H%M%S")
