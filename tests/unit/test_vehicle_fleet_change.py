"""A console edit of the transport registry (VehiclePipeline.use_fleet) keeps every vehicle's
journey state (issue #13): a trip, driving time, an ongoing speeding episode and the
driver-image clock go on across it; a removed vehicle's open episode is closed at its last fix.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from alerts.lifecycle import AlertBook
from analytics.journeys import JourneyConfig, JourneyOutput
from ingest.rejections import RejectionSink
from ioc.config import InfluxConfig
from ioc.fleet import FleetFile, FleetRegistry
from ioc.messages import RawMessage
from ioc.vehicle_pipeline import VehiclePipeline
from ioc.vehicles_config import DriverImagesConfig, VehiclesConfig
from store.influx import InfluxStore
from web.vehicle_board import VehicleBoard

NOW = 1_796_450_000_000  # 2026-12-05, mid-morning in Vietnam
S = 1000
MIN = 60 * S
H = 60 * MIN
A, B, C, NEW = "49C11111", "49C22222", "49B33333", "29A00001"
LAT, LON = 11.94, 108.40


def registry(*extra: dict[str, Any], drivers: list[dict[str, Any]] | None = None,
             without: tuple[str, ...] = ()) -> FleetRegistry:  # fmt: skip
    """Trucks A and B and bus C of one company (limit 60 km/h for trucks); ``extra``
    vehicles listed first (so every vehicle's position in the table moves)."""
    vehicles = [
        *extra,
        {"id": A, "type": "truck", "company": "VT"},
        {"id": B, "type": "truck", "company": "VT"},
        {"id": C, "type": "bus", "company": "VT"},
    ]
    return FleetRegistry(
        FleetFile.model_validate(
            {
                "companies": [{"id": "VT", "name": "VT"}, {"id": "HN", "name": "HN"}],
                "vehicles": [v for v in vehicles if v["id"] not in without],
                "drivers": drivers or [],
                "speed_limits": {"rural": {"truck": 60, "bus": 60}},
            }
        )
    )


class Journal:
    """Every output the pipeline hands its journal."""

    def __init__(self) -> None:
        self.outputs: list[JourneyOutput] = []

    def record(self, out: JourneyOutput) -> None:
        self.outputs.append(out)

    def follow_fleet(
        self, company_of: Mapping[str, str], driver_of: Mapping[str, str | None]
    ) -> None:
        pass

    def all(self, kind: str) -> list[Any]:
        return [event for out in self.outputs for event in getattr(out, kind)]


Stage = tuple[VehiclePipeline, AlertBook, Journal]


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    fleet = registry()
    async with aiohttp.ClientSession() as session:
        store = InfluxStore(InfluxConfig(spool_dir=tmp_path / "spool", spool_fsync=False), session)
        alerts = AlertBook({})
        journal = Journal()
        rejections = RejectionSink(store, lambda t, p: None, "ioc/v1/rejected", 60, lambda s: False)
        images = DriverImagesConfig(directory=tmp_path / "images")
        pipeline = VehiclePipeline(
            fleet=fleet,
            config=VehiclesConfig(max_age_s=86_400, images=images),
            journeys=JourneyConfig(),
            topic_prefix="ioc/v1",
            store=store,
            rejections=rejections,
            alerts=alerts,
            board=VehicleBoard(fleet),
            clock=lambda: NOW,
            journal=journal,
        )
        yield pipeline, alerts, journal


class Drive:
    """Fixes of one vehicle every 30 s heading east at a given speed."""

    def __init__(self, plate: str, t: int, lat: float = LAT) -> None:
        self.plate, self.t, self.lat, self.lon = plate, t, lat, LON

    def fixes(self, count: int, kmh: float) -> RawMessage:
        body = []
        for _ in range(count):
            body.append({"ts": self.t, "lat": self.lat, "lon": self.lon, "speed": kmh})
            metres = kmh / 3.6 * 30
            self.lon += metres / (111_320.0 * math.cos(math.radians(self.lat)))
            self.t += 30 * S
        return RawMessage(f"ioc/v1/vehicles/{self.plate}/positions", orjson.dumps(body), NOW)


def accept(pipeline: VehiclePipeline, *messages: RawMessage) -> None:
    fixes, refused = pipeline.decode(list(messages))
    assert not refused, refused
    pipeline.accept(fixes, refused)


async def test_continuous_driving_is_caught_across_a_registry_change(stage: Stage) -> None:
    pipeline, _, journal = stage
    start = NOW - 5 * H
    a = Drive(A, start)
    for batch in range(25):  # 25 batches of 10 min: 4 h 10 min of driving
        if batch == 12:  # 2 h in, an officer adds a vehicle and a driver of another company
            pipeline.use_fleet(
                registry(
                    {"id": NEW, "type": "truck", "company": "HN", "driver": "HN123456"},
                    drivers=[{"licence": "HN123456", "company": "HN"}],
                )
            )
        accept(pipeline, a.fixes(20, 20.0))
    continuous = [d for d in journal.all("driving") if d.rule == "continuous"]
    assert [(d.vehicle, d.kind, d.at_ms) for d in continuous] == [
        (A, "warning", start + 4 * H - 5 * MIN),
        (A, "violation", start + 4 * H),
    ]
    assert continuous[1].period_start_ms == start


async def test_an_ongoing_speeding_episode_is_one_violation_across_a_change(
    stage: Stage,
) -> None:
    pipeline, _, journal = stage
    start = NOW - 2 * H
    a = Drive(A, start)
    accept(pipeline, a.fixes(10, 80.0))  # 20 km/h over from the first fix on
    pipeline.use_fleet(registry({"id": NEW, "type": "truck", "company": "VT"}))
    accept(pipeline, a.fixes(11, 80.0))
    accept(pipeline, a.fixes(2, 40.0))  # the episode ends
    speeding = journal.all("speeding")
    assert [(s.vehicle, s.start_ms, s.end_ms, s.fixes) for s in speeding] == [
        (A, start, start + 20 * 30 * S, 21)
    ]


async def test_a_changed_limit_applies_from_the_next_fix(stage: Stage) -> None:
    pipeline, _, journal = stage
    start = NOW - 2 * H
    a = Drive(A, start)
    accept(pipeline, a.fixes(10, 62.0))  # under 60 + 5 km/h tolerance
    faster = registry()
    faster.document.speed_limits["rural"]["truck"] = 50
    pipeline.use_fleet(FleetRegistry(faster.document))
    accept(pipeline, a.fixes(10, 62.0))  # 12 km/h over now
    accept(pipeline, a.fixes(1, 40.0))
    speeding = journal.all("speeding")
    assert [(s.start_ms, s.fixes, s.limit_kmh) for s in speeding] == [
        (start + 10 * 30 * S, 10, 50.0)
    ]


async def test_a_removed_vehicle_has_its_open_episode_closed_at_its_last_fix(
    stage: Stage,
) -> None:
    pipeline, _, journal = stage
    start = NOW - 2 * H
    a, b = Drive(A, start), Drive(B, start, lat=LAT + 0.05)
    accept(pipeline, a.fixes(2, 40.0), b.fixes(12, 40.0), b.fixes(10, 80.0))
    assert journal.all("speeding") == journal.all("trips") == []
    pipeline.use_fleet(registry(without=(B,)))
    speeding = journal.all("speeding")
    assert [(s.vehicle, s.start_ms, s.end_ms, s.fixes) for s in speeding] == [
        (B, start + 12 * 30 * S, start + 21 * 30 * S, 10)
    ]
    trips = journal.all("trips")
    assert [(t.vehicle, t.start_ms, t.end_ms, t.ended_by) for t in trips] == [
        (B, start, start + 21 * 30 * S, "flush")
    ]
    accept(pipeline, a.fixes(2, 40.0))
    assert pipeline.kernel.ids == [A, C]


async def test_the_driver_image_clock_runs_on_across_a_change(stage: Stage) -> None:
    pipeline, alerts, _ = stage
    start = NOW - 2 * H
    c = Drive(C, start)
    accept(pipeline, c.fixes(20, 40.0))  # 10 min without an image
    pipeline.use_fleet(registry({"id": NEW, "type": "bus", "company": "VT"}))
    accept(pipeline, c.fixes(12, 40.0))  # 16 min without an image
    pipeline.tick(NOW)  # event time: the newest fix
    late = [a for a in alerts.open_alerts() if a.rule_id == "journey.no_driver_image"]
    assert [a.station_id for a in late] == [C]
