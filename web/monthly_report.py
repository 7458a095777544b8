"""The regulator's monthly report of an enterprise or of the province: data completeness per
station and local day (web/completeness.py, counted from InfluxDB), the data gaps, and the
exceedances of limit rules from the alert book.

An **exceedance** is an alert of a configured limit rule (anomaly and camera alerts are not)
at one of the report's stations whose time overlaps the month: opened before the month's end
and not over before its start. Its start is the alert's opening (data time), its end when the
condition cleared (``resolved_ms``) or, failing that, when an operator closed it; an alert
without either is ``ongoing`` and lasts until the report was made. ``peak`` is the worst value
while it fired (highest above a limit, lowest below one). Alerts opened up to
:data:`LOOKBACK_DAYS` before the month are considered, so a long exceedance that began in the
previous month is reported too.

The month is a local month (Asia/Ho_Chi_Minh): 2026-11 is 2026-10-31T17:00Z to 2026-11-30T17:00Z.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Literal

from pydantic import Field

from alerts.lifecycle import AlertBook
from ioc.clock import iso_utc
from ioc.config import RuleConfig
from ioc.messages import Alert
from ioc.registry import STATE_OWNER, Station, StationRegistry
from web.api import Answer
from web.completeness import (
    DAY_MS,
    Counts,
    StationCompleteness,
    Store,
    day_label,
    day_of,
    day_start_ms,
    station_completeness,
)
from web.fields import UtcTime

TIME_ZONE_NAME = "Asia/Ho_Chi_Minh"
MONTH_PATTERN = r"^(19[7-9]\d|2[01]\d\d)-(0[1-9]|1[0-2])$"  # 1970-01 .. 2199-12
MAX_GAPS = 200  # per station in an answer; gap_count says how many there were
MAX_ALERTS = 10_000  # per station and month
LOOKBACK_DAYS = 31
STATE_NAME = "State stations"


class CountsAnswer(Answer):
    expected: int = Field(description="Reporting intervals due (so far, in the current month).")
    received: int = Field(description="Distinct record times stored.")
    valid: int = Field(description="Records with every value measuring (status 00).")
    calibrating: int = Field(description="Records with a value calibrating (01), none in error.")
    device_error: int = Field(description="Records with a value in device error (02).")
    missing: int = Field(description="Intervals due without any record.")
    surplus: int = Field(description="Records beyond one per interval that has any.")
    ratio: float | None = Field(description="received / expected, at most 1; null: none due.")
    valid_ratio: float | None = Field(description="valid / expected, at most 1.")
    over_frequent: bool = Field(description="The station sends more often than registered.")

    @classmethod
    def of_counts(cls, counts: Counts, **fields: object) -> dict[str, object]:
        """The fields of ``counts`` (for this model or one extending it)."""
        names = ("expected", "received", "valid", "calibrating", "device_error", "missing")
        derived = ("surplus", "ratio", "valid_ratio", "over_frequent")
        return {n: getattr(counts, n) for n in (*names, *derived)} | fields


class DayAnswer(CountsAnswer):
    day: str = Field(json_schema_extra={"format": "date"})
    partial: bool = Field(description="Today: not over yet.")


class GapAnswer(Answer):
    start: UtcTime
    end: UtcTime = Field(description="Exclusive: the first interval with data again.")
    intervals: int


class StationReport(CountsAnswer):
    id: str
    name: str
    kind: str
    owner: str
    owner_name: str
    interval_s: float
    days: list[DayAnswer]
    gaps: list[GapAnswer] = Field(description=f"Oldest first, at most {MAX_GAPS}.")
    gap_count: int = Field(description="Every gap of the month.")


class OwnerSummary(CountsAnswer):
    id: str = Field(description="The enterprise, or `state` for the state's stations.")
    name: str
    stations: int
    exceedances: int


class ExceedanceEvent(Answer):
    alert_id: str
    station_id: str
    station_name: str
    rule_id: str
    rule_name: str
    parameter: str
    severity: str
    start: UtcTime
    end: UtcTime | None = Field(description="null: still going on.")
    ongoing: bool
    duration_s: int = Field(description="Until the end, or until the report was made.")
    peak: float | None = Field(description="Worst value while it fired.")
    limit: float


class ParameterExceedances(Answer):
    parameter: str
    label_vi: str
    label_en: str
    unit: str
    count: int
    duration_s: int = Field(description="Sum of the events' durations.")
    events: list[ExceedanceEvent] = Field(description="Oldest first.")


class MonthlyReport(Answer):
    month: str = Field(description="YYYY-MM, a local month (Asia/Ho_Chi_Minh).")
    scope: Literal["province", "enterprise"]
    enterprise: str | None
    enterprise_name: str | None
    timezone: str
    generated_at: UtcTime
    start: UtcTime = Field(description="Local midnight of the month's first day, in UTC.")
    end: UtcTime = Field(description="Exclusive: local midnight after its last day.")
    partial: bool = Field(description="The month is not over yet.")
    total: CountsAnswer
    owners: list[OwnerSummary]
    stations: list[StationReport]
    exceedances: list[ParameterExceedances]


def month_days(month: str) -> tuple[int, int]:
    """First and last local day (days since 1970-01-01) of ``YYYY-MM``."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    after = date(year + number // 12, number % 12 + 1, 1)
    return day_of(first), day_of(after) - 1


async def build_report(
    *,
    month: str,
    enterprise: str | None,
    registry: StationRegistry,
    store: Store,
    alerts: AlertBook,
    rules: Mapping[str, RuleConfig],
    now_ms: int,
) -> MonthlyReport:
    """The report of ``enterprise``'s stations, or of every station (None: the province).
    Raises ioc.errors.StoreError when InfluxDB fails."""
    stations = [s for s in registry if enterprise is None or s.owner == enterprise]
    first, last = month_days(month)
    start, end = day_start_ms(first), day_start_ms(last + 1)
    counted = await station_completeness(store, stations, first, last, now_ms)
    fired = [
        a
        for s in stations
        for a in alerts.query(
            station_id=s.id,
            since_ms=start - LOOKBACK_DAYS * DAY_MS,
            until_ms=end,
            limit=MAX_ALERTS,
        )
    ]
    events = exceedances(fired, rules, registry, start, end, now_ms)
    names = registry.enterprises
    station_rows = [station_report(s, c, names) for s, c in zip(stations, counted, strict=True)]
    total = Counts()
    for c in counted:
        total.add(c.total)
    return MonthlyReport.model_validate(
        {
            "month": month,
            "scope": "province" if enterprise is None else "enterprise",
            "enterprise": enterprise,
            "enterprise_name": names.get(enterprise, enterprise) if enterprise else None,
            "timezone": TIME_ZONE_NAME,
            "generated_at": iso_utc(now_ms),
            "start": iso_utc(start),
            "end": iso_utc(end),
            "partial": start <= now_ms < end,
            "total": CountsAnswer.of_counts(total),
            "owners": owner_summaries(stations, counted, events, names),
            "stations": station_rows,
            "exceedances": by_parameter(events, registry),
        }
    )


def station_report(
    station: Station, counted: StationCompleteness, names: Mapping[str, str]
) -> dict[str, object]:
    return CountsAnswer.of_counts(
        counted.total,
        id=station.id,
        name=station.name,
        kind=station.kind,
        owner=station.owner,
        owner_name=owner_name(station.owner, names),
        interval_s=station.interval_s,
        days=[
            CountsAnswer.of_counts(d.counts, day=day_label(d.day), partial=d.partial)
            for d in counted.days
        ],
        gaps=[
            {"start": iso_utc(g.start_ms), "end": iso_utc(g.end_ms), "intervals": g.intervals}
            for g in counted.gaps[:MAX_GAPS]
        ],
        gap_count=len(counted.gaps),
    )


def owner_name(owner: str, names: Mapping[str, str]) -> str:
    return STATE_NAME if owner == STATE_OWNER else names.get(owner, owner)


def owner_summaries(
    stations: Sequence[Station],
    counted: Sequence[StationCompleteness],
    events: Sequence[ExceedanceEvent],
    names: Mapping[str, str],
) -> list[dict[str, object]]:
    """Per owner (enterprise, or the state), its stations' totals and exceedances."""
    owners: dict[str, tuple[Counts, list[str]]] = {}
    for station, c in zip(stations, counted, strict=True):
        counts, ids = owners.setdefault(station.owner, (Counts(), []))
        counts.add(c.total)
        ids.append(station.id)
    return [
        CountsAnswer.of_counts(
            counts,
            id=owner,
            name=owner_name(owner, names),
            stations=len(ids),
            exceedances=sum(1 for e in events if e.station_id in ids),
        )
        for owner, (counts, ids) in sorted(owners.items())
    ]


def exceedances(
    alerts: Iterable[Alert],
    rules: Mapping[str, RuleConfig],
    registry: StationRegistry,
    start_ms: int,
    end_ms: int,
    now_ms: int,
) -> list[ExceedanceEvent]:
    """The alerts of limit rules that overlap [start_ms, end_ms), oldest first."""
    events = []
    for alert in sorted(alerts, key=lambda a: (a.opened_ms, int(a.id))):
        rule = rules.get(alert.rule_id)
        over = alert.resolved_ms if alert.resolved_ms is not None else alert.closed_ms
        if rule is None or alert.opened_ms >= end_ms or (over is not None and over <= start_ms):
            continue
        station = registry.get(alert.station_id)
        events.append(
            ExceedanceEvent(
                alert_id=alert.id,
                station_id=alert.station_id,
                station_name=station.name if station else alert.station_id,
                rule_id=alert.rule_id,
                rule_name=rule.name,
                parameter=alert.parameter,
                severity=alert.severity.value,
                start=iso_utc(alert.opened_ms) or "",
                end=iso_utc(over),
                ongoing=over is None,
                duration_s=max((over if over is not None else now_ms) - alert.opened_ms, 0) // 1000,
                peak=alert.peak if alert.peak is not None else alert.value,
                limit=alert.limit,
            )
        )
    return events


def by_parameter(
    events: Sequence[ExceedanceEvent], registry: StationRegistry
) -> list[dict[str, object]]:
    """Events grouped by the parameter of their rule, parameters in alphabetical order."""
    parameters = registry.parameters()
    groups: dict[str, list[ExceedanceEvent]] = {}
    for event in events:
        groups.setdefault(event.parameter, []).append(event)
    answer = []
    for key, group in sorted(groups.items()):
        spec = parameters.get(key)
        answer.append(
            {
                "parameter": key,
                "label_vi": spec.label_vi if spec else key,
                "label_en": spec.label_en if spec else key,
                "unit": spec.unit_display if spec else "",
                "count": len(group),
                "duration_s": sum(e.duration_s for e in group),
                "events": group,
            }
        )
    return answer
