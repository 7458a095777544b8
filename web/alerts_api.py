"""REST API of the alert lifecycle::

    GET    /api/v1/alerts               ?state=&severity=&station=&since=&until=&limit=
    GET    /api/v1/alerts/{id}          the alert and its history
    POST   /api/v1/alerts/{id}/ack      {"comment"}; also /resolve and /close
    POST   /api/v1/alerts/{id}/comment  {"text"}
    GET    /api/v1/silences             silences not yet ended
    POST   /api/v1/silences             {"station_id", "rule_id", "start", "end", "reason"}
    DELETE /api/v1/silences/{id}

The acting user is the caller's login (web.access); each action is in the audit log. Times
are ISO 8601 with an offset.
Errors answer ``{"error": reason, ...}``: 400 bad query or body, 404 unknown alert or silence,
409 (with ``alert_id`` and ``state``) an action the alert's state does not allow.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from alerts.lifecycle import (
    ACTIVE,
    InvalidSilence,
    InvalidTransition,
    UnknownAlert,
    UnknownSilence,
)
from alerts.store import HistoryEntry, Silence
from ioc import appkeys
from ioc.audit import OK
from ioc.clock import iso_utc
from ioc.messages import Alert, AlertState, Severity
from web.access import audit, principal_of
from web.requests import bad_request, count_param, json_body, text_field, time_param, time_value
from web.wire import alert_json

MAX_ROWS = 10_000
MAX_ID = 64
MAX_TEXT = 2_000
SEVERITIES = tuple(s.value for s in Severity)
STATES = tuple(s.value for s in AlertState)

Handler = Callable[[web.Request], Awaitable[web.Response]]


def add_alert_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/alerts", list_alerts)
    app.router.add_get("/api/v1/alerts/{id}", show_alert)
    app.router.add_post("/api/v1/alerts/{id}/{action:ack|resolve|close}", act_on_alert)
    app.router.add_post("/api/v1/alerts/{id}/comment", comment_alert)
    app.router.add_get("/api/v1/silences", list_silences)
    app.router.add_post("/api/v1/silences", add_silence)
    app.router.add_delete("/api/v1/silences/{id}", remove_silence)


def _answering_errors(handler: Handler) -> Handler:
    """Turn the alert book's errors into JSON answers."""

    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except InvalidTransition as exc:
            return _error(409, str(exc), alert_id=exc.alert_id, state=exc.state.value)
        except UnknownAlert as exc:
            return _error(404, str(exc), alert_id=exc.alert_id)
        except UnknownSilence as exc:
            return _error(404, str(exc), silence_id=exc.silence_id)
        except InvalidSilence as exc:
            return _error(400, str(exc))

    return answer


@_answering_errors
async def list_alerts(request: web.Request) -> web.Response:
    """``state``: all (default), active, or states separated by commas."""
    query = request.query
    severity = query.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise bad_request(f"`severity` must be one of {', '.join(SEVERITIES)}")
    station = query.get("station")
    if station is not None and not 1 <= len(station) <= MAX_ID:
        raise bad_request("`station` must be a station id")
    limit = count_param(query, "limit", 100, MAX_ROWS)
    alerts = request.app[appkeys.ALERTS].query(
        state=_states(query.get("state", "all")),
        severity=Severity(severity) if severity else None,
        station_id=station,
        since_ms=time_param(query, "since"),
        until_ms=time_param(query, "until"),
        limit=limit,
    )
    return web.json_response({"alerts": [_alert(request, a) for a in alerts]})


@_answering_errors
async def show_alert(request: web.Request) -> web.Response:
    book = request.app[appkeys.ALERTS]
    alert_id = request.match_info["id"]
    alert = book.get(alert_id)
    history = [_history_json(entry) for entry in book.history(alert_id)]
    return web.json_response({"alert": _alert(request, alert), "history": history})


@_answering_errors
async def act_on_alert(request: web.Request) -> web.Response:
    body = await json_body(request, {"comment"})
    book = request.app[appkeys.ALERTS]
    name = request.match_info["action"]
    action = {"ack": book.acknowledge, "resolve": book.resolve, "close": book.close}[name]
    user = principal_of(request).name
    alert = action(request.match_info["id"], user, text_field(body, "comment", "", MAX_TEXT))
    audit(request, user, f"alert.{name}", OK, alert_id=alert.id, station=alert.station_id)
    return web.json_response({"alert": _alert(request, alert)})


@_answering_errors
async def comment_alert(request: web.Request) -> web.Response:
    body = await json_body(request, {"text"})
    text = text_field(body, "text", "", MAX_TEXT)
    if not text.strip():
        raise bad_request("`text` is required: the comment")
    user = principal_of(request).name
    alert = request.app[appkeys.ALERTS].comment(request.match_info["id"], user, text)
    audit(request, user, "alert.comment", OK, alert_id=alert.id)
    return web.json_response({"alert": _alert(request, alert)})


@_answering_errors
async def list_silences(request: web.Request) -> web.Response:
    silences = request.app[appkeys.ALERTS].silences()
    return web.json_response({"silences": [_silence_json(s) for s in silences]})


@_answering_errors
async def add_silence(request: web.Request) -> web.Response:
    body = await json_body(request, {"station_id", "rule_id", "start", "end", "reason"})
    station_id = text_field(body, "station_id", "", MAX_ID) or None
    if station_id is not None and request.app[appkeys.REGISTRY].get(station_id) is None:
        raise bad_request(f"unknown station {station_id!r}")
    rule_id = text_field(body, "rule_id", "", MAX_ID) or None
    if rule_id is not None and rule_id not in request.app[appkeys.RULES]:
        raise bad_request(f"unknown rule {rule_id!r}")
    reason = text_field(body, "reason", "", MAX_TEXT)
    if not reason.strip():
        raise bad_request("`reason` is required: why alerts are silenced")
    if "end" not in body:
        raise bad_request("`end` is required (ISO 8601 with offset)")
    silence = request.app[appkeys.ALERTS].add_silence(
        station_id=station_id,
        rule_id=rule_id,
        start_ms=time_value(body["start"], "start") if "start" in body else int(time.time() * 1000),
        end_ms=time_value(body["end"], "end"),
        reason=reason,
        user=principal_of(request).name,
    )
    audit(request, silence.created_by, "silence.add", OK, silence_id=silence.id, reason=reason)
    return web.json_response({"silence": _silence_json(silence)}, status=201)


@_answering_errors
async def remove_silence(request: web.Request) -> web.Response:
    request.app[appkeys.ALERTS].remove_silence(request.match_info["id"])
    audit(
        request,
        principal_of(request).name,
        "silence.remove",
        OK,
        silence_id=request.match_info["id"],
    )
    return web.Response(status=204)


def _alert(request: web.Request, alert: Alert) -> dict[str, Any]:
    rules = request.app[appkeys.RULES]
    return alert_json(alert, rules, request.app[appkeys.REGISTRY])


def _history_json(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "action": entry.action,
        "at": iso_utc(entry.ts_ms),
        "recorded_at": iso_utc(entry.recorded_ms),
        "user": entry.user,
        "from_state": entry.from_state.value if entry.from_state else None,
        "to_state": entry.to_state.value,
        "value": entry.value,
        "comment": entry.comment,
        "retroactive": entry.retroactive,
    }


def _silence_json(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "station_id": silence.station_id,
        "rule_id": silence.rule_id,
        "start": iso_utc(silence.start_ms),
        "end": iso_utc(silence.end_ms),
        "reason": silence.reason,
        "created_by": silence.created_by,
        "created_at": iso_utc(silence.created_ms),
    }


def _states(raw: str) -> list[AlertState] | None:
    if raw == "all":
        return None
    if raw == "active":
        return list(ACTIVE)
    names = raw.split(",")
    unknown = [n for n in names if n not in STATES]
    if unknown:
        known = ", ".join(["all", "active", *STATES])
        raise bad_request(f"`state` {', '.join(unknown)!r} unknown: use {known} (or a list)")
    return [AlertState(n) for n in names]


def _error(status: int, reason: str, **details: str) -> web.Response:
    return web.json_response({"error": reason, **details}, status=status)
