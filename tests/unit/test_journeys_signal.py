"""Lost signal: on the next fix (a gap) and on the clock (tick)."""

from __future__ import annotations

from tests.unit.test_journeys_support import MIN, S, TrackBuilder, arrays, kernel, run


def test_gap_while_moving_vs_stopped() -> None:
    b = TrackBuilder().fix(60).move(300, 60)
    moving_at = b.t
    b.advance(150, 60).fix(60)  # 2.5 min after a moving fix: lost
    b.move(60, 60).advance(100, 60).fix(0)  # 100 s: fine
    stopped_at = b.t
    b.advance(14 * 60).fix(0)  # 14 min after a stopped fix: fine
    b.advance(16 * 60).fix(0)  # 16 min: lost
    out = run(kernel(), b.rows).signal
    assert [(s.last_ms, s.moving, s.restored_ms) for s in out] == [
        (moving_at, True, moving_at + 150 * S),
        (stopped_at + 14 * MIN, False, stopped_at + 30 * MIN),
    ]


def test_tick_reports_silent_vehicles_once() -> None:
    k = kernel(classes=("car", "bus"))
    rows = TrackBuilder(vehicle=0).fix(60).move(60, 60).rows
    rows += TrackBuilder(vehicle=1).fix(0).stay(120).rows
    k.process(**arrays(rows))
    t_car, t_bus = rows[2][1], rows[-1][1]
    assert k.tick(t_car + 120 * S).signal == []
    (lost,) = k.tick(t_car + 121 * S).signal
    assert (lost.vehicle, lost.moving, lost.ongoing) == ("V0", True, True)
    assert k.tick(t_car + 10 * MIN).signal == []  # once per silence
    (lost,) = k.tick(t_bus + 15 * MIN + 1).signal
    assert (lost.vehicle, lost.moving) == ("V1", False)
    # the car comes back: the gap is reported as restored, and a new silence counts again
    back = t_car + 20 * MIN
    out = k.process([0], [back], [11.0], [108.1], [50.0])
    assert [(s.vehicle, s.restored_ms) for s in out.signal] == [("V0", back)]
    assert [s.vehicle for s in k.tick(back + 3 * MIN).signal] == ["V0"]


def test_gps_jump_fixes_prove_the_device_alive() -> None:
    b = TrackBuilder().fix(60)
    for _ in range(5):
        b.advance(60, 60).fix(60, jump=True)
    assert run(kernel(), b.rows).signal == []
