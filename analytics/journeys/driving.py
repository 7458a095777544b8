"""Driving time: continuous, per local day and per local ISO week (Road Traffic Order and
Safety Law 2024 art. 64: 4 h / 10 h / 48 h), with a warning ``warn_before_min`` before each.

* The segment between two fixes is *driving* when the vehicle was moving at its first fix and
  the segment is no gap (``trips.max_gap_s``); its whole duration counts.
* A *break* is the time between two driving segments; one of ``min_break_min`` or more ends
  continuous driving (a shorter one neither resets nor counts).
* Day and week totals split a segment at local midnight; weeks start on Monday.

Totals only grow within a period, so each threshold is crossed by exactly one segment: the
crossing time is interpolated in it, and nothing but the totals has to be carried.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from analytics.journeys.config import DrivingConfig
from analytics.journeys.events import DrivingTimeViolation
from analytics.journeys.track import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    NO_TIME,
    BoolArray,
    FloatArray,
    IntArray,
    Track,
    ffill,
    restarting_cumsum,
    take_rows,
    true_at,
)

Rule = Literal["continuous", "daily", "weekly"]


class _Period:
    """Local days (``days == 1``) or ISO weeks (``days == 7``; 1970-01-01 was a Thursday)."""

    def __init__(self, days: int, offset_ms: int) -> None:
        self.days, self.offset = days, offset_ms

    def index(self, t: IntArray) -> IntArray:
        day = (t + self.offset) // DAY_MS
        return day if self.days == 1 else (day + 3) // 7

    def start(self, index: IntArray) -> IntArray:
        day = index if self.days == 1 else index * 7 - 3
        return day * DAY_MS - self.offset


class DrivingState:
    def __init__(self, config: DrivingConfig, gap_s: float, utc_offset_h: int, vehicles: int):
        self.config = c = config
        self._gap = int(gap_s * 1000)
        self._break = int(c.min_break_min * MINUTE_MS)
        self._warn = int(c.warn_before_min * MINUTE_MS)
        offset = utc_offset_h * HOUR_MS
        self._periods: list[tuple[Rule, _Period, float]] = [
            ("daily", _Period(1, offset), c.daily_max_h)
        ]
        if c.weekly_max_h is not None:
            self._periods.append(("weekly", _Period(7, offset), c.weekly_max_h))
        self.cont = np.zeros(vehicles)  # ms of continuous driving
        self.cont_start = np.full(vehicles, NO_TIME, dtype=np.int64)
        self.drive_end = np.full(vehicles, NO_TIME, dtype=np.int64)  # end of last driving
        self.period = {
            rule: np.full(vehicles, NO_TIME, dtype=np.int64) for rule, _, _ in self._periods
        }
        self.total = {rule: np.zeros(vehicles) for rule, _, _ in self._periods}

    def carry_over(self, previous: DrivingState, dst: IntArray, src: IntArray) -> None:
        """Rows ``src`` of ``previous`` become rows ``dst`` (a changed vehicle table); a
        period ``previous`` did not count starts at zero."""
        take_rows(self, previous, ("cont", "cont_start", "drive_end"), dst, src)
        for rule in self.period.keys() & previous.period.keys():
            self.period[rule][dst] = previous.period[rule][src]
            self.total[rule][dst] = previous.total[rule][src]

    def process(self, tr: Track, ids: list[str]) -> list[DrivingTimeViolation]:
        n = len(tr)
        if not n:
            return []
        out: list[DrivingTimeViolation] = []
        v, t, first = tr.vehicle, tr.t, tr.first
        drive = tr.has_prev & tr.prev_moving & (tr.dt <= self._gap)
        dur = np.where(drive, tr.dt, 0).astype(np.float64)

        # Continuous driving: restarts at the first driving segment after a long break.
        d = ffill(drive)
        d_before = np.empty(n, dtype=np.int64)
        d_before[1:] = d[:-1]
        d_before[first] = -1
        in_group = d_before >= tr.group_start
        end_before = np.where(in_group, t[np.maximum(d_before, 0)], self.drive_end[v])
        reset = drive & ((end_before == NO_TIME) | (tr.prev_t - end_before >= self._break))
        anchor = reset | first
        cont = restarting_cumsum(dur, anchor, np.where(reset, 0, self.cont[v]))
        a = ffill(anchor)
        since = np.where(reset[a], tr.prev_t[a], self.cont_start[v])
        limit = self.config.continuous_max_h * HOUR_MS
        out += self._crossings(
            tr, drive, cont - dur, cont, tr.prev_t, cont - dur, "continuous", limit, since, ids
        )

        # Local day and week totals, a segment split at the period boundary.
        e = true_at(tr.last)
        ve = v[e]
        for rule, period, hours in self._periods:
            per = period.index(t)
            start = period.start(per)
            tail = np.where(drive, np.minimum(dur, t - start), 0)
            head = dur - tail
            change = np.empty(n, dtype=bool)
            change[0] = True
            np.not_equal(per[1:], per[:-1], out=change[1:])
            carried = self.total[rule][v]
            same = self.period[rule][v] == per
            total = restarting_cumsum(tail, change | first, np.where(first & same, carried, 0))
            threshold = hours * HOUR_MS
            out += self._crossings(
                tr, drive, total - tail, total, t - tail, total - tail, rule, threshold, start, ids
            )
            straddle = true_at(head > 0)
            if len(straddle):
                k = straddle
                per_a = period.index(tr.prev_t[k])
                before = np.where(
                    first[k],
                    np.where(self.period[rule][v[k]] == per_a, self.total[rule][v[k]], 0),
                    total[np.maximum(k - 1, 0)],
                )
                mask = np.zeros(n, dtype=bool)
                prev_total = np.zeros(n)
                mask[k], prev_total[k] = True, before
                starts = np.zeros(n, dtype=np.int64)
                starts[k] = period.start(per_a)
                out += self._crossings(
                    tr, mask, prev_total, prev_total + head, tr.prev_t, prev_total, rule,
                    threshold, starts, ids,
                )  # fmt: skip
            self.period[rule][ve], self.total[rule][ve] = per[e], total[e]

        self.cont[ve], self.cont_start[ve] = cont[e], since[e]
        de = d[e]
        has = de >= tr.group_start[e]
        self.drive_end[ve[has]] = t[de[has]]
        out.sort(key=lambda x: (x.index, x.at_ms))
        return out

    def _crossings(
        self,
        tr: Track,
        where: BoolArray,
        before: FloatArray,
        after: FloatArray,
        clock: IntArray,
        base: FloatArray,
        rule: Rule,
        limit: float,
        period_start: IntArray,
        ids: list[str],
    ) -> list[DrivingTimeViolation]:
        """Segments whose total goes from ``before`` to ``after`` across a threshold; the
        threshold is reached at ``clock + (threshold - base)``."""
        out: list[DrivingTimeViolation] = []
        levels: list[tuple[Literal["warning", "violation"], float]] = [("violation", limit)]
        if self._warn:
            levels.append(("warning", limit - self._warn))
        for kind, level in levels:
            if kind == "violation":
                hit = where & (before <= level) & (after > level)
            else:
                hit = where & (before < level) & (after >= level)
            for i in true_at(hit).tolist():
                vi = int(tr.vehicle[i])
                out.append(
                    DrivingTimeViolation(
                        ids[vi],
                        vi,
                        rule,
                        kind,
                        int(clock[i] + (level - base[i])),
                        limit / HOUR_MS,
                        int(period_start[i]),
                        float(tr.lat[i]),
                        float(tr.lon[i]),
                    )
                )
        return out
