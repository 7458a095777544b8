"""REST API of the alert lifecycle::

    GET    /api/v1/alerts               ?state=&severity=&station=&since=&until=&limit=
    GET    /api/v1/alerts/{id}          the alert and its history
    POST   /api/v1/alerts/{id}/ack      {"comment"}; also /resolve and /close
    POST   /api/v1/alerts/{id}/comment  {"text"}
    GET    /api/v1/incidents            ?state=&since=&until=&limit= (default: active ones)
    GET    /api/v1/incidents/{id}       one incident (related alerts of a station)
    GET    /api/v1/silences             silences not yet ended
    POST   /api/v1/silences             {"station_id", "rule_id", "start", "end", "reason"}
    DELETE /api/v1/silences/{id}

The acting user is the caller's login (web.access); each action is in the audit log. Times
are ISO 8601 with an offset.
Errors answer ``{"error": reason, ...}``: 400 bad query or body, 404 unknown alert, incident or
silence,
409 (with ``alert_id`` and ``state``) an action the alert's state does not allow.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from alerts.incidents import Incident
from alerts.lifecycle import (
    ACTIVE,
    InvalidSilence,
    InvalidTransition,
    UnknownAlert,
    UnknownIncident,
    UnknownSilence,
)
from alerts.store import HistoryEntry, Silence
from analytics.detector_rules import DETECTOR_RULES
from ioc import appkeys
from ioc.audit import OK
from ioc.clock import iso_utc
from ioc.messages import Alert, AlertState, Severity
from web.access import audit, principal_of
from web.api import Answer, ApiRoutes, Body, Query, error_answer
from web.fields import IsoTime, Text, UtcTime, WholeNumber, count
from web.wire import alert_json

MAX_ROWS = 10_000
MAX_ID = 64
MAX_TEXT = 2_000
STATES = tuple(s.value for s in AlertState)

api = ApiRoutes()
Handler = Callable[..., Awaitable[Any]]


class AlertAnswer(Answer):
    """An alert as the API and the wall show it."""

    id: str
    rule_id: str
    rule_name: str
    station_id: str
    station_name: str
    parameter: str
    severity: Severity
    state: AlertState
    opened_at: UtcTime | None
    resolved_at: UtcTime | None
    value: float | None
    limit: float | None
    baseline: float | None = Field(
        None,
        description="Anomaly alerts: the level the value was judged against (the robust "
        "median before the event, the hour-of-day median, the drift's reference); `limit` is "
        "then the detector's threshold, a score. null for limit rules.",
    )
    window: str
    raised_at: UtcTime | None
    last_seen: UtcTime | None
    peak: float | None
    count: int
    flaps: int
    flapping: bool
    silenced: bool
    escalated: bool
    retroactive: bool
    acknowledged_at: UtcTime | None
    acknowledged_by: str | None
    resolved_by: str | None
    closed_at: UtcTime | None
    snapshot: str | None = Field(description="Camera alerts: the evidence frame's URL.")
    incident_id: str = Field(description="The incident it belongs to (its own id: it started it).")
    incident_kind: str = Field(
        description="The incident's classification: exceedance, pollution_event, sensor_fault, "
        "spike ... (alerts.incidents)."
    )


class HistoryEntryAnswer(Answer):
    action: str
    at: UtcTime | None
    recorded_at: UtcTime | None
    user: str | None
    from_state: AlertState | None
    to_state: AlertState
    value: float | None
    comment: str | None
    retroactive: bool


class SilenceAnswer(Answer):
    id: str
    station_id: str | None
    rule_id: str | None
    start: UtcTime
    end: UtcTime
    reason: str
    created_by: str
    created_at: UtcTime


class AlertList(Answer):
    alerts: list[AlertAnswer]


class AlertDetail(Answer):
    alert: AlertAnswer
    history: list[HistoryEntryAnswer]


class OneAlert(Answer):
    alert: AlertAnswer


class SilenceList(Answer):
    silences: list[SilenceAnswer]


class OneSilence(Answer):
    silence: SilenceAnswer


class IncidentAnswer(Answer):
    """Related alerts of a station (same parameter or same reading) as one record."""

    id: str
    station_id: str
    station_name: str
    kind: str = Field(
        description="Classification, from its alerts by a fixed priority: exceedance, "
        "pollution_event, sensor_fault, out_of_range, flatline, spike, ..."
    )
    severity: Severity = Field(description="The highest of its active alerts.")
    state: AlertState = Field(description="Resolved once every alert of it is.")
    opened_at: UtcTime | None
    last_seen: UtcTime | None
    alert_ids: list[str] = Field(description="Its alerts, oldest first.")


class IncidentList(Answer):
    incidents: list[IncidentAnswer]


class IncidentDetail(Answer):
    incident: IncidentAnswer
    alerts: list[AlertAnswer]


class IncidentQuery(Query):
    state: str = Field(
        "active",
        description=f"active (default), all, or a comma-separated list of {', '.join(STATES)}.",
    )
    since: IsoTime | None = Field(None, description="Opened (its first alert) at or after.")
    until: IsoTime | None = Field(None, description="Opened before.")
    limit: WholeNumber = count(100, MAX_ROWS)


class AlertQuery(Query):
    state: str = Field(
        "all",
        description=f"all (default), active, or a comma-separated list of {', '.join(STATES)}.",
    )
    severity: Severity | None = Field(None, description="Only this severity.")
    station: str | None = Field(
        None, min_length=1, max_length=MAX_ID, description="Only this station."
    )
    since: IsoTime | None = Field(None, description="Opened at or after.")
    until: IsoTime | None = Field(None, description="Opened before.")
    limit: WholeNumber = count(100, MAX_ROWS)


class AlertAction(Body):
    comment: str = Field("", max_length=MAX_TEXT)


class AlertComment(Body):
    text: Text = Field(max_length=MAX_TEXT, description="The comment.")


class SilenceRequest(Body):
    station_id: str | None = Field(
        None, max_length=MAX_ID, description="A known station (none: every station)."
    )
    rule_id: str | None = Field(
        None, max_length=MAX_ID, description="A known rule (none: every rule)."
    )
    start: IsoTime | None = Field(None, description="Default now.")
    end: IsoTime
    reason: Text = Field(max_length=MAX_TEXT, description="Why.")


def add_alert_routes(app: web.Application) -> None:
    api.add_to(app)


def _answering_errors(handler: Handler) -> Handler:
    """Turn the alert book's errors into JSON answers."""

    @functools.wraps(handler)
    async def answer(request: web.Request, **inputs: Any) -> Any:
        try:
            return await handler(request, **inputs)
        except InvalidTransition as exc:
            raise error_answer(
                web.HTTPConflict, str(exc), alert_id=exc.alert_id, state=exc.state.value
            ) from None
        except UnknownAlert as exc:
            raise error_answer(web.HTTPNotFound, str(exc), alert_id=exc.alert_id) from None
        except UnknownIncident as exc:
            raise error_answer(web.HTTPNotFound, str(exc), incident_id=exc.incident_id) from None
        except UnknownSilence as exc:
            raise error_answer(web.HTTPNotFound, str(exc), silence_id=exc.silence_id) from None
        except InvalidSilence as exc:
            raise error_answer(web.HTTPBadRequest, str(exc)) from None

    return answer


@api.get("/api/v1/alerts", tag="alerts")
async def list_alerts(request: web.Request, query: AlertQuery) -> AlertList:
    """Query alerts

    Newest first."""
    alerts = request.app[appkeys.ALERTS].query(
        state=_states(query.state),
        severity=query.severity,
        station_id=query.station,
        since_ms=query.since,
        until_ms=query.until,
        limit=query.limit,
    )
    return AlertList(alerts=[_alert(request, a) for a in alerts])


@api.get("/api/v1/alerts/{id}", tag="alerts", errors=(404,))
@_answering_errors
async def show_alert(request: web.Request, id: str) -> AlertDetail:
    """One alert and its history"""
    book = request.app[appkeys.ALERTS]
    alert = book.get(id)
    history = [_history(entry) for entry in book.history(id)]
    return AlertDetail(alert=_alert(request, alert), history=history)


@api.post("/api/v1/alerts/{id}/{action:ack|resolve|close}", tag="alerts", errors=(404, 409))
@_answering_errors
async def act_on_alert(
    request: web.Request, id: str, action: Literal["ack", "resolve", "close"], body: AlertAction
) -> OneAlert:
    """Acknowledge, resolve or close an alert

    As the caller; 409 (with `alert_id` and `state`) when the alert's state does not allow it.
    The comment is optional (an empty body is fine)."""
    book = request.app[appkeys.ALERTS]
    act = {"ack": book.acknowledge, "resolve": book.resolve, "close": book.close}[action]
    user = principal_of(request).name
    alert = act(id, user, body.comment)
    audit(request, user, f"alert.{action}", OK, alert_id=alert.id, station=alert.station_id)
    return OneAlert(alert=_alert(request, alert))


@api.post("/api/v1/alerts/{id}/comment", tag="alerts", errors=(404, 409))
@_answering_errors
async def comment_alert(request: web.Request, id: str, body: AlertComment) -> OneAlert:
    """Comment on an alert"""
    user = principal_of(request).name
    alert = request.app[appkeys.ALERTS].comment(id, user, body.text)
    audit(request, user, "alert.comment", OK, alert_id=alert.id)
    return OneAlert(alert=_alert(request, alert))


@api.get("/api/v1/incidents", tag="alerts")
async def list_incidents(request: web.Request, query: IncidentQuery) -> IncidentList:
    """Query incidents

    Related alerts of a station as one record; newest first. By default the active ones."""
    incidents = request.app[appkeys.ALERTS].incidents(
        state=_states(query.state),
        since_ms=query.since,
        until_ms=query.until,
        limit=query.limit,
    )
    return IncidentList(incidents=[_incident(request, i) for i in incidents])


@api.get("/api/v1/incidents/{id}", tag="alerts", errors=(404,))
@_answering_errors
async def show_incident(request: web.Request, id: str) -> IncidentDetail:
    """One incident and its alerts"""
    incident = request.app[appkeys.ALERTS].incident(id)
    alerts = [_alert(request, a) for a in incident.members]
    return IncidentDetail(incident=_incident(request, incident), alerts=alerts)


@api.get("/api/v1/silences", tag="silences")
async def list_silences(request: web.Request) -> SilenceList:
    """Silences not yet ended"""
    silences = request.app[appkeys.ALERTS].silences()
    return SilenceList(silences=[_silence(s) for s in silences])


@api.post("/api/v1/silences", tag="silences", status=201)
@_answering_errors
async def add_silence(request: web.Request, body: SilenceRequest) -> OneSilence:
    """Silence alerts of a station and/or rule for a while"""
    if body.station_id and request.app[appkeys.REGISTRY].get(body.station_id) is None:
        raise error_answer(web.HTTPBadRequest, f"unknown station {body.station_id!r}")
    known = body.rule_id in request.app[appkeys.RULES] or body.rule_id in DETECTOR_RULES
    if body.rule_id and not known:
        raise error_answer(web.HTTPBadRequest, f"unknown rule {body.rule_id!r}")
    silence = request.app[appkeys.ALERTS].add_silence(
        station_id=body.station_id or None,
        rule_id=body.rule_id or None,
        start_ms=body.start if body.start is not None else int(time.time() * 1000),
        end_ms=body.end,
        reason=body.reason,
        user=principal_of(request).name,
    )
    audit(request, silence.created_by, "silence.add", OK, silence_id=silence.id, reason=body.reason)
    return OneSilence(silence=_silence(silence))


@api.delete("/api/v1/silences/{id}", tag="silences", errors=(404,))
@_answering_errors
async def remove_silence(request: web.Request, id: str) -> web.StreamResponse:
    """End a silence"""
    request.app[appkeys.ALERTS].remove_silence(id)
    audit(request, principal_of(request).name, "silence.remove", OK, silence_id=id)
    return web.Response(status=204)


def _alert(request: web.Request, alert: Alert) -> AlertAnswer:
    rules = request.app[appkeys.RULES]
    return AlertAnswer.model_validate(alert_json(alert, rules, request.app[appkeys.REGISTRY]))


def _incident(request: web.Request, incident: Incident) -> IncidentAnswer:
    station = request.app[appkeys.REGISTRY].get(incident.station_id)
    return IncidentAnswer(
        id=incident.id,
        station_id=incident.station_id,
        station_name=station.name if station else incident.station_id,
        kind=incident.kind,
        severity=incident.severity,
        state=incident.state,
        opened_at=iso_utc(incident.opened_ms),
        last_seen=iso_utc(incident.last_seen_ms),
        alert_ids=incident.member_ids,
    )


def _history(entry: HistoryEntry) -> HistoryEntryAnswer:
    at, recorded_at = iso_utc(entry.ts_ms), iso_utc(entry.recorded_ms)
    return HistoryEntryAnswer.of(entry, at=at, recorded_at=recorded_at)


def _silence(silence: Silence) -> SilenceAnswer:
    return SilenceAnswer.of(
        silence,
        start=iso_utc(silence.start_ms),
        end=iso_utc(silence.end_ms),
        created_at=iso_utc(silence.created_ms),
    )


def _states(raw: str) -> list[AlertState] | None:
    if raw == "all":
        return None
    if raw == "active":
        return list(ACTIVE)
    names = raw.split(",")
    unknown = [n for n in names if n not in STATES]
    if unknown:
        known = ", ".join(["all", "active", *STATES])
        raise error_answer(
            web.HTTPBadRequest, f"`state` {', '.join(unknown)!r} unknown: use {known} (or a list)"
        )
    return [AlertState(n) for n in names]
