"""Where a rule fires: limit rules over instantaneous values and windowed means.

A windowed rule compares the mean of the clock-hour means (UTC hours) over its window (1 h,
8 h or 24 h, the current hour included) with its limit, and only when at least
``min_coverage`` of the window's hours have data. Hourly sums are kept per (station,
parameter), so a late reading updates the hour it belongs to. Values whose instrument was
calibrating or in error never feed a pollution rule.

State is keyed by station id, so the engine can be split across processes by station.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ioc.config import WINDOW_HOURS, RuleConfig
from ioc.messages import Reading, RuleTransition
from ioc.registry import StationRegistry

HOUR_MS = 3_600_000
KEEP_HOURS = 25


@dataclass(slots=True)
class HourlyMeans:
    """Sums and counts of one parameter of one station, by UTC hour index."""

    sums: dict[int, float] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    newest: int = 0

    def add(self, hour: int, value: float) -> None:
        self.sums[hour] = self.sums.get(hour, 0.0) + value
        self.counts[hour] = self.counts.get(hour, 0) + 1
        if hour > self.newest:
            self.newest = hour
            for old in [h for h in self.sums if h <= hour - KEEP_HOURS]:
                del self.sums[old], self.counts[old]

    def window_mean(self, end_hour: int, hours: int) -> tuple[float, float]:
        """(mean of hourly means over the ``hours`` ending at ``end_hour``, coverage 0..1)."""
        total = 0.0
        present = 0
        for h in range(end_hour - hours + 1, end_hour + 1):
            count = self.counts.get(h)
            if count:
                total += self.sums[h] / count
                present += 1
        return (total / present if present else float("nan")), present / hours


class LimitEngine:
    def __init__(self, rules: Iterable[RuleConfig], registry: StationRegistry) -> None:
        self._rules = list(rules)
        self._registry = registry
        self._rules_by_station: dict[str, Mapping[str, list[RuleConfig]]] = {}
        self._hours: dict[tuple[str, str], HourlyMeans] = {}
        self._firing: set[tuple[str, str]] = set()

    def is_firing(self, rule_id: str, station_id: str) -> bool:
        return (rule_id, station_id) in self._firing

    def evaluate(self, readings: Iterable[Reading]) -> list[RuleTransition]:
        transitions: list[RuleTransition] = []
        for reading in readings:
            rules_by_parameter = self._rules_for(reading.station_id)
            if not rules_by_parameter:
                continue
            hour = reading.ts_ms // HOUR_MS
            for parameter, value in reading.values.items():
                rules = rules_by_parameter.get(parameter)
                if not rules or parameter in reading.status:
                    continue
                key = (reading.station_id, parameter)
                means = self._hours.get(key)
                if means is None:
                    means = self._hours[key] = HourlyMeans()
                means.add(hour, value)
                for rule in rules:
                    hours = WINDOW_HOURS[rule.window]
                    if hours:
                        observed, coverage = means.window_mean(hour, hours)
                        if coverage < rule.min_coverage:
                            continue
                    else:
                        observed = value
                    transition = self._decide(rule, reading, parameter, observed)
                    if transition is not None:
                        transitions.append(transition)
        return transitions

    def _decide(
        self, rule: RuleConfig, reading: Reading, parameter: str, observed: float
    ) -> RuleTransition | None:
        state_key = (rule.id, reading.station_id)
        firing = state_key in self._firing
        if rule.above is not None:
            clear_at = rule.clear_at if rule.clear_at is not None else rule.above
            starts, stops = observed > rule.above, observed <= clear_at
        else:
            assert rule.below is not None
            clear_at = rule.clear_at if rule.clear_at is not None else rule.below
            starts, stops = observed < rule.below, observed >= clear_at
        if not firing and starts:
            self._firing.add(state_key)
        elif firing and stops:
            self._firing.discard(state_key)
        else:
            return None
        return RuleTransition(
            rule_id=rule.id,
            station_id=reading.station_id,
            parameter=parameter,
            firing=not firing,
            value=round(observed, 3),
            limit=rule.limit,
            ts_ms=reading.ts_ms,
            severity=rule.severity,
        )

    def _rules_for(self, station_id: str) -> Mapping[str, list[RuleConfig]]:
        cached = self._rules_by_station.get(station_id)
        if cached is not None:
            return cached
        station = self._registry.get(station_id)
        by_parameter: dict[str, list[RuleConfig]] = {}
        if station is not None:
            for rule in self._rules:
                if rule.kinds and station.kind not in rule.kinds:
                    continue
                if rule.stations and station_id not in rule.stations:
                    continue
                if rule.parameter in station.parameters:
                    by_parameter.setdefault(rule.parameter, []).append(rule)
        self._rules_by_station[station_id] = by_parameter
        return by_parameter
