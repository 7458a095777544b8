"""Property tests of the journey kernel (Hypothesis)."""

from __future__ import annotations

import math
from dataclasses import astuple
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.journeys import JourneyOutput
from tests.unit.test_journeys_support import M_PER_DEG, T0, config, kernel, run

ZONES = [
    {"id": "circle", "circle": {"lat": 11.0, "lon": 108.01, "radius_m": 400},
     "speed_limit_kmh": 50,
     "forbidden": [{"classes": ["truck", "car"], "start": "05:30", "end": "20:00"}]},
    {"id": "square", "polygon": [[10.995, 107.995], [10.995, 108.005], [11.005, 108.005],
                                 [11.005, 107.995]]},
]  # fmt: skip
CFG = config(
    zones=ZONES,
    speeding={"min_fixes": 2, "min_duration_s": 20},
    driving={"continuous_max_h": 0.5, "daily_max_h": 1, "weekly_max_h": 1.5, "min_break_min": 5},
)
CLASSES = ("car", "truck", "bus")

step = st.tuples(
    st.sampled_from([5, 30, 30, 30, 60, 200, 900, 1000, 4000]),  # s to the next fix
    st.sampled_from([0.0, 0.0, 30.0, 60.0, 85.0, 96.0, 110.0, 140.0]),  # km/h
    st.floats(0, 360),  # heading
    st.sampled_from([False, False, False, True]),  # gps jump
    st.sampled_from([-1, -1, 1, 0]),  # ignition
)


def tracks(vehicles: int, steps: list[list[Any]], lat0: float = 11.0) -> list[Any]:
    rows = []
    for v, seq in enumerate(steps[:vehicles]):
        t, lat, lon = T0 + 5 * 3_600_000 + v * 7000, lat0 + 0.002 * v, 108.0
        for dt, kmh, heading, jump, ignition in seq:
            metres = kmh / 3.6 * dt * (1 if dt < 1000 else 0.1)
            lat += metres * math.cos(math.radians(heading)) / M_PER_DEG
            lon += metres * math.sin(math.radians(heading)) / (M_PER_DEG * 0.98)
            t += dt * 1000
            shown = (lat + 0.05, lon) if jump else (lat, lon)
            rows.append((v, t, *shown, kmh * (2 if jump else 1), ignition, jump))
    rows.sort(key=lambda r: (r[1], r[0]))  # arrival order: by time
    return rows


def same(a: JourneyOutput, b: JourneyOutput) -> None:
    for name in ("trips", "stops", "speeding", "driving", "signal", "zone_events",
                 "zone_violations"):  # fmt: skip
        xs, ys = getattr(a, name), getattr(b, name)
        key = lambda e: (e.index, astuple(e)[2])  # noqa: E731
        xs, ys = sorted(xs, key=key), sorted(ys, key=key)
        assert len(xs) == len(ys), name
        for x, y in zip(xs, ys, strict=True):
            for p, q in zip(astuple(x), astuple(y), strict=True):
                if isinstance(p, float):
                    assert p == pytest.approx(q, rel=1e-9, abs=1e-6), (name, x, y)
                else:
                    assert p == q, (name, x, y)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 3),
    st.lists(st.lists(step, min_size=1, max_size=60), min_size=3, max_size=3),
    st.lists(st.integers(0, 200), max_size=8),
)
def test_batches_do_not_change_the_results(
    vehicles: int, steps: list[list[Any]], cuts: list[int]
) -> None:
    rows = tracks(vehicles, steps)
    cuts = sorted({c for c in cuts if 0 < c < len(rows)})
    one = run(kernel(CFG, CLASSES), rows)
    split = run(kernel(CFG, CLASSES), rows, cuts)
    same(one, split)
    each = run(kernel(CFG, CLASSES), rows, list(range(1, len(rows))))
    same(one, each)


@settings(max_examples=80, deadline=None)
@given(st.lists(step, min_size=1, max_size=80), st.lists(st.integers(0, 80), max_size=5))
def test_under_the_limit_never_speeds(seq: list[Any], cuts: list[int]) -> None:
    limit = 90 + 5  # a car, outside zones: over from 95 km/h
    seq = [(dt, min(kmh, limit - 0.01), h, False, ign) for dt, kmh, h, _, ign in seq]
    rows = tracks(1, [seq], lat0=12.0)  # far from the zones (and their lower limit)
    assert run(kernel(CFG, CLASSES), rows, sorted(set(cuts))).speeding == []


@settings(max_examples=80, deadline=None)
@given(st.lists(step, min_size=1, max_size=80))
def test_outside_every_zone_box_no_zone_events(seq: list[Any]) -> None:
    rows = tracks(1, [seq], lat0=10.9)  # 10 km south; steps stay under ~10 km... clip below
    rows = [r for r in rows if r[2] < 10.99]
    out = run(kernel(CFG, ("truck",)), rows)
    assert out.zone_events == [] and out.zone_violations == []
