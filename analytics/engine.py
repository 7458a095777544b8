"""The analytics stage: limit rules, VN_AQI, forest-fire danger and anomaly checks on batches
of readings, in event time.

For each batch (:meth:`AnalyticsEngine.evaluate`):

1. the valid values become :class:`Points` (a value whose instrument was calibrating or in
   error feeds neither rules nor AQI; the station still counts as reporting);
2. the limit rules and the sample anomaly checks run on the batch, which then enters the
   hourly store;
3. hours of a station are *closed* once a later hour of it has data: each closed hour gets
   its VN_AQI, fire danger of the day so far and seasonal check. A late value re-closes the
   hours from its own on, so their AQI is recomputed (fire danger of committed days is not);
   the wells' counters add up the day's abstracted volume (:mod:`analytics.abstraction`);
4. the derived values (``aqi``, ``fire_level`` ...) go through the limit rules like readings.

:meth:`AnalyticsEngine.tick` closes hours that ended ``late_grace_s`` ago by the clock (a
station that stopped reporting) and checks for offline stations and silent parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from analytics.abstraction import Abstraction
from analytics.air_quality import AirQuality, AqiNow
from analytics.config import AnalyticsConfig, AnomalyConfig, RuleConfig
from analytics.detectors import AnomalyWatch
from analytics.forest_fire import FireDanger, FireNow
from analytics.limits import LimitRules
from analytics.output import Derived
from analytics.series import (
    HOUR_MS,
    KEEP_HOURS,
    HourlyStore,
    IntArray,
    Points,
    SeriesTable,
    points_from_readings,
)
from analytics.windows import evaluation_time
from ioc.messages import Reading, RuleTransition
from ioc.registry import StationRegistry

NO_HOUR = np.iinfo(np.int64).min // 2


@dataclass(frozen=True, slots=True)
class AnalyticsOutput:
    """What one batch or tick produced: rule transitions (limits and ``anomaly.*``), InfluxDB
    lines (measurements ``aqi``, ``fire_danger``, ``abstraction``, ``anomaly``) and the latest
    metrics of the stations that changed, e.g. ``{"AIR-001": {"aqi": 87.0, "aqi_band": 1.0}}``."""

    transitions: list[RuleTransition]
    lines: list[str]
    station_metrics: dict[str, dict[str, float]]


class AnalyticsEngine:
    def __init__(self, config: AnalyticsConfig, registry: StationRegistry) -> None:
        self.config = config
        self.registry = registry
        self.table = SeriesTable(registry)
        self._store = HourlyStore()
        self._store.ensure(len(self.table))
        offset = config.utc_offset_h
        self.limits = LimitRules(config.rules, self.table)
        self.air = AirQuality(config.aqi, self.table, offset)
        self.fire = FireDanger(config.fire, self.table, offset)
        self.abstraction = Abstraction(config.abstraction, self.table, offset)
        self.anomalies = (
            AnomalyWatch(config.anomaly, self.table, offset) if config.anomaly.enabled else None
        )
        n = len(self.table.stations)
        self._newest_hour = np.full(n, NO_HOUR, dtype=np.int64)
        self._closed_hour = np.full(n, NO_HOUR, dtype=np.int64)
        self._late_grace_ms = int(config.late_grace_s * 1000)

    def set_rules(self, rules: list[RuleConfig]) -> None:
        """New limit rules, live: the state of unchanged rules is kept."""
        self.config = self.config.model_copy(update={"rules": rules})
        self.limits = LimitRules(rules, self.table, previous=self.limits)

    def set_anomaly(self, config: AnomalyConfig) -> bool:
        """New anomaly settings, live, when the anomaly state can keep going with them
        (:meth:`AnomalyWatch.configure`); False: the engine must be rebuilt for them."""
        if self.anomalies is None or not self.anomalies.configure(config):
            return False
        self.config = self.config.model_copy(update={"anomaly": config})
        return True

    def aqi_now(self) -> dict[str, AqiNow]:
        return self.air.current

    def fire_now(self) -> dict[str, FireNow]:
        return self.fire.current

    def evaluate(self, readings: Iterable[Reading]) -> AnalyticsOutput:
        points, seen = points_from_readings(readings, self.table, self._late_grace_ms)
        if self.anomalies:
            self.anomalies.seen(seen)
        return self.evaluate_points(points)

    def evaluate_points(self, points: Points) -> AnalyticsOutput:
        """:meth:`evaluate` on values already numbered by :attr:`table` (backtests)."""
        out = Derived()
        _, stale = evaluation_time(self._store, points)
        out.transitions += self.limits.evaluate(self._store, points)
        if self.anomalies:
            self.anomalies.observe(points, stale, out)
        self._store.add(points)
        self._close_after(points, out)
        self.abstraction.observe(points, out)
        return self._finish(out)

    def tick(self, now_ms: int) -> AnalyticsOutput:
        """Periodic work: close the hours the clock has ended, offline and no-data checks."""
        out = Derived()
        open_hour = (now_ms - self._late_grace_ms) // HOUR_MS
        recent = (self._closed_hour != NO_HOUR) & (self._newest_hour > open_hour - KEEP_HOURS)
        station = np.flatnonzero(recent & (self._closed_hour < open_hour - 1))
        start = np.maximum(self._closed_hour[station] + 1, open_hour - KEEP_HOURS)
        self._close(station, start, np.full(len(station), open_hour - 1), out)
        if self.anomalies:
            self.anomalies.tick(now_ms, self._store, out)
        return self._finish(out)

    def _close_after(self, points: Points, out: Derived) -> None:
        """Close the hours before each station's newest, and re-close those with late data."""
        measured = points.series < self.table.measured
        station = self.table.station_array[points.series[measured]]
        hour = points.ts[measured] // HOUR_MS
        if not len(station):
            return
        touched = np.flatnonzero(np.bincount(station, minlength=len(self._newest_hour)))
        np.maximum.at(self._newest_hour, station, hour)
        earliest = np.full(len(self._newest_hour), np.iinfo(np.int64).max)
        np.minimum.at(earliest, station, hour)
        closed = self._closed_hour[touched]
        closed = np.where(closed == NO_HOUR, earliest[touched] - 1, closed)
        newest = self._newest_hour[touched]
        start = np.maximum(np.minimum(closed + 1, earliest[touched]), newest - KEEP_HOURS + 1)
        self._close(touched, start, newest - 1, out)

    def _close(self, station: IntArray, start: IntArray, end: IntArray, out: Derived) -> None:
        """Close hours ``start..end`` (inclusive) of each station, in time order."""
        counts = np.maximum(end - start + 1, 0)
        self._closed_hour[station] = np.maximum(
            np.where(self._closed_hour[station] == NO_HOUR, start - 1, self._closed_hour[station]),
            end,
        )
        if not counts.sum():
            return
        pairs = np.repeat(station, counts)
        hours = np.repeat(start - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        order = np.argsort(hours, kind="stable")
        pairs, hours = pairs[order], hours[order]
        self.air.close_hours(self._store, pairs, hours, out)
        self.fire.close_hours(self._store, pairs, hours, out)
        if self.anomalies:
            self.anomalies.close_hours(self._store, pairs, hours, out)

    def _finish(self, out: Derived) -> AnalyticsOutput:
        """Run the limit rules on the derived values, then hand everything over. The anomaly
        checks learn which limit rules are instant ones (a stack's exceedance of its limit is
        the limit alert's incident, not also a spike)."""
        if self.anomalies:
            self.anomalies.use_rules(self.config.rules)
        if out.values:
            series = np.array([self.table.add(s, p) for s, p, _, _ in out.values], np.int64)
            points = Points.build(
                series,
                np.array([t for _, _, t, _ in out.values], dtype=np.int64),
                np.array([v for _, _, _, v in out.values], dtype=np.float64),
                np.zeros(len(series), dtype=bool),
            )
            out.transitions += self.limits.evaluate(self._store, points)
            self._store.add(points)
        return AnalyticsOutput(out.transitions, out.lines, out.metrics)
