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
  of day over the past days; for each closed local day, ``drift`` of the hourly means (and
  of a station's PM2.5/PM10 ratio, which the weather leaves alone);
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

The same readings give the same decisions however they are cut into batches (a live service
sees about one sample per series a batch, a backlog hundreds, a worker layout other cuts): a
suspect is always decided at a later sample, a flat run is judged on the samples up to each
one, a limit rule silences the samples taken while it fires, a neighbour's rise counts by its
samples up to the time judged (whenever they come), a suspect expires at the sample after the
one fault_decision_s after it, and the event state moves one sample of each series at a time.
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
#: smallest MAD of a PM2.5/PM10 ratio's hourly values for its drift score
RATIO_MAD_FLOOR = 0.03
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


@dataclass(frozen=True, slots=True)
class _Checks:
    """The per-sample results of a batch (its points, sorted by series then time), before the
    event state decides on them."""

    points: Points
    z: FloatArray
    median: FloatArray
    mad: FloatArray
    spike: BoolArray
    flat: BoolArray
    outside: BoolArray

    def select(self, i: IntArray) -> _Checks:
        return _Checks(
            self.points.select(i),
            self.z[i],
            self.median[i],
            self.mad[i],
            self.spike[i],
            self.flat[i],
            self.outside[i],
        )


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
        self._drift_threshold = np.array(
            [np.nan if k.drift_threshold is None else k.drift_threshold for k in checks]
        )  # NaN: the section's drift_threshold (which may change live)
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
        self._z_ring = np.full((n, self._keep), np.nan)  # the z and time (s) of those samples
        self._t_ring = np.full((n, self._keep), np.nan)
        # the batch being checked (rows, points, z) and the z and times of every series
        # through it, oldest first (built when the neighbour check needs them)
        self._batch: tuple[_Rows, Points, FloatArray] | None = None
        self._through: tuple[FloatArray, FloatArray] | None = None
        self._km_of: dict[str, FloatArray] = {}  # distances between a parameter's neighbours
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
        self._waiting_s = np.full(n, np.nan)  # a suspect's last still-high sample, undecided
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
        if c.defer_to_limits:  # at each sample's time, this batch's limit transitions so far
            spike &= ~self._limited_at(out.transitions, rows, p)
        flat = self._flatlines(values, rows)
        outside = kernels.out_of_range(p.value, self._low[p.series], self._high[p.series])
        self._batch, self._through = (rows, p, z), None  # for the neighbour check
        checks = _Checks(p, z, median, mad, spike, flat, outside)
        if rows.width == 1:
            self._step(checks, out)
        else:
            self._steps(rows, checks, out)
        self._remember(rows, p, z)

    def _steps(self, rows: _Rows, checks: _Checks, out: Derived) -> None:
        """The event state (suspects, open events, flags) moves one sample of each series at
        a time (its samples in time order, the n-th of each series together), as when the
        samples come one a batch: where the batches are cut changes nothing. The per-sample
        checks before it are vectorised over the whole batch; this loop runs over the most
        samples of one series in the batch, and a step with nothing to decide costs little."""
        order = np.argsort(rows.rank, kind="stable")  # by rank, then series
        bounds = np.searchsorted(rows.rank[order], np.arange(rows.width + 1))
        for r in range(rows.width):
            self._step(checks.select(order[bounds[r] : bounds[r + 1]]), out)

    def _step(self, k: _Checks, out: Derived) -> None:
        """Event kinds, flatline and out of range on at most one new sample of each series."""
        c, p = self._config, k.points
        self._events(p, k.z, k.median, k.mad, k.spike, out)
        samples = float(c.flatline_samples)
        self._report("flatline", p.series, p.ts, p.value, k.flat, p.late, samples, out)
        low, high = self._low[p.series], self._high[p.series]
        bound = np.where(p.value < low, low, high)
        self._report("out_of_range", p.series, p.ts, p.value, k.outside, p.late, bound, out)

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

    def _limited_at(self, transitions: list[RuleTransition], rows: _Rows, p: Points) -> BoolArray:
        """Whether an (instant) limit rule fires on each sample's series at the sample's time:
        the open ones before the batch, then this batch's limit transitions up to that time
        (a limit transition is at its reading's time). Follows them for the next batch."""
        table, n = self._table, len(self._limited)
        changes: dict[tuple[str, int], list[tuple[int, bool]]] = {}
        for t in transitions:
            if t.rule_id.startswith("anomaly.") or (
                self._instant_rules is not None and t.rule_id not in self._instant_rules
            ):
                continue
            series = table.lookup.get(t.station_id, {}).get(t.parameter, -1)
            if 0 <= series < n:
                changes.setdefault((t.rule_id, series), []).append((t.ts_ms, t.firing))
        limited = self._limited[p.series]
        if not changes:
            return limited
        at_row = {int(s): i for i, s in enumerate(rows.series)}
        for series in {s for _, s in changes}:
            i = at_row.get(series)
            if i is None:
                continue
            span = slice(int(rows.first[i]), int(rows.first[i] + rows.counts[i]))
            ts = p.ts[span]
            state = np.zeros(len(ts), dtype=bool)
            rules = {r for r, s in self._limit_open if s == series} | {
                r for r, s in changes if s == series
            }
            for rule in rules:
                before = (rule, series) in self._limit_open
                got = sorted(changes.get((rule, series), []), key=lambda x: x[0])
                when = np.array([x[0] for x in got], dtype=np.int64)
                firing = np.array([before] + [x[1] for x in got], dtype=bool)
                state |= firing[np.searchsorted(when, ts, side="right")]
            limited[span] = state
        for (rule, series), got in changes.items():
            if sorted(got, key=lambda x: x[0])[-1][1]:  # the last one (stable)
                self._limit_open.add((rule, series))
            else:
                self._limit_open.discard((rule, series))
        self._limited[:] = False
        self._limited[[s for _, s in self._limit_open]] = True
        return limited

    def _events(
        self,
        p: Points,
        z: FloatArray,
        median: FloatArray,
        mad: FloatArray,
        spike: BoolArray,
        out: Derived,
    ) -> None:
        """Classify and report the event kinds (spike, sensor_fault, pollution_event) of at
        most one new sample of each series.

        A spike at a station with neighbours is a *suspect* (unless the station's pollution
        event is open), decided at the series' next samples, never at once (whether the next
        samples are in the same batch or not): back within ``rising_zscore`` of the level
        before it (an isolated jump) → sensor_fault; still high with rising neighbours →
        pollution_event; still high with quiet neighbours after ``fault_decision_s`` → spike
        (a local rise or a stuck-high sensor: cannot tell). The decision is reported at the
        suspect's time and value; a still-high deciding sample keeps the event going from its
        own time."""
        c = self._config
        t_s = p.ts / 1000
        suspect = self._suspect_s[p.series]
        resolving = np.isfinite(suspect)  # the sample after a suspect
        ready = self._risen_around(p.series)
        if (
            not spike.any()
            and not resolving.any()
            and not len(ready)
            and not self._any_event_open()
        ):
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
        fault = own & (kind == "sensor_fault")
        regional = own & (kind == "pollution_event")
        # a jump with neighbours is decided at the next sample(s), whatever they do now
        pending = (fault | regional) & ~at_event

        # the level before the event, kept from the first flagged sample of a series
        first = own | pending
        start = first & np.isnan(self._event_median[p.series])
        self._event_median[p.series[start]] = median[start]
        self._event_mad[p.series[start]] = mad[start]
        level = _robust_z(p.value, self._event_median[p.series], self._event_mad[p.series])
        sustained = np.abs(np.nan_to_num(level)) > c.rising_zscore

        # still high at a sample fault_decision_s after the suspect, with no rise around it
        # by then (the neighbours' samples up to that time have all come by the next one)
        waited = self._waiting_s[p.series]
        with np.errstate(invalid="ignore"):
            expired = resolving & (waited - suspect >= c.fault_decision_s)
        back = resolving & ~expired & ~sustained
        as_event = resolving & ~expired & ~back & (kind == "pollution_event")
        decided = back | as_event | expired
        waiting = resolving & ~decided
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
        self._waiting_s[p.series[decided]] = np.nan
        self._waiting_s[p.series[waiting]] = t_s[waiting]
        self._suspect_s[p.series[pending]] = t_s[pending]
        self._suspect_value[p.series[pending]] = p.value[pending]

        series, late, seen = p.series, p.late, p.ts
        priority = np.where(decided, np.inf, np.abs(np.nan_to_num(z)))
        if len(ready):  # suspects decided now: their neighbours' samples up to their time came
            m = len(ready)
            series = np.concatenate([series, ready])
            ts_ms = np.concatenate([ts_ms, (self._suspect_s[ready] * 1000).astype(np.int64)])
            value = np.concatenate([value, self._suspect_value[ready]])
            seen = np.concatenate([seen, (self._waiting_s[ready] * 1000).astype(np.int64)])
            late = np.concatenate([late, np.zeros(m, dtype=bool)])
            sustained = np.concatenate([sustained, np.ones(m, dtype=bool)])
            priority = np.concatenate([priority, np.full(m, np.inf)])
            for k in EVENT_KINDS:
                flagged[k] = np.concatenate([flagged[k], np.full(m, k == "pollution_event")])
            order = np.argsort(series, kind="stable")
            series, ts_ms, value, seen = series[order], ts_ms[order], value[order], seen[order]
            late, sustained, priority = late[order], sustained[order], priority[order]
            flagged = {k: v[order] for k, v in flagged.items()}
            self._suspect_s[ready] = self._waiting_s[ready] = np.nan
        for k in EVENT_KINDS:
            self._report(
                k,
                series,
                ts_ms,
                value,
                flagged[k],
                late,
                c.zscore_threshold,
                out,
                sustained=sustained,
                priority=priority,
                seen_ms=seen,
                baseline=self._event_median[series],  # the level before the event
            )
        open_at = self._any_event_open_at()[self._station_of[p.series]]
        quiet = ~open_at & np.isnan(self._suspect_s[p.series])
        self._event_median[p.series[quiet]] = np.nan
        self._event_mad[p.series[quiet]] = np.nan

    def _risen_around(self, busy: IntArray) -> IntArray:
        """The series (other than ``busy``) whose suspect is still high at its last sample and
        whose neighbours have now risen by that sample's time: a neighbour's sample of that
        time may come after it (in the same batch or a later one)."""
        waiting = np.flatnonzero(np.isfinite(self._waiting_s))
        if not len(waiting):
            return waiting
        waiting = waiting[~np.isin(waiting, busy)]
        kind = self._classify(waiting, self._waiting_s[waiting], np.ones(len(waiting), bool))
        risen: BoolArray = np.asarray(kind == "pollution_event", dtype=bool)
        return np.asarray(waiting[risen], dtype=np.int64)

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
        """Whether each new sample ends a flat run (its last ``flatline_samples``, itself
        included, within the tolerance): the samples after it cannot flag it, so a batch
        decides as the samples one by one. A flat run ending at a new sample has a step of at
        most the tolerance next to it: rows without one are not checked."""
        c, f, keep = self._config, self._config.flatline_samples, self._keep
        flat = np.zeros(len(rows.row), dtype=bool)
        steps = np.abs(np.diff(values[:, keep - 1 :], axis=1)) <= c.flatline_tolerance
        candidate = steps.any(axis=1) & self._flatline[rows.series]
        at = candidate[rows.row]
        if at.any():
            windows = sliding_window_view(values[candidate, keep - f + 1 :], f, axis=1)
            ends = (windows.max(axis=2) - windows.min(axis=2)) <= c.flatline_tolerance
            flat[at] = ends[np.cumsum(candidate)[rows.row[at]] - 1, rows.rank[at]]
        return flat

    def _remember(self, rows: _Rows, p: Points, z: FloatArray) -> None:
        """Keep the last samples of each series (value, z, time) and its last time."""
        last = rows.first + rows.counts - 1
        self._last_time[rows.series] = p.ts[last] / 1000
        recent = rows.rank >= rows.counts[rows.row] - self._keep  # the ring keeps the last
        slot = (self._written[p.series] + rows.rank) % self._keep
        self._values[p.series[recent], slot[recent]] = p.value[recent]
        self._z_ring[p.series[recent], slot[recent]] = z[recent]
        self._t_ring[p.series[recent], slot[recent]] = p.ts[recent] / 1000
        self._written[rows.series] += rows.counts
        self._batch, self._through = None, None

    def _classify(
        self, series: IntArray, t: FloatArray, spike: BoolArray
    ) -> npt.NDArray[np.object_]:
        """Kind of each spiking (or otherwise queried) sample: sensor_fault (neighbours within
        ``neighbour_radius_km``, none rising), pollution_event (at least
        ``min_neighbours_rising`` rising) or spike (no neighbour, or too few rising). A
        neighbour rises when its last two samples up to the sample's time do (within
        ``neighbour_window_s``): one high value of its own is no more than a suspect, and two
        coincident faults do not confirm each other. Samples up to the time count (a
        neighbour's sample of the same time coming later is caught by :meth:`_risen_around`)."""
        kinds = np.full(len(series), "spike", dtype=object)
        c = self._config
        for parameter in {self._table.parameter_of[i] for i in series[spike]}:
            candidates = self._neighbours[parameter]
            at = np.flatnonzero(spike & np.isin(series, candidates))
            if not len(at):
                continue
            query = np.searchsorted(candidates, series[at])  # candidates are sorted
            rising = self._rising(candidates, t[at])  # (queries, candidates)
            km = self._km(parameter)[query]
            near = km <= c.neighbour_radius_km
            near[np.arange(len(at)), query] = False  # a station is not its own neighbour
            n_near = near.sum(axis=1)
            n_rising = (near & rising).sum(axis=1)
            label = np.where(n_rising >= c.min_neighbours_rising, "pollution_event", "spike")
            label = np.where(n_rising == 0, "sensor_fault", label)
            kinds[at] = np.where(n_near == 0, "spike", label)
        return kinds

    def _km(self, parameter: str) -> FloatArray:
        if parameter not in self._km_of:
            station = self._station_of[self._neighbours[parameter]]
            lat, lon = self._lat[station], self._lon[station]
            self._km_of[parameter] = _km(lat, lon, lat, lon)
        return self._km_of[parameter]

    def _rising(self, candidates: IntArray, t_s: FloatArray) -> BoolArray:
        """Whether each candidate series rose (its last two z at least ``rising_zscore``, the
        last within ``neighbour_window_s``) up to each time: (times, candidates)."""
        c = self._config
        z, when = self._through_batch()
        z, when = z[candidates], when[candidates]  # oldest first, NaN-padded
        with np.errstate(invalid="ignore"):
            before = when[None, :, :] <= t_s[:, None, None]
        width = when.shape[1]
        last = width - 1 - np.argmax(before[:, :, ::-1], axis=2)  # (times, candidates)
        some = before.any(axis=2)
        pair = some & (last >= 1)
        previous = np.maximum(last - 1, 0)
        pair &= np.take_along_axis(before, previous[:, :, None], axis=2)[:, :, 0]
        rows = np.arange(len(candidates))[None, :]
        z_last, z_previous = z[rows, last], z[rows, previous]
        with np.errstate(invalid="ignore"):
            recent = t_s[:, None] - when[rows, last] <= c.neighbour_window_s
            return np.asarray(
                pair & recent & (z_last >= c.rising_zscore) & (z_previous >= c.rising_zscore)
            )

    def _through_batch(self) -> tuple[FloatArray, FloatArray]:
        """The z and time (s) of each series' kept samples then this batch's, oldest first."""
        if self._through is None:
            keep, n = self._keep, len(self._written)
            rows, p, z = self._batch if self._batch is not None else (None, None, None)
            width = 0 if rows is None else rows.width
            ring = (self._written[:, None] + np.arange(keep)) % keep
            every = np.arange(n)[:, None]
            zs = np.full((n, keep + width), np.nan)
            ts = np.full((n, keep + width), np.nan)
            zs[:, :keep] = self._z_ring[every, ring]
            ts[:, :keep] = self._t_ring[every, ring]
            if rows is not None and p is not None and z is not None:
                zs[p.series, keep + rows.rank] = z
                ts[p.series, keep + rows.rank] = p.ts / 1000
            self._through = (zs, ts)
        return self._through

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
        usual = self._base_median[series, hod]  # the hour of day's median over the past days
        self._report(
            "seasonal",
            series[order],
            hour_end[order],
            mean[order],
            flagged[order],
            no_late,
            c.seasonal_threshold,
            out,
            baseline=usual[order],
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
        score = np.full(len(series), np.nan)
        for floor in np.unique(self._mad_floor[series]):
            same = self._mad_floor[series] == floor
            score[same] = kernels.drift_score(judged[same], window, mad_floor=floor)[:, -1]
        own = self._drift_threshold[series]
        threshold = np.where(np.isnan(own), c.drift_threshold, own)
        last_mean = chronological[:, -1]
        drifting = np.isfinite(last_mean) & (np.abs(np.nan_to_num(score)) > threshold)
        if c.drift_pm_ratio:
            drifting |= self._ratio_drift(series, chronological, score)
        drifting &= self._drift[series]
        times = np.full(len(series), ts_ms, dtype=np.int64)
        no_late = np.zeros(len(series), dtype=bool)
        reference = kernels.drift_reference(judged, window)  # the level it drifted from
        self._report(
            "drift", series, times, last_mean, drifting, no_late, threshold, out, baseline=reference
        )

    def _ratio_drift(self, series: IntArray, hourly: FloatArray, score: FloatArray) -> BoolArray:
        """Rows of ``series`` drifting by their station's PM2.5/PM10 ratio: its drift score
        (floor :data:`RATIO_MAD_FLOOR`) past the section's threshold, on the one of the two
        whose own score is larger. ``hourly``: the rows' hourly means, oldest first."""
        flagged = np.zeros(len(series), dtype=bool)
        parameters = self._table.parameter_of
        row_of = {int(s): i for i, s in enumerate(series)}
        pairs = []
        for s in series:
            if parameters[s] != "pm25":
                continue
            partner = [
                int(t) for t in self._series_of_station[self._station_of[s]]
                if parameters[t] == "pm10" and int(t) in row_of
            ]  # fmt: skip
            if partner:
                pairs.append((row_of[int(s)], row_of[partner[0]]))
        if not pairs:
            return flagged
        fine, coarse = (np.array(rows, dtype=np.int64) for rows in zip(*pairs, strict=True))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(hourly[coarse] > 0, hourly[fine] / hourly[coarse], np.nan)
        window = self._config.drift_window_hours
        judged = _reference_and_last_window(ratio, window)
        ratio_score = kernels.drift_score(judged, window, mad_floor=RATIO_MAD_FLOOR)[:, -1]
        off = np.abs(np.nan_to_num(ratio_score)) > self._config.drift_threshold
        moved_fine = np.abs(np.nan_to_num(score[fine])) >= np.abs(np.nan_to_num(score[coarse]))
        flagged[fine[off & moved_fine]] = True
        flagged[coarse[off & ~moved_fine]] = True
        return flagged

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
        seen_ms: IntArray | None = None,
        baseline: float | FloatArray = np.nan,
    ) -> None:
        """Record observations (sorted by series, then time): lines for flagged ones, the
        series' flags, and a transition for each station whose state of ``kind`` changes.
        ``baseline``: the level each value is judged against (NaN: none, e.g. a limit).

        With ``sustained`` (the event kinds), an open station stays open until it has been
        normal (neither flagged nor sustained) for ``event_clear_after_s``; a pollution event
        near an open one joins it (``group_pollution_events``), strongest ``priority`` first;
        ``seen_ms``: when the samples were taken, if not at ``ts_ms`` (a suspect decided later
        is reported at its own time, its deciding sample counts as abnormal at its time).
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
        baselines = np.broadcast_to(np.asarray(baseline, dtype=np.float64), series.shape)
        if write_lines:
            for i in np.flatnonzero(flagged):
                self._line(int(series[i]), kind, float(value[i]), int(ts_ms[i]), out)
        last = np.append(np.flatnonzero(series[1:] != series[:-1]), len(series) - 1)
        flags[series[last]] = flagged[last]
        active = np.bincount(self._station_of, weights=flags, minlength=len(was)) > 0
        hit = np.unique(station[flagged])
        joined = np.zeros(0, dtype=np.int64)
        if sustained is not None:
            seen = ts_ms if seen_ms is None else seen_ms
            joined = self._hold(
                kind, station, ts_ms, seen, flagged, sustained, priority, hit, active
            )
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
                    baselines[i],
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
                    baselines[i],
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
        seen_ms: IntArray,
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
        t_s, seen_s = ts_ms / 1000, seen_ms / 1000
        busy = flagged | (sustained & was[station])
        abnormal_s = np.where(sustained, seen_s, t_s)  # a sample back to normal: its report
        np.fmax.at(abnormal, station[busy], abnormal_s[busy])
        newest = np.full(len(was), np.nan)
        np.fmax.at(newest, station, seen_s)
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
        baseline: float = np.nan,
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
                baseline=round(float(baseline), 3) if np.isfinite(baseline) else None,
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
