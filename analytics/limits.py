"""Where a rule fires: limit rules over instant values and windowed aggregates, vectorised
over a whole batch (one pass for every rule, station and point).

A rule has one to three levels (:class:`analytics.config.Level`). For each level an
*excursion* starts when the observed value goes past the level's value and ends once it is
back to the level's clear value (hysteresis); the level holds while an excursion has lasted
``min_duration_s`` (event time). The rule's level is the highest level holding, and every
change of it is a :class:`RuleTransition`: firing (start, escalation, de-escalation, with the
level's severity) or not (cleared). Every rule runs on a *signed* value that fires above its
levels: a ``below`` rule on the negated value, a range (pH 5.5-9) on the distance outside it
and a licence rule on the value minus its station's licensed limit (the last two with one
level at 0). Transitions carry the value itself and the limit it was compared with.

Observed values: ``instant`` rules see each value as it comes (a value older than its
series' newest is left to the windows); windowed rules see the window of their point
(:mod:`analytics.windows`) once ``min_coverage`` of its hours have data: a mean of the
complete clock hours before the point's (QCVN's hourly-based means; ``open_hour``: the hour
in progress counts too), the largest value of the hours up to the point's. Decisions on late
or out-of-order values are ``retroactive``. A rule with ``ignore_status_missing`` takes no
decision on a value sent without an instrument status.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analytics.config import DERIVED_PARAMETERS, RuleConfig
from analytics.series import (
    BoolArray,
    FloatArray,
    HourlyStore,
    IntArray,
    Points,
    SeriesTable,
)
from analytics.windows import evaluation_time, window_values
from ioc.messages import RuleTransition
from ioc.registry import Station, StationRegistry

MAX_LEVELS = 3
UNDECIDED = -1  # the level of a (rule, series) pair whose rule was just changed


def applies(rule: RuleConfig, station: Station) -> bool:
    """Whether the rule's station selector (kinds, ids, owners, area) takes the station; a
    licence rule takes only stations whose licence sets its limit."""
    return (
        (not rule.kinds or station.kind in rule.kinds)
        and (not rule.stations or station.id in rule.stations)
        and (not rule.owners or station.owner in rule.owners)
        and (rule.area is None or rule.area.contains(station.lat, station.lon))
        and (rule.above_licence is None or licence_limit(rule, station) is not None)
    )


def licence_limit(rule: RuleConfig, station: Station) -> float | None:
    """The limit a licence rule takes from the station's licence (None: not set)."""
    if rule.above_licence is None or station.licence is None:
        return None
    return station.licence.limit(rule.above_licence)


def rule_problems(rules: Sequence[RuleConfig], registry: StationRegistry) -> dict[str, str]:
    """Rules that cannot fire, by id: a measured parameter no station they select has, or a
    ``replaces`` naming no rule of the same parameter."""
    parameter_of = {rule.id: rule.parameter for rule in rules}
    problems = {
        rule.id: f"replaces {rule.replaces!r}, which is no rule of parameter {rule.parameter!r}"
        for rule in rules
        if rule.replaces is not None and parameter_of.get(rule.replaces) != rule.parameter
    }
    return problems | {
        rule.id: f"parameter {rule.parameter!r} is measured by no station it selects"
        for rule in rules
        if rule.parameter not in DERIVED_PARAMETERS
        and not any(rule.parameter in s.parameters and applies(rule, s) for s in registry)
    }


def _selected(rules: Sequence[RuleConfig], parameter: str, station: Station) -> list[int]:
    """Indices of the rules of ``parameter`` at ``station``, less those another replaces."""
    taking = [i for i, r in enumerate(rules) if r.parameter == parameter and applies(r, station)]
    replaced = {rules[i].replaces for i in taking}
    return [i for i in taking if rules[i].id not in replaced]


class LimitRules:
    """Rules compiled to arrays, their (rule, series) pairs and the state of each pair."""

    def __init__(
        self, rules: Sequence[RuleConfig], table: SeriesTable, previous: LimitRules | None = None
    ) -> None:
        self.rules = list(rules)
        self._table = table
        n = len(self.rules)
        self._sign = np.array([-1.0 if r.direction == "below" else 1.0 for r in rules])
        self._range = np.array([r.is_range for r in rules], dtype=bool)
        self._low = np.array([r.below if r.is_range else np.nan for r in rules], dtype=float)
        self._high = np.array([r.above if r.is_range else np.nan for r in rules], dtype=float)
        self._licensed = np.array([r.above_licence is not None for r in rules], dtype=bool)
        self._ignore_no_status = np.array([r.ignore_status_missing for r in rules], dtype=bool)
        self._value = np.full((n, MAX_LEVELS), np.inf)
        self._clear = np.full((n, MAX_LEVELS), np.inf)
        for i, rule in enumerate(self.rules):
            for k, level in enumerate(rule.levels):
                self._value[i, k] = 0.0 if rule.is_range else self._sign[i] * level.value
                self._clear[i, k] = 0.0 if rule.is_range else self._sign[i] * level.clear
        self._n_levels = np.array([len(r.levels) for r in rules], dtype=np.int64)
        self._min_duration = np.array([int(r.min_duration_s * 1000) for r in rules], np.int64)
        self._min_coverage = np.array([r.min_coverage for r in rules]) - 1e-9  # 0.7 of 10 h: 7
        specs = [(r.hours, r.aggregate, r.open_hour or r.aggregate == "max") for r in rules]
        self._specs = sorted(set(specs))
        self._spec_of = np.array([self._specs.index(spec) for spec in specs], dtype=np.int64)
        # Pairs of series i are pair_rule[start[i]:start[i + 1]]; a pair index is a state slot.
        self._start = [0]
        self._pair_rule: list[int] = []
        self._start_array = np.zeros(1, np.int64)
        self._pair_rule_array = np.zeros(0, np.int64)
        self._pair_limit: list[float] = []  # a licence rule's limit at the pair's station
        self._pair_limit_array = np.zeros(0)
        self._crossed: dict[int, float] = {}  # pair of a firing range rule -> the end crossed
        self._raw = np.zeros((0, MAX_LEVELS), dtype=bool)
        self._since = np.zeros((0, MAX_LEVELS), dtype=np.int64)
        self._level = np.zeros(0, dtype=np.int64)
        if previous is not None:
            self._carry_over(previous)

    def _carry_over(self, previous: LimitRules) -> None:
        """Keep the state of the rules that did not change; a new or changed rule starts
        *undecided* (level -1), so its first value decides: it fires, or clears what the
        rule's old version had raised."""
        self._cover_new_series()
        self._level[:] = UNDECIDED
        kept = {r.id: i for i, r in enumerate(previous.rules)}
        same = {
            i: kept[r.id]
            for i, r in enumerate(self.rules)
            if r.id in kept and previous.rules[kept[r.id]] == r
        }
        old_pairs = {
            (series, previous._pair_rule[pair]): pair
            for series in range(len(previous._start) - 1)
            for pair in range(previous._start[series], previous._start[series + 1])
        }
        for series in range(len(self._start) - 1):
            for pair in range(self._start[series], self._start[series + 1]):
                rule = self._pair_rule[pair]
                old = old_pairs.get((series, same.get(rule, -1)))
                if old is not None:
                    self._raw[pair] = previous._raw[old]
                    self._since[pair] = previous._since[old]
                    self._level[pair] = previous._level[old]

    def level(self, rule_id: str, station_id: str, parameter: str) -> int:
        """Current level of a rule at a station (0: not firing)."""
        station = self._table.station_index[station_id]
        series = self._table.find(station, parameter)
        if series < 0 or series >= len(self._start) - 1:
            return 0
        for pair in range(self._start[series], self._start[series + 1]):
            if self.rules[self._pair_rule[pair]].id == rule_id:
                return max(int(self._level[pair]), 0)
        return 0

    def evaluate(self, store: HourlyStore, points: Points) -> list[RuleTransition]:
        """Transitions of every rule on the batch; call before the batch enters ``store``."""
        self._cover_new_series()
        if not len(points) or not self._pair_rule:
            return []
        t_eval, stale = evaluation_time(store, points)
        first_pair = self._start_array[points.series]
        counts = self._start_array[points.series + 1] - first_pair
        point = np.repeat(np.arange(len(points)), counts)
        if not len(point):
            return []
        offset = np.repeat(first_pair - (np.cumsum(counts) - counts), counts)
        pair = offset + np.arange(len(point))
        rule = self._pair_rule_array[pair]
        observed = self._observe(store, points, t_eval, stale, point, rule)
        observed[self._ignore_no_status[rule] & points.no_status[point]] = np.nan
        keep = np.isfinite(observed)
        pair, point, rule, observed = pair[keep], point[keep], rule[keep], observed[keep]
        if not len(pair):
            return []
        if len(pair) > 1 and np.any(pair[1:] < pair[:-1]):
            order = np.argsort(pair, kind="stable")
            pair, point, rule, observed = pair[order], point[order], rule[order], observed[order]
        t = t_eval[point]
        level, before = self._advance(pair, rule, t, self._signed(observed, rule, pair))
        retroactive = points.late[point] | stale[point]
        out = []
        for i in np.flatnonzero(level != before):
            rule_config = self.rules[rule[i]]
            now = int(level[i])
            shown = rule_config.levels[max(now or int(before[i]), 1) - 1]  # a clear: the old
            series = int(points.series[point[i]])
            out.append(
                RuleTransition(
                    rule_id=rule_config.id,
                    station_id=self._table.stations[self._table.station_of[series]].id,
                    parameter=rule_config.parameter,
                    firing=now > 0,
                    value=round(float(observed[i]), 3),
                    limit=self._shown_limit(
                        rule_config, shown.value, observed[i], int(pair[i]), now
                    ),
                    ts_ms=int(t[i]),
                    severity=shown.severity,
                    retroactive=bool(retroactive[i]),
                )
            )
        return out

    def _signed(self, x: FloatArray, rule: IntArray, pair: IntArray) -> FloatArray:
        """The values as the levels compare them: past a level = above it."""
        signed = x * self._sign[rule]
        outside = np.maximum(x - self._high[rule], self._low[rule] - x)
        signed = np.where(self._range[rule], outside, signed)
        return np.where(self._licensed[rule], x - self._pair_limit_array[pair], signed)

    def _shown_limit(
        self, rule: RuleConfig, level: float, value: float, pair: int, now: int
    ) -> float:
        """The limit a transition names: the level's, the station's licensed one, or the end
        of a range its excursion crossed (a clear names the end its start crossed)."""
        if rule.above_licence is not None:
            return float(self._pair_limit_array[pair])
        if not rule.is_range:
            return level
        assert rule.above is not None and rule.below is not None
        nearer = rule.above if value > (rule.above + rule.below) / 2 else rule.below
        if now > 0:
            self._crossed[pair] = nearer
            return nearer
        return self._crossed.pop(pair, nearer)

    def _observe(
        self,
        store: HourlyStore,
        points: Points,
        t_eval: IntArray,
        stale: BoolArray,
        point: IntArray,
        rule: IntArray,
    ) -> FloatArray:
        """The value each (point, rule) pair compares; NaN: no decision."""
        observed = np.full(len(point), np.nan)
        spec = self._spec_of[rule]
        for spec_id, (hours, aggregate, open_hour) in enumerate(self._specs):
            use = spec == spec_id
            if not use.any():
                continue
            at = point[use]
            if hours == 0:
                observed[use] = np.where(stale[at], np.nan, points.value[at])
                continue
            needed = np.zeros(len(points), dtype=bool)
            needed[at] = True
            if needed.all():
                value, coverage = window_values(store, points, t_eval, hours, aggregate, open_hour)
                position = at
            else:
                value, coverage = window_values(
                    store, points.select(needed), t_eval[needed], hours, aggregate, open_hour
                )
                position = (np.cumsum(needed) - 1)[at]
            enough = coverage[position] >= self._min_coverage[rule[use]]
            observed[use] = np.where(enough, value[position], np.nan)
        return observed

    def _advance(
        self, pair: IntArray, rule: IntArray, t: IntArray, x: FloatArray
    ) -> tuple[IntArray, IntArray]:
        """Run the level state machines over pairs sorted by (pair, time); return the level
        after and before each point, and keep each pair's final state."""
        m = len(pair)
        index = np.arange(m)
        first = np.ones(m, dtype=bool)
        first[1:] = pair[1:] != pair[:-1]
        group_start = np.maximum.accumulate(np.where(first, index, 0))
        last = np.append(np.flatnonzero(first)[1:] - 1, m - 1)
        pairs = pair[first]
        level = np.zeros(m, dtype=np.int64)
        for k in range(int(self._n_levels[rule].max())):
            rises = x > self._value[rule, k]
            decisive = rises | (x <= self._clear[rule, k])
            last_decisive = np.maximum.accumulate(np.where(decisive, index, -1))
            in_batch = last_decisive >= group_start
            raw = np.where(in_batch, rises[np.maximum(last_decisive, 0)], self._raw[pair, k])
            before = np.empty(m, dtype=bool)
            before[1:] = raw[:-1]
            before[first] = self._raw[pairs, k]
            onset = np.maximum.accumulate(np.where(raw & ~before, index, -1))
            since = np.where(onset >= group_start, t[np.maximum(onset, 0)], self._since[pair, k])
            level += raw & (t - since >= self._min_duration[rule])
            self._raw[pairs, k] = raw[last]
            self._since[pairs, k] = since[last]
        previous = np.empty(m, dtype=np.int64)
        previous[1:] = level[:-1]
        previous[first] = self._level[pairs]
        self._level[pairs] = level[last]
        return level, previous

    def _cover_new_series(self) -> None:
        """Give series created since the last batch their pairs and state slots."""
        table = self._table
        if len(self._start) - 1 == len(table):
            return
        for series in range(len(self._start) - 1, len(table)):
            station = table.stations[table.station_of[series]]
            rules = _selected(self.rules, table.parameter_of[series], station)
            self._pair_rule += rules
            self._pair_limit += [licence_limit(self.rules[i], station) or np.nan for i in rules]
            self._start.append(len(self._pair_rule))
        grow = len(self._pair_rule) - len(self._level)
        self._raw = np.concatenate([self._raw, np.zeros((grow, MAX_LEVELS), dtype=bool)])
        self._since = np.concatenate([self._since, np.zeros((grow, MAX_LEVELS), np.int64)])
        self._level = np.concatenate([self._level, np.zeros(grow, np.int64)])
        self._start_array = np.asarray(self._start, dtype=np.int64)
        self._pair_rule_array = np.asarray(self._pair_rule, dtype=np.int64)
        self._pair_limit_array = np.asarray(self._pair_limit, dtype=np.float64)
