"""The vehicles' stage (ioc.vehicle_pipeline) on a real spool and alert book: positions from
MQTT messages are stored and judged, and lost signal is judged in event time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from alerts.lifecycle import AlertBook
from analytics.journeys import JourneyConfig
from ingest.rejections import RejectionSink
from ioc.config import InfluxConfig
from ioc.fleet import FleetFile, FleetRegistry
from ioc.messages import RawMessage
from ioc.vehicle_pipeline import VehiclePipeline
from ioc.vehicles_config import VehiclesConfig
from store.influx import InfluxStore
from web.vehicle_board import VehicleBoard

NOW = 1_796_450_000_000  # 2026-12-05, mid-morning in Vietnam
MINUTE = 60_000
A, B = "49C11111", "49C22222"


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[tuple[VehiclePipeline, AlertBook, InfluxStore]]:
    fleet = FleetRegistry(
        FleetFile.model_validate(
            {
                "companies": [{"id": "VT", "name": "VT"}],
                "vehicles": [
                    {"id": A, "type": "truck", "company": "VT"},
                    {"id": B, "type": "truck", "company": "VT"},
                ],
                "speed_limits": {"rural": {"truck": 60}},
            }
        )
    )
    async with aiohttp.ClientSession() as session:
        store = InfluxStore(InfluxConfig(spool_dir=tmp_path / "spool", spool_fsync=False), session)
        alerts = AlertBook({})
        rejections = RejectionSink(store, lambda t, p: None, "ioc/v1/rejected", 60, lambda s: False)
        pipeline = VehiclePipeline(
            fleet=fleet,
            config=VehiclesConfig(max_age_s=86_400),
            journeys=JourneyConfig(),
            topic_prefix="ioc/v1",
            store=store,
            rejections=rejections,
            alerts=alerts,
            board=VehicleBoard(fleet),
            clock=lambda: NOW,
        )
        yield pipeline, alerts, store


def message(plate: str, *fixes: tuple[int, float]) -> RawMessage:
    body = [{"ts": ts, "lat": 11.94, "lon": 108.40 + n * 0.003, "speed": speed}
            for n, (ts, speed) in enumerate(fixes)]  # fmt: skip
    return RawMessage(f"ioc/v1/vehicles/{plate}/positions", orjson.dumps(body), NOW)


def accept(pipeline: VehiclePipeline, *messages: RawMessage) -> None:
    fixes, refused = pipeline.decode(list(messages))
    pipeline.accept(fixes, refused)


def open_of(alerts: AlertBook, rule_id: str) -> set[str]:
    return {a.station_id for a in alerts.open_alerts() if a.rule_id == rule_id}


def signal_lost(alerts: AlertBook) -> set[str]:
    return open_of(alerts, "journey.signal_lost")


def ever_raised(alerts: AlertBook, rule_id: str) -> list[str]:
    return [a.station_id for a in alerts.query(limit=1_000) if a.rule_id == rule_id]


async def test_a_feed_catching_up_on_history_is_no_lost_signal(
    stage: tuple[VehiclePipeline, AlertBook, InfluxStore],
) -> None:
    pipeline, alerts, _ = stage
    hours_ago = NOW - 3 * 60 * MINUTE
    moving = [(hours_ago + n * 30_000, 40.0) for n in range(4)]
    accept(pipeline, message(A, *moving), message(B, *moving))
    pipeline.tick(NOW)  # the history is three hours old: both would be "silent" by the clock
    assert signal_lost(alerts) == set()


async def test_a_vehicle_silent_while_the_others_send_has_lost_its_signal(
    stage: tuple[VehiclePipeline, AlertBook, InfluxStore],
) -> None:
    pipeline, alerts, store = stage
    start = NOW - 10 * MINUTE
    accept(pipeline, message(A, *[(start + n * 30_000, 40.0) for n in range(4)]))
    accept(pipeline, message(B, *[(start + n * 30_000, 40.0) for n in range(20)]))
    pipeline.tick(NOW)
    assert open_of(alerts, "journey.silent") == {A}  # moving, and nothing for 8 minutes
    assert ever_raised(alerts, "journey.signal_lost") == []  # not yet known to be a gap
    body, _, _ = store.spool.read_batch(100_000)
    assert body.decode().count("position,vehicle=") == 24


async def test_a_silence_whose_backlog_fills_the_gap_is_no_lost_signal(
    stage: tuple[VehiclePipeline, AlertBook, InfluxStore],
) -> None:
    """A device out of coverage (a tunnel) keeps recording and sends its backlog later: it
    was silent (shown live), but its journey has no gap, so no violation stays behind."""
    pipeline, alerts, _ = stage
    start = NOW - 10 * MINUTE
    accept(pipeline, message(A, *[(start + n * 30_000, 40.0) for n in range(4)]))
    accept(pipeline, message(B, *[(start + n * 30_000, 40.0) for n in range(20)]))
    pipeline.tick(NOW)
    assert open_of(alerts, "journey.silent") == {A}
    accept(pipeline, message(A, *[(start + n * 30_000, 40.0) for n in range(4, 20)]))
    assert open_of(alerts, "journey.silent") == set()  # it talks again
    assert ever_raised(alerts, "journey.signal_lost") == []  # and its record has no gap
    assert [a.state for a in alerts.query(limit=10) if a.station_id == A] == ["resolved"]


async def test_a_real_gap_is_one_lost_signal_violation_once_the_vehicle_is_back(
    stage: tuple[VehiclePipeline, AlertBook, InfluxStore],
) -> None:
    pipeline, alerts, _ = stage
    start = NOW - 10 * MINUTE
    accept(pipeline, message(A, *[(start + n * 30_000, 40.0) for n in range(4)]))
    accept(pipeline, message(B, *[(start + n * 30_000, 40.0) for n in range(20)]))
    pipeline.tick(NOW)
    accept(pipeline, message(A, (NOW - 30_000, 40.0)))  # back after 8 minutes without a fix
    assert open_of(alerts, "journey.silent") == set()
    (lost,) = [a for a in alerts.query(limit=10) if a.rule_id == "journey.signal_lost"]
    assert (lost.station_id, lost.state.value, lost.value) == (A, "resolved", 8 * 60.0)
    (silent,) = [a for a in alerts.query(limit=10) if a.rule_id == "journey.silent"]
    assert silent.incident_id == lost.incident_id  # one incident: the live silence, then the gap
