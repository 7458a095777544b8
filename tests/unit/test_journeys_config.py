"""Configuration, the input contract (order, late fixes) and the company KPI."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from analytics.journeys import (
    JourneyConfig,
    JourneyKernel,
    SpeedingViolation,
    Trip,
    Vehicle,
    monthly_speeding_kpi,
    speeding_rate,
)
from tests.unit.test_journeys_support import T0, TrackBuilder, arrays, config, kernel, run


def test_defaults_follow_the_reference() -> None:
    c = JourneyConfig()
    assert (c.trips.min_trip_distance_m, c.trips.min_trip_duration_s) == (200, 180)
    assert (c.trips.min_stop_duration_s, c.trips.max_gap_s) == (300, 3600)
    assert c.speeding.tolerance_kmh == 5 and c.speeding.band_edges_kmh == (10, 20, 35)
    assert (c.driving.continuous_max_h, c.driving.daily_max_h, c.driving.weekly_max_h) == (
        4, 10, 48,
    )  # fmt: skip
    assert (c.driving.warn_before_min, c.driving.min_break_min) == (5, 15)
    assert (c.signal.moving_max_gap_s, c.signal.stopped_max_gap_s) == (120, 900)
    assert c.utc_offset_h == 7


@pytest.mark.parametrize(
    "bad",
    [
        {"trips": {"min_stop_s": 10}},  # unknown key
        {"speeding": {"tolerance_kmh": -1}},
        {"speeding": {"band_edges_kmh": [20, 10, 35]}},
        {"zones": [{"id": "z", "polygon": [[11, 108], [11.1, 108]]}]},  # 2 vertices
        {
            "zones": [
                {
                    "id": "z",
                    "circle": {"lat": 11, "lon": 108, "radius_m": 5},
                    "polygon": [[11, 108], [11.1, 108], [11, 108.1]],
                }
            ]
        },
        {
            "zones": [
                {
                    "id": "z",
                    "circle": {"lat": 11, "lon": 108, "radius_m": 5},
                    "forbidden": [{"classes": ["lorry"], "start": "06:00", "end": "20:00"}],
                }
            ]
        },
        {
            "zones": [
                {
                    "id": "z",
                    "circle": {"lat": 11, "lon": 108, "radius_m": 5},
                    "forbidden": [{"classes": ["truck"], "start": "6h", "end": "20:00"}],
                }
            ]
        },
    ],
)
def test_invalid_configuration_is_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        JourneyConfig.model_validate(bad)


def test_unknown_vehicle_class_is_rejected() -> None:
    with pytest.raises(ValueError, match="lorry"):
        JourneyKernel(JourneyConfig(), [Vehicle("X", "lorry")])


def test_unsorted_batch_is_processed_in_event_time() -> None:
    rows = TrackBuilder().fix(60).move(300, 60).move(120, 130).move(300, 60).rows
    rows += TrackBuilder(vehicle=1).fix(60).move(300, 60).move(120, 140).move(300, 60).rows
    shuffled = [rows[i] for i in np.random.default_rng(3).permutation(len(rows))]
    a = run(kernel(classes=("car", "car")), rows)
    b = run(kernel(classes=("car", "car")), shuffled)
    assert a.speeding == b.speeding and len(a.speeding) == 2


def test_late_fixes_are_reported_not_processed() -> None:
    k = kernel()
    rows = TrackBuilder().fix(60).move(300, 60).rows
    k.process(**arrays(rows[5:]))
    out = k.process(**arrays(rows[:7]))  # 5 older than the watermark, 2 duplicates
    assert out.late.tolist() == list(range(7))
    assert k.late[0] == 7
    # a duplicate inside one batch is late too
    k = kernel()
    out = k.process(**arrays([rows[0], rows[1], rows[1]]))
    assert out.late.tolist() == [2]


def test_input_contract_is_checked() -> None:
    k = kernel()
    with pytest.raises(ValueError, match="same length"):
        k.process([0], [T0, T0], [11.0], [108.0], [0.0])
    with pytest.raises(ValueError, match="vehicle index"):
        k.process([1], [T0], [11.0], [108.0], [0.0])
    assert k.process([], [], [], [], []).trips == []


def _trip(vehicle: str, start: int, km: float) -> Trip:
    return Trip(vehicle, 0, start, start + 1, 11, 108, 11, 108, km * 1000, "stop")


def _violation(vehicle: str, start: int) -> SpeedingViolation:
    return SpeedingViolation(vehicle, 0, start, start, 100, 90, 10, "10-20", 2, 50, 11, 108, start)


def test_company_kpi_per_1000_km_and_month() -> None:
    assert speeding_rate(3, 600) == 5.0
    assert speeding_rate(0, 0) == 0 and speeding_rate(1, 0) == float("inf")
    company = {"V0": "A", "V1": "A", "V2": "B"}
    dec = T0 + 8 * 86_400_000  # 2026-12-01 00:00 local
    trips = [_trip("V0", T0, 500), _trip("V1", T0, 500), _trip("V2", T0, 2000),
             _trip("V0", dec, 100)]  # fmt: skip
    violations = [_violation("V0", T0)] * 4 + [_violation("V1", T0)] + [_violation("V2", T0)]
    violations += [_violation("V0", dec - 1)]  # 30 Nov 23:59:59.999 local
    rows = monthly_speeding_kpi(violations, trips, company, config().kpi)
    assert [(r.company, r.month, r.violations, r.rate, r.flagged) for r in rows] == [
        ("A", "2026-11", 6, 6.0, True),
        ("A", "2026-12", 0, 0.0, False),
        ("B", "2026-11", 1, 0.5, False),
    ]
