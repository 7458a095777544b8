"""The vehicle pipeline writes what the journey kernel found into its journal: a batch's
speeding episode and trip, a tick's lost signal (store.journey_book)."""

from __future__ import annotations

from typing import Any, cast

from alerts.lifecycle import AlertBook
from analytics.journeys import JourneyConfig
from ingest.rejections import RejectionSink
from ioc.fleet import FleetFile, FleetRegistry
from ioc.messages import PositionFix, RuleTransition
from ioc.vehicle_pipeline import VehiclePipeline
from ioc.vehicles_config import VehiclesConfig
from store.influx import InfluxStore
from store.journey_book import JourneyBook
from web.vehicle_board import VehicleBoard

T0 = 1_764_558_000_000
STEP = 30_000
PLATE = "49B15613"
OTHER = "49B15614"  # keeps the feed live: lost signal is judged against the others


class Alerts:
    def __init__(self) -> None:
        self.applied: list[RuleTransition] = []

    def apply(self, transitions: list[RuleTransition]) -> list[Any]:
        self.applied += transitions
        return []


class Rejections:
    def handle_positions(self, refused: object, known: object) -> None:
        pass


def pipeline(journal: JourneyBook, alerts: Alerts) -> VehiclePipeline:
    fleet = FleetRegistry(
        FleetFile.model_validate(
            {
                "companies": [{"id": "VT-01", "name": "A"}],
                "vehicles": [
                    {"id": PLATE, "type": "bus", "company": "VT-01", "driver": "790123456789"},
                    {"id": OTHER, "type": "bus", "company": "VT-01"},
                ],
            }
        )
    )
    return VehiclePipeline(
        fleet=fleet,
        config=VehiclesConfig(),
        journeys=JourneyConfig(),
        topic_prefix="ioc/v1",
        store=cast(InfluxStore, None),  # accept() is not called: stored() is
        rejections=cast(RejectionSink, Rejections()),
        alerts=cast(AlertBook, alerts),
        board=VehicleBoard(fleet),
        clock=lambda: T0,
        journal=journal,
    )


def fixes() -> list[PositionFix]:
    speeds = [60.0] * 10 + [110.0] * 4 + [60.0] * 4 + [0.0] * 14
    out, lat = [], 11.9
    for n, speed in enumerate(speeds):
        lat += speed / 3.6 * 30 / 111_320 if n else 0
        out.append(PositionFix(PLATE, T0 + n * STEP, lat, 108.4, speed))
    return out


def test_a_batch_and_a_tick_reach_the_journal() -> None:
    journal = JourneyBook(":memory:", {PLATE: "VT-01"}, {PLATE: "790123456789"})
    alerts = Alerts()
    vehicles = pipeline(journal, alerts)
    vehicles.stored(fixes(), [])
    [speeding] = journal.violations(kinds=["speeding"])
    assert (speeding.band, speeding.company, speeding.driver) == ("20-35", "VT-01", "790123456789")
    [trip] = journal.trips(PLATE, T0, T0 + 86_400_000)
    assert trip.ended_by == "stop" and 9_000 < trip.distance_m < 11_000
    assert {t.rule_id for t in alerts.applied} == {"journey.speeding"}  # alerts as before

    later = T0 + 32 * STEP + 3_600_000  # an hour of silence, while another vehicle sends
    vehicles.stored([PositionFix(OTHER, later, 11.9, 108.5, 0.0)], [])
    vehicles.tick(later)
    assert journal.violations(kinds=["signal_lost"]) == []  # silent now: not yet a gap
    assert "journey.silent" in {t.rule_id for t in alerts.applied}
    vehicles.stored([PositionFix(PLATE, later + STEP, 11.95, 108.4, 0.0)], [])  # back: a gap
    [lost] = journal.violations(kinds=["signal_lost"])
    assert (lost.start_ms, lost.end_ms) == (T0 + 31 * STEP, later + STEP)


def test_without_a_journal_the_pipeline_runs_as_before() -> None:
    alerts = Alerts()
    vehicles = pipeline(JourneyBook(":memory:"), alerts)
    vehicles._journal = None
    vehicles.stored(fixes(), [])
    assert {t.rule_id for t in alerts.applied} == {"journey.speeding"}
