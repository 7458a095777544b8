"""Trips and stops (Traccar's rules), vectorised over a batch with per-vehicle carry.

* A fix is *still* unless it is moving (speed above ``moving_speed_kmh``, ignition not off).
* A *still run* is a maximal sequence of still fixes with no gap; it starts at its first fix
  and lasts until the next moving fix (or, before a gap, until its last fix). Once it has
  lasted ``min_stop_duration_s`` it is a **stop**; the trip before it ends where it began.
  Shorter still runs are part of the trip.
* A **trip** opens at the first moving fix after a stop, a gap or the first fix, starting at
  the fix before it (where the vehicle stood) when there is one. It ends at the start of the
  next stop or at the last fix before a gap, and is reported when it is at least
  ``min_trip_duration_s`` long and ``min_trip_distance_m`` far (sum of fix-to-fix distances).
* A gap (no fix for more than ``max_gap_s``) is lost data: the distance over it counts for
  nothing, it is not a stop, and it ends the trip or stop in progress at the fix before it.

Stops are reported when they end (the vehicle moves off, or a gap), trips when they end.

Every step is whole-batch numpy: events are ranked ``3i + 3`` (a reset at fix i: a trip closes
or data begins) and ``3i + 4`` (a trip opens at fix i); forward-filled maxima of the ranks tell at
every fix whether a trip is open. The carry is a virtual event ranked ``3s + 2``, just before
the vehicle's first fix s (and above every rank of the vehicle before it in the batch).
"""

from __future__ import annotations

import numpy as np

from analytics.journeys.config import TripConfig
from analytics.journeys.events import Stop, Trip
from analytics.journeys.track import (
    NO_TIME,
    Carry,
    FloatArray,
    IntArray,
    Track,
    ffill,
    restarting_cumsum,
    take_rows,
    true_at,
)
from analytics.journeys.track import shift as _prev

_ROWS = (
    "odometer", "run_t", "run_lat", "run_lon", "run_odo", "run_stop",
    "trip_open", "trip_t", "trip_lat", "trip_lon", "trip_odo",
)  # fmt: skip


class TripState:
    """Trip and stop state of every vehicle."""

    def __init__(self, config: TripConfig, vehicles: int) -> None:
        self.config = config
        self._min_stop = int(config.min_stop_duration_s * 1000)
        self._gap = int(config.max_gap_s * 1000)
        self.odometer = np.zeros(vehicles)  # m, gaps not counted
        self.run_t = np.full(vehicles, NO_TIME, dtype=np.int64)  # still run: first fix
        self.run_lat = np.zeros(vehicles)
        self.run_lon = np.zeros(vehicles)
        self.run_odo = np.zeros(vehicles)
        self.run_stop = np.zeros(vehicles, dtype=bool)  # the run already is a stop
        self.trip_open = np.zeros(vehicles, dtype=bool)
        self.trip_t = np.full(vehicles, NO_TIME, dtype=np.int64)
        self.trip_lat = np.zeros(vehicles)
        self.trip_lon = np.zeros(vehicles)
        self.trip_odo = np.zeros(vehicles)

    def carry_over(self, previous: TripState, dst: IntArray, src: IntArray) -> None:
        """Rows ``src`` of ``previous`` become rows ``dst`` (a changed vehicle table)."""
        take_rows(self, previous, _ROWS, dst, src)

    def process(self, tr: Track, ids: list[str]) -> tuple[list[Trip], list[Stop]]:
        n = len(tr)
        if not n:
            return [], []
        idx = np.arange(n)
        v, t, first, gs = tr.vehicle, tr.t, tr.first, tr.group_start
        fv = v[first]
        gap = tr.has_prev & (tr.dt > self._gap)
        brk = ~tr.has_prev | gap  # a stretch of data begins here
        step = np.where(brk, 0.0, tr.dist)
        odo = restarting_cumsum(step, first, self.odometer[v])

        # Still runs: where each began (or the carried one), how long it has lasted.
        still = ~tr.moving
        run_begin = still & (brk | tr.prev_moving)
        carried = still & first & ~brk & ~tr.prev_moving
        a = ffill(run_begin | carried)
        from_carry = carried[a]
        rs_t = np.where(from_carry, self.run_t[v], t[a])
        rs_lat = np.where(from_carry, self.run_lat[v], tr.lat[a])
        rs_lon = np.where(from_carry, self.run_lon[v], tr.lon[a])
        rs_odo = np.where(from_carry, self.run_odo[v], odo[a])
        is_stop = still & (t - rs_t >= self._min_stop)  # after fix i (still fixes)
        was_stop = np.zeros(n, dtype=bool)
        was_stop[1:] = is_stop[:-1]
        was_stop[run_begin] = False
        was_stop[carried] = self.run_stop[v[carried]]
        qualify_still = is_stop & ~was_stop

        # The still run before each fix (that fix's predecessor's run, or the carried one).
        p_rs_t = _prev(np.where(still, rs_t, NO_TIME), first, self.run_t[fv])
        p_rs_lat = _prev(rs_lat, first, self.run_lat[fv])
        p_rs_lon = _prev(rs_lon, first, self.run_lon[fv])
        p_rs_odo = _prev(rs_odo, first, self.run_odo[fv])
        p_stop = _prev(is_stop, first, self.run_stop[fv])
        ends_run = tr.moving & ~brk & ~tr.prev_moving
        lasted = ends_run & (t - p_rs_t >= self._min_stop)
        qualify_end = lasted & ~p_stop
        stop_moved_off = ends_run & (p_stop | lasted)
        stop_cut = gap & ~tr.prev_moving & p_stop

        # Trips: resets (rank 3i + 3) and openings (3i + 4), the carry (3s + 2) just before.
        closes_at_run = qualify_still | qualify_end
        reset = closes_at_run | brk
        virtual = 3 * gs + 2  # ranks: reset at i 3i + 3, opening 3i + 4
        carry_open = self.trip_open[v]
        r = np.where(reset, 3 * idx + 3, -1)
        r = np.where(first & ~carry_open, np.maximum(r, virtual), r)
        lr = np.maximum.accumulate(r)
        lr = np.where(lr >= virtual, lr, -1)
        m = np.where(tr.moving, 3 * idx + 4, -1)
        m = np.where(first & carry_open, np.maximum(m, virtual), m)
        m_acc = np.maximum.accumulate(m)
        mb = _prev(m_acc, first, np.where(carry_open[first], virtual[first], -1))
        mb = np.where(mb >= virtual, mb, -1)
        opener = tr.moving & (mb < lr)
        o = np.where(opener, 3 * idx + 4, -1)
        o = np.where(first & carry_open, np.maximum(o, virtual), o)
        lo = np.maximum.accumulate(o)
        lo = np.where(lo >= virtual, lo, -1)
        lo_before = _prev(lo, first, np.where(carry_open[first], virtual[first], -1))
        lr_before = _prev(lr, first, np.where(carry_open[first], -1, virtual[first]))
        lo_before = np.where(lo_before >= virtual, lo_before, -1)
        lr_before = np.where(lr_before >= virtual, lr_before, -1)
        open_before = lo_before > lr_before

        op_lat = np.where(brk, tr.lat, tr.prev_lat)
        op_lon = np.where(brk, tr.lon, tr.prev_lon)
        op_odo = odo - step

        trips: list[Trip] = []
        closing = true_at((closes_at_run | gap) & open_before)
        if len(closing):
            k = closing
            at_run = closes_at_run[k]
            still_k = still[k]
            end_t = np.where(at_run, np.where(still_k, rs_t[k], p_rs_t[k]), tr.prev_t[k])
            end_lat = np.where(at_run, np.where(still_k, rs_lat[k], p_rs_lat[k]), tr.prev_lat[k])
            end_lon = np.where(at_run, np.where(still_k, rs_lon[k], p_rs_lon[k]), tr.prev_lon[k])
            end_odo = np.where(at_run, np.where(still_k, rs_odo[k], p_rs_odo[k]), odo[k])
            src = (lo_before[k] - 4) // 3
            virt = lo_before[k] == virtual[k]
            src = np.where(virt, 0, src)
            vk = v[k]
            start_t = np.where(virt, self.trip_t[vk], t[src])
            start_lat = np.where(virt, self.trip_lat[vk], op_lat[src])
            start_lon = np.where(virt, self.trip_lon[vk], op_lon[src])
            start_odo = np.where(virt, self.trip_odo[vk], op_odo[src])
            trips = self._trips(
                vk, start_t, end_t, start_lat, start_lon, end_lat, end_lon,
                end_odo - start_odo, np.where(at_run, 0, 1), ids,
            )  # fmt: skip

        stops: list[Stop] = []
        ending = true_at(stop_moved_off | stop_cut)
        for i in ending.tolist():
            vi = int(v[i])
            end = int(t[i]) if stop_moved_off[i] else int(tr.prev_t[i])
            stops.append(
                Stop(ids[vi], vi, int(p_rs_t[i]), end, float(p_rs_lat[i]), float(p_rs_lon[i]))
            )

        # Carry.
        e = true_at(tr.last)
        ve = v[e]
        self.odometer[ve] = odo[e]
        s = still[e]
        self.run_t[ve] = np.where(s, rs_t[e], NO_TIME)
        self.run_lat[ve], self.run_lon[ve], self.run_odo[ve] = rs_lat[e], rs_lon[e], rs_odo[e]
        self.run_stop[ve] = s & is_stop[e]
        self.trip_open[ve] = lo[e] > lr[e]
        fresh = (lo[e] > virtual[e]) & (lo[e] > lr[e])
        j, vj = (lo[e][fresh] - 4) // 3, ve[fresh]
        self.trip_t[vj], self.trip_lat[vj], self.trip_lon[vj] = t[j], op_lat[j], op_lon[j]
        self.trip_odo[vj] = op_odo[j]
        return trips, stops

    def flush(self, carry: Carry, ids: list[str], vehicles: IntArray | None = None) -> list[Trip]:
        """End every open trip (of ``vehicles``, default all) at its vehicle's last fix (or
        the start of its still run)."""
        vk = true_at(self.trip_open) if vehicles is None else vehicles[self.trip_open[vehicles]]
        in_run = self.run_t[vk] != NO_TIME
        trips = self._trips(
            vk,
            self.trip_t[vk],
            np.where(in_run, self.run_t[vk], carry.t[vk]),
            self.trip_lat[vk],
            self.trip_lon[vk],
            np.where(in_run, self.run_lat[vk], carry.lat[vk]),
            np.where(in_run, self.run_lon[vk], carry.lon[vk]),
            np.where(in_run, self.run_odo[vk], self.odometer[vk]) - self.trip_odo[vk],
            np.full(len(vk), 2),
            ids,
        )
        self.trip_open[vk] = False
        return trips

    def _trips(
        self,
        vk: IntArray,
        start_t: IntArray,
        end_t: IntArray,
        start_lat: FloatArray,
        start_lon: FloatArray,
        end_lat: FloatArray,
        end_lon: FloatArray,
        distance: FloatArray,
        why: IntArray,
        ids: list[str],
    ) -> list[Trip]:
        c = self.config
        keep = true_at(
            (end_t - start_t >= c.min_trip_duration_s * 1000) & (distance >= c.min_trip_distance_m)
        )
        reasons = ("stop", "gap", "flush")
        columns = (vk, start_t, end_t, start_lat, start_lon, end_lat, end_lon, distance, why)
        return [
            Trip(ids[x], x, s, e, slat, slon, elat, elon, d, reasons[w])  # type: ignore[arg-type]
            for x, s, e, slat, slon, elat, elon, d, w in zip(
                *(column[keep].tolist() for column in columns), strict=True
            )
        ]
