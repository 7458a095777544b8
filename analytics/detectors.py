"""The anomaly kernels (:mod:`analytics.anomaly`) on live data: the rule family ``anomaly.*``.

Each measured series keeps its last samples in a ring. A batch is laid out as one row per
series (history, then the new samples), so every check scores the new samples only:

* ``spike``: robust z-score against the previous samples, or a rate-of-change step. The
  cross-station check then names it ``sensor_fault`` (neighbours within
  ``neighbour_radius_km`` stay normal) or ``pollution_event`` (neighbours rise too). A spike
  at a station with neighbours is decided at its series' next sample(s), reported at its own
  time: back to its level (an isolated jump) → sensor fault; still high with neighbours
  rising (two samples in a row each) → pollution event; still high with quiet neighbours
  after ``fault_decision_s`` → spike. A drop (negative z) within the radius of an open
  pollution event is that event's end, not a fault;
* ``flatline`` (stuck sensor) and ``out_of_range`` (physical range);
* for each closed hour, ``seasonal``: the hourly mean against the median/MAD of the same hour
  of day over the past days; for each closed local day, ``drift`` of the hourly means;
* at each :meth:`AnomalyWatch.tick`, ``offline`` (a station silent for K intervals, or for
  its kind's ``offline_after_s``) and ``no_data`` (a parameter silent as long while its
  station reports).

A kind fires for a station while any of its parameters is flagged (the alert book keeps one
alert per rule and station) and clears when none is. The event kinds (``spike``,
``sensor_fault``, ``pollution_event``) have hysteresis: they clear only once the station has
been normal for ``event_clear_after_s`` (no spike, and each value back within
``rising_zscore`` of the level before the event), so one episode is one alert. With
``group_pollution_events``, a pollution event at a station within ``neighbour_radius_km`` of
an open one is the same regional incident: it raises no alert of its own and keeps the open
one going. With ``defer_to_limits``, a parameter on which an instant limit rule fires at the
station raises no event kind: the limit alert (a stack's exceedance) is the incident.
Flagged samples and hours are written as measurement ``anomaly`` (tags station, parameter,
kind; field value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from analytics import anomaly as kernels
from analytics.config import AnomalyConfig, RuleConfig
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
EVENT_KINDS = ("spike", "sensor_fault", "pollution_event")
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
        self._previous_z = np.full(n, np.nan)  # the z before the last one
        self._last_z_s = np.full(n, np.nan)
        self._history = np.full((n, c.seasonal_days, 24), np.nan)  # hourly means by local day
        self._history_day = np.full((n, c.seasonal_days), -1, dtype=np.int64)
        self._base_median = np.full((n, 24), np.nan)
        self._base_mad = np.full((n, 24), np.nan)
        self._flag = {kind: np.zeros(n, dtype=bool) for kind in KINDS}
        self._open = {kind: np.zeros(len(stations), dtype=bool) for kind in KINDS}
        self._open_parameter: dict[tuple[str, int], str] = {}
        # event kinds: the level before the event (median, MAD) of each series, when a station
        # last was abnormal, the sensor-fault suspect awaiting its series' next sample
        self._event_median = np.full(n, np.nan)
        self._event_mad = np.full(n, np.nan)
        self._abnormal_s = {kind: np.full(len(stations), np.nan) for kind in EVENT_KINDS}
        self._suspect_s = np.full(n, np.nan)
        self._event_opened_s = np.full(len(stations), np.nan)  # a pollution event's start
        self._member_of = np.full(len(stations), -1, dtype=np.int64)  # joined to that event
        self._suspect_value = np.full(n, np.nan)
        # limit rules firing on a measured series: (rule id, series); which rules count
        self._limit_open: set[tuple[str, int]] = set()
        self._limited = np.zeros(n, dtype=bool)
        # ids of the instant limit rules (:meth:`use_rules`); None: every limit rule counts
        self._instant_rules: frozenset[str] | None = None
        self._rules: list[RuleConfig] | None = None
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

    def use_rules(self, rules: list[RuleConfig]) -> None:
        """The limit rules in force: those of window ``instant`` silence the event kinds on
        the parameter they fire on (``defer_to_limits``)."""
        if rules is not self._rules:
            self._rules = rules
            self._instant_rules = frozenset(r.id for r in rules if r.window == "instant")

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

        z, median, mad = self._zscores(values, rows, p)
        steps = kernels.rate_of_change_spikes(
            values[:, self._keep - 1 :], times, self._max_rate[rows.series]
        )[rows.row, 1 + rows.rank]
        spike = (np.abs(np.nan_to_num(z)) > c.zscore_threshold) | steps
        if c.defer_to_limits:
            self._note_limits(out.transitions)  # this batch's limit transitions
            spike &= ~self._limited[p.series]
        flat = self._flatlines(values, rows)
        outside = kernels.out_of_range(p.value, self._low[p.series], self._high[p.series])
        self._remember(rows, p, z)
        self._events(rows, p, z, median, mad, spike, out)
        samples = float(c.flatline_samples)
        self._report("flatline", p.series, p.ts, p.value, flat, p.late, samples, out)
        low, high = self._low[p.series], self._high[p.series]
        bound = np.where(p.value < low, low, high)
        self._report("out_of_range", p.series, p.ts, p.value, outside, p.late, bound, out)

    def _zscores(
        self, values: FloatArray, rows: _Rows, p: Points
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Robust z of each new sample against the samples before it, and their median and
        (floored) MAD."""
        c, w = self._config, self._config.zscore_window
        windows = sliding_window_view(values, w, axis=1)[rows.row, self._keep + rows.rank - w]
        median, mad = kernels.window_median_mad(
            windows, mad_floor=self._mad_floor[p.series], mad_floor_ratio=c.mad_floor_ratio
        )
        z = _robust_z(p.value, median, mad)
        return np.where(self._zscore[p.series], z, np.nan), median, mad

    def _note_limits(self, transitions: list[RuleTransition]) -> None:
        """Follow which measured series an (instant) limit rule fires on."""
        table, n, changed = self._table, len(self._limited), False
        for t in transitions:
            if t.rule_id.startswith("anomaly.") or (
                self._instant_rules is not None and t.rule_id not in self._instant_rules
            ):
                continue
            series = table.lookup.get(t.station_id, {}).get(t.parameter, -1)
            if not 0 <= series < n:
                continue
            if t.firing:
                self._limit_open.add((t.rule_id, series))
            else:
                self._limit_open.discard((t.rule_id, series))
            changed = True
        if changed:
            self._limited[:] = False
            self._limited[[s for _, s in self._limit_open]] = True

    def _events(
        self,
        rows: _Rows,
        p: Points,
        z: FloatArray,
        median: FloatArray,
        mad: FloatArray,
        spike: BoolArray,
        out: Derived,
    ) -> None:
        """Classify and report the event kinds (spike, sensor_fault, pollution_event).

        A spike at a station with neighbours, on the newest sample of its series, is a
        *suspect* (unless the station's pollution event is open), decided at the series' next
        samples: back within
        ``rising_zscore`` of the level before it (an isolated jump) → sensor_fault; still high
        with rising neighbours → pollution_event; still high with quiet neighbours after
        ``fault_decision_s`` → spike (a local rise or a stuck-high sensor: cannot tell). The
        decision is reported at the suspect's time and value."""
        c = self._config
        t_s = p.ts / 1000
        suspect = self._suspect_s[p.series]
        resolving = (rows.rank == 0) & np.isfinite(suspect)  # a sample after a suspect
        if not spike.any() and not resolving.any() and not self._any_event_open():
            return
        kind = self._classify(p.series, t_s, spike | resolving)
        # during an open pollution event: the spikes of its station and of those that joined it,
        # and drops (the event's end) within its radius, are that event
        event_open = self._open["pollution_event"]
        drop = spike & (np.nan_to_num(z) < 0) & (kind != "pollution_event")
        if drop.any() and event_open.any():
            near = self._near_open_event(self._station_of[p.series[drop]])
            kind[np.flatnonzero(drop)[near]] = "pollution_event"
        member = self._member_of
        in_event = event_open | ((member >= 0) & event_open[np.maximum(member, 0)])
        at_event = in_event[self._station_of[p.series]]  # its own event, or one it joined
        kind[(spike | resolving) & at_event] = "pollution_event"
        own = spike & ~resolving  # a resolving sample counts for its suspect's decision
        newest = rows.rank == rows.counts[rows.row] - 1
        fault = own & (kind == "sensor_fault")
        regional = own & (kind == "pollution_event")
        # a jump with neighbours is decided at the next sample(s), whatever they do now
        pending = (fault | regional) & newest & ~at_event

        # the level before the event, kept from the first flagged sample of a series
        first = own | pending
        start = first & np.isnan(self._event_median[p.series])
        self._event_median[p.series[start]] = median[start]
        self._event_mad[p.series[start]] = mad[start]
        level = _robust_z(p.value, self._event_median[p.series], self._event_mad[p.series])
        sustained = np.abs(np.nan_to_num(level)) > c.rising_zscore

        back = resolving & ~sustained
        as_event = resolving & ~back & (kind == "pollution_event")
        expired = resolving & ~back & ~as_event & (t_s - suspect >= c.fault_decision_s)
        decided = back | as_event | expired
        flagged = {
            "spike": (own & (kind == "spike")) | expired,
            "sensor_fault": (fault & ~pending) | back,
            "pollution_event": (regional & ~pending) | as_event,
        }
        ts_ms = np.where(decided, np.nan_to_num(suspect * 1000), p.ts).astype(np.int64)
        value = np.where(decided, self._suspect_value[p.series], p.value)
        for i in np.flatnonzero(
            resolving & spike
        ):  # its own line (the report writes the suspect's)
            self._line(int(p.series[i]), str(kind[i]), float(p.value[i]), int(p.ts[i]), out)
        self._suspect_s[p.series[decided]] = np.nan
        self._suspect_s[p.series[pending]] = t_s[pending]
        self._suspect_value[p.series[pending]] = p.value[pending]

        priority = np.where(decided, np.inf, np.abs(np.nan_to_num(z)))
        for k in EVENT_KINDS:
            self._report(
                k,
                p.series,
                ts_ms,
                value,
                flagged[k],
                p.late,
                c.zscore_threshold,
                out,
                sustained=sustained,
                priority=priority,
            )
        open_at = self._any_event_open_at()[self._station_of[p.series]]
        quiet = ~open_at & np.isnan(self._suspect_s[p.series])
        self._event_median[p.series[quiet]] = np.nan
        self._event_mad[p.series[quiet]] = np.nan

    def _line(self, series: int, kind: str, value: float, ts_ms: int, out: Derived) -> None:
        """One flagged sample, as measurement ``anomaly``."""
        tags = {
            "station": self._table.stations[self._station_of[series]].id,
            "parameter": self._table.parameter_of[series],
            "kind": kind,
        }
        out.line("anomaly", tags, {"value": value}, ts_ms)

    def _any_event_open_at(self) -> BoolArray:
        return self._open["spike"] | self._open["sensor_fault"] | self._open["pollution_event"]

    def _any_event_open(self) -> bool:
        return bool(self._any_event_open_at().any())

    def _near_open_event(self, stations: IntArray) -> BoolArray:
        """Whether each station is within the neighbour radius of an open pollution event."""
        owners = np.flatnonzero(self._open["pollution_event"])
        if not len(owners) or not len(stations):
            return np.zeros(len(stations), dtype=bool)
        km = _km(self._lat[stations], self._lon[stations], self._lat[owners], self._lon[owners])
        return np.asarray((km <= self._config.neighbour_radius_km).any(axis=1))

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
        before = np.where(rows.counts > 1, z[np.maximum(last - 1, 0)], self._last_z[rows.series])
        self._previous_z[rows.series] = before
        self._last_z[rows.series] = z[last]
        self._last_z_s[rows.series] = self._last_time[rows.series] = p.ts[last] / 1000
        recent = rows.rank >= rows.counts[rows.row] - self._keep  # the ring keeps the last
        slot = (self._written[p.series] + rows.rank) % self._keep
        self._values[p.series[recent], slot[recent]] = p.value[recent]
        self._written[rows.series] += rows.counts

    def _classify(
        self, series: IntArray, t: FloatArray, spike: BoolArray
    ) -> npt.NDArray[np.object_]:
        """Kind of each spiking (or otherwise queried) sample: sensor_fault, pollution_event
        or spike."""
        kinds = np.full(len(series), "spike", dtype=object)
        c = self._config
        for parameter in {self._table.parameter_of[i] for i in series[spike]}:
            candidates = self._neighbours[parameter]
            at = spike & np.isin(series, candidates)
            if not at.any():
                continue
            spiking = np.isin(candidates, series[at])
            recent = t[at].max() - self._last_z_s[candidates] <= c.neighbour_window_s
            # a neighbour rises when its last two samples do: one high value of its own is
            # no more than a suspect, and two coincident faults do not confirm each other
            rising = (
                recent
                & (self._last_z[candidates] >= c.rising_zscore)
                & (self._previous_z[candidates] >= c.rising_zscore)
            )
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
        self._release(now_ms, out)

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
        sustained: BoolArray | None = None,
        priority: FloatArray | None = None,
    ) -> None:
        """Record observations (sorted by series, then time): lines for flagged ones, the
        series' flags, and a transition for each station whose state of ``kind`` changes.

        With ``sustained`` (the event kinds), an open station stays open until it has been
        normal (neither flagged nor sustained) for ``event_clear_after_s``; a pollution event
        near an open one joins it (``group_pollution_events``), strongest ``priority`` first.
        """
        flags = self._flag[kind]
        was = self._open[kind]
        station = self._station_of[series]
        disabled = kind in self._config.disabled_rules
        if disabled:  # a switched-off rule: nothing is flagged, its open alerts resolve
            flagged = np.zeros(len(series), dtype=bool)
            sustained = None
        holding = (sustained is not None or disabled) and bool(was[station].any())
        if not flagged.any() and not flags[series].any() and not holding:
            return
        table = self._table
        limits = np.broadcast_to(np.asarray(limit, dtype=np.float64), series.shape)
        if write_lines:
            for i in np.flatnonzero(flagged):
                self._line(int(series[i]), kind, float(value[i]), int(ts_ms[i]), out)
        last = np.append(np.flatnonzero(series[1:] != series[:-1]), len(series) - 1)
        flags[series[last]] = flagged[last]
        active = np.bincount(self._station_of, weights=flags, minlength=len(was)) > 0
        hit = np.unique(station[flagged])
        joined = np.zeros(0, dtype=np.int64)
        if sustained is not None:
            joined = self._hold(kind, station, ts_ms, flagged, sustained, priority, hit, active)
            hit = np.setdiff1d(hit, joined)
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
        if len(joined):
            was[joined] = False
            flags[np.concatenate([self._series_of_station[st] for st in joined])] = False

    def _hold(
        self,
        kind: str,
        station: IntArray,
        ts_ms: IntArray,
        flagged: BoolArray,
        sustained: BoolArray,
        priority: FloatArray | None,
        hit: IntArray,
        active: BoolArray,
    ) -> IntArray:
        """Hysteresis of an event kind: keep ``active`` the open stations that were abnormal
        less than ``event_clear_after_s`` ago. Returns the newly hit stations that join an
        open pollution event nearby (no alert of their own; they keep it open)."""
        c, was = self._config, self._open[kind]
        abnormal = self._abnormal_s[kind]
        t_s = ts_ms / 1000
        busy = flagged | (sustained & was[station])
        np.fmax.at(abnormal, station[busy], t_s[busy])
        newest = np.full(len(was), np.nan)
        np.fmax.at(newest, station, t_s)
        joined: list[int] = []
        new = hit[~was[hit]]
        if kind == "pollution_event" and c.group_pollution_events and len(new):
            strength = np.full(len(was), -np.inf)
            weight = np.zeros(len(station)) if priority is None else priority
            np.fmax.at(strength, station[flagged], weight[flagged])
            first = np.full(len(was), np.inf)
            np.fmin.at(first, station[flagged], t_s[flagged])
            owners = [int(i) for i in np.flatnonzero(was)]
            opened, member = self._event_opened_s, self._member_of
            for st in new[np.argsort(-strength[new], kind="stable")]:
                owner = int(member[st])
                if not (owner >= 0 and (was[owner] or owner in owners)):
                    owner = self._explaining_event(int(st), first[st], owners)
                if owner >= 0:
                    joined.append(int(st))
                    member[st] = owner
                    abnormal[owner] = np.fmax(abnormal[owner], newest[st])
                    continue
                owners.append(int(st))
                opened[st] = first[st]
                member[st] = -1
        with np.errstate(invalid="ignore"):
            recent = (newest - abnormal < c.event_clear_after_s) | (newest == abnormal)
        opening = was.copy()
        opening[hit] = True  # flagged earlier in this batch than its newest sample
        active |= opening & recent
        out = np.array(joined, dtype=np.int64)
        active[out] = False
        return out

    def _explaining_event(self, station: int, t_s: float, owners: list[int]) -> int:
        """The open pollution event (its station) that explains a rise at ``station`` from
        ``t_s``: the nearest within the neighbour radius that opened at most
        ``event_spread_s`` before (a later rise nearby is a separate incident); -1."""
        c = self._config
        if not owners:
            return -1
        candidates = np.array(owners, dtype=np.int64)
        km = _km(self._lat[[station]], self._lon[[station]], self._lat[candidates],
                 self._lon[candidates])[0]  # fmt: skip
        with np.errstate(invalid="ignore"):
            near = (km <= c.neighbour_radius_km) & (
                t_s - self._event_opened_s[candidates] <= c.event_spread_s
            )
        if not near.any():
            return -1
        return int(candidates[near][np.argmin(km[near])])

    def _release(self, now_ms: int, out: Derived) -> None:
        """Close the event kinds of stations normal (or silent) for ``event_clear_after_s``."""
        now_s, clear = now_ms / 1000, self._config.event_clear_after_s
        for kind in EVENT_KINDS:
            was = self._open[kind]
            if not was.any():
                continue
            flagged = np.bincount(self._station_of, weights=self._flag[kind], minlength=len(was))
            with np.errstate(invalid="ignore"):
                done = was & (flagged == 0) & ~(now_s - self._abnormal_s[kind] < clear)
            for st in np.flatnonzero(done):
                self._emit(
                    kind,
                    int(st),
                    self._open_parameter.get((kind, int(st)), ""),
                    False,
                    np.nan,
                    self._config.zscore_threshold,
                    now_ms,
                    False,
                    out,
                )
            was[done] = False

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


def _robust_z(x: FloatArray, median: FloatArray, mad: FloatArray) -> FloatArray:
    """``0.6745 * (x - median) / mad`` (NaN where any is NaN, ±MAD_ZERO_Z for a zero MAD)."""
    return kernels.window_zscore_of(x, median, mad)


def _km(lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    """Great-circle distances (km) from each of the first points to each of the second."""
    la1, lo1 = np.radians(lat1)[:, None], np.radians(lon1)[:, None]
    la2, lo2 = np.radians(lat2)[None, :], np.radians(lon2)[None, :]
    h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
    return np.asarray(2 * kernels.EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0))))


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
