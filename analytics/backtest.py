"""Backtests: what a rule would have raised over stored history, through the live engine.

A backtest builds an :class:`AnalyticsEngine` holding only the rule (anomaly checks off; VN_AQI
or fire danger on only when the rule watches them) and feeds it the history day by day, as
:class:`Points`: the same code path as live readings after decoding. History starts early
enough to fill the rule's window (and the NowCast, or a month of fire-danger build-up), and
only transitions inside the requested period count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from pydantic import AwareDatetime, Field, model_validator

from analytics.air_quality import POLLUTANTS
from analytics.config import DERIVED_PARAMETERS, AnalyticsConfig, AnomalyConfig, RuleConfig
from analytics.engine import AnalyticsEngine
from analytics.limits import applies
from analytics.series import HOUR_MS, Points, SeriesTable
from ioc.config import Section
from ioc.messages import RuleTransition
from ioc.registry import StationRegistry

DAY_MS = 24 * HOUR_MS
MAX_DAYS = 366
AQI_PARAMETERS = ("aqi", "aqi_day")
FIRE_PARAMETERS = ("nesterov", "fire_level", "fwi")
VOLUME_PARAMETER = "volume_day"


class BacktestPeriod(Section):
    """The period and stations of a backtest."""

    start: AwareDatetime = Field(description="Period start, ISO 8601 with offset.")
    end: AwareDatetime = Field(description="Period end (exclusive), ISO 8601 with offset.")
    stations: list[str] = Field(
        default_factory=list, description="Only these stations; empty = all the rule selects."
    )
    flap_window_s: float = Field(
        3600.0, ge=0, le=7 * 86_400, description="A re-alert this soon after a clear is a flap."
    )

    @model_validator(mode="after")
    def _period(self) -> Self:
        if self.end <= self.start:
            raise ValueError("`end` must be after `start`")
        if (self.end - self.start).total_seconds() > MAX_DAYS * 86_400:
            raise ValueError(f"the period may span at most {MAX_DAYS} days")
        return self

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


class BacktestRequest(BacktestPeriod):
    """Body of ``POST /api/v1/rules/backtest``."""

    rule: RuleConfig = Field(description="The rule, as in the configuration.")


class DetectorBacktestRequest(BacktestPeriod):
    """Body of ``POST /api/v1/detector-rules/{id}/backtest``."""

    override: dict[str, Any] = Field(
        default_factory=dict,
        description="The rule's settings to try, as PUT /api/v1/config/detector-rules/{id} "
        "takes them; empty: as the rule runs now.",
    )


@dataclass(frozen=True, slots=True)
class StationBacktest:
    alerts: int  # times the rule started firing
    flaps: int  # of which within flap_window_s after a clear
    firing_s: float  # time spent firing inside the period


@dataclass(frozen=True, slots=True)
class BacktestResult:
    events: list[RuleTransition]
    stations: dict[str, StationBacktest]
    values: int  # values the engine evaluated (history included)


def backtest_config(base: AnalyticsConfig, rule: RuleConfig) -> AnalyticsConfig:
    """The live configuration reduced to ``rule`` and what it needs."""
    return base.model_copy(
        update={
            "rules": [rule],
            "anomaly": base.anomaly.model_copy(update={"enabled": False}),
            "aqi": base.aqi.model_copy(update={"enabled": rule.parameter in AQI_PARAMETERS}),
            "fire": base.fire.model_copy(update={"enabled": rule.parameter in FIRE_PARAMETERS}),
            "abstraction": base.abstraction.model_copy(
                update={"enabled": rule.parameter == VOLUME_PARAMETER}
            ),
        }
    )


def detector_backtest_config(base: AnalyticsConfig, anomaly: AnomalyConfig) -> AnalyticsConfig:
    """The live configuration with no limit rule and ``anomaly`` (an anomaly rule's settings
    to try) in force: the anomaly checks alone."""
    off = {"enabled": False}
    return base.model_copy(
        update={
            "rules": [],
            "anomaly": anomaly.model_copy(update={"enabled": True}),
            "aqi": base.aqi.model_copy(update=off),
            "fire": base.fire.model_copy(update=off),
            "abstraction": base.abstraction.model_copy(update=off),
        }
    )


def detector_lookback_ms(rule_id: str, anomaly: AnomalyConfig) -> int:
    """History an anomaly rule needs before the period: a day of samples for the event kinds
    (their robust level), the past days of the same hour (seasonal), two reference windows
    (drift)."""
    if rule_id == "anomaly.seasonal":
        return (anomaly.seasonal_days + 1) * DAY_MS
    if rule_id == "anomaly.drift":
        return max(2 * anomaly.drift_window_hours * HOUR_MS, 2 * DAY_MS)
    return DAY_MS


def input_parameters(config: AnalyticsConfig, rule: RuleConfig) -> list[str]:
    """Stored parameters the rule depends on."""
    if rule.parameter in AQI_PARAMETERS:
        return list(POLLUTANTS)
    if rule.parameter in FIRE_PARAMETERS:
        f = config.fire
        return [f.temperature, f.humidity, f.wind, f.rain]
    if rule.parameter == VOLUME_PARAMETER:
        return [config.abstraction.counter]
    return [rule.parameter]


def lookback_ms(rule: RuleConfig) -> int:
    """History needed before the period: the window, the NowCast and day, fire build-up, or
    the day of a daily volume."""
    if rule.parameter in FIRE_PARAMETERS:
        return 30 * DAY_MS
    extra = (
        36 if rule.parameter in AQI_PARAMETERS else 24 if rule.parameter == VOLUME_PARAMETER else 0
    )
    return (rule.hours + extra) * HOUR_MS


def selected_stations(
    rule: RuleConfig, registry: StationRegistry, config: AnalyticsConfig, only: Sequence[str]
) -> tuple[list[str], list[tuple[str, str]]]:
    """(station ids to run, problems as (field, message)): the stations the rule selects that
    measure its inputs."""
    problems = [("stations", f"unknown station {s!r}") for s in only if registry.get(s) is None]
    if rule.parameter not in DERIVED_PARAMETERS and rule.parameter not in registry.parameters():
        known = ", ".join([*sorted(registry.parameters()), *DERIVED_PARAMETERS])
        problems.append(("rule.parameter", f"unknown parameter {rule.parameter!r} ({known})"))
    needed = input_parameters(config, rule)
    chosen = [
        s.id
        for s in registry
        if applies(rule, s)
        and (not only or s.id in only)
        and any(p in s.parameters for p in needed)
    ]
    if not chosen and not problems:
        problems.append(("rule", f"no selected station measures {rule.parameter!r}"))
    return chosen, problems


def history_query(parameters: Sequence[str], stations: Sequence[str], start: int, end: int) -> str:
    """InfluxQL for the values (and instrument status) of ``parameters``, by station."""
    fields = ", ".join(f'"{p}", "{p}_status", "{p}_status_missing"' for p in parameters)
    where = " OR ".join(f"\"station\" = '{s}'" for s in stations)
    return (
        f'SELECT {fields} FROM "reading" WHERE time >= {start}ms AND time < {end}ms '
        f'AND ({where}) GROUP BY "station"'
    )


def points_from_rows(
    rows: Iterable[dict[str, Any]], table: SeriesTable, parameters: Sequence[str]
) -> Points:
    """Rows of :func:`history_query` as points; values with an instrument status are left out,
    those stored flagged ``status_missing`` keep the flag."""
    series: list[int] = []
    times: list[int] = []
    values: list[float] = []
    no_status: list[bool] = []
    for row in rows:
        station = row.get("tags", {}).get("station")
        if station not in table.lookup:
            continue
        for p in parameters:
            value = row.get(p)
            if isinstance(value, int | float) and row.get(f"{p}_status") is None:
                series.append(table.add(station, p))
                times.append(int(row["time"]))
                values.append(float(value))
                no_status.append(row.get(f"{p}_status_missing") is True)
    n = len(series)
    return Points.build(
        np.array(series, dtype=np.int64),
        np.array(times, dtype=np.int64),
        np.array(values, dtype=np.float64),
        np.zeros(n, dtype=bool),
        np.array(no_status, dtype=bool),
    )


def run_backtest(
    engine: AnalyticsEngine,
    points: Points,
    start_ms: int,
    end_ms: int,
    flap_window_s: float,
    rule_id: str | None = None,
) -> BacktestResult:
    """Feed ``points`` (built on ``engine.table``) to the engine a day at a time; report the
    transitions of ``[start_ms, end_ms)`` (``rule_id``'s only, if given) and, per station, the
    alerts started in it."""
    events: list[RuleTransition] = []
    for day in points.by_period(DAY_MS):
        found = engine.evaluate_points(day).transitions
        events += found if rule_id is None else [t for t in found if t.rule_id == rule_id]
    stations = {
        station: _station_summary(
            [e for e in events if e.station_id == station], start_ms, end_ms, flap_window_s
        )
        for station in sorted({e.station_id for e in events})
    }
    inside = sorted(
        (e for e in events if start_ms <= e.ts_ms < end_ms), key=lambda e: (e.ts_ms, e.station_id)
    )
    return BacktestResult(inside, stations, len(points))


def _station_summary(
    events: list[RuleTransition], start_ms: int, end_ms: int, flap_window_s: float
) -> StationBacktest:
    """Alerts, flaps and firing time in the period from one station's events (time order)."""
    alerts = flaps = firing_ms = 0
    since: int | None = None  # firing since
    cleared: int | None = None
    for e in events:
        if e.ts_ms >= end_ms:
            break
        if e.firing and since is None:
            if e.ts_ms >= start_ms:
                alerts += 1
                flaps += cleared is not None and e.ts_ms - cleared <= flap_window_s * 1000
            since = e.ts_ms
        elif not e.firing and since is not None:
            firing_ms += max(0, e.ts_ms - max(since, start_ms))
            since, cleared = None, e.ts_ms
    if since is not None:
        firing_ms += end_ms - max(since, start_ms)
    return StationBacktest(alerts, flaps, firing_ms / 1000)
