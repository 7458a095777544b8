"""The station page (web/static/station.html) and its data::

    GET /stations/{id}                          the page (the wall's people)
    GET /api/v1/stations/{id}/history?start=&end=   series, limits and AQI of a time range
    GET /api/v1/stations/{id}/export?start=&end=&lang=  the range's readings as CSV

A range is at most :data:`MAX_RANGE_DAYS` days (default: the last 24 hours). ``history``
answers each parameter's mean per step (the step grows with the range so that a chart has at
most :data:`MAX_POINTS` points; steps of an hour and more are aligned on local midnight), the
limit lines of the rules that apply to the station (QCVN limits: analytics/config.py, a
station's licence for licence rules), and the station's hourly and daily VN_AQI as the
analytics stored them (measurement ``aqi``) with the VN_AQI bands. The alert history comes
from ``GET /api/v1/alerts?station=``.

``export`` answers the stored readings (every value and its instrument status), local times,
at most :data:`MAX_EXPORT_ROWS` rows (a 400 asks for a shorter range above that). Both are
``own_data``: an enterprise user only its own stations (403 otherwise, audited).
"""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import Field

from analytics.aqi import BANDS
from analytics.limits import applies, licence_limit
from ioc import appkeys
from ioc.clock import LOCAL_TZ, iso_utc, now_ms
from ioc.config import RuleConfig
from ioc.registry import Station
from web.access import check_station
from web.api import Answer, ApiRoutes, Problem, Query, error_answer, invalid
from web.completeness import LOCAL_OFFSET_MS, day_start_ms, local_day
from web.daily_report import color
from web.fields import IsoTime, UtcTime
from web.report_files import CSV_MEDIA, LOCAL_TIME_FORMAT, text_safe
from web.routes import STATIC_DIR
from web.store_query import query_store

api = ApiRoutes()
STATION_PAGE = STATIC_DIR / "station.html"
MAX_RANGE_DAYS = 31
DEFAULT_RANGE_MS = 86_400_000
MAX_POINTS = 1_500
MAX_EXPORT_ROWS = 100_000
#: Chart steps, seconds: the smallest giving at most MAX_POINTS points is used.
STEPS_S = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86_400)


class RangeQuery(Query):
    start: IsoTime | None = Field(None, description="Default: 24 hours before `end`.")
    end: IsoTime | None = Field(None, description="Exclusive; default now.")


class ExportQuery(RangeQuery):
    lang: Literal["vi", "en"] = Field("vi", description="Headings of the CSV.")


class LimitLine(Answer):
    rule_id: str
    rule_name: str
    window: str = Field(description="instant, 1h, 8h or 24h: the limit holds for this mean.")
    value: float
    direction: Literal["above", "below"] = Field(description="Exceeded above or below it.")
    severity: str


class ParameterSeries(Answer):
    key: str
    label_vi: str
    label_en: str
    unit: str
    values: list[float | None] = Field(description="Mean per step, one per `times` entry.")
    limits: list[LimitLine]


class AqiPoint(Answer):
    time: UtcTime = Field(description="Hourly: end of the hour; daily: local midnight.")
    aqi: float
    band: int
    color: str | None


class AqiDay(AqiPoint):
    date: str = Field(json_schema_extra={"format": "date"})
    complete: bool


class AqiBandAnswer(Answer):
    low: int
    high: int
    label_vi: str
    label_en: str
    color: str


class StationHistory(Answer):
    id: str
    name: str
    kind: str
    owner: str
    interval_s: float = Field(description="The station's reporting interval.")
    start: UtcTime
    end: UtcTime
    step_s: int = Field(description="Each value is the mean of this many seconds from its time.")
    times: list[UtcTime] = Field(description="Start of each step.")
    parameters: list[ParameterSeries]
    aqi_hourly: list[AqiPoint]
    aqi_daily: list[AqiDay]
    aqi_bands: list[AqiBandAnswer]


P = TypeVar("P", bound=AqiPoint)


def add_station_page_routes(app: web.Application) -> None:
    api.add_to(app)
    app.router.add_get("/stations/{id}", station_page)


async def station_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATION_PAGE)


def _station(request: web.Request, station_id: str) -> Station:
    station = request.app[appkeys.REGISTRY].get(station_id)
    if station is None:
        check_station(request, station_id)  # an enterprise user: 403 as for others' stations
        raise error_answer(web.HTTPNotFound, f"unknown station {station_id!r}")
    check_station(request, station_id)
    return station


def time_range(query: RangeQuery, now: int) -> tuple[int, int]:
    """[start, end) of the query; a 400 naming the field when it is not a usable range."""
    end = query.end if query.end is not None else now
    start = query.start if query.start is not None else end - DEFAULT_RANGE_MS
    if start >= end:
        raise invalid([Problem(field="start", message="must be before `end`")])
    if end - start > MAX_RANGE_DAYS * 86_400_000:
        raise invalid([Problem(field="end", message=f"at most {MAX_RANGE_DAYS} days after start")])
    return start, end


def chart_step_s(start_ms: int, end_ms: int) -> int:
    span_s = (end_ms - start_ms) / 1000
    return next((s for s in STEPS_S if span_s / s <= MAX_POINTS), STEPS_S[-1])


def step_offset_s(step_s: int) -> int:
    """GROUP BY time offset putting a step's boundaries on local midnight (hours and more)."""
    if step_s < 3600:
        return 0
    return int(-LOCAL_OFFSET_MS // 1000 % step_s)


def limit_lines(rules: list[RuleConfig], station: Station, parameter: str) -> list[LimitLine]:
    """The limits of the rules of ``parameter`` at ``station`` (less those another replaces)."""
    taking = [r for r in rules if r.parameter == parameter and applies(r, station)]
    replaced = {r.replaces for r in taking}
    lines = []
    for rule in taking:
        if rule.id in replaced:
            continue
        common = {"rule_id": rule.id, "rule_name": rule.name, "window": rule.window}
        if rule.above_licence is not None:
            limit = licence_limit(rule, station)
            if limit is not None:
                lines.append(
                    LimitLine(
                        **common, value=limit, direction="above", severity=rule.severity.value
                    )
                )
        elif rule.is_range:
            assert rule.above is not None and rule.below is not None
            for value, direction in ((rule.above, "above"), (rule.below, "below")):
                lines.append(
                    LimitLine(
                        **common,
                        value=value,
                        direction=direction,
                        severity=rule.severity.value,
                    )
                )
        else:
            for level in rule.levels:
                lines.append(
                    LimitLine(
                        **common,
                        value=level.value,
                        direction=rule.direction,
                        severity=level.severity.value,
                    )
                )
    return lines


@api.get("/api/v1/stations/{id}/history", tag="stations", errors=(403, 404, 503))
async def station_history(request: web.Request, id: str, query: RangeQuery) -> StationHistory:
    """A station's series, limits and VN_AQI over a time range

    Each parameter's mean per step (at most 1500 steps; a range of at most 31 days), the
    limit lines of the rules that apply to the station, and its hourly and daily VN_AQI."""
    station = _station(request, id)
    start, end = time_range(query, now_ms())
    step = chart_step_s(start, end)
    keys = list(station.parameters)
    times: list[str] = []
    columns: dict[str, list[float | None]] = {k: [] for k in keys}
    if keys:
        means = ",".join(f'mean("{k}") AS "{k}"' for k in keys)
        rows = await query_store(
            request,
            f'SELECT {means} FROM "reading" WHERE "station" = \'{station.id}\' '
            f"AND time >= {start}ms AND time < {end}ms "
            f"GROUP BY time({step}s, {step_offset_s(step)}s) fill(null)",
        )
        for row in rows:
            times.append(iso_utc(int(row["time"])) or "")
            for k in keys:
                columns[k].append(_number(row.get(k)))
    hourly = await query_store(
        request,
        f'SELECT "aqi","band" FROM "aqi" WHERE "station" = \'{station.id}\' '
        f"AND \"period\" = 'hour' AND time > {start}ms AND time <= {end}ms",
    )
    first_day = day_start_ms(local_day(start))
    daily = await query_store(
        request,
        f'SELECT "aqi","band","complete" FROM "aqi" WHERE "station" = \'{station.id}\' '
        f"AND \"period\" = 'day' AND time >= {first_day}ms AND time < {end}ms",
    )
    rules = list(request.app[appkeys.RULES].values())
    return StationHistory(
        id=station.id,
        name=station.name,
        kind=station.kind,
        owner=station.owner,
        interval_s=station.interval_s,
        start=iso_utc(start) or "",
        end=iso_utc(end) or "",
        step_s=step,
        times=times,
        parameters=[
            ParameterSeries(
                key=k,
                label_vi=spec.label_vi or k,
                label_en=spec.label_en or k,
                unit=spec.unit_display,
                values=columns[k],
                limits=limit_lines(rules, station, k),
            )
            for k, spec in station.parameters.items()
        ],
        aqi_hourly=[p for r in hourly if (p := _aqi_point(r, AqiPoint)) is not None],
        aqi_daily=[p for r in daily if (p := _aqi_point(r, AqiDay)) is not None],
        aqi_bands=[
            AqiBandAnswer(
                low=b.low,
                high=b.high,
                label_vi=b.label_vi,
                label_en=b.label_en,
                color=color(i) or "",
            )
            for i, b in enumerate(BANDS)
        ],
    )


def _aqi_point(row: dict[str, Any], kind: type[P]) -> P | None:
    aqi, band = _number(row.get("aqi")), _number(row.get("band"))
    if aqi is None:
        return None
    band_number = int(band) if band is not None and 0 <= band < len(BANDS) else -1
    ts = int(row["time"])
    extra: dict[str, Any] = {}
    if kind is AqiDay:
        local = datetime.fromtimestamp(ts / 1000, LOCAL_TZ).date().isoformat()
        extra = {"date": local, "complete": row.get("complete") in (True, 1)}
    return kind.model_validate(
        {"time": iso_utc(ts), "aqi": aqi, "band": band_number, "color": color(band_number)} | extra
    )


EXPORT_HEADINGS = {
    "vi": {"time": "Thời gian (giờ Việt Nam)", "status": "trạng thái"},
    "en": {"time": "Time (Vietnam time)", "status": "status"},
}


@api.get(
    "/api/v1/stations/{id}/export",
    tag="stations",
    errors=(403, 404, 503),
    answer_media={CSV_MEDIA: {"type": "string", "contentMediaType": CSV_MEDIA}},
)
async def station_export(request: web.Request, id: str, query: ExportQuery) -> web.StreamResponse:
    """A station's readings over a time range, as CSV

    Every stored reading of the range (at most 31 days and 100000 readings): local time
    (Asia/Ho_Chi_Minh), each parameter's value and its instrument status (00 measuring, 01
    calibrating, 02 device error)."""
    station = _station(request, id)
    start, end = time_range(query, now_ms())
    keys = list(station.parameters)
    rows: list[dict[str, Any]] = []
    if keys:
        fields = ",".join(f'"{k}","{k}_status"' for k in keys)
        rows = await query_store(
            request,
            f'SELECT {fields} FROM "reading" WHERE "station" = \'{station.id}\' '
            f"AND time >= {start}ms AND time < {end}ms ORDER BY time ASC "
            f"LIMIT {MAX_EXPORT_ROWS + 1}",
        )
    if len(rows) > MAX_EXPORT_ROWS:
        raise invalid(
            [Problem(field="end", message=f"the range has over {MAX_EXPORT_ROWS} readings")]
        )
    words = EXPORT_HEADINGS[query.lang]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    heads = [words["time"]]
    for k, spec in station.parameters.items():
        label = (spec.label_en if query.lang == "en" else spec.label_vi) or k
        heads += [str(text_safe(f"{label} ({spec.unit_display})")), f"{k} {words['status']}"]
    writer.writerow(heads)
    for row in rows:
        local = datetime.fromtimestamp(int(row["time"]) / 1000, LOCAL_TZ)
        line: list[object] = [local.strftime(LOCAL_TIME_FORMAT)]
        for k in keys:
            value, status = row.get(k), row.get(f"{k}_status")
            line += [
                "" if value is None else value,
                "" if value is None else f"{status if isinstance(status, int) else 0:02d}",
            ]
        writer.writerow(line)
    first, last = (
        datetime.fromtimestamp(ms / 1000, LOCAL_TZ).strftime("%Y%m%d%H%M") for ms in (start, end)
    )
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode(),
        content_type=CSV_MEDIA,
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{station.id}-{first}-{last}.csv"'},
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return round(float(value), 3)
