"""A full spool holds the pipeline's batch (not acknowledged, not refused) until there is room,
and a refused HTTP-style batch can be sent again without being taken for a duplicate."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from alerts.lifecycle import AlertBook
from analytics.config import AnalyticsConfig
from analytics.engine import AnalyticsEngine
from ingest.decode import decode_reading
from ingest.inbox import Inbox
from ingest.rejections import RejectionSink
from ingest.validate import Origin, ReadingValidator
from ioc.clock import now_ms
from ioc.config import InfluxConfig, IngestConfig, RuleConfig
from ioc.errors import StorageFull
from ioc.messages import RawMessage, Reading, Rejection
from ioc.pipeline import Pipeline
from store.influx import InfluxStore
from tests.factories import TEST_RULES, fresh_ts, payload, raw, registry
from tests.unit.test_spool import DiskFillsAfter
from web.broadcast import Broadcaster
from web.station_board import StationBoard


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[Pipeline]:
    reg = registry(tmp_path)
    rules = [RuleConfig.model_validate(r) for r in TEST_RULES]
    async with aiohttp.ClientSession() as session:
        store = InfluxStore(InfluxConfig(spool_dir=tmp_path / "spool", spool_fsync=False), session)
        alerts = AlertBook({r.id: r for r in rules})
        yield Pipeline(
            registry=reg,
            rules={r.id: r for r in rules},
            validator=ReadingValidator(reg, IngestConfig()),
            store=store,
            rejections=RejectionSink(
                store,
                lambda t, p: None,
                "ioc/v1/rejected",
                60,
                is_station=lambda s: reg.get(s) is not None,
            ),
            engine=AnalyticsEngine(AnalyticsConfig(rules=rules), reg),
            alerts=alerts,
            board=StationBoard(reg, 3),
            broadcaster=Broadcaster(100, 100, lambda: {}),
            batch_size=100,
        )


def spooled_readings(store: InfluxStore) -> list[str]:
    body, _, _ = store.spool.read_batch(10_000)
    return [line for line in body.decode().splitlines() if line.startswith("reading")]


async def eventually(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    """Wait until ``condition()`` holds; fail after ``within_s`` seconds."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        if condition():
            return
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_batch_waits_for_room_unacknowledged_then_is_stored_once(
    pipeline: Pipeline,
) -> None:
    store: InfluxStore = pipeline._store
    real = store.spool._writer
    store.spool._writer = DiskFillsAfter(real, room=0)  # type: ignore[assignment]
    inbox: Inbox[RawMessage] = Inbox(10)
    acked: list[RawMessage] = []
    runner = asyncio.create_task(pipeline.run(inbox, acked.extend))
    watcher = asyncio.create_task(store.watch_space(interval_s=0.01))
    try:
        inbox.put(raw("AIR-1", payload({"pm25": 12})))
        await eventually(lambda: store.spool.full is not None and pipeline.stats.held_batches > 0)
        assert acked == [] and pipeline.stats.rejections == 0  # held, not refused
        store.spool._writer = real  # space is back
        await eventually(lambda: len(acked) == 1)
        assert store.spool.full is None
        assert len(spooled_readings(store)) == 1
        assert pipeline.stats.rejections == 0  # the retry was not taken for a duplicate
    finally:
        runner.cancel()
        watcher.cancel()


async def test_readings_refused_for_a_full_spool_are_not_duplicates_when_sent_again(
    pipeline: Pipeline,
) -> None:
    store: InfluxStore = pipeline._store
    body = json.loads(payload({"pm25": 30}, ts=fresh_ts()))

    def validated() -> tuple[list[Reading], list[Rejection]]:
        rejections: list[Rejection] = []
        origin = Origin("http", now_ms())
        reading = decode_reading(pipeline._validator, origin, "AIR-1", body, rejections)
        return ([reading] if reading else []), rejections

    real = store.spool._writer
    store.spool._writer = DiskFillsAfter(real, room=0)  # type: ignore[assignment]
    with pytest.raises(StorageFull):
        pipeline.accept(*validated())
    store.spool._writer = real
    assert store.spool.recheck()
    readings, rejections = validated()
    assert len(readings) == 1 and rejections == []
    pipeline.accept(readings, rejections)
    assert len(spooled_readings(store)) == 1


async def test_derived_lines_on_a_full_spool_are_counted_and_nothing_stops(
    pipeline: Pipeline,
) -> None:
    store: InfluxStore = pipeline._store
    store.spool._writer = DiskFillsAfter(store.spool._writer, room=0)  # type: ignore[assignment]
    store.append(["camera,camera=CAM-1 people=3i 1"])  # a camera's metrics: must not raise
    assert store.stats.unstored_lines == 1
    assert store.spool.full is not None
