"""REST API of the analytics: rule backtests, current VN_AQI and forest-fire danger.

* ``POST /api/v1/rules/backtest`` — body ``{"rule": {...}, "start": ISO, "end": ISO,
  "stations": [...], "flap_window_s": 3600}``; runs the rule over the history in InfluxDB
  through the live engine code and returns its events, flaps and a summary. A bad rule or
  period is a 400 with every problem listed.
* ``GET /api/v1/aqi?station=ID`` — the latest hourly VN_AQI and today's daily AQI so far.
* ``GET /api/v1/fire-danger`` — Nesterov level and FWI of today so far, per forest station.

The engine is ``app[ANALYTICS]()``; history comes from ``app[appkeys.STORE].query``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import Field, ValidationError

from analytics.aqi import BANDS
from analytics.backtest import (
    BacktestPeriod,
    BacktestRequest,
    BacktestResult,
    DetectorBacktestRequest,
    StationBacktest,
    backtest_config,
    detector_backtest_config,
    detector_lookback_ms,
    history_query,
    input_parameters,
    lookback_ms,
    points_from_rows,
    run_backtest,
    selected_stations,
)
from analytics.detector_rules import (
    DETECTOR_RULES,
    DetectorProblem,
    anomaly_in_force,
    parse_override,
)
from analytics.engine import AnalyticsEngine
from analytics.fire_danger import NESTEROV_LABELS_EN, NESTEROV_LABELS_VI
from ioc.clock import iso_utc
from ioc.config_store import field_problems
from ioc.messages import Severity
from web.api import Answer, ApiRoutes, Problem, Query, error_answer, invalid
from web.fields import UtcTime
from web.store_query import query_store

#: The running engine (replaced whole when the station registry changes).
ANALYTICS: web.AppKey[Callable[[], AnalyticsEngine]] = web.AppKey("analytics")
MAX_EVENTS = 10_000

api = ApiRoutes()


class Period(Answer):
    start: UtcTime
    end: UtcTime


class BacktestSummary(Answer):
    stations: int
    values: int
    events: int
    alerts: int
    flaps: int
    firing_s: float
    stations_alerted: int


class StationSummary(Answer):
    alerts: int
    flaps: int
    firing_s: float


class BacktestEvent(Answer):
    time: UtcTime
    station_id: str
    parameter: str
    firing: bool
    severity: Severity
    value: float | None
    limit: float | None


class BacktestAnswer(Answer):
    rule: dict[str, Any]
    period: Period
    summary: BacktestSummary
    stations: dict[str, StationSummary]
    events: list[BacktestEvent]
    events_truncated: bool


class LocalDay(Answer):
    date: str = Field(json_schema_extra={"format": "date"})
    aqi: float | None
    complete: bool


class AqiAnswer(Answer):
    station_id: str
    time: UtcTime | None
    aqi: float | None
    band: int = Field(description="-1 when unknown.")
    label_vi: str | None
    label_en: str | None
    color: str | None = Field(description="#rrggbb")
    sub_indices: dict[str, Any]
    day: LocalDay


class AqiList(Answer):
    aqi: list[AqiAnswer]


class AqiQuery(Query):
    station: str | None = Field(None, description="Only this station.")


class FireDangerAnswer(Answer):
    station_id: str
    station_name: str
    date: str = Field(json_schema_extra={"format": "date"})
    time: UtcTime | None
    complete: bool
    nesterov: float | None
    level: int | None = Field(description="Nesterov level 1..5.")
    label_vi: str | None
    label_en: str | None
    ffmc: float | None
    dmc: float | None
    dc: float | None
    isi: float | None
    bui: float | None
    fwi: float | None


class FireDangerList(Answer):
    fire_danger: list[FireDangerAnswer]


def add_analytics_routes(app: web.Application) -> None:
    api.add_to(app)


@api.post("/api/v1/rules/backtest", tag="analytics", errors=(503,))
async def backtest(request: web.Request, body: BacktestRequest) -> BacktestAnswer:
    """Backtest a rule over stored history

    Runs the rule through the live engine code over the history in InfluxDB: its events,
    flaps and a summary. A bad rule or period is a 400 listing every problem."""
    engine = request.app[ANALYTICS]()
    config = backtest_config(engine.config, body.rule)
    stations, problems = selected_stations(body.rule, engine.registry, config, body.stations)
    if problems:
        raise invalid([Problem(field=f, message=m) for f, m in problems], "invalid backtest")
    parameters = input_parameters(config, body.rule)
    since = body.start_ms - lookback_ms(body.rule)
    rows = await query_store(request, history_query(parameters, stations, since, body.end_ms))

    def run() -> BacktestResult:  # off the event loop: a long history takes seconds
        live = AnalyticsEngine(config, engine.registry)
        points = points_from_rows(rows, live.table, parameters)
        return run_backtest(live, points, body.start_ms, body.end_ms, body.flap_window_s)

    result = await asyncio.get_running_loop().run_in_executor(None, run)
    rule = body.rule.model_dump(mode="json", exclude_defaults=True)
    return _backtest_answer(rule, body, stations, result)


#: anomaly rules decided by the clock (a silence), which stored history cannot replay
CLOCK_RULES = frozenset({"anomaly.offline", "anomaly.no_data"})


@api.post("/api/v1/detector-rules/{id}/backtest", tag="analytics", errors=(404, 503))
async def backtest_detector(
    request: web.Request, id: str, body: DetectorBacktestRequest
) -> BacktestAnswer:
    """Backtest an anomaly rule over stored history

    The anomaly checks of the live engine, with the given settings of the rule in force, over
    the history in InfluxDB: the rule's events, flaps and a summary. Camera rules judge live
    frames, which are not stored, and the offline / no-data rules the clock: they have no
    backtest (400)."""
    rule = DETECTOR_RULES.get(id)
    if rule is None:
        raise error_answer(web.HTTPNotFound, f"no built-in rule has id {id!r}")
    if rule.family != "anomaly" or id in CLOCK_RULES:
        why = "judges live camera frames" if rule.family != "anomaly" else "is decided by the clock"
        raise invalid([Problem(field="id", message=f"{id} {why}: no backtest")], "no backtest")
    engine = request.app[ANALYTICS]()
    try:
        anomaly = anomaly_in_force(engine.config.anomaly, {id: parse_override(id, body.override)})
    except (DetectorProblem, ValidationError) as exc:
        found = exc.problems if isinstance(exc, DetectorProblem) else field_problems(exc)
        problems = [
            Problem(field=f"override.{f}" if f else "override", message=m) for f, m in found
        ]
        raise invalid(problems, "invalid settings") from None
    config = detector_backtest_config(engine.config, anomaly)
    registry = engine.registry
    unknown = [s for s in body.stations if registry.get(s) is None]
    if unknown:
        raise invalid(
            [Problem(field="stations", message=f"unknown station {s!r}") for s in unknown]
        )
    stations = [s.id for s in registry if not body.stations or s.id in body.stations]
    parameters = sorted({p for s in registry if s.id in stations for p in s.parameters})
    since = body.start_ms - detector_lookback_ms(id, anomaly)
    rows = await query_store(request, history_query(parameters, stations, since, body.end_ms))

    def run() -> BacktestResult:
        live = AnalyticsEngine(config, registry)
        points = points_from_rows(rows, live.table, parameters)
        return run_backtest(live, points, body.start_ms, body.end_ms, body.flap_window_s, id)

    result = await asyncio.get_running_loop().run_in_executor(None, run)
    return _backtest_answer({"id": id, **body.override}, body, stations, result)


def _backtest_answer(
    rule: dict[str, Any], ask: BacktestPeriod, stations: list[str], result: BacktestResult
) -> BacktestAnswer:
    quiet = StationBacktest(alerts=0, flaps=0, firing_s=0.0)
    per_station = {
        s: StationSummary(alerts=r.alerts, flaps=r.flaps, firing_s=r.firing_s)
        for s in stations
        for r in [result.stations.get(s, quiet)]
    }
    return BacktestAnswer(
        rule=rule,
        period=Period(start=ask.start.isoformat(), end=ask.end.isoformat()),
        summary=BacktestSummary(
            stations=len(stations),
            values=result.values,
            events=len(result.events),
            alerts=sum(r.alerts for r in result.stations.values()),
            flaps=sum(r.flaps for r in result.stations.values()),
            firing_s=sum(r.firing_s for r in result.stations.values()),
            stations_alerted=sum(1 for r in result.stations.values() if r.alerts),
        ),
        stations=per_station,
        events=[BacktestEvent.of(e, time=iso_utc(e.ts_ms)) for e in result.events[:MAX_EVENTS]],
        events_truncated=len(result.events) > MAX_EVENTS,
    )


@api.get("/api/v1/aqi", tag="analytics", errors=(404,))
async def aqi(request: web.Request, query: AqiQuery) -> AqiList:
    """Current VN_AQI

    The latest hourly VN_AQI (NowCast for PM) and today's daily AQI so far."""
    engine = request.app[ANALYTICS]()
    station = query.station
    if station is not None and engine.registry.get(station) is None:
        raise error_answer(web.HTTPNotFound, f"unknown station {station!r}")
    offset = timedelta(hours=engine.config.utc_offset_h)
    out = []
    for now in sorted(engine.aqi_now().values(), key=lambda a: a.station_id):
        if station is not None and now.station_id != station:
            continue
        band = BANDS[now.band] if now.band >= 0 else None
        out.append(
            AqiAnswer(
                station_id=now.station_id,
                time=iso_utc(now.hour_end_ms),
                aqi=_number(now.aqi),
                band=now.band,
                label_vi=band.label_vi if band else None,
                label_en=band.label_en if band else None,
                color="#{:02x}{:02x}{:02x}".format(*band.rgb) if band else None,
                sub_indices=now.sub_indices,
                day=LocalDay(
                    date=_local_date(now.day_start_ms, offset),
                    aqi=_number(now.day_aqi),
                    complete=now.day_complete,
                ),
            )
        )
    return AqiList(aqi=out)


@api.get("/api/v1/fire-danger", tag="analytics")
async def fire_danger(request: web.Request) -> FireDangerList:
    """Forest-fire danger today

    Nesterov level (I–V) and FWI components so far today, per forest weather station."""
    engine = request.app[ANALYTICS]()
    offset = timedelta(hours=engine.config.utc_offset_h)
    out = []
    for now in sorted(engine.fire_now().values(), key=lambda f: f.station_id):
        station = engine.registry.get(now.station_id)
        level = now.level
        out.append(
            FireDangerAnswer(
                station_id=now.station_id,
                station_name=station.name if station else now.station_id,
                date=_local_date(now.day_start_ms, offset),
                time=iso_utc(now.hour_end_ms),
                complete=now.complete,
                nesterov=_number(now.nesterov),
                level=level,
                label_vi=NESTEROV_LABELS_VI[level - 1] if level else None,
                label_en=NESTEROV_LABELS_EN[level - 1] if level else None,
                **{k: _number(getattr(now, k)) for k in ("ffmc", "dmc", "dc", "isi", "bui", "fwi")},
            )
        )
    return FireDangerList(fire_danger=out)


def _number(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


def _local_date(ms: int, offset: timedelta) -> str:
    return (datetime.fromtimestamp(ms / 1000, UTC) + offset).date().isoformat()
