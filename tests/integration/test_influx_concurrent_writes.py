"""Concurrent writes from the spool to a real InfluxDB (store.influx.WRITE_CONCURRENCY):
with the first batch answered last, one batch whose answer is lost after InfluxDB stored it
and one whose request fails before it is sent, every point is stored once, each batch is
counted once as written, and the spool's cursor passes a batch only when it and every batch
before it are confirmed."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp
import pytest

import store.influx as influx
from ioc.config import InfluxConfig
from ioc.errors import StoreUnavailable
from ioc.private_services import PrivateInfluxDB
from store.influx import InfluxStore
from tests.integration.conftest import eventually

BATCH = 500
BATCHES = 12
POINTS = BATCH * BATCHES
T0_MS = 1_700_000_000_000


def position(i: int) -> str:
    return (
        f"position,vehicle=V{i % 50} lat={10 + i / 1e5},lon={106 + i / 1e5},speed=40.0 {T0_MS + i}"
    )


def resumed(directory: Path) -> list[str]:
    """What a restarted service would send: the spool's files from its saved cursor on."""
    segments = sorted(directory.glob("*.lp"))
    cursor = directory / "cursor"
    segment, offset = map(int, cursor.read_text().split()) if cursor.exists() else (0, 0)
    data = b""
    for path in segments:
        if int(path.stem) > segment:
            data += path.read_bytes()
        elif int(path.stem) == segment:
            data += path.read_bytes()[offset:]
    return data.decode().splitlines()


async def test_concurrent_writes_with_failures_store_everything_once_and_commit_in_order(
    tmp_path: Path, influxdb: PrivateInfluxDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(influx, "FIRST_BACKOFF_S", 0.01)
    database = f"concurrent_{uuid.uuid4().hex[:8]}"
    config = InfluxConfig(
        url=influxdb.url,
        database=database,
        spool_dir=tmp_path / "spool",
        batch_size=BATCH,
        spool_segment_bytes=64 * 1024,  # several segments, released as the cursor passes
    )
    lines = [position(i) for i in range(POINTS)]
    async with aiohttp.ClientSession() as session:
        store = InfluxStore(config, session)
        await store.ensure_database()
        real_write = store.write_lines
        attempts: dict[int, int] = {}  # batch → requests made for it
        first_may_answer = asyncio.Event()

        async def write(body: bytes) -> None:
            first = int(body[: body.index(b"\n")].rsplit(b" ", 1)[1]) - T0_MS
            batch = first // BATCH
            attempts[batch] = attempts.get(batch, 0) + 1
            if batch == 0 and attempts[batch] == 1:
                await first_may_answer.wait()  # the first batch is answered last
            if batch == 1 and attempts[batch] == 1:
                await real_write(body)  # InfluxDB stored it, the answer is lost
                raise StoreUnavailable("ServerDisconnectedError: after the write")
            if batch == 2 and attempts[batch] == 1:
                raise StoreUnavailable("ClientConnectorError: connection refused")
            await real_write(body)

        store.write_lines = write  # type: ignore[method-assign]
        task = asyncio.create_task(store.run())
        try:
            for first in range(0, POINTS, 100):
                store.append_input(lines[first : first + 100])
            await store.spool.sync()
            assert len(list(config.spool_dir.glob("*.lp"))) > 3
            await eventually(lambda: _true(store.stats.written_points == POINTS - BATCH), 30)
            # Every batch but the first is confirmed: the cursor has not moved, a restart
            # would send them all again (InfluxDB absorbs the repeat).
            assert resumed(config.spool_dir) == lines
            assert store.pending_bytes == sum(len(line) + 1 for line in lines)

            first_may_answer.set()
            await asyncio.wait_for(store.wait_drained(), 30)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            store.spool.close()
        [row] = await store.query("SELECT count(lat) FROM position")
        assert row["count"] == POINTS  # nothing lost; the batch sent twice overwrote itself
        [row] = await store.query("SELECT sum(speed) FROM position")
        assert row["sum"] == 40.0 * POINTS
    assert attempts == {b: 2 if b in (1, 2) else 1 for b in range(BATCHES)}
    assert store.stats.written_points == POINTS  # each batch counted once, when confirmed
    assert store.stats.write_requests == BATCHES
    assert store.stats.failed_requests == 2
    assert store.pending_bytes == 0
    assert resumed(config.spool_dir) == []
    assert len(list(config.spool_dir.glob("*.lp"))) == 1  # consumed segments released


async def _true(value: bool) -> bool:
    return value
