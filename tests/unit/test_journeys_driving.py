"""Driving time: continuous with breaks, local days, weeks, warnings."""

from __future__ import annotations

from analytics.journeys import DrivingTimeViolation
from tests.unit.test_journeys_support import MIN, T0, H, TrackBuilder, config, kernel, run


def drive(b: TrackBuilder, minutes: float) -> TrackBuilder:
    """Drive ``minutes`` (fixes every 30 s), then a still fix 30 s later that ends it."""
    b.fix(60).move(minutes * 60, 60)
    return b


def pause(b: TrackBuilder, minutes: float) -> TrackBuilder:
    """A break of ``minutes`` from the first still fix to the first moving one."""
    b.advance(30).fix(0)
    start = b.t
    while b.t + 5 * MIN < start + minutes * MIN:
        b.advance(300).fix(0)
    b.t = start + round(minutes * MIN)
    return b


def only(out: list[DrivingTimeViolation], rule: str) -> list[tuple[str, int]]:
    return [(v.kind, v.at_ms) for v in out if v.rule == rule]


def test_four_hours_with_a_14_minute_break_is_continuous() -> None:
    b = TrackBuilder(t=T0 + 6 * H)
    drive(b, 120)
    pause(b, 14)
    drive(b, 130)
    out = run(kernel(), b.rows).driving
    kinds = only(out, "continuous")
    assert [k for k, _ in kinds] == ["warning", "violation"]
    # 120 min + the 30 s to the first still fix, then 14 min not counted: 4 h at
    # 6:00 + 120.5 min + 14 min + 119.5 min
    assert kinds[1][1] == T0 + 6 * H + (120.5 + 14 + 119.5) * MIN
    assert kinds[0][1] == kinds[1][1] - 5 * MIN
    assert out[0].period_start_ms == T0 + 6 * H


def test_a_15_minute_break_resets() -> None:
    b = TrackBuilder(t=T0 + 6 * H)
    drive(b, 120)
    pause(b, 15)
    drive(b, 130)
    assert only(run(kernel(), b.rows).driving, "continuous") == []
    cfg = config(driving={"min_break_min": 20})
    assert len(only(run(kernel(cfg), b.rows).driving, "continuous")) == 2


def test_daily_cap_in_local_days() -> None:
    # 12:00-15:40, 16:00-19:40, 20:00-23:40 local: 11 h, no 4 h stretch
    b = TrackBuilder(t=T0 + 12 * H)
    for _ in range(3):
        drive(b, 220 - 0.5)
        pause(b, 20)
    out = run(kernel(), b.rows).driving
    assert only(out, "continuous") == []
    daily = [v for v in out if v.rule == "daily"]
    assert [v.kind for v in daily] == ["warning", "violation"]
    assert daily[1].period_start_ms == T0  # local midnight, not UTC
    assert daily[1].at_ms == T0 + 12 * H + (2 * 240 + 160) * MIN  # 22:40


def test_day_boundary_is_local_midnight() -> None:
    # 16:00 local on: four blocks of 3 h 40 min with 20 min breaks, 7 h 20 min in each local
    # day (a UTC day, 07:00-07:00 local, would hold 14 h 40 min)
    b = TrackBuilder(t=T0 + 16 * H)
    for _ in range(4):
        drive(b, 220 - 0.5)
        pause(b, 20)
    out = run(kernel(), b.rows).driving
    assert out == []
    cfg = config(utc_offset_h=0)
    assert {v.rule for v in run(kernel(cfg), b.rows).driving} == {"daily"}


def test_drive_across_midnight_splits_the_day() -> None:
    cfg = config(driving={"daily_max_h": 1, "continuous_max_h": 10, "warn_before_min": 0})
    b = TrackBuilder(t=T0 + 23 * H + 20 * MIN)  # 23:20 local, 80 min of driving
    drive(b, 80)
    # 40 min before midnight, 40 min after: neither day reaches 1 h
    assert run(kernel(cfg), b.rows).driving == []
    cfg = config(driving={"daily_max_h": 0.5, "continuous_max_h": 10, "warn_before_min": 0})
    out = run(kernel(cfg), b.rows).driving
    assert [(v.at_ms - T0) // MIN for v in out] == [23 * 60 + 50, 24 * 60 + 30]
    assert [v.period_start_ms for v in out] == [T0, T0 + 24 * H]


def test_weekly_cap_and_disabled() -> None:
    cfg = config(driving={"weekly_max_h": 1, "warn_before_min": 0})
    b = drive(TrackBuilder(t=T0 + 8 * H), 70)
    (v,) = run(kernel(cfg), b.rows).driving
    assert (v.rule, v.period_start_ms) == ("weekly", T0)  # Monday 00:00 local
    cfg = config(driving={"weekly_max_h": None, "warn_before_min": 0})
    assert run(kernel(cfg), b.rows).driving == []


def test_continuous_across_batches() -> None:
    b = TrackBuilder(t=T0 + 6 * H)
    drive(b, 120)
    pause(b, 14)
    drive(b, 130)
    whole = run(kernel(), b.rows).driving
    split = run(kernel(), b.rows, list(range(7, len(b.rows), 37))).driving
    assert split == whole
