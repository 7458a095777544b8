"""Trips and stops on hand-built tracks."""

from __future__ import annotations

import pytest

from tests.unit.test_journeys_support import MIN, T0, TrackBuilder, kernel, run


def test_stop_trip_stop() -> None:
    b = TrackBuilder().fix(0).stay(10 * MIN / 1000)  # parked 10 min
    b.move(1800, 60).stay(600)  # 30 min at 60 km/h, then parked 10 min
    out = run(kernel(), b.rows)
    assert len(out.trips) == 1
    trip = out.trips[0]
    assert trip.start_ms == T0 + 630_000  # the first moving fix ends the stop
    assert trip.end_ms == T0 + (600 + 1800 + 60) * 1000  # the first still fix after
    assert trip.distance_m == pytest.approx(30_000, rel=0.01)
    assert (trip.start_lat, trip.start_lon) == (11.0, 108.0)  # where it stood
    assert trip.ended_by == "stop"
    assert [s.start_ms for s in out.stops] == [T0]  # the last stop has not ended
    assert out.stops[0].end_ms == trip.start_ms


def test_short_stop_is_part_of_the_trip() -> None:
    b = TrackBuilder().fix(0).stay(600).move(600, 60).stay(240).move(600, 60).stay(600)
    out = run(kernel(), b.rows)
    assert len(out.trips) == 1
    assert out.trips[0].distance_m == pytest.approx(20_000, rel=0.01)
    assert len(out.stops) == 1


def test_short_trip_is_not_reported() -> None:
    b = TrackBuilder().fix(0).stay(600).move(120, 60).stay(600)  # 2 min: under 180 s
    assert run(kernel(), b.rows).trips == []
    b = TrackBuilder().fix(0).stay(600).move(600, 1).stay(600)  # 10 min but ~170 m
    assert run(kernel(), b.rows).trips == []


def test_gap_over_an_hour_ends_the_trip_and_is_no_stop() -> None:
    b = TrackBuilder().fix(0).stay(600).move(900, 60)
    end = b.t
    b.advance(2 * 3600, 60).fix(60).move(900, 60).stay(600)
    out = run(kernel(), b.rows)
    assert [t.ended_by for t in out.trips] == ["gap", "stop"]
    assert out.trips[0].end_ms == end
    assert out.trips[1].start_ms == end + 2 * 3600 * 1000
    # the 2 h of lost data count for no distance
    assert sum(t.distance_m for t in out.trips) == pytest.approx(30_000, rel=0.01)
    assert len(out.stops) == 1


def test_trip_and_stop_spanning_batches() -> None:
    b = TrackBuilder().fix(0).stay(600).move(1800, 60).stay(600).move(600, 60)
    whole = run(kernel(), b.rows)
    for cuts in ([5], [11, 12, 13], list(range(1, len(b.rows)))):
        split = run(kernel(), b.rows, cuts)
        assert split.trips == pytest.approx(whole.trips) or _same(split.trips, whole.trips)
        assert split.stops == whole.stops


def _same(a: list[object], b: list[object]) -> bool:
    return [repr(x)[:80] for x in a] == [repr(x)[:80] for x in b]


def test_ignition_off_is_never_moving() -> None:
    b = TrackBuilder().fix(0).stay(600)
    for _ in range(20):
        b.advance(30).fix(40, ignition=0)  # speed from a drifting receiver, engine off
    b.stay(600)
    assert run(kernel(), b.rows).trips == []


def test_flush_ends_the_open_trip() -> None:
    b = TrackBuilder().fix(0).stay(600).move(900, 60)
    k = kernel()
    out = run(k, b.rows)
    assert [t.ended_by for t in out.trips] == ["flush"]
    assert k.odometer_m[0] == pytest.approx(15_000, rel=0.01)
