"""Zones: enter/exit (also between two fixes), circles, restricted hours."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.journeys.zones import ZoneTable
from tests.unit.test_journeys_support import M_PER_DEG, T0, H, S, TrackBuilder, config, kernel, run

# a 1 km square centred 2 km east of the start (11.0, 108.0)
KX = M_PER_DEG * 0.98163  # cos(11°)
SQUARE = [
    (11.0 - 500 / M_PER_DEG, 108.0 + 1500 / KX),
    (11.0 - 500 / M_PER_DEG, 108.0 + 2500 / KX),
    (11.0 + 500 / M_PER_DEG, 108.0 + 2500 / KX),
    (11.0 + 500 / M_PER_DEG, 108.0 + 1500 / KX),
]


def test_enter_and_exit_polygon() -> None:
    cfg = config(zones=[{"id": "sq", "polygon": SQUARE}])
    b = TrackBuilder().fix(36).move(400, 36)  # 10 m/s east, 4 km
    out = run(kernel(cfg), b.rows)
    assert [(e.kind, e.zone) for e in out.zone_events] == [("enter", "sq"), ("exit", "sq")]
    enter, leave = out.zone_events
    assert enter.at_ms == pytest.approx(T0 + 150 * S, abs=2 * S)  # 1.5 km at 10 m/s
    assert leave.at_ms == pytest.approx(T0 + 250 * S, abs=2 * S)
    assert enter.lat == pytest.approx(11.0)


def test_zone_crossed_between_two_fixes() -> None:
    cfg = config(zones=[{"id": "sq", "polygon": SQUARE}])
    b = TrackBuilder().fix(60)
    b.advance(240, 60).fix(60)  # 4 km in one step: no fix inside
    out = run(kernel(cfg), b.rows)
    assert [(e.kind, e.between_fixes) for e in out.zone_events] == [
        ("enter", True), ("exit", True),
    ]  # fmt: skip
    assert out.zone_events[0].at_ms == pytest.approx(T0 + 90 * S, abs=S)
    assert out.zone_events[1].at_ms == pytest.approx(T0 + 150 * S, abs=S)


def test_circle_crossed_between_fixes_and_a_fix_inside() -> None:
    cfg = config(zones=[{"id": "c", "circle": {"lat": 11.0, "lon": 108.0 + 2000 / KX,
                                                "radius_m": 300}}])  # fmt: skip
    b = TrackBuilder().fix(60)
    b.advance(240, 60).fix(60)
    out = run(kernel(cfg), b.rows)
    assert [e.kind for e in out.zone_events] == ["enter", "exit"]
    assert out.zone_events[0].at_ms == pytest.approx(T0 + 102 * S, abs=S)  # 1.7 km at 60
    b = TrackBuilder().fix(60).advance(120, 60).fix(0)  # stops in the middle
    out = run(kernel(cfg), b.rows)
    assert [(e.kind, e.between_fixes) for e in out.zone_events] == [("enter", True)]


def test_restricted_hours_for_trucks() -> None:
    zone = {"id": "town", "polygon": SQUARE,
            "forbidden": [{"classes": ["truck"], "start": "06:00", "end": "20:00"}]}  # fmt: skip
    cfg = config(zones=[zone])
    # 10:00 local: a truck crosses between two fixes -> a violation; a car does not
    for cls, expected in (("truck", 1), ("car", 0)):
        b = TrackBuilder(t=T0 + 10 * H).fix(60).advance(240, 60).fix(60)
        out = run(kernel(cfg, (cls,)), b.rows)
        assert len(out.zone_violations) == expected
        assert len(out.zone_events) == 2
    (v,) = run(kernel(cfg, ("truck",)), b.rows).zone_violations
    assert v.at_ms == pytest.approx(T0 + 10 * H + 90 * S, abs=S)
    assert (v.zone, v.vehicle_class, v.hours) == ("town", "truck", "06:00-20:00")
    # 21:00: allowed
    b = TrackBuilder(t=T0 + 21 * H).fix(60).advance(240, 60).fix(60)
    assert run(kernel(cfg, ("truck",)), b.rows).zone_violations == []


def test_parked_inside_when_the_ban_starts() -> None:
    zone = {"id": "town", "polygon": SQUARE,
            "forbidden": [{"classes": ["truck"], "start": "06:00", "end": "20:00"}]}  # fmt: skip
    cfg = config(zones=[zone])
    b = TrackBuilder(t=T0 + 5 * H).fix(60).advance(120, 60).fix(0)  # parks inside at 05:02
    b.stay(3600, every=900)  # until 06:02: one violation at the first fix after 06:00
    b.move(200, 60)  # drives out (still banned hours), and comes back: a new stay
    out = run(kernel(cfg, ("truck",)), b.rows)
    assert [e.kind for e in out.zone_events] == ["enter", "exit"]
    (v,) = out.zone_violations
    assert v.at_ms == T0 + 5 * H + 120 * S + 4 * 900 * S


def test_track_far_from_zones_has_no_events() -> None:
    cfg = config(zones=[{"id": "sq", "polygon": SQUARE}])
    b = TrackBuilder(lat=12.0).fix(60).move(600, 60)
    out = run(kernel(cfg), b.rows)
    assert out.zone_events == [] and out.zone_violations == []


def test_each_stay_in_a_restricted_zone_is_one_violation() -> None:
    zone = {"id": "town", "polygon": SQUARE,
            "forbidden": [{"classes": ["truck"], "start": "06:00", "end": "20:00"}]}  # fmt: skip
    cfg = config(zones=[zone])
    b = TrackBuilder(t=T0 + 10 * H).fix(60).move(240, 60)  # through: 1 km inside
    b.move(240, 60, heading=270)  # and back through, in the same batch
    b.advance(30, 60, heading=270).fix(60)
    for cuts in ([], [3], list(range(1, len(b.rows)))):
        out = run(kernel(cfg, ("truck",)), b.rows, cuts)
        assert [e.kind for e in out.zone_events] == ["enter", "exit", "enter", "exit"]
        assert len(out.zone_violations) == 2


@pytest.mark.parametrize("spread", [False, True])
def test_grid_candidates_match_every_box_test(spread: bool) -> None:
    rng = np.random.default_rng(7)
    zones = [
        {"id": f"z{i}", "circle": {"lat": float(11 + rng.uniform(-0.3, 0.3)),
                                    "lon": float(108 + rng.uniform(-0.3, 0.3)),
                                    "radius_m": float(rng.uniform(100, 3000))}}
        for i in range(40)
    ]  # fmt: skip
    if spread:  # too far apart for a grid: every zone is tested
        zones.append({"id": "far", "circle": {"lat": -40.0, "lon": -70.0, "radius_m": 500}})
    cfg = config(zones=zones)
    table = ZoneTable(cfg.zones, ["car"], np.array([90.0]))
    lat0, lon0 = 11 + rng.uniform(-0.35, 0.35, 5000), 108 + rng.uniform(-0.35, 0.35, 5000)
    step = rng.choice([0.001, 0.01, 0.05, 0.3], 5000)
    lat1, lon1 = lat0 + rng.normal(0, 1, 5000) * step, lon0 + rng.normal(0, 1, 5000) * step
    lo_lat, hi_lat = np.minimum(lat0, lat1), np.maximum(lat0, lat1)
    lo_lon, hi_lon = np.minimum(lon0, lon1), np.maximum(lon0, lon1)
    k, z = table.candidates(lo_lat, hi_lat, lo_lon, hi_lon)
    a, b, c, d = table.box
    brute = (hi_lat[:, None] >= a) & (lo_lat[:, None] <= b)
    brute &= (hi_lon[:, None] >= c) & (lo_lon[:, None] <= d)
    bk, bz = np.nonzero(brute)
    assert len(bk) > 100
    assert (k.tolist(), z.tolist()) == (bk.tolist(), bz.tolist())
