"""The daily provincial report: per station and local day (Asia/Ho_Chi_Minh), the daily
VN_AQI and the hour of the worst hourly AQI, the exceedances per parameter, the forest-fire
danger of the day, and the camera incidents of the day.

Where the numbers come from (nothing is recomputed here; the report reads what the analytics
stored and what the alert book holds):

* **daily VN_AQI**: InfluxDB measurement ``aqi``, ``period = 'day'``, the point stamped at the
  day's local midnight (analytics/air_quality.py; ``complete`` once the day's last hour closed);
* **worst hour**: the highest ``aqi`` of ``period = 'hour'`` points of the day, each stamped
  at the end of its hour (hour-ending convention: the day's hours end from 01:00 to 24:00);
* **fire danger**: measurement ``fire_danger`` stamped at the day's local midnight
  (analytics/forest_fire.py): Nesterov level 1..5, the index and FWI;
* **exceedances**: alerts of limit rules overlapping the day, as the monthly report counts
  them (web/monthly_report.py :func:`exceedances`);
* **camera incidents**: alerts of the built-in camera rules (``camera.*``, ``traffic.*``)
  opened during the day, whatever their station (a camera's id).

The day 2026-11-30 is 2026-11-29T17:00Z to 2026-11-30T17:00Z.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import Field

from alerts.lifecycle import AlertBook
from analytics.aqi import BANDS
from analytics.cameras.config import CameraConfig
from analytics.detector_rules import DETECTOR_RULES
from analytics.fire_danger import NESTEROV_LABELS_EN, NESTEROV_LABELS_VI
from ioc.clock import LOCAL_TZ, iso_utc
from ioc.config import RuleConfig
from ioc.messages import Alert
from ioc.registry import StationRegistry
from web.api import Answer
from web.completeness import DAY_MS, Store, day_of, day_start_ms
from web.fields import UtcTime
from web.monthly_report import (
    LOOKBACK_DAYS,
    MAX_ALERTS,
    TIME_ZONE_NAME,
    ParameterExceedances,
    by_parameter,
    exceedances,
    owner_name,
)

DAY_PATTERN = r"^(19[7-9]\d|2[01]\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
HOUR_MS = 3_600_000


class StationDay(Answer):
    id: str
    name: str
    kind: str
    owner: str
    owner_name: str
    aqi: float | None = Field(description="Daily VN_AQI (null: not computed for the station).")
    aqi_band: int = Field(description="0..5 (VN_AQI bands), -1 without an AQI.")
    aqi_label_vi: str | None
    aqi_label_en: str | None
    aqi_color: str | None = Field(description="#rrggbb of the band.")
    aqi_complete: bool | None = Field(description="The day's last hour was closed.")
    worst_hour_aqi: float | None = Field(description="The highest hourly VN_AQI of the day.")
    worst_hour: UtcTime | None = Field(description="End of that hour (the first if tied).")
    hours_with_aqi: int = Field(description="Hours of the day with an hourly AQI.")
    exceedances: dict[str, int] = Field(description="Exceedances per parameter.")
    exceedance_count: int
    fire_level: int | None = Field(description="Nesterov fire-danger level 1..5.")
    fire_label_vi: str | None
    fire_label_en: str | None
    nesterov: float | None
    fwi: float | None
    fire_complete: bool | None


class CameraIncident(Answer):
    alert_id: str
    camera_id: str
    camera_name: str
    rule_id: str
    rule_name_vi: str
    rule_name_en: str
    severity: str
    state: str
    start: UtcTime
    end: UtcTime | None = Field(description="When it cleared; null: still going on.")
    peak: float | None


class DailyReport(Answer):
    day: str = Field(json_schema_extra={"format": "date"}, description="The local day.")
    timezone: str
    generated_at: UtcTime
    start: UtcTime = Field(description="Local midnight starting the day, in UTC.")
    end: UtcTime = Field(description="Exclusive: the next local midnight.")
    partial: bool = Field(description="The day is not over yet.")
    stations: list[StationDay]
    exceedances: list[ParameterExceedances]
    camera_incidents: list[CameraIncident] = Field(description="Oldest first.")


def yesterday(now_ms: int) -> str:
    """The local day before ``now_ms``'s, YYYY-MM-DD."""
    today = datetime.fromtimestamp(now_ms / 1000, LOCAL_TZ).date()
    return (today - timedelta(days=1)).isoformat()


def day_bounds(day: str) -> tuple[int, int]:
    """UTC epoch ms of the local day's start and (exclusive) end."""
    start = day_start_ms(day_of(date.fromisoformat(day)))
    return start, start + DAY_MS


def day_queries(start_ms: int, end_ms: int) -> tuple[str, str, str]:
    """InfluxQL of the daily AQI, the hourly AQI and the fire danger of a day."""
    return (
        f'SELECT "aqi","band","complete" FROM "aqi" WHERE "period" = \'day\' '
        f'AND time = {start_ms}ms GROUP BY "station"',
        f'SELECT "aqi" FROM "aqi" WHERE "period" = \'hour\' '
        f'AND time > {start_ms}ms AND time <= {end_ms}ms GROUP BY "station"',
        f'SELECT "level","nesterov","fwi","complete" FROM "fire_danger" '
        f'WHERE time = {start_ms}ms GROUP BY "station"',
    )


async def build_daily_report(
    *,
    day: str,
    registry: StationRegistry,
    store: Store,
    alerts: AlertBook,
    rules: Mapping[str, RuleConfig],
    cameras: Sequence[CameraConfig],
    now_ms: int,
) -> DailyReport:
    """The report of ``day`` (YYYY-MM-DD). Raises ioc.errors.StoreError when InfluxDB fails."""
    start, end = day_bounds(day)
    daily, hourly, fire = await asyncio.gather(*(store.query(q) for q in day_queries(start, end)))
    fired = [
        a
        for s in registry
        for a in alerts.query(
            station_id=s.id, since_ms=start - LOOKBACK_DAYS * DAY_MS, until_ms=end, limit=MAX_ALERTS
        )
    ]
    camera_alerts = [
        a
        for a in alerts.query(since_ms=start, until_ms=end, limit=MAX_ALERTS)
        if is_camera_rule(a.rule_id)
    ]
    return compose_daily_report(
        day=day,
        registry=registry,
        aqi_days=daily,
        aqi_hours=hourly,
        fire_days=fire,
        limit_alerts=fired,
        camera_alerts=camera_alerts,
        rules=rules,
        cameras=cameras,
        now_ms=now_ms,
    )


def is_camera_rule(rule_id: str) -> bool:
    rule = DETECTOR_RULES.get(rule_id)
    return rule is not None and rule.family == "camera"


def compose_daily_report(
    *,
    day: str,
    registry: StationRegistry,
    aqi_days: Iterable[Mapping[str, Any]],
    aqi_hours: Iterable[Mapping[str, Any]],
    fire_days: Iterable[Mapping[str, Any]],
    limit_alerts: Iterable[Alert],
    camera_alerts: Iterable[Alert],
    rules: Mapping[str, RuleConfig],
    cameras: Sequence[CameraConfig],
    now_ms: int,
) -> DailyReport:
    """The report from the rows InfluxDB answered (each with ``tags.station``) and the
    alerts: pure, so it is tested without a database."""
    start, end = day_bounds(day)
    day_aqi = {_station(r): r for r in aqi_days}
    fire = {_station(r): r for r in fire_days}
    worst: dict[str, tuple[float, int]] = {}
    hours: dict[str, int] = {}
    for row in sorted(aqi_hours, key=lambda r: int(r["time"])):
        value, sid = _number(row.get("aqi")), _station(row)
        if value is None or not start < int(row["time"]) <= end:
            continue
        hours[sid] = hours.get(sid, 0) + 1
        if sid not in worst or value > worst[sid][0]:
            worst[sid] = (value, int(row["time"]))
    events = exceedances(limit_alerts, rules, registry, start, end, now_ms)
    counted: dict[str, dict[str, int]] = {}
    for event in events:
        per = counted.setdefault(event.station_id, {})
        per[event.parameter] = per.get(event.parameter, 0) + 1
    names = registry.enterprises
    stations = []
    for station in sorted(registry, key=lambda s: s.id):
        aqi_row, fire_row = day_aqi.get(station.id, {}), fire.get(station.id, {})
        aqi = _number(aqi_row.get("aqi"))
        band = _band(aqi)
        level = _level(fire_row.get("level"))
        top = worst.get(station.id)
        mine = counted.get(station.id, {})
        stations.append(
            StationDay(
                id=station.id,
                name=station.name,
                kind=station.kind,
                owner=station.owner,
                owner_name=owner_name(station.owner, names),
                aqi=aqi,
                aqi_band=band,
                aqi_label_vi=BANDS[band].label_vi if band >= 0 else None,
                aqi_label_en=BANDS[band].label_en if band >= 0 else None,
                aqi_color=color(band),
                aqi_complete=_flag(aqi_row.get("complete")) if aqi_row else None,
                worst_hour_aqi=top[0] if top else None,
                worst_hour=iso_utc(top[1]) if top else None,
                hours_with_aqi=hours.get(station.id, 0),
                exceedances=dict(sorted(mine.items())),
                exceedance_count=sum(mine.values()),
                fire_level=level,
                fire_label_vi=NESTEROV_LABELS_VI[level - 1] if level else None,
                fire_label_en=NESTEROV_LABELS_EN[level - 1] if level else None,
                nesterov=_number(fire_row.get("nesterov")),
                fwi=_number(fire_row.get("fwi")),
                fire_complete=_flag(fire_row.get("complete")) if fire_row else None,
            )
        )
    return DailyReport.model_validate(
        {
            "day": day,
            "timezone": TIME_ZONE_NAME,
            "generated_at": iso_utc(now_ms),
            "start": iso_utc(start),
            "end": iso_utc(end),
            "partial": now_ms < end,
            "stations": stations,
            "exceedances": by_parameter(events, registry),
            "camera_incidents": camera_incidents(camera_alerts, cameras, start, end),
        }
    )


def camera_incidents(
    alerts: Iterable[Alert], cameras: Sequence[CameraConfig], start_ms: int, end_ms: int
) -> list[CameraIncident]:
    """Alerts of camera rules opened in [start_ms, end_ms), oldest first."""
    names = {c.id: c.name for c in cameras}
    out = []
    for alert in sorted(alerts, key=lambda a: (a.opened_ms, int(a.id))):
        rule = DETECTOR_RULES.get(alert.rule_id)
        if rule is None or rule.family != "camera" or not start_ms <= alert.opened_ms < end_ms:
            continue
        over = alert.resolved_ms if alert.resolved_ms is not None else alert.closed_ms
        out.append(
            CameraIncident(
                alert_id=alert.id,
                camera_id=alert.station_id,
                camera_name=names.get(alert.station_id, alert.station_id),
                rule_id=alert.rule_id,
                rule_name_vi=rule.name_vi,
                rule_name_en=rule.name_en,
                severity=alert.severity.value,
                state=alert.state.value,
                start=iso_utc(alert.opened_ms) or "",
                end=iso_utc(over),
                peak=alert.peak if alert.peak is not None else alert.value,
            )
        )
    return out


def color(band: int) -> str | None:
    return "#{:02x}{:02x}{:02x}".format(*BANDS[band].rgb) if band >= 0 else None


def _band(aqi: float | None) -> int:
    if aqi is None or aqi < 0:
        return -1
    return next((i for i, b in enumerate(BANDS) if aqi <= b.high), len(BANDS) - 1)


def _station(row: Mapping[str, Any]) -> str:
    return str((row.get("tags") or {}).get("station", ""))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return round(float(value), 2)


def _level(value: object) -> int | None:
    number = _number(value)
    return int(number) if number is not None and 1 <= number <= 5 else None


def _flag(value: object) -> bool:
    return value is True or value == 1
