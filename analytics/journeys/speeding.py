"""Speeding episodes, vectorised over a batch with per-vehicle carry.

A fix is *over* when its speed is at least its limit + ``tolerance_kmh`` (the limit of its
vehicle's class, lowered inside zones that set one). Fixes flagged as GPS jumps never reach
this module. An *episode* is a maximal run of consecutive over fixes, none more than
``max_gap_s`` after the one before; it is a violation once it has ``min_fixes`` fixes spanning
``min_duration_s``. One violation per episode, reported when it ends (the next fix is not over,
or comes too late), with its peak, band of the peak excess, distance and place of the peak.
"""

from __future__ import annotations

import numpy as np

from analytics.journeys.config import SpeedingConfig
from analytics.journeys.events import SpeedBand, SpeedingViolation
from analytics.journeys.track import (
    NO_TIME,
    FloatArray,
    IntArray,
    Track,
    band_of,
    take_rows,
    true_at,
)

BANDS: tuple[SpeedBand, ...] = ("5-10", "10-20", "20-35", ">35")
_ROWS = (
    "open", "start_t", "last_t", "count", "distance", "peak_excess", "peak_speed",
    "peak_limit", "peak_t", "peak_lat", "peak_lon",
)  # fmt: skip


class SpeedingState:
    def __init__(self, config: SpeedingConfig, vehicles: int) -> None:
        self.config = config
        self._min_ms = int(config.min_duration_s * 1000)
        self._gap_ms = int(config.max_gap_s * 1000)
        self.open = np.zeros(vehicles, dtype=bool)
        self.start_t = np.full(vehicles, NO_TIME, dtype=np.int64)
        self.last_t = np.full(vehicles, NO_TIME, dtype=np.int64)
        self.count = np.zeros(vehicles, dtype=np.int64)
        self.distance = np.zeros(vehicles)
        self.peak_excess = np.zeros(vehicles)
        self.peak_speed = np.zeros(vehicles)
        self.peak_limit = np.zeros(vehicles)
        self.peak_t = np.zeros(vehicles, dtype=np.int64)
        self.peak_lat = np.zeros(vehicles)
        self.peak_lon = np.zeros(vehicles)

    def carry_over(self, previous: SpeedingState, dst: IntArray, src: IntArray) -> None:
        """Rows ``src`` of ``previous`` become rows ``dst`` (a changed vehicle table)."""
        take_rows(self, previous, _ROWS, dst, src)

    def process(self, tr: Track, limit: FloatArray, ids: list[str]) -> list[SpeedingViolation]:
        if not len(tr):
            return []
        first, v = tr.first, tr.vehicle
        excess = tr.speed - limit
        over = excess >= self.config.tolerance_kmh
        prev_over = np.empty_like(over)
        prev_over[1:] = over[:-1]
        prev_over[first] = self.open[v[first]]
        cont = over & prev_over & tr.has_prev & (tr.dt <= self._gap_ms)
        out: list[SpeedingViolation] = []
        # Carried episodes that this batch ends at once.
        cut = first & self.open[v] & ~cont
        if cut.any():
            out += self._emit(v[cut], ids)
            self.open[v[cut]] = False
        ov = true_at(over)
        if not len(ov):
            return out
        begins = (~cont | first)[ov]
        sp = true_at(begins)  # run starts, positions in ov
        ep = np.empty_like(sp)
        ep[:-1] = sp[1:] - 1
        ep[-1] = len(ov) - 1
        s, e = ov[sp], ov[ep]
        rv = v[s]
        ex = excess[ov]
        peak = np.maximum.reduceat(ex, sp)
        marks = np.where(ex == np.repeat(peak, ep - sp + 1), np.arange(len(ov)), len(ov))
        pk = ov[np.minimum.reduceat(marks, sp)]
        count = ep - sp + 1
        dist = np.add.reduceat(np.where(cont[ov], tr.dist[ov], 0.0), sp)
        start_t = tr.t[s]
        carried = cont[s]  # continues the vehicle's open episode
        if carried.any():
            cv = rv[carried]
            start_t[carried] = self.start_t[cv]
            count[carried] += self.count[cv]
            dist[carried] += self.distance[cv]
        # Per run: peak from the batch, or the carried one when that was higher.
        p_ex, p_speed, p_limit = peak.copy(), tr.speed[pk].astype(np.float64), limit[pk]
        p_t, p_lat, p_lon = tr.t[pk], tr.lat[pk], tr.lon[pk]
        older = carried & (self.peak_excess[rv] >= peak)
        if older.any():
            ov_ = rv[older]
            p_ex[older], p_speed[older], p_limit[older] = (
                self.peak_excess[ov_], self.peak_speed[ov_], self.peak_limit[ov_],
            )  # fmt: skip
            p_t[older], p_lat[older], p_lon[older] = (
                self.peak_t[ov_], self.peak_lat[ov_], self.peak_lon[ov_],
            )  # fmt: skip
        end_t = tr.t[e]
        ended = ~tr.last[e]
        ok = ended & (end_t - start_t >= self._min_ms) & (count >= self.config.min_fixes)
        for i in true_at(ok).tolist():
            out.append(
                self._violation(
                    ids,
                    int(rv[i]),
                    int(start_t[i]),
                    int(end_t[i]),
                    float(p_speed[i]),
                    float(p_limit[i]),
                    float(p_ex[i]),
                    int(count[i]),
                    float(dist[i]),
                    float(p_lat[i]),
                    float(p_lon[i]),
                    int(p_t[i]),
                )
            )
        # Carry the runs still open at the end of the batch.
        o = ~ended
        ovv = rv[o]
        self.open[ovv] = True
        self.start_t[ovv], self.last_t[ovv], self.count[ovv] = start_t[o], end_t[o], count[o]
        self.distance[ovv], self.peak_excess[ovv] = dist[o], p_ex[o]
        self.peak_speed[ovv], self.peak_limit[ovv], self.peak_t[ovv] = (
            p_speed[o], p_limit[o], p_t[o],
        )  # fmt: skip
        self.peak_lat[ovv], self.peak_lon[ovv] = p_lat[o], p_lon[o]
        closed = v[tr.last & ~over]
        self.open[closed] = False
        return out

    def tick(self, now_ms: int, ids: list[str]) -> list[SpeedingViolation]:
        """Close the episodes of vehicles silent for longer than ``max_gap_s``."""
        silent = true_at(self.open & (now_ms - self.last_t > self._gap_ms))
        out = self._emit(silent, ids)
        self.open[silent] = False
        return out

    def flush(self, ids: list[str]) -> list[SpeedingViolation]:
        vs = true_at(self.open)
        out = self._emit(vs, ids)
        self.open[:] = False
        return out

    def close(self, vehicles: IntArray, ids: list[str]) -> list[SpeedingViolation]:
        """Close the open episodes of ``vehicles`` at their last over-limit fix."""
        vs = vehicles[self.open[vehicles]]
        out = self._emit(vs, ids)
        self.open[vs] = False
        return out

    def _emit(self, vs: IntArray, ids: list[str]) -> list[SpeedingViolation]:
        keep = (self.last_t[vs] - self.start_t[vs] >= self._min_ms) & (
            self.count[vs] >= self.config.min_fixes
        )
        return [
            self._violation(
                ids,
                x,
                int(self.start_t[x]),
                int(self.last_t[x]),
                float(self.peak_speed[x]),
                float(self.peak_limit[x]),
                float(self.peak_excess[x]),
                int(self.count[x]),
                float(self.distance[x]),
                float(self.peak_lat[x]),
                float(self.peak_lon[x]),
                int(self.peak_t[x]),
            )
            for x in vs[keep].tolist()
        ]

    def _violation(
        self,
        ids: list[str],
        x: int,
        start: int,
        end: int,
        speed: float,
        limit: float,
        excess: float,
        count: int,
        distance: float,
        lat: float,
        lon: float,
        peak_t: int,
    ) -> SpeedingViolation:
        band = BANDS[band_of(excess, self.config.band_edges_kmh)]
        return SpeedingViolation(
            ids[x], x, start, end, speed, limit, excess, band, count, distance, lat, lon, peak_t
        )
