"""REST API of the enterprise portal (the page is ``GET /portal``, web/static/portal.*; a
transport company's users see its fleet there: web/journeys_api.py, web/static/portal/fleet.js)::

    GET /api/v1/portal/stations[?days=7][&enterprise=ID]
    GET /api/v1/portal/alerts[?days=30][&enterprise=ID]

(and the enterprise's monthly report, web/reports_api.py).

**Alerts.** ``open``: the open and acknowledged alerts of the stations shown, newest first;
``history``: every alert of those stations opened in the last ``days`` (1..92, default 30),
whatever its state, newest first, at most :data:`MAX_HISTORY`. Shapes as ``GET /api/v1/alerts``.

An enterprise user sees its own enterprise's stations (asking for another ``enterprise`` is a
403, audited); an admin sees the stations of ``?enterprise=ID``, or of every enterprise
(state stations are not in the portal). ``days`` is 1..31 (default 7) local days
(Asia/Ho_Chi_Minh, UTC+7, no daylight saving), today included and partial. Answer::

    {"enterprise": "ENT-A" | null,            # the enterprise shown; null = every enterprise
     "enterprises": [{"id", "name"}],         # those the caller may choose from
     "timezone": "Asia/Ho_Chi_Minh",
     "generated_at": ISO,
     "days": ["YYYY-MM-DD", ...],             # oldest first, the last one is today
     "stations": [{
        "id", "name", "kind", "owner", "owner_name", "lat", "lon", "interval_s",
        "status", "last_seen", "values", "units",          # the station board (wall) snapshot
        "parameters": {key: {"label_vi", "label_en", "unit"}},
        "completeness": [{"day", "received", "expected", "ratio", "partial"}],
        "completeness_total": {"received", "expected", "ratio"}}]}

**Daily data completeness.** ``expected`` is the number of reporting intervals of the day,
``floor(86400 / interval_s)``; for today (``partial``: true) only those elapsed by now,
``floor(seconds since local midnight / interval_s)``. ``received`` is the number of distinct
timestamps stored for the station that local day in measurement ``reading``. ``ratio`` is
``received / expected`` capped at 1 (a station reporting more often than registered is
complete, not "over 100 %"), null while nothing is expected yet (just after midnight).

How ``received`` is counted, and why not with ``count()``: InfluxDB keeps one point per series
and timestamp, but a point only carries the parameters that were *accepted* at that instant —
a value refused (out of range, wrong unit, duplicate ...) is left out, the others are kept. So
no field is present in every point: ``count(pm25)`` misses the instants where only pm25 was
refused, and ``count(*)`` counts per field, so neither the largest nor the sum of the per-field
counts is the number of instants (pm25 refused at 10:00 and pm10 at 11:00 give equal counts one
short of the truth). The portal therefore reads, per station, the timestamps of the points that
carry any of the station's registry parameters over the requested days
(``SELECT "p1","p2",... FROM reading WHERE station = '…' AND time >= … AND time < …``; InfluxDB
returns a row when any selected field is set) and counts distinct timestamps per local day.
Selecting the station's own parameters (not ``*``) keeps derived values and other stations'
columns out, and a set of timestamps counts an instant once even when it was stored in two
series (the station's kind or owner tag changed). Cost: at most ``days * 86400 / interval_s``
rows per station (2 016 for 7 days of a 5-minute station); stations are queried a few at a
time.

InfluxDB unreachable or failing: 503 ``{"error": "database unavailable ...", "detail"}``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from aiohttp import web
from pydantic import Field

from ioc import appkeys
from ioc.audit import DENIED
from ioc.clock import iso_utc, now_ms
from ioc.errors import StoreError
from ioc.registry import STATE_OWNER, Station
from web.access import audit, principal_of
from web.alerts_api import AlertAnswer
from web.api import Answer, ApiRoutes, Query, error_answer
from web.completeness import (
    DAY_MS,
    PARALLEL_QUERIES,
    day_label,
    day_start_ms,
    expected_intervals,
    local_day,
    ratio,
)
from web.fields import UtcTime, WholeNumber, count
from web.routes import StationState
from web.wire import alert_json

DEFAULT_DAYS = 7
MAX_DAYS = 31
TIME_ZONE_NAME = "Asia/Ho_Chi_Minh"
DEFAULT_ALERT_DAYS = 30
MAX_ALERT_DAYS = 92
MAX_HISTORY = 500


api = ApiRoutes()
Day = Field(json_schema_extra={"format": "date"})


class PortalQuery(Query):
    days: WholeNumber = count(DEFAULT_DAYS, MAX_DAYS, "Local days, today included.")
    enterprise: str | None = Field(None, description="Admins: only this enterprise.")


class Completeness(Answer):
    day: str = Day
    received: int = Field(description="Distinct reading times stored that day.")
    expected: int = Field(description="Reporting intervals of the day (so far, today).")
    ratio: float | None = Field(description="received / expected, at most 1; null: none due.")
    partial: bool = Field(description="Today: not over yet.")


class CompletenessTotal(Answer):
    received: int
    expected: int
    ratio: float | None


class ParameterLabel(Answer):
    label_vi: str
    label_en: str
    unit: str


class PortalStation(StationState):
    owner_name: str
    interval_s: float
    parameters: dict[str, ParameterLabel]
    completeness: list[Completeness]
    completeness_total: CompletenessTotal


class EnterpriseName(Answer):
    id: str
    name: str


class PortalAlertQuery(Query):
    days: WholeNumber = count(DEFAULT_ALERT_DAYS, MAX_ALERT_DAYS, "History of the last days.")
    enterprise: str | None = Field(None, description="Admins: only this enterprise.")


class PortalAlerts(Answer):
    enterprise: str | None = Field(description="The enterprise shown; null = every enterprise.")
    open: list[AlertAnswer] = Field(description="Open and acknowledged, newest first.")
    history: list[AlertAnswer] = Field(description="Opened in the last `days`, newest first.")


class PortalStations(Answer):
    enterprise: str | None = Field(description="The enterprise shown; null = every enterprise.")
    enterprises: list[EnterpriseName] = Field(description="Those the caller may choose from.")
    timezone: str
    generated_at: UtcTime
    days: list[str] = Field(description="Local days, oldest first; the last one is today.")
    stations: list[PortalStation]


def add_portal_routes(app: web.Application) -> None:
    api.add_to(app)


@api.get("/api/v1/portal/stations", tag="portal", errors=(503,))
async def portal_stations(request: web.Request, query: PortalQuery) -> PortalStations:
    """The enterprise's stations and their daily data completeness

    An enterprise user sees its own enterprise's stations (asking for another `enterprise` is
    a 403, audited); an admin those of `?enterprise=ID`, or of every enterprise (state
    stations are not in the portal). Per station: the wall's snapshot, its parameters and,
    per local day (Asia/Ho_Chi_Minh), how many of the expected readings were received
    (`ratio` capped at 1; today is `partial`)."""
    days = query.days
    enterprise = enterprise_param(request, query.enterprise)
    registry = request.app[appkeys.REGISTRY]
    stations = [
        s
        for s in registry
        if s.owner != STATE_OWNER and (enterprise is None or s.owner == enterprise)
    ]
    now = now_ms()
    today = local_day(now)
    first = today - days + 1
    try:
        received = await _received_per_day(request, stations, first, today)
    except StoreError as exc:
        raise error_answer(
            web.HTTPServiceUnavailable,
            "database unavailable: the data completeness cannot be computed now",
            detail=str(exc),
        ) from exc
    board = {row["id"]: row for row in request.app[appkeys.BOARD].snapshot(now)}
    names = portal_names(request)
    answer = []
    for station in stations:
        row = board.get(station.id, {})
        completeness = [
            _day_entry(day, received[station.id].get(day, 0), station.interval_s, today, now)
            for day in range(first, today + 1)
        ]
        answer.append(
            {
                "id": station.id,
                "name": station.name,
                "kind": station.kind,
                "owner": station.owner,
                "owner_name": names.get(station.owner, station.owner),
                "lat": station.lat,
                "lon": station.lon,
                "interval_s": station.interval_s,
                "status": row.get("status", "unknown"),
                "last_seen": row.get("last_seen"),
                "values": row.get("values", {}),
                "units": row.get("units", {}),
                "parameters": {
                    key: {"label_vi": p.label_vi, "label_en": p.label_en, "unit": p.unit_display}
                    for key, p in station.parameters.items()
                },
                "completeness": completeness,
                "completeness_total": _total(completeness),
            }
        )
    principal = principal_of(request)
    choices = [principal.enterprise] if principal.enterprise is not None else list(names)
    return PortalStations.model_validate(
        {
            "enterprise": enterprise,
            "enterprises": [{"id": e, "name": names.get(e, e)} for e in choices],
            "timezone": TIME_ZONE_NAME,
            "generated_at": iso_utc(now),
            "days": [day_label(day) for day in range(first, today + 1)],
            "stations": answer,
        }
    )


@api.get("/api/v1/portal/alerts", tag="portal")
async def portal_alerts(request: web.Request, query: PortalAlertQuery) -> PortalAlerts:
    """The enterprise's open alerts and alert history

    Only the alerts of the enterprise's own stations (asking for another `enterprise` is a
    403, audited); an admin those of `?enterprise=ID`, or of every enterprise. `open`: open
    and acknowledged, newest first; `history`: opened in the last `days`, any state."""
    enterprise = enterprise_param(request, query.enterprise)
    ids = {
        s.id
        for s in request.app[appkeys.REGISTRY]
        if s.owner != STATE_OWNER and (enterprise is None or s.owner == enterprise)
    }
    book = request.app[appkeys.ALERTS]
    since = now_ms() - query.days * DAY_MS
    history = [
        a
        for sid in sorted(ids)
        for a in book.query(station_id=sid, since_ms=since, limit=MAX_HISTORY)
    ]
    history.sort(key=lambda a: (a.opened_ms, int(a.id)), reverse=True)
    rules, registry = request.app[appkeys.RULES], request.app[appkeys.REGISTRY]
    return PortalAlerts(
        enterprise=enterprise,
        open=[
            AlertAnswer.model_validate(alert_json(a, rules, registry))
            for a in book.open_alerts()
            if a.station_id in ids
        ],
        history=[
            AlertAnswer.model_validate(alert_json(a, rules, registry))
            for a in history[:MAX_HISTORY]
        ],
    )


def _day_entry(day: int, received: int, interval_s: float, today: int, now: int) -> dict[str, Any]:
    partial = day == today
    seconds = (now - day_start_ms(day)) / 1000 if partial else DAY_MS / 1000
    expected = expected_intervals(interval_s, seconds)
    return {
        "day": day_label(day),
        "received": received,
        "expected": expected,
        "ratio": ratio(received, expected),
        "partial": partial,
    }


def _total(days: list[dict[str, Any]]) -> dict[str, Any]:
    received = sum(min(d["received"], d["expected"]) for d in days)
    expected = sum(d["expected"] for d in days)
    return {"received": received, "expected": expected, "ratio": ratio(received, expected)}


async def _received_per_day(
    request: web.Request, stations: list[Station], first: int, last: int
) -> dict[str, Counter[int]]:
    """Distinct stored timestamps per station and local day in ``first..last``."""
    store = request.app[appkeys.STORE]
    start, end = day_start_ms(first), day_start_ms(last + 1)
    limit = asyncio.Semaphore(PARALLEL_QUERIES)

    async def count(station: Station) -> Counter[int]:
        if not station.parameters:
            return Counter()
        fields = ",".join(f'"{key}"' for key in station.parameters)
        influxql = (
            f'SELECT {fields} FROM "reading" WHERE "station" = \'{station.id}\' '
            f"AND time >= {start}ms AND time < {end}ms"
        )
        async with limit:
            rows = await store.query(influxql)
        times = {int(row["time"]) for row in rows}
        return Counter(local_day(ts) for ts in times)

    counts = await asyncio.gather(*(count(s) for s in stations))
    return {s.id: c for s, c in zip(stations, counts, strict=True)}


def enterprise_param(request: web.Request, asked: str | None) -> str | None:
    """The enterprise to show: the caller's own, or for an admin ``?enterprise=`` (None: all)."""
    principal = principal_of(request)
    asked = asked or None
    if principal.enterprise is not None:
        if asked is not None and asked != principal.enterprise:
            reason = f"enterprise {principal.enterprise} may not see enterprise {asked!r}"
            audit(request, principal.name, "access", DENIED, reason=reason, enterprise=asked)
            raise error_answer(web.HTTPForbidden, reason)
        return principal.enterprise
    if asked is not None and asked not in portal_names(request):
        reason = f"`enterprise` {asked!r} is not a known enterprise"
        raise error_answer(web.HTTPBadRequest, reason)
    return asked


def portal_names(request: web.Request) -> dict[str, str]:
    """Enterprise id → name: those of the station registry and the transport companies of
    the fleet registry (their portal shows their fleet: web/static/portal/fleet.js)."""
    companies = request.app[appkeys.PIPELINE].vehicles.fleet.companies
    return {c.id: c.name for c in companies.values()} | dict(
        request.app[appkeys.REGISTRY].enterprises
    )
