"""The journey journal (store.journey_book): what the kernel found is written in one
transaction, read back per vehicle and day, per company and month, and purged after the
retention; the company summary's arithmetic (analytics.journeys.kpi.company_summary)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analytics.journeys import (
    DrivingTimeViolation,
    JourneyOutput,
    SignalLost,
    SpeedingViolation,
    Stop,
    Trip,
    ZoneEvent,
    ZoneViolation,
)
from analytics.journeys.config import KpiConfig
from analytics.journeys.kpi import company_summary
from store.journey_book import JourneyBook

T0 = 1_764_558_000_000  # 2025-12-01 03:00 UTC = 10:00 local
MIN = 60_000
DAY = 86_400_000
COMPANY = {"49B15613": "VT-01", "49B14514": "VT-01", "49C84829": "VT-05"}
DRIVER = {"49B15613": "111111111111", "49B14514": "222222222222", "49C84829": None}


def trip(vehicle: str, start: int, km: float) -> Trip:
    return Trip(vehicle, 0, start, start + 30 * MIN, 11.9, 108.4, 11.95, 108.45, km * 1000, "stop")


def speeding(
    vehicle: str, start: int, band: str = "10-20", peak: float = 75.0
) -> SpeedingViolation:
    return SpeedingViolation(
        vehicle, 0, start, start + MIN, peak, 60.0, peak - 60.0, band, 5, 900.0, 11.9, 108.4, start
    )


def everything() -> JourneyOutput:
    return JourneyOutput(
        trips=[trip("49B15613", T0, 12.5), trip("49C84829", T0 + MIN, 40.0)],
        stops=[Stop("49B15613", 0, T0 + 30 * MIN, T0 + 45 * MIN, 11.95, 108.45)],
        speeding=[speeding("49B15613", T0 + 5 * MIN, ">35", 100.0)],
        driving=[
            DrivingTimeViolation(
                "49C84829", 2, "continuous", "warning", T0 + 2 * MIN, 3.92, T0, 11.9, 108.4
            )
        ],
        signal=[SignalLost("49B14514", 1, T0 + 3 * MIN, 11.9, 108.4, True, T0 + 9 * MIN)],
        zone_events=[ZoneEvent("49C84829", 2, "town.0", "enter", T0, 11.9, 108.4, False)],
        zone_violations=[
            ZoneViolation(
                "49C84829", 2, "DL-CENTRE", T0 + 4 * MIN, 11.94, 108.44, "truck", "06:00-20:00"
            )
        ],
    )


def test_a_batch_is_written_and_read_back(tmp_path: Path) -> None:
    book = JourneyBook(str(tmp_path / "var" / "journeys.sqlite3"), COMPANY, DRIVER)
    book.record(everything())
    assert book.written == 7  # 2 trips, 1 stop, 4 violations (zone enter/exit not kept)

    [first] = book.trips("49B15613", T0, T0 + DAY)
    assert (first.company, first.driver, first.distance_m, first.ended_by) == (
        "VT-01",
        "111111111111",
        12_500.0,
        "stop",
    )
    assert [s.start_ms for s in book.stops("49B15613", T0, T0 + DAY)] == [T0 + 30 * MIN]
    assert book.trips("49B15613", T0 + 1, T0 + DAY) == []  # by start time

    found = book.violations()
    assert [v.kind for v in found] == [
        "speeding",
        "zone_forbidden",
        "signal_lost",
        "continuous_driving",
    ]  # newest first
    fast = found[0]
    assert (fast.band, fast.peak_kmh, fast.limit_kmh, fast.driver) == (
        ">35",
        100.0,
        60.0,
        "111111111111",
    )
    assert found[1].zone == "DL-CENTRE" and found[1].detail == "truck 06:00-20:00"
    assert found[2].end_ms == T0 + 9 * MIN and found[2].level == "warning"
    assert found[3].level == "warning" and found[3].threshold_h == 3.92
    assert [v.kind for v in book.violations(companies=["VT-05"])] == [
        "zone_forbidden",
        "continuous_driving",
    ]
    assert book.violations(companies=[]) == []
    assert [v.vehicle for v in book.violations(kinds=["speeding"])] == ["49B15613"]
    assert [v.kind for v in book.violations(driver="111111111111")] == ["speeding"]
    assert len(book.violations(since_ms=T0 + 3 * MIN, until_ms=T0 + 5 * MIN)) == 2
    assert len(book.violations(limit=1)) == 1
    book.close()

    again = JourneyBook(str(tmp_path / "var" / "journeys.sqlite3"))
    assert len(again.violations()) == 4  # on disk
    again.close()


def test_a_vehicle_silent_now_is_no_violation_and_a_gap_is_one_row() -> None:
    book = JourneyBook(":memory:", COMPANY, DRIVER)
    book.record(JourneyOutput(signal=[SignalLost("49B14514", 1, T0, 11.9, 108.4, True, None)]))
    assert book.violations() == []  # its backlog may still fill the silence
    book.record(JourneyOutput(signal=[SignalLost("49B14514", 1, T0, 11.9, 108.4, True, T0 + DAY)]))
    book.record(JourneyOutput(signal=[SignalLost("49B14514", 1, T0, 11.9, 108.4, True, T0 + DAY)]))
    [row] = book.violations()
    assert (row.kind, row.start_ms, row.end_ms) == ("signal_lost", T0, T0 + DAY)


def test_an_empty_output_writes_nothing_and_a_failure_never_raises() -> None:
    book = JourneyBook(":memory:", COMPANY, DRIVER)
    book.record(JourneyOutput(zone_events=everything().zone_events))
    assert book.written == 0
    book.close()
    book.record(everything())  # closed database: logged, counted, not raised
    assert book.failures == 1


def test_purge_deletes_what_started_before_the_retention() -> None:
    book = JourneyBook(":memory:", COMPANY, DRIVER)
    old = JourneyOutput(
        trips=[trip("49B15613", T0 - 400 * DAY, 5)],
        stops=[Stop("49B15613", 0, T0 - 400 * DAY, T0 - 400 * DAY + MIN, 11.9, 108.4)],
        speeding=[speeding("49B15613", T0 - 400 * DAY)],
    )
    book.record(old)
    book.record(everything())
    assert book.purge(T0 - 365 * DAY) == 3
    assert len(book.violations()) == 4
    assert len(book.trips("49B15613", 0, T0 + DAY)) == 1
    assert book.purge(T0 - 365 * DAY) == 0


def test_distances_and_speeding_counts_per_company_and_period() -> None:
    book = JourneyBook(":memory:", COMPANY, DRIVER)
    book.record(
        JourneyOutput(
            trips=[
                trip("49B15613", T0, 100),
                trip("49B15613", T0 + DAY, 50),
                trip("49B14514", T0, 20),
                trip("49C84829", T0, 999),
            ],
            speeding=[
                speeding("49B15613", T0, "5-10"),
                speeding("49B15613", T0 + MIN, "5-10"),
                speeding("49B14514", T0, ">35"),
                speeding("49C84829", T0, ">35"),
            ],
        )
    )
    distances = {
        (d.vehicle, d.distance_m, d.trips) for d in book.distances("VT-01", T0, T0 + 2 * DAY)
    }
    assert distances == {("49B15613", 150_000.0, 2), ("49B14514", 20_000.0, 1)}
    counts = {(c.vehicle, c.band, c.count) for c in book.speeding_counts("VT-01", T0, T0 + DAY)}
    assert counts == {("49B15613", "5-10", 2), ("49B14514", ">35", 1)}


def test_company_summary_arithmetic_by_hand() -> None:
    # Driver A: 300 km + 100 km on two vehicles, 1 + 1 violations; driver B: 200 km, 3;
    # an unknown driver: 0 km, 1 violation. Total 600 km, 6 violations: 10 per 1,000 km.
    summary = company_summary(
        [
            ("V1", "A", 300_000.0, 3),
            ("V2", "A", 100_000.0, 1),
            ("V3", "B", 200_000.0, 2),
        ],
        [
            ("V1", "A", "5-10", 1),
            ("V2", "A", "20-35", 1),
            ("V3", "B", "10-20", 2),
            ("V3", "B", ">35", 1),
            ("V4", None, "5-10", 1),
        ],
    )
    assert summary.violations == 6 and summary.trips == 6
    assert summary.distance_km == pytest.approx(600.0)
    assert summary.rate == pytest.approx(10.0)
    assert summary.flagged
    assert summary.bands == {"5-10": 2, "10-20": 2, "20-35": 1, ">35": 1}
    drivers = {line.key: (line.violations, line.distance_km, line.rate) for line in summary.drivers}
    assert drivers["A"] == (2, pytest.approx(400.0), pytest.approx(5.0))
    assert drivers["B"] == (3, pytest.approx(200.0), pytest.approx(15.0))
    assert drivers[""][:2] == (1, 0.0) and math.isinf(drivers[""][2])
    assert [line.key for line in summary.drivers] == ["B", "A", ""]  # most violations first
    assert [line.key for line in summary.vehicles] == ["V3", "V1", "V2", "V4"]


def test_the_flag_is_at_five_per_thousand_km_and_nothing_is_no_rate() -> None:
    at_five = company_summary([("V1", "A", 1_000_000.0, 1)], [("V1", "A", "5-10", 5)])
    below = company_summary([("V1", "A", 1_000_000.0, 1)], [("V1", "A", "5-10", 4)])
    assert (at_five.rate, at_five.flagged) == (pytest.approx(5.0), True)
    assert (below.rate, below.flagged) == (pytest.approx(4.0), False)
    empty = company_summary([], [])
    assert (empty.rate, empty.flagged, empty.drivers) == (0.0, False, [])
    stricter = company_summary(
        [("V1", "A", 1_000_000.0, 1)], [("V1", "A", "5-10", 4)], KpiConfig(flag_at=4)
    )
    assert stricter.flagged
