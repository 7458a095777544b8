"""The journey kernel: one batch of fixes in, every rule's events out, state carried per
vehicle between batches.

Input contract of :meth:`JourneyKernel.process` (equal-length 1-D arrays, any order):

=============  ==========================  ===============================================
``vehicle``    int (any width)             index into the vehicle table, 0 <= v < vehicles
``t_ms``       int64                       fix time, UTC ms
``lat, lon``   float64                     WGS84 degrees
``speed_kmh``  float32/float64             device speed in km/h
``ignition``   bool or int8 (optional)     1 on, 0 off (never moving), -1 unknown
``gps_jump``   bool (optional)             flagged fix: not a position (see below)
=============  ==========================  ===============================================

Event time, late fixes: a batch is sorted by (vehicle, time) first. Each vehicle has a
*watermark*, the time of its newest processed fix; a fix at or before it (a backlog older than
what was already processed, or a duplicate) is **not processed** and is returned in
``JourneyOutput.late`` (indices into the batch) and counted in :attr:`JourneyKernel.late`, for
the caller to store and report. Rules never rewind: sending a day's backlog before today's
live fixes (or in the same batch) is processed correctly; after them it is late.

A fix flagged ``gps_jump``, or with a non-finite position or speed, proves the device alive
(lost signal) but is no position: it feeds no trip, distance, speeding, driving time or zone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from analytics.journeys.config import JourneyConfig
from analytics.journeys.driving import DrivingState
from analytics.journeys.events import JourneyOutput, Vehicle
from analytics.journeys.signal import SignalState
from analytics.journeys.speeding import SpeedingState
from analytics.journeys.track import NO_TIME, Carry, Track, bounds, true_at
from analytics.journeys.trips import TripState
from analytics.journeys.zones import ZoneState

ArrayLike = npt.ArrayLike


class JourneyKernel:
    def __init__(self, config: JourneyConfig, vehicles: Sequence[Vehicle]) -> None:
        self.config = config
        self.vehicles = list(vehicles)
        self.ids = [v.id for v in self.vehicles]
        classes = list(config.speeding.class_limits_kmh)
        unknown = {v.vehicle_class for v in self.vehicles} - set(classes)
        if unknown:
            raise ValueError(f"vehicle classes without a speed limit: {sorted(unknown)}")
        n = len(self.vehicles)
        self.vehicle_class = np.array(
            [classes.index(v.vehicle_class) for v in self.vehicles], dtype=np.int64
        )
        class_limits = np.array(list(config.speeding.class_limits_kmh.values()), dtype=np.float64)
        self.class_limit = class_limits[self.vehicle_class] if n else np.zeros(0)
        self.watermark = np.full(n, NO_TIME, dtype=np.int64)
        self.late = np.zeros(n, dtype=np.int64)
        self.carry = Carry.empty(n)
        gap = config.trips.max_gap_s
        self.trips = TripState(config.trips, n)
        self.speeding = SpeedingState(config.speeding, n)
        self.driving = DrivingState(config.driving, gap, config.utc_offset_h, n)
        self.signal = SignalState(config.signal, n)
        self.zones = ZoneState(
            config.zones, classes, class_limits, self.vehicle_class, gap, config.utc_offset_h
        )
        self._moving = config.trips.moving_speed_kmh

    def carry_over(self, previous: JourneyKernel) -> JourneyOutput:
        """Take over the state of ``previous`` (the kernel of the registry before a change) by
        vehicle id, before this kernel processes anything.

        * A vehicle in both tables keeps everything: its watermark and late count, last fix,
          trip or stop in progress and odometer, open speeding episode, continuous, daily and
          weekly driving time, lost-signal timer, and zone state. What changed about it (its
          class, the limits, the zones) applies from its next fix on: an ongoing speeding
          episode goes on (its peak keeps the limit it was measured against).
        * A vehicle only in this table starts fresh.
        * A vehicle only in ``previous`` (removed from the registry) is closed as at the end
          of the stream, at its last fix: the returned output holds its open speeding episode
          (a violation if it already qualifies) and its open trip (``ended_by="flush"``), for
          the journal and the alert book. Its other state is dropped.
        * Zones are matched by id: see :meth:`ZoneState.carry_over`.
        * A driving-time period the previous configuration did not count (weekly driving
          switched on) starts at zero.
        """
        old = {vehicle_id: n for n, vehicle_id in enumerate(previous.ids)}
        src_of = np.array([old.get(i, -1) for i in self.ids], dtype=np.int64)
        dst = true_at(src_of >= 0)
        src = src_of[dst]
        for name in ("watermark", "late"):
            getattr(self, name)[dst] = getattr(previous, name)[src]
        for name in ("t", "lat", "lon", "moving"):
            getattr(self.carry, name)[dst] = getattr(previous.carry, name)[src]
        self.trips.carry_over(previous.trips, dst, src)
        self.speeding.carry_over(previous.speeding, dst, src)
        self.driving.carry_over(previous.driving, dst, src)
        self.signal.carry_over(previous.signal, dst, src)
        self.zones.carry_over(previous.zones, dst, src, self.carry)
        kept = set(self.ids)
        gone = np.array(
            [n for n, vehicle_id in enumerate(previous.ids) if vehicle_id not in kept],
            dtype=np.int64,
        )
        out = JourneyOutput()
        if len(gone):
            out.speeding.extend(previous.speeding.close(gone, previous.ids))
            out.trips.extend(previous.trips.flush(previous.carry, previous.ids, gone))
        return out

    def process(
        self,
        vehicle: ArrayLike,
        t_ms: ArrayLike,
        lat: ArrayLike,
        lon: ArrayLike,
        speed_kmh: ArrayLike,
        ignition: ArrayLike | None = None,
        gps_jump: ArrayLike | None = None,
    ) -> JourneyOutput:
        v = np.asarray(vehicle, dtype=np.int64)
        t = np.asarray(t_ms, dtype=np.int64)
        la = np.asarray(lat, dtype=np.float64)
        lo = np.asarray(lon, dtype=np.float64)
        sp = np.asarray(speed_kmh, dtype=np.float64)
        n = len(v)
        if any(len(a) != n for a in (t, la, lo, sp)):
            raise ValueError("vehicle, t_ms, lat, lon and speed_kmh must have the same length")
        if n and (v.min() < 0 or v.max() >= len(self.vehicles)):
            raise ValueError("vehicle index outside the vehicle table")
        ign = None if ignition is None else np.asarray(ignition).astype(np.int8)
        jump = None if gps_jump is None else np.asarray(gps_jump, dtype=bool)
        for name, extra in (("ignition", ign), ("gps_jump", jump)):
            if extra is not None and len(extra) != n:
                raise ValueError(f"{name} must have the length of the batch")

        order: npt.NDArray[np.int64] | None = None
        if n > 1 and not _sorted(v, t):
            order = _order(v, t)
            v, t, la, lo, sp = v[order], t[order], la[order], lo[order], sp[order]
            ign = None if ign is None else ign[order]
            jump = None if jump is None else jump[order]
        late = t <= self.watermark[v]
        late[1:] |= (v[1:] == v[:-1]) & (t[1:] == t[:-1])
        if late.any():
            position = true_at(late)
            out = JourneyOutput(late=position if order is None else order[position])
            np.add.at(self.late, v[late], 1)
            keep = ~late
            v, t, la, lo, sp = v[keep], t[keep], la[keep], lo[keep], sp[keep]
            ign = None if ign is None else ign[keep]
            jump = None if jump is None else jump[keep]
        else:
            out = JourneyOutput()
        if not len(v):
            return out
        moving = sp > self._moving
        if ign is not None:
            moving &= ign != 0
        first, last = bounds(v)
        lost, resumed = self.signal.process(v, t, la, lo, moving, self.ids, first, last)
        out.signal.extend(lost)
        out.resumed.extend(resumed)
        self.watermark[v[last]] = t[last]

        clean = np.isfinite(la + lo + sp)
        if jump is not None:
            clean &= ~jump
        if clean.all():
            track = Track.build(v, t, la, lo, sp, moving, self.carry, first, last)
        else:
            v, t, la, lo, sp = v[clean], t[clean], la[clean], lo[clean], sp[clean]
            if not len(v):
                return out
            track = Track.build(v, t, la, lo, sp, moving[clean], self.carry)
        zone_limit, zone_events, zone_violations = self.zones.process(track, self.ids)
        out.zone_events.extend(zone_events)
        out.zone_violations.extend(zone_violations)
        trips, stops = self.trips.process(track, self.ids)
        out.trips.extend(trips)
        out.stops.extend(stops)
        limit = np.minimum(self.class_limit[v], zone_limit)
        out.speeding.extend(self.speeding.process(track, limit, self.ids))
        out.driving.extend(self.driving.process(track, self.ids))
        self.carry.update(track)
        return out

    def tick(self, now_ms: int) -> JourneyOutput:
        """Clock work: vehicles silent too long (lost signal, once per silence), and speeding
        episodes of vehicles silent longer than ``speeding.max_gap_s`` are closed."""
        out = JourneyOutput()
        out.signal.extend(self.signal.tick(now_ms, self.ids))
        out.speeding.extend(self.speeding.tick(now_ms, self.ids))
        return out

    def flush(self) -> JourneyOutput:
        """End of the stream (or of a backtest): close open speeding episodes and trips."""
        out = JourneyOutput()
        out.speeding.extend(self.speeding.flush(self.ids))
        out.trips.extend(self.trips.flush(self.carry, self.ids))
        return out

    @property
    def odometer_m(self) -> npt.NDArray[np.float64]:
        """Distance driven per vehicle since the kernel started (gaps not counted)."""
        return self.trips.odometer


def _order(v: npt.NDArray[np.int64], t: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Indices sorting by (vehicle, time): one argsort of a packed key when it fits."""
    t_min = int(t.min())
    if int(t.max()) - t_min < 1 << 40 and int(v.max()) < 1 << 22:
        return np.argsort((v << 40) | (t - t_min), kind="stable")
    return np.lexsort((t, v))


def _sorted(v: npt.NDArray[np.int64], t: npt.NDArray[np.int64]) -> bool:
    dv = v[1:] - v[:-1]
    return bool(((dv > 0) | ((dv == 0) & (t[1:] >= t[:-1]))).all())
