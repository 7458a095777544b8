"""Groundwater abstraction: the volume each well abstracted in the local day so far, from its
cumulative counter (REFERENCE §7), as the derived parameter ``volume_day`` (m³) that licence
rules compare with the permitted abstraction.

Each new counter value adds its increase over the value before it, and the increase of an
interval counts for the day of its later value. A counter that drops has either *rolled
over* — it was in the top ``rollover_band`` of ``counter_max_m3`` and is now in the bottom
one: the increase runs through the maximum — or was *reset* (replaced, zeroed): it is counted
from its new value on, and the interval of the reset adds nothing. A value not newer than
the counter's newest is left out (it cannot be placed between values already counted).
Vectorised over a batch; the state is the last value, its time and the day's total per well.
"""

from __future__ import annotations

import numpy as np

from analytics.config import AbstractionConfig
from analytics.output import Derived
from analytics.series import HOUR_MS, NO_TIME, FloatArray, Points, SeriesTable

PARAMETER = "volume_day"


class Abstraction:
    def __init__(self, config: AbstractionConfig, table: SeriesTable, utc_offset_h: int) -> None:
        self._config = config
        self._offset = utc_offset_h
        series, _ = table.registry_series(config.counter)
        kinds = set(config.kinds)
        wells = [i for i, s in enumerate(table.stations) if s.kind in kinds and series[i] >= 0]
        self._station_id = [table.stations[i].id for i in wells]
        self._well_of = np.full(table.measured, -1, dtype=np.int64)
        self._well_of[series[wells]] = np.arange(len(wells))
        self._last_value = np.full(len(wells), np.nan)
        self._last_ts = np.full(len(wells), NO_TIME, dtype=np.int64)
        self._day = np.full(len(wells), -1, dtype=np.int64)
        self._total = np.zeros(len(wells))

    def observe(self, points: Points, out: Derived) -> None:
        """Count the batch's new counter values; add ``volume_day`` at each of them."""
        if not self._config.enabled or not len(self._station_id) or not len(points):
            return
        well = np.full(len(points), -1, dtype=np.int64)
        measured = points.series < len(self._well_of)
        well[measured] = self._well_of[points.series[measured]]
        take = np.flatnonzero(well >= 0)
        take = take[points.ts[take] > self._last_ts[well[take]]]
        if not len(take):
            return
        w, ts, value = well[take], points.ts[take], points.value[take]  # by well, then time
        n = len(w)
        first = np.ones(n, dtype=bool)
        first[1:] = w[1:] != w[:-1]
        before = np.empty(n)
        before[1:] = value[:-1]
        before[first] = self._last_value[w[first]]
        increase = self._increase(before, value)
        day = (ts // HOUR_MS + self._offset) // 24
        starts = first.copy()
        starts[1:] |= day[1:] != day[:-1]
        carried = np.where(day == self._day[w], self._total[w], 0.0)  # used at a well's first
        start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
        running = np.cumsum(increase)
        total = running - running[start] + increase[start] + np.where(first, carried, 0.0)[start]
        last = np.append(np.flatnonzero(first)[1:] - 1, n - 1)
        self._last_value[w[last]] = value[last]
        self._last_ts[w[last]] = ts[last]
        self._day[w[last]] = day[last]
        self._total[w[last]] = total[last]
        for i in range(n):
            station = self._station_id[w[i]]
            out.values.append((station, PARAMETER, int(ts[i]), float(total[i])))
            out.line("abstraction", {"station": station}, {PARAMETER: float(total[i])}, int(ts[i]))
        for i in last:
            out.metric(self._station_id[w[i]], volume_day=float(total[i]))

    def _increase(self, before: FloatArray, value: FloatArray) -> FloatArray:
        """The volume between consecutive counter values (0 after a reset or a first value)."""
        rise = value - before
        limit, band = self._config.counter_max_m3, self._config.rollover_band
        if limit is None:
            through_max = np.zeros(len(value))
        else:
            rolled = (before >= (1 - band) * limit) & (value <= band * limit)
            through_max = np.where(rolled, limit - before + value, 0.0)
        counted = np.where(rise >= 0, rise, through_max)
        return np.where(np.isnan(before), 0.0, counted)
