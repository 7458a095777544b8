"""Speeding episodes: thresholds, bands, batches, GPS jumps, zone limits, the clock."""

from __future__ import annotations

import pytest

from analytics.journeys import JourneyConfig
from tests.unit.test_journeys_support import T0, S, TrackBuilder, config, kernel, run


def episode(kmh: float, seconds: float = 120) -> TrackBuilder:
    """Car (limit 90) at 60 km/h, then ``kmh`` for ``seconds``, then 60 again."""
    return TrackBuilder().fix(60).move(300, 60).move(seconds, kmh).move(300, 60)


def test_one_violation_per_episode() -> None:
    out = run(kernel(), episode(112).rows)
    assert len(out.speeding) == 1
    v = out.speeding[0]
    assert (v.peak_kmh, v.limit_kmh, v.excess_kmh, v.band, v.fixes) == (112, 90, 22, "20-35", 4)
    assert v.start_ms == T0 + 330 * S and v.end_ms == T0 + 420 * S
    assert v.distance_m == pytest.approx(112 / 3.6 * 90, rel=0.01)
    assert v.vehicle == "V0" and v.peak_ms == v.start_ms


@pytest.mark.parametrize(
    ("kmh", "band"),
    [(94.9, None), (95, "5-10"), (99.9, "5-10"), (100, "10-20"), (110, "10-20"),
     (110.5, "20-35"), (125, "20-35"), (125.5, ">35")],
)  # fmt: skip
def test_bands_by_peak_excess(kmh: float, band: str | None) -> None:
    out = run(kernel(), episode(kmh).rows)
    assert [v.band for v in out.speeding] == ([band] if band else [])


def test_minimum_duration_and_fixes() -> None:
    assert run(kernel(), episode(120, seconds=30).rows).speeding == []  # one fix
    cfg = config(speeding={"min_fixes": 1, "min_duration_s": 0})
    assert len(run(kernel(cfg), episode(120, seconds=30).rows).speeding) == 1
    cfg = config(speeding={"min_duration_s": 120})
    assert run(kernel(cfg), episode(120, seconds=90).rows).speeding == []
    assert len(run(kernel(cfg), episode(120, seconds=150).rows).speeding) == 1


def test_episode_spanning_batches() -> None:
    rows = episode(130, seconds=300).rows
    whole = run(kernel(), rows).speeding
    for cuts in ([12], [11, 13, 15], list(range(1, len(rows)))):
        split = run(kernel(), rows, cuts).speeding
        assert [(v.start_ms, v.end_ms, v.peak_kmh, v.fixes) for v in split] == [
            (v.start_ms, v.end_ms, v.peak_kmh, v.fixes) for v in whole
        ]
        assert split[0].distance_m == pytest.approx(whole[0].distance_m)


def test_gps_jumps_never_count() -> None:
    b = TrackBuilder().fix(60).move(300, 60)
    for _ in range(3):
        b.advance(30, 60).fix(180, jump=True)  # a glitch: 180 km/h and a far position
    b.move(300, 60)
    assert run(kernel(), b.rows).speeding == []
    # ... nor do they split an episode
    b = TrackBuilder().fix(60).move(300, 60).move(60, 120)
    b.advance(30, 120).fix(120, jump=True)
    b.move(60, 120).move(300, 60)
    (v,) = run(kernel(), b.rows).speeding
    assert v.fixes == 4


def test_gap_splits_episodes() -> None:
    b = TrackBuilder().fix(60).move(90, 120)
    b.advance(300, 120).fix(120).move(90, 120).move(300, 60)
    assert len(run(kernel(), b.rows).speeding) == 2


def test_class_and_zone_limits() -> None:
    cfg = config(
        zones=[{"id": "town", "circle": {"lat": 11.0, "lon": 108.02, "radius_m": 1500},
                "speed_limit_kmh": 50, "class_speed_limits_kmh": {"truck": 40}}],
    )  # fmt: skip
    b = TrackBuilder().fix(70).move(1200, 70)  # through the town at 70
    out = run(kernel(cfg, ("car",)), b.rows)
    (v,) = out.speeding
    assert (v.limit_kmh, v.excess_kmh, v.band) == (50, 20, "10-20")  # 20 over: 10-20
    b = TrackBuilder(vehicle=0).fix(70).move(1200, 70)
    (v,) = run(kernel(cfg, ("truck",)), b.rows).speeding
    assert (v.limit_kmh, v.excess_kmh, v.band) == (40, 30, "20-35")
    # 85 km/h: over the truck limit (80) everywhere, not over a car's
    assert (
        run(kernel(JourneyConfig(), ("car",)), TrackBuilder().fix(85).move(600, 85).rows).speeding
        == []
    )
    assert (
        len(
            run(
                kernel(JourneyConfig(), ("truck",)), TrackBuilder().fix(86).move(600, 86).rows
            ).speeding
        )
        == 1
    )


def test_tick_closes_episode_of_a_silent_vehicle() -> None:
    k = kernel()
    rows = TrackBuilder().fix(60).move(300, 60).move(120, 130).rows
    from tests.unit.test_journeys_support import arrays

    assert k.process(**arrays(rows)).speeding == []
    last = rows[-1][1]
    assert k.tick(last + 60 * S).speeding == []
    (v,) = k.tick(last + 121 * S).speeding
    assert v.end_ms == last
    assert k.flush().speeding == []
