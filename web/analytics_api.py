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
from pydantic import ValidationError

from analytics.aqi import BANDS
from analytics.backtest import (
    BacktestRequest,
    BacktestResult,
    StationBacktest,
    backtest_config,
    history_query,
    input_parameters,
    lookback_ms,
    points_from_rows,
    run_backtest,
    selected_stations,
)
from analytics.engine import AnalyticsEngine
from analytics.fire_danger import NESTEROV_LABELS_EN, NESTEROV_LABELS_VI
from ioc.clock import iso_utc
from ioc.config import friendly_errors
from web.requests import bad_request, json_error, query_store

#: The running engine (replaced whole when the station registry changes).
ANALYTICS: web.AppKey[Callable[[], AnalyticsEngine]] = web.AppKey("analytics")
MAX_EVENTS = 10_000


def add_analytics_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/rules/backtest", backtest)
    app.router.add_get("/api/v1/aqi", aqi)
    app.router.add_get("/api/v1/fire-danger", fire_danger)


async def backtest(request: web.Request) -> web.Response:
    engine = request.app[ANALYTICS]()
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("the body is not JSON") from None
    try:
        ask = BacktestRequest.model_validate(body)
    except ValidationError as exc:
        raise bad_request("invalid backtest request", problems=friendly_errors(exc)) from None
    config = backtest_config(engine.config, ask.rule)
    stations, problems = selected_stations(ask.rule, engine.registry, config, ask.stations)
    if problems:
        raise bad_request("invalid backtest request", problems=problems)
    parameters = input_parameters(config, ask.rule)
    query = history_query(parameters, stations, ask.start_ms - lookback_ms(ask.rule), ask.end_ms)
    rows = await query_store(request, query)

    def run() -> BacktestResult:  # off the event loop: a long history takes seconds
        live = AnalyticsEngine(config, engine.registry)
        points = points_from_rows(rows, live.table, parameters)
        return run_backtest(live, points, ask.start_ms, ask.end_ms, ask.flap_window_s)

    result = await asyncio.get_running_loop().run_in_executor(None, run)
    return web.json_response(_backtest_json(ask, stations, result))


def _backtest_json(
    ask: BacktestRequest, stations: list[str], result: BacktestResult
) -> dict[str, Any]:
    quiet = StationBacktest(alerts=0, flaps=0, firing_s=0.0)
    per_station = {
        s: {"alerts": r.alerts, "flaps": r.flaps, "firing_s": r.firing_s}
        for s in stations
        for r in [result.stations.get(s, quiet)]
    }
    return {
        "rule": ask.rule.model_dump(mode="json", exclude_defaults=True),
        "period": {"start": ask.start.isoformat(), "end": ask.end.isoformat()},
        "summary": {
            "stations": len(stations),
            "values": result.values,
            "events": len(result.events),
            "alerts": sum(r.alerts for r in result.stations.values()),
            "flaps": sum(r.flaps for r in result.stations.values()),
            "firing_s": sum(r.firing_s for r in result.stations.values()),
            "stations_alerted": sum(1 for r in result.stations.values() if r.alerts),
        },
        "stations": per_station,
        "events": [
            {
                "time": iso_utc(e.ts_ms),
                "station_id": e.station_id,
                "parameter": e.parameter,
                "firing": e.firing,
                "severity": e.severity.value,
                "value": e.value,
                "limit": e.limit,
            }
            for e in result.events[:MAX_EVENTS]
        ],
        "events_truncated": len(result.events) > MAX_EVENTS,
    }


async def aqi(request: web.Request) -> web.Response:
    engine = request.app[ANALYTICS]()
    station = request.query.get("station")
    if station is not None and engine.registry.get(station) is None:
        raise json_error(web.HTTPNotFound, f"unknown station {station!r}")
    offset = timedelta(hours=engine.config.utc_offset_h)
    out = []
    for now in sorted(engine.aqi_now().values(), key=lambda a: a.station_id):
        if station is not None and now.station_id != station:
            continue
        band = BANDS[now.band] if now.band >= 0 else None
        out.append(
            {
                "station_id": now.station_id,
                "time": iso_utc(now.hour_end_ms),
                "aqi": _number(now.aqi),
                "band": now.band,
                "label_vi": band.label_vi if band else None,
                "label_en": band.label_en if band else None,
                "color": "#{:02x}{:02x}{:02x}".format(*band.rgb) if band else None,
                "sub_indices": now.sub_indices,
                "day": {
                    "date": _local_date(now.day_start_ms, offset),
                    "aqi": _number(now.day_aqi),
                    "complete": now.day_complete,
                },
            }
        )
    return web.json_response({"aqi": out})


async def fire_danger(request: web.Request) -> web.Response:
    engine = request.app[ANALYTICS]()
    offset = timedelta(hours=engine.config.utc_offset_h)
    out = []
    for now in sorted(engine.fire_now().values(), key=lambda f: f.station_id):
        station = engine.registry.get(now.station_id)
        level = now.level
        out.append(
            {
                "station_id": now.station_id,
                "station_name": station.name if station else now.station_id,
                "date": _local_date(now.day_start_ms, offset),
                "time": iso_utc(now.hour_end_ms),
                "complete": now.complete,
                "nesterov": _number(now.nesterov),
                "level": level,
                "label_vi": NESTEROV_LABELS_VI[level - 1] if level else None,
                "label_en": NESTEROV_LABELS_EN[level - 1] if level else None,
                **{k: _number(getattr(now, k)) for k in ("ffmc", "dmc", "dc", "isi", "bui", "fwi")},
            }
        )
    return web.json_response({"fire_danger": out})


def _number(value: float) -> float | None:
    return round(value, 2) if math.isfinite(value) else None


def _local_date(ms: int, offset: timedelta) -> str:
    return (datetime.fromtimestamp(ms / 1000, UTC) + offset).date().isoformat()
