"""The anomaly kernels (:mod:`analytics.anomaly`) on live data: the rule family ``anomaly.*``.

Each measured series keeps its last samples in a ring. A batch is laid out as one row per
series (history, then the new samples), so every check scores the new samples only:

* ``spike``: robust z-score against the previous samples, or a rate-of-change step. The
  cross-station check then names it ``sensor_fault`` (neighbours within
  ``neighbour_radius_km`` stay normal) or ``pollution_event`` (neighbours rise too);
* ``flatline`` (stuck sensor) and ``out_of_range`` (physical range);
* for each closed hour, ``seasonal``: the hourly mean against the median/MAD of the same hour
  of day over the past days; for each closed local day, ``drift`` of the hourly means;
* at each :meth:`AnomalyWatch.tick`, ``offline`` (a station silent for K intervals, or for
  its kind's ``offline_after_s``) and ``no_data`` (a parameter silent as long while its
  station reports).

A kind fires for a station while any of its parameters is flagged (the alert book keeps one
alert per rule and station) and clears when none is. Flagged samples and hours are written as
measurement ``anomaly`` (tags station, parameter, kind; field value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from analytics import anomaly as kernels
from analytics.config import AnomalyConfig
from analytics.output import Derived
from analytics.series import (
    HOUR_MS,
    NO_TIME,
    BoolArray,
    FloatArray,
    HourlyStore,
    IntArray,
    Points,
    SeriesTable,
)
from ioc.messages import RuleTransition, Severity

#: rule id -> (name on the wall, severity)
ANOMALY_RULES: dict[str, tuple[str, Severity]] = {
    "anomaly.spike": ("Giá trị đột biến (spike)", Severity.INFO),
    "anomaly.sensor_fault": ("Nghi lỗi cảm biến (sensor fault)", Severity.WARNING),
    "anomaly.pollution_event": ("Nghi sự cố ô nhiễm (pollution event)", Severity.INFO),
    "anomaly.flatline": ("Cảm biến kẹt (stuck sensor)", Severity.WARNING),
    "anomaly.out_of_range": ("Ngoài dải vật lý (out of range)", Severity.WARNING),
    "anomaly.seasonal": ("Bất thường theo giờ trong ngày (seasonal)", Severity.INFO),
    "anomaly.drift": ("Trôi số liệu (drift)", Severity.INFO),
    "anomaly.no_data": ("Mất số liệu một thông số (no data)", Severity.WARNING),
    "anomaly.offline": ("Trạm mất kết nối (offline)", Severity.WARNING),
}
KINDS = tuple(rule_id.removeprefix("anomaly.") for rule_id in ANOMALY_RULES)
SPIKE_KINDS = {
    kernels.SpikeClass.SENSOR_FAULT: "sensor_fault",
    kernels.SpikeClass.POLLUTION_EVENT: "pollution_event",
}


@dataclass(frozen=True, slots=True)
class _Rows:
    """A batch of samples sorted by series, as rows: ``row`` and ``rank`` place sample i at
    row ``row[i]`` (series ``series[row[i]]``), new-sample column ``rank[i]``."""

    series: IntArray
    first: IntArray
    counts: IntArray
    row: IntArray
    rank: IntArray

    @classmethod
    def of(cls, series: IntArray) -> _Rows:
        rows, first, counts = np.unique(series, return_index=True, return_counts=True)
        rank = np.arange(len(series)) - np.repeat(first, counts)
        return cls(rows, first, counts, np.repeat(np.arange(len(rows)), counts), rank)

    @property
    def width(self) -> int:
        return int(self.counts.max())


class AnomalyWatch:
    """Anomaly state of the registry's (measured) series and of its stations."""

    def __init__(self, config: AnomalyConfig, table: SeriesTable, utc_offset_h: int) -> None:
        self._config = c = config
        self._table = table
        self._offset = utc_offset_h
        n = table.measured
        stations = table.stations
        self._station_of = np.asarray(table.station_of[:n], dtype=np.int64)
        parameters = table.parameter_of[:n]
        checks = [c.for_parameter(p) for p in parameters]
        specs = [
            stations[st].parameters[p] for st, p in zip(self._station_of, parameters, strict=True)
        ]
        self._zscore = np.array([k.zscore for k in checks], dtype=bool)
        self._flatline = np.array([k.flatline for k in checks], dtype=bool)
        self._drift = np.array([k.drift for k in checks], dtype=bool)
        self._mad_floor = np.array([k.mad_floor for k in checks])
        self._max_rate = np.array(
            [np.nan if k.max_rate_per_min is None else k.max_rate_per_min / 60 for k in checks]
        )
        self._low = np.array(
            [s.low if k.low is None else k.low for k, s in zip(checks, specs, strict=True)]
        )
        self._high = np.array(
            [s.high if k.high is None else k.high for k, s in zip(checks, specs, strict=True)]
        )
        self._lat = np.array([s.lat for s in stations])
        self._lon = np.array([s.lon for s in stations])
        self._silence_s = self._silences(c)
        neighbourly = np.array([s.kind in c.neighbour_kinds for s in stations], dtype=bool)
        self._neighbours = {
            p: np.array(
                [i for i in range(n) if parameters[i] == p and neighbourly[self._station_of[i]]],
                dtype=np.int64,
            )
            for p in set(parameters)
        }
        self._series_of_station = [
            np.flatnonzero(self._station_of == st) for st in range(len(stations))
        ]
        self._keep = max(c.zscore_window, c.flatline_samples)
        self._values = np.full((n, self._keep), np.nan)
        self._last_time = np.full(n, np.nan)  # s
        self._written = np.zeros(n, dtype=np.int64)
        self._last_z = np.full(n, np.nan)
        self._last_z_s = np.full(n, np.nan)
        self._history = np.full((n, c.seasonal_days, 24), np.nan)  # hourly means by local day
        self._history_day = np.full((n, c.seasonal_days), -1, dtype=np.int64)
        self._base_median = np.full((n, 24), np.nan)
        self._base_mad = np.full((n, 24), np.nan)
        self._flag = {kind: np.zeros(n, dtype=bool) for kind in KINDS}
        self._open = {kind: np.zeros(len(stations), dtype=bool) for kind in KINDS}
        self._open_parameter: dict[tuple[str, int], str] = {}
        self._last_seen_s = np.full(len(stations), np.nan)
        self._started_s = np.nan

    def _silences(self, config: AnomalyConfig) -> FloatArray:
        stations = self._table.stations
        return np.array([config.offline_silence_s(s.kind, s.interval_s) for s in stations])

    def configure(self, config: AnomalyConfig) -> bool:
        """New thresholds, switches and severities, live (the kept samples, hours and open
        states stay); False, and nothing changed, when the change needs a new state (the
        number of kept samples or days, the neighbours, the per-parameter checks)."""
        kept: tuple[str, ...] = ("zscore_window", "flatline_samples", "seasonal_days", "enabled")
        kept += ("neighbour_kinds", "checks")
        if any(getattr(config, k) != getattr(self._config, k) for k in kept):
            return False
        self._config = config
        self._silence_s = self._silences(config)
        return True

    def seen(self, newest_ms: IntArray) -> None:
        """Record when stations last reported (per station, :data:`NO_TIME` if not)."""
        reported = newest_ms != NO_TIME
        self._last_seen_s[reported] = np.fmax(
            self._last_seen_s[reported], newest_ms[reported] / 1000
        )

    # ------------------------------------------------------------------ sample checks

    def observe(self, points: Points, stale: BoolArray, out: Derived) -> None:
        """Check the new in-order samples of measured series."""
        take = ~stale & (points.series < len(self._written))
        if not take.any():
            return
        p = points.select(take)
        c, rows = self._config, _Rows.of(p.series)
        values = np.full((len(rows.series), self._keep + rows.width), np.nan)
        ring = (self._written[rows.series][:, None] + np.arange(self._keep)) % self._keep
        values[:, : self._keep] = self._values[rows.series[:, None], ring]  # oldest first
        values[rows.row, self._keep + rows.rank] = p.value
        times = np.full((len(rows.series), 1 + rows.width), np.nan)  # last sample, new ones
        times[:, 0] = self._last_time[rows.series]
        times[rows.row, 1 + rows.rank] = p.ts / 1000

        z = self._zscores(values, rows, p)
        steps = kernels.rate_of_change_spikes(
            values[:, self._keep - 1 :], times, self._max_rate[rows.series]
        )[rows.row, 1 + rows.rank]
        spike = (np.abs(np.nan_to_num(z)) > c.zscore_threshold) | steps
        flat = self._flatlines(values, rows)
        outside = kernels.out_of_range(p.value, self._low[p.series], self._high[p.series])
        self._remember(rows, p, z)

        spike_kind = self._classify(p.series, p.ts / 1000, spike)
        for kind in ("spike", "sensor_fault", "pollution_event"):
            flagged = spike & (spike_kind == kind)
            self._report(kind, p.series, p.ts, p.value, flagged, p.late, c.zscore_threshold, out)
        samples = float(c.flatline_samples)
        self._report("flatline", p.series, p.ts, p.value, flat, p.late, samples, out)
        low, high = self._low[p.series], self._high[p.series]
        bound = np.where(p.value < low, low, high)
        self._report("out_of_range", p.series, p.ts, p.value, outside, p.late, bound, out)

    def _zscores(self, values: FloatArray, rows: _Rows, p: Points) -> FloatArray:
        """Robust z of each new sample against the samples before it."""
        c, w = self._config, self._config.zscore_window
        windows = sliding_window_view(values, w, axis=1)[rows.row, self._keep + rows.rank - w]
        z = kernels.window_zscore(
            p.value, windows, mad_floor=self._mad_floor[p.series], mad_floor_ratio=c.mad_floor_ratio
        )
        return np.where(self._zscore[p.series], z, np.nan)

    def _flatlines(self, values: FloatArray, rows: _Rows) -> BoolArray:
        """Whether each new sample is part of a flat run. A flat run through a new sample has
        a step of at most the tolerance next to it: rows without one are not checked."""
        c, f, keep = self._config, self._config.flatline_samples, self._keep
        flat = np.zeros(len(rows.row), dtype=bool)
        steps = np.abs(np.diff(values[:, keep - 1 :], axis=1)) <= c.flatline_tolerance
        candidate = steps.any(axis=1) & self._flatline[rows.series]
        at = candidate[rows.row]
        if at.any():
            runs = kernels.flatline(values[candidate, keep - f + 1 :], f, c.flatline_tolerance)
            flat[at] = runs[np.cumsum(candidate)[rows.row[at]] - 1, f - 1 + rows.rank[at]]
        return flat

    def _remember(self, rows: _Rows, p: Points, z: FloatArray) -> None:
        """Keep the last samples of each series, its last time and its last z."""
        last = rows.first + rows.counts - 1
        self._last_z[rows.series] = z[last]
        self._last_z_s[rows.series] = self._last_time[rows.series] = p.ts[last] / 1000
        recent = rows.rank >= rows.counts[rows.row] - self._keep  # the ring keeps the last
        slot = (self._written[p.series] + rows.rank) % self._keep
        self._values[p.series[recent], slot[recent]] = p.value[recent]
        self._written[rows.series] += rows.counts

    def _classify(
        self, series: IntArray, t: FloatArray, spike: BoolArray
    ) -> npt.NDArray[np.object_]:
        """Kind of each spiking sample: sensor_fault, pollution_event or spike."""
        kinds = np.full(len(series), "spike", dtype=object)
        c = self._config
        for parameter in {self._table.parameter_of[i] for i in series[spike]}:
            candidates = self._neighbours[parameter]
            at = spike & np.isin(series, candidates)
            if not at.any():
                continue
            spiking = np.isin(candidates, series[at])
            recent = t[at].max() - self._last_z_s[candidates] <= c.neighbour_window_s
            rising = recent & (self._last_z[candidates] >= c.rising_zscore)
            station = self._station_of[candidates]
            labels = kernels.classify_spikes(
                self._lat[station],
                self._lon[station],
                spiking,
                rising,
                c.neighbour_radius_km,
                c.min_neighbours_rising,
            )
            label_of = dict(zip(candidates[spiking].tolist(), labels[spiking], strict=True))
            for i in np.flatnonzero(at):
                kinds[i] = SPIKE_KINDS.get(label_of[int(series[i])], "spike")
        return kinds

    # ------------------------------------------------------------------ hourly / daily checks

    def close_hours(
        self, store: HourlyStore, station: IntArray, hour: IntArray, out: Derived
    ) -> None:
        """Seasonal check of each closed (station, hour); drift at the end of a local day."""
        c = self._config
        parts = [self._series_of_station[s] for s in station]
        counts = np.array([len(x) for x in parts], dtype=np.int64)
        if not counts.sum():
            return
        series = np.concatenate(parts)
        hours = np.repeat(hour, counts)
        mean = store.means(series, hours)
        day, hod = (hours + self._offset) // 24, (hours + self._offset) % 24
        slot = day % c.seasonal_days
        renew = self._history_day[series, slot] != day
        self._history[series[renew], slot[renew]] = np.nan
        self._history_day[series, slot] = day
        self._history[series, slot, hod] = mean

        floor = np.maximum(
            self._mad_floor[series][:, None], c.mad_floor_ratio * np.abs(self._base_median[series])
        )
        mad = np.maximum(self._base_mad[series], floor)
        baseline = (self._base_median[series], mad)
        z = kernels.seasonal_zscore(mean[:, None], hod[:, None], baseline)[:, 0]
        flagged = self._zscore[series] & (np.abs(np.nan_to_num(z)) > c.seasonal_threshold)
        order = np.lexsort((hours, series))
        hour_end = (hours + 1) * HOUR_MS
        no_late = np.zeros(len(series), dtype=bool)
        self._report(
            "seasonal",
            series[order],
            hour_end[order],
            mean[order],
            flagged[order],
            no_late,
            c.seasonal_threshold,
            out,
        )
        ended = np.unique(series[hod == 23])
        if len(ended):
            self._end_of_day(ended, int(hour_end[hod == 23].max()), out)

    def _end_of_day(self, series: IntArray, ts_ms: int, out: Derived) -> None:
        """New hour-of-day baselines from the kept days, and the drift check."""
        c = self._config
        order = np.argsort(self._history_day[series], axis=1)  # oldest day first
        days = np.take_along_axis(self._history[series], order[:, :, None], axis=1)
        chronological = days.reshape(len(series), -1)
        hour_of_day = np.tile(np.arange(24), c.seasonal_days)
        median, mad = kernels.seasonal_baseline(chronological, hour_of_day)
        enough = np.isfinite(days).sum(axis=1) >= c.seasonal_min_days
        self._base_median[series] = np.where(enough, median, np.nan)
        self._base_mad[series] = np.where(enough, mad, np.nan)
        window = c.drift_window_hours
        judged = _reference_and_last_window(chronological, window)
        drifting = np.zeros(len(series), dtype=bool)
        for floor in np.unique(self._mad_floor[series]):
            same = self._mad_floor[series] == floor
            flags = kernels.drift(judged[same], window, c.drift_threshold, mad_floor=floor)
            drifting[same] = flags[:, -1]
        drifting &= self._drift[series]
        last_mean = chronological[:, -1]
        times = np.full(len(series), ts_ms, dtype=np.int64)
        no_late = np.zeros(len(series), dtype=bool)
        self._report("drift", series, times, last_mean, drifting, no_late, c.drift_threshold, out)

    # ------------------------------------------------------------------ silence

    def tick(self, now_ms: int, store: HourlyStore, out: Derived) -> None:
        """Offline stations and silent parameters as of ``now_ms``."""
        now_s = now_ms / 1000
        if np.isnan(self._started_s):
            self._started_s = now_s  # never-seen stations count from the first tick
        last = np.where(np.isnan(self._last_seen_s), self._started_s, self._last_seen_s)
        offline = kernels.offline(last, now_s, self._silence_s, 1)
        if "offline" in self._config.disabled_rules:
            offline = np.zeros(len(offline), dtype=bool)
        for station in np.flatnonzero(offline != self._open["offline"]):
            self._emit(
                "offline",
                int(station),
                "",
                bool(offline[station]),
                now_s - last[station],
                float(self._silence_s[station]),
                now_ms,
                False,
                out,
            )
        self._open["offline"] = offline

        series = np.arange(len(self._written))
        newest = store.newest_of(series)
        has_data = newest != NO_TIME
        newest_s = np.where(has_data, newest / 1000, np.nan)
        station_of = self._station_of
        silent = (
            has_data
            & ~offline[station_of]
            & kernels.offline(newest_s, now_s, self._silence_s[station_of], 1)
        )
        times = np.full(len(series), now_ms, dtype=np.int64)
        self._report(
            "no_data",
            series,
            times,
            now_s - newest_s,
            silent,
            np.zeros(len(series), dtype=bool),
            self._silence_s[station_of],
            out,
            write_lines=False,
        )

    # ------------------------------------------------------------------ transitions

    def _report(
        self,
        kind: str,
        series: IntArray,
        ts_ms: IntArray,
        value: FloatArray,
        flagged: BoolArray,
        late: BoolArray,
        limit: float | FloatArray,
        out: Derived,
        *,
        write_lines: bool = True,
    ) -> None:
        """Record observations (sorted by series, then time): lines for flagged ones, the
        series' flags, and a transition for each station whose state of ``kind`` changes."""
        flags = self._flag[kind]
        if kind in self._config.disabled_rules:  # a switched-off rule: nothing is flagged
            flagged = np.zeros(len(series), dtype=bool)
        if not flagged.any() and not flags[series].any():
            return
        table = self._table
        limits = np.broadcast_to(np.asarray(limit, dtype=np.float64), series.shape)
        if write_lines:
            for i in np.flatnonzero(flagged):
                s = int(series[i])
                tags = {
                    "station": table.stations[self._station_of[s]].id,
                    "parameter": table.parameter_of[s],
                    "kind": kind,
                }
                out.line("anomaly", tags, {"value": float(value[i])}, int(ts_ms[i]))
        last = np.append(np.flatnonzero(series[1:] != series[:-1]), len(series) - 1)
        flags[series[last]] = flagged[last]
        active = np.bincount(self._station_of, weights=flags, minlength=len(self._open[kind])) > 0
        station = self._station_of[series]
        was = self._open[kind]
        hit = np.unique(station[flagged])
        ended = np.unique(station[was[station] & ~active[station]])
        for st in np.union1d(hit[~was[hit]], ended):
            mine = np.flatnonzero(station == st)
            if not was[st]:
                i = mine[flagged[mine]][0]
                self._emit(
                    kind,
                    int(st),
                    table.parameter_of[series[i]],
                    True,
                    value[i],
                    limits[i],
                    int(ts_ms[i]),
                    bool(late[i]),
                    out,
                )
            if not active[st]:
                i = mine[-1]
                self._emit(
                    kind,
                    int(st),
                    self._open_parameter.get((kind, int(st)), ""),
                    False,
                    value[i],
                    limits[i],
                    int(ts_ms[i]),
                    bool(late[i]),
                    out,
                )
        was[station] = active[station]

    def _emit(
        self,
        kind: str,
        station: int,
        parameter: str,
        firing: bool,
        value: float,
        limit: float,
        ts_ms: int,
        late: bool,
        out: Derived,
    ) -> None:
        rule_id = f"anomaly.{kind}"
        if firing:
            self._open_parameter[(kind, station)] = parameter
        else:
            self._open_parameter.pop((kind, station), None)
        out.transitions.append(
            RuleTransition(
                rule_id=rule_id,
                station_id=self._table.stations[station].id,
                parameter=parameter,
                firing=firing,
                value=round(float(value), 3) if np.isfinite(value) else 0.0,
                limit=float(limit),
                ts_ms=ts_ms,
                severity=self._config.severities.get(kind, ANOMALY_RULES[rule_id][1]),  # type: ignore[call-overload]
                retroactive=late,
            )
        )


def _reference_and_last_window(values: FloatArray, window: int) -> FloatArray:
    """Per row: the span holding the first ``window`` valid samples (NaN-padded), then the
    last ``window`` samples. :func:`kernels.drift` scores the last sample of this exactly as
    of the whole row (its reference is the first ``window`` valid samples, its rolling median
    the last ``window``), at a fraction of the cost."""
    n = values.shape[1]
    valid = np.isfinite(values)
    count = np.cumsum(valid, axis=1)
    start = np.argmax(valid, axis=1)
    # The sample that completes the reference: the window-th valid one, or the last one.
    end = np.argmax(count >= np.minimum(count[:, -1], window)[:, None], axis=1)
    offsets = np.arange(int((end - start).max()) + 1)
    columns = np.minimum(start[:, None] + offsets, n - 1)
    inside = offsets <= (end - start)[:, None]
    span = np.where(inside, np.take_along_axis(values, columns, axis=1), np.nan)
    return np.concatenate([span, values[:, -window:]], axis=1)
