"""Lost signal: no fix for longer than ``moving_max_gap_s`` after a moving fix, or
``stopped_max_gap_s`` after a stopped one. Found two ways: when the next fix arrives (a gap
in the vehicle's records, reported with ``restored_ms``: the violation) and on the clock
(:meth:`SignalState.tick`: vehicles silent now, reported once per silence with
``restored_ms=None``; whether that silence is a gap is known only once the vehicle sends
again — a device out of coverage keeps recording and sends its backlog later, which fills
the silence). A vehicle found silent that sends again is reported as
:class:`~analytics.journeys.events.SignalResumed`. Every processed fix counts, GPS-jump ones
included: the device was talking."""

from __future__ import annotations

import numpy as np

from analytics.journeys.config import SignalConfig
from analytics.journeys.events import SignalLost, SignalResumed
from analytics.journeys.track import (
    NO_TIME,
    BoolArray,
    FloatArray,
    IntArray,
    take_rows,
    true_at,
)


class SignalState:
    def __init__(self, config: SignalConfig, vehicles: int) -> None:
        self._moving_ms = int(config.moving_max_gap_s * 1000)
        self._stopped_ms = int(config.stopped_max_gap_s * 1000)
        self.t = np.full(vehicles, NO_TIME, dtype=np.int64)
        self.lat = np.zeros(vehicles)
        self.lon = np.zeros(vehicles)
        self.moving = np.zeros(vehicles, dtype=bool)
        self.reported = np.zeros(vehicles, dtype=bool)

    def carry_over(self, previous: SignalState, dst: IntArray, src: IntArray) -> None:
        """Rows ``src`` of ``previous`` become rows ``dst`` (a changed vehicle table)."""
        take_rows(self, previous, ("t", "lat", "lon", "moving", "reported"), dst, src)

    def process(
        self,
        vehicle: IntArray,
        t: IntArray,
        lat: FloatArray,
        lon: FloatArray,
        moving: BoolArray,
        ids: list[str],
        first: BoolArray,
        last: BoolArray,
    ) -> tuple[list[SignalLost], list[SignalResumed]]:
        """Fixes sorted by (vehicle, time); ``first`` and ``last`` fix of each vehicle."""
        if not len(t):
            return [], []
        fv = vehicle[first]
        prev_t = np.empty_like(t)
        prev_t[1:] = t[:-1]
        prev_t[first] = self.t[fv]
        prev_moving = np.empty_like(moving)
        prev_moving[1:] = moving[:-1]
        prev_moving[first] = self.moving[fv]
        limit = np.where(prev_moving, self._moving_ms, self._stopped_ms)
        out: list[SignalLost] = []
        for i in true_at((prev_t != NO_TIME) & (t - prev_t > limit)).tolist():
            vi = int(vehicle[i])
            if first[i]:
                p_lat, p_lon = float(self.lat[vi]), float(self.lon[vi])
            else:
                p_lat, p_lon = float(lat[i - 1]), float(lon[i - 1])
            out.append(
                SignalLost(
                    ids[vi], vi, int(prev_t[i]), p_lat, p_lon, bool(prev_moving[i]), int(t[i])
                )
            )
        back = true_at(self.reported[fv])
        first_t = t[first]
        resumed = [
            SignalResumed(ids[int(fv[i])], int(fv[i]), int(first_t[i])) for i in back.tolist()
        ]
        lv = vehicle[last]
        self.t[lv], self.lat[lv], self.lon[lv] = t[last], lat[last], lon[last]
        self.moving[lv], self.reported[lv] = moving[last], False
        return out, resumed

    def tick(self, now_ms: int, ids: list[str]) -> list[SignalLost]:
        limit = np.where(self.moving, self._moving_ms, self._stopped_ms)
        silent = (self.t != NO_TIME) & ~self.reported & (now_ms - self.t > limit)
        out = [
            SignalLost(
                ids[x],
                x,
                int(self.t[x]),
                float(self.lat[x]),
                float(self.lon[x]),
                bool(self.moving[x]),
                None,
            )
            for x in true_at(silent).tolist()
        ]
        self.reported |= silent
        return out
