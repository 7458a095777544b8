"""JourneyKernel.carry_over: a new vehicle table (a registry change) keeps each vehicle's state
by id, so the events are those of one kernel that never changed."""

from __future__ import annotations

import itertools
from dataclasses import astuple, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.journeys import JourneyConfig, JourneyKernel, JourneyOutput, Vehicle
from tests.unit.test_journeys_properties import CFG, CLASSES, step, tracks
from tests.unit.test_journeys_support import T0, H, S, TrackBuilder, arrays, config, kernel, merge
from tests.unit.test_journeys_zones import SQUARE

KINDS = ("trips", "stops", "speeding", "driving", "signal", "zone_events", "zone_violations")


def changing(
    rows: list[Any], cuts: list[int], cfg: JourneyConfig, classes: tuple[str, ...]
) -> JourneyOutput:
    """Like ``run``, but at every cut the vehicle table is rebuilt in another order with one
    more vehicle (its fixes' indices follow), the state carried over by id."""
    vehicles = [Vehicle(f"V{i}", c) for i, c in enumerate(classes)]
    k = JourneyKernel(cfg, vehicles)
    data = arrays(rows)
    merged = JourneyOutput()
    for n, (a, b) in enumerate(itertools.pairwise([0, *cuts, len(rows)])):
        if n:
            vehicles = [Vehicle(f"X{n}", "car"), *reversed(vehicles)]
            fresh = JourneyKernel(cfg, vehicles)
            assert empty(fresh.carry_over(k))
            k = fresh
        batch = {key: col[a:b] for key, col in data.items()}
        batch["vehicle"] = [k.ids.index(f"V{v}") for v in batch["vehicle"].tolist()]
        merge(merged, k.process(**batch))
    merge(merged, k.flush())
    return merged


def empty(out: JourneyOutput) -> bool:
    return not any(getattr(out, name) for name in KINDS) and not len(out.late)


def events(out: JourneyOutput, name: str) -> list[tuple[Any, ...]]:
    """Events named by vehicle id only (the index changes with the table)."""
    return sorted(astuple(replace(e, index=0)) for e in getattr(out, name))


def same(a: JourneyOutput, b: JourneyOutput) -> None:
    for name in KINDS:
        xs, ys = events(a, name), events(b, name)
        assert len(xs) == len(ys), name
        for x, y in zip(xs, ys, strict=True):
            for p, q in zip(x, y, strict=True):
                if isinstance(p, float):
                    assert p == pytest.approx(q, rel=1e-9, abs=1e-6), (name, x, y)
                else:
                    assert p == q, (name, x, y)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 3),
    st.lists(st.lists(step, min_size=1, max_size=60), min_size=3, max_size=3),
    st.lists(st.integers(0, 200), min_size=1, max_size=6),
)
def test_a_table_change_between_batches_changes_no_event(
    vehicles: int, steps: list[list[Any]], cuts: list[int]
) -> None:
    rows = tracks(vehicles, steps)
    cuts = sorted({c for c in cuts if 0 < c < len(rows)})
    one = changing(rows, [], CFG, CLASSES)
    same(one, changing(rows, cuts, CFG, CLASSES))


def test_continuous_driving_crosses_4_hours_across_a_change() -> None:
    b = TrackBuilder(t=T0 + 6 * H).fix(30).move(4.5 * 3600, 30)
    out = changing(b.rows, [len(b.rows) // 2], JourneyConfig(), ("car",))
    continuous = [(d.kind, d.at_ms) for d in out.driving if d.rule == "continuous"]
    assert continuous == [("warning", T0 + 10 * H - 5 * 60 * S), ("violation", T0 + 10 * H)]


def test_a_removed_vehicle_is_closed_at_its_last_fix() -> None:
    old = kernel(config(), ("car", "car"))
    b = TrackBuilder(vehicle=1).fix(40).move(300, 40).move(60, 130)  # speeding at the end
    old.process(**arrays(b.rows))
    new = JourneyKernel(config(), [Vehicle("V0", "car")])
    out = new.carry_over(old)
    (s,) = out.speeding
    assert (s.vehicle, s.start_ms, s.end_ms, s.fixes) == ("V1", T0 + 330 * S, T0 + 360 * S, 2)
    (trip,) = out.trips
    assert (trip.vehicle, trip.start_ms, trip.end_ms, trip.ended_by) == (
        "V1", T0, T0 + 360 * S, "flush",
    )  # fmt: skip
    assert empty(new.flush())


RESTRICTED = {"id": "town", "polygon": SQUARE,
              "forbidden": [{"classes": ["truck"], "start": "06:00", "end": "20:00"}]}  # fmt: skip


def test_a_stay_in_a_restricted_zone_is_one_violation_across_a_change() -> None:
    cfg = config(zones=[RESTRICTED])
    b = TrackBuilder(t=T0 + 10 * H).fix(60).move(120, 60)  # 2 km east: inside
    b.stay(600)  # parked inside
    b.move(180, 60)  # and out
    cut = [i for i, r in enumerate(b.rows) if r[4] == 0][2]
    out = changing(b.rows, [cut], cfg, ("truck",))
    assert [e.kind for e in out.zone_events] == ["enter", "exit"]
    assert len(out.zone_violations) == 1


def test_a_zone_added_around_a_vehicle_is_judged_from_its_last_fix() -> None:
    b = TrackBuilder(t=T0 + 10 * H).fix(60).move(120, 60)  # 2 km east: inside
    parked = len(b.rows)
    b.stay(600)  # parked inside the square, then out of it
    b.move(180, 60)
    old = kernel(config(), ("truck",))
    data = arrays(b.rows)
    first = old.process(**{key: col[:parked] for key, col in data.items()})
    assert first.zone_events == []
    new = kernel(config(zones=[RESTRICTED]), ("truck",))
    new.carry_over(old)
    assert new.zones.inside.tolist() == [[True]]
    out = new.process(**{key: col[parked:] for key, col in data.items()})
    # inside at the change (no enter: it crossed no boundary); in forbidden hours: reported
    # at its next fix; its exit is an event
    assert [e.kind for e in out.zone_events] == ["exit"]
    (v,) = out.zone_violations
    assert v.at_ms == b.rows[parked][1]
