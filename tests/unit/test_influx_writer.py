"""The store's writer keeps several write requests in flight (store.influx.WRITE_CONCURRENCY)
and moves the spool's cursor only over batches InfluxDB confirmed, in spool order, whatever
order the answers come in, with a failed batch retried and counted once. InfluxDB is faked
here by a ``write_lines`` whose answers the test gives one by one (tests/integration/
test_influx_concurrent_writes.py does it on a real InfluxDB)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import aiohttp
import pytest

import store.influx as influx
from ioc.config import InfluxConfig
from ioc.errors import StorageFull, StoreUnavailable
from store.influx import WRITE_CONCURRENCY, InfluxStore
from store.spool import DiskSpool

BATCH = 10


class FakeInflux:
    """``write_lines`` that waits for the test's answer: :meth:`answer` confirms (or fails)
    the request for a batch, by its first line's number."""

    def __init__(self) -> None:
        self.pending: dict[int, asyncio.Future[None]] = {}  # first line → its answer
        self.arrived = asyncio.Event()
        self.stored: list[str] = []  # lines of confirmed requests, duplicates included
        self.max_in_flight = 0
        self.requests = 0

    async def write_lines(self, body: bytes) -> None:
        lines = body.decode().splitlines()
        first = int(lines[0].split()[-1])
        answer = asyncio.get_running_loop().create_future()
        self.pending[first] = answer
        self.requests += 1
        self.max_in_flight = max(self.max_in_flight, len(self.pending))
        self.arrived.set()
        try:
            await answer
        finally:
            del self.pending[first]
        self.stored += lines

    async def in_flight(self, count: int, requests: int = 0) -> list[int]:
        """Wait until ``count`` requests wait for their answer (and ``requests`` were made in
        all); their first lines."""
        while len(self.pending) < count or self.requests < requests:
            self.arrived.clear()
            await self.arrived.wait()
        return sorted(self.pending)

    def answer(self, first: int, error: Exception | None = None) -> None:
        if error is None:
            self.pending[first].set_result(None)
        else:
            self.pending[first].set_exception(error)


def lines(start: int, count: int) -> list[str]:
    return [f"m v={i}i {i}" for i in range(start, start + count)]


@pytest.fixture
async def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[InfluxStore]:
    monkeypatch.setattr(influx, "FIRST_BACKOFF_S", 0.0)  # a retry comes at once
    config = InfluxConfig(
        spool_dir=tmp_path / "spool",
        spool_fsync=False,
        batch_size=BATCH,
        spool_max_bytes=1024**2,
        spool_segment_bytes=64 * 1024,
    )
    store = InfluxStore(config, cast(aiohttp.ClientSession, None))
    yield store
    store.spool.close()


async def settle() -> None:
    """Let the writer and its requests run until they wait for something."""
    for _ in range(20):
        await asyncio.sleep(0)


async def start(store: InfluxStore, fake: FakeInflux) -> asyncio.Task[None]:
    store.write_lines = fake.write_lines  # type: ignore[method-assign]
    return asyncio.create_task(store.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def resumed(path: Path) -> list[str]:
    """What a restarted service would send: the spool read again from its saved cursor."""
    spool = DiskSpool(path, 64 * 1024, 1024**2, fsync=False)
    body, _, _ = spool.read_batch(10_000)
    spool.close()
    return body.decode().splitlines()


async def test_batches_are_written_concurrently_and_committed_in_spool_order(
    store: InfluxStore, tmp_path: Path
) -> None:
    fake = FakeInflux()
    task = await start(store, fake)
    try:
        store.append_input(lines(0, BATCH * (WRITE_CONCURRENCY + 1)))
        firsts = await fake.in_flight(WRITE_CONCURRENCY)
        await settle()
        assert firsts == [BATCH * k for k in range(WRITE_CONCURRENCY)]
        assert len(fake.pending) == WRITE_CONCURRENCY  # the last batch waits for a free one

        fake.answer(BATCH)  # the second batch is confirmed before the first
        await settle()
        assert store.stats.written_points == BATCH
        assert resumed(tmp_path / "spool")[0] == lines(0, 1)[0]  # the cursor did not move
        assert len(fake.pending) == WRITE_CONCURRENCY  # the last batch took the free one

        fake.answer(0)  # now both are committed
        await settle()
        assert resumed(tmp_path / "spool")[0] == lines(2 * BATCH, 1)[0]

        for first in sorted(fake.pending):
            fake.answer(first)
        await asyncio.wait_for(store.wait_drained(), 5)
    finally:
        await stop(task)
    assert sorted(fake.stored, key=lambda line: int(line.split()[-1])) == lines(0, 40)
    assert store.stats.written_points == 40
    assert store.stats.write_requests == 4
    assert store.stats.failed_requests == 0
    assert store.pending_bytes == 0
    assert resumed(tmp_path / "spool") == []
    assert fake.max_in_flight == WRITE_CONCURRENCY


async def test_a_failed_batch_is_retried_and_holds_the_cursor_while_later_ones_are_confirmed(
    store: InfluxStore, tmp_path: Path
) -> None:
    fake = FakeInflux()
    task = await start(store, fake)
    try:
        store.append_input(lines(0, BATCH * WRITE_CONCURRENCY))
        await fake.in_flight(WRITE_CONCURRENCY)
        fake.answer(0, StoreUnavailable("connection reset"))  # the first fails mid-way
        await fake.in_flight(WRITE_CONCURRENCY, WRITE_CONCURRENCY + 1)  # ... and is sent again
        assert store.stats.failed_requests == 1
        for first in range(BATCH, BATCH * WRITE_CONCURRENCY, BATCH):
            fake.answer(first)
        await settle()
        assert store.stats.written_points == BATCH * (WRITE_CONCURRENCY - 1)
        # Not confirmed yet: a restart now would send every batch again, the first included.
        assert resumed(tmp_path / "spool") == lines(0, BATCH * WRITE_CONCURRENCY)
        assert not store.spool.read_to_end(store.spool.read_batch(1)[2])

        fake.answer(0)
        await asyncio.wait_for(store.wait_drained(), 5)
    finally:
        await stop(task)
    assert sorted(fake.stored, key=lambda line: int(line.split()[-1])) == lines(0, 30)
    assert store.stats.written_points == BATCH * WRITE_CONCURRENCY  # each batch once
    assert store.stats.write_requests == WRITE_CONCURRENCY
    assert store.stats.failed_requests == 1
    assert resumed(tmp_path / "spool") == []


async def test_a_full_spool_counts_unconfirmed_batches_and_has_room_once_they_are_confirmed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = InfluxConfig(spool_dir=tmp_path / "spool", spool_fsync=False, batch_size=BATCH)
    store = InfluxStore(config, cast(aiohttp.ClientSession, None))
    limit = 600  # bytes: a little over WRITE_CONCURRENCY batches of these lines
    store.spool = DiskSpool(tmp_path / "small", 200, limit, fsync=False)
    fake = FakeInflux()
    task = await start(store, fake)
    accepted: list[str] = []
    try:
        with pytest.raises(StorageFull, match="limit"):
            for start_line in range(0, 1000, BATCH):
                store.append_input(lines(start_line, BATCH))
                accepted += lines(start_line, BATCH)
                await settle()
        assert len(fake.pending) == WRITE_CONCURRENCY
        # Batches in flight are not confirmed: they still count against the limit.
        assert store.pending_bytes == sum(len(line) + 1 for line in accepted)

        while fake.pending:
            for first in sorted(fake.pending):
                fake.answer(first)
            await settle()
        await asyncio.wait_for(store.wait_drained(), 5)
        assert store.pending_bytes == 0
        assert store.spool.recheck()  # all confirmed: room again
        store.append_input(lines(5000, 1))
        accepted += lines(5000, 1)
        fake_done = asyncio.ensure_future(store.wait_drained())
        (first,) = await fake.in_flight(1)
        fake.answer(first)
        await asyncio.wait_for(fake_done, 5)
    finally:
        await stop(task)
        store.spool.close()
    assert sorted(fake.stored, key=lambda line: int(line.split()[-1])) == accepted
    assert store.stats.written_points == len(accepted)


async def test_a_bug_in_a_write_ends_the_writer_loudly(store: InfluxStore) -> None:
    async def broken(body: bytes) -> None:
        raise RuntimeError("a bug")

    store.write_lines = broken  # type: ignore[method-assign]
    task = asyncio.create_task(store.run())
    store.append_input(lines(0, BATCH))
    with pytest.raises(RuntimeError, match="a bug"):
        await asyncio.wait_for(task, 5)
    assert store.stats.written_points == 0
    assert store.pending_bytes > 0  # nothing committed


async def test_the_end_of_a_burst_is_sent_without_waiting_out_the_flush_interval(
    tmp_path: Path,
) -> None:
    config = InfluxConfig(
        spool_dir=tmp_path / "spool", spool_fsync=False, batch_size=BATCH, flush_interval_s=60
    )
    store = InfluxStore(config, cast(aiohttp.ClientSession, None))
    fake = FakeInflux()
    task = await start(store, fake)
    try:
        store.append_input(lines(0, 3))  # a burst's last lines, less than a batch
        (first,) = await asyncio.wait_for(fake.in_flight(1), 5)  # not 60 s later
        fake.answer(first)
        await asyncio.wait_for(store.wait_drained(), 5)
    finally:
        await stop(task)
        store.spool.close()
    assert store.stats.written_points == 3
