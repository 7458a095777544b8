"""What each REST operation means, for the OpenAPI document (web/openapi.py): summaries,
parameters, request and answer schemas, written after the handlers and keyed by (method, route
path) in :data:`OPERATIONS`; the error answers and tags every operation shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from ioc.accounts import Role
from ioc.config_store import KINDS
from ioc.messages import AlertState, RejectReason, Severity
from ioc.section import StationKind
from web.access import SESSION_COOKIE, Can

JsonObject = dict[str, Any]
OPENAPI_PATH = "/api/v1/openapi.json"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    description: str
    schema: JsonObject
    where: str = "query"  # or "path"
    required: bool = False

    def json(self, required: bool) -> JsonObject:
        out: JsonObject = {
            "name": self.name,
            "in": self.where,
            "description": self.description,
            "schema": self.schema,
        }
        if required:
            out["required"] = True
        return out


@dataclass(frozen=True, slots=True)
class Body:
    content: dict[str, JsonObject]  # media type → schema
    required: bool = True
    description: str = ""


@dataclass(frozen=True, slots=True)
class Op:
    """One operation: what it does, what it takes and what it answers."""

    summary: str
    tag: str
    description: str = ""
    params: tuple[Param, ...] = ()
    body: Body | None = None
    ok: int = 200
    ok_description: str = "OK"
    ok_content: dict[str, JsonObject] = field(default_factory=dict)
    errors: tuple[int, ...] = ()  # 401/403 are added for every non-public operation
    #: Error answers of this operation that are not the shared JSON ones: code → the name of
    #: another entry of ERROR_RESPONSES.
    own_errors: dict[int, str] = field(default_factory=dict)


def _ref(name: str) -> JsonObject:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: JsonObject) -> dict[str, JsonObject]:
    return {"application/json": schema}


def _obj(
    properties: dict[str, JsonObject],
    required: tuple[str, ...] = (),
    description: str = "",
    closed: bool = False,
) -> JsonObject:
    out: JsonObject = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    if description:
        out["description"] = description
    return out


def _list_of(key: str, item: JsonObject, description: str = "") -> JsonObject:
    return _obj({key: {"type": "array", "items": item}}, (key,), description)


def _s(description: str = "", **extra: Any) -> JsonObject:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def _n(description: str = "", kind: str = "number", **extra: Any) -> JsonObject:
    return {"type": kind, **({"description": description} if description else {}), **extra}


def _null(schema: JsonObject) -> JsonObject:
    kind = schema["type"]
    return {**schema, "type": [kind, "null"]} if isinstance(kind, str) else schema


_STRING: JsonObject = {"type": "string"}
_TIME = _s("ISO 8601 time (UTC, `Z`).", format="date-time")
_TIME_OR_NULL = _null(_TIME)
_ANY_OBJECT: JsonObject = {"type": "object"}
_ROLES = [r.value for r in Role]
_STATES = [s.value for s in AlertState]
_SEVERITIES = [s.value for s in Severity]
#: Stand-ins replaced by the pydantic models' references when the document is built.
RULE_PLACEHOLDER: JsonObject = {"x-placeholder": "RuleConfig"}
BACKTEST_PLACEHOLDER: JsonObject = {"x-placeholder": "BacktestRequest"}

CAPABILITY_NOTES = {
    Can.OWN_DATA: "Enterprise users see their own enterprise's stations only.",
    Can.PORTAL: "Enterprise users act for their own enterprise; admins for any.",
    Can.INGEST: "An enterprise (user or key) writes its own stations only (others: "
    "`not_owner`); a state gateway key writes every station.",
    Can.SIGNED_IN: "API keys cannot: they only send data.",
}

INFO_DESCRIPTION = """\
REST API of the IOC monitoring backend: stations and their readings, alerts and their
lifecycle, silences, analytics (VN_AQI, forest-fire danger, rule backtests), cameras, HTTP
ingest of readings and station files, the versioned configuration, accounts and the audit log.

**Authentication.** `POST /api/v1/auth/token` with `{"username", "password"}` gives a bearer
token; send it as `Authorization: Bearer <token>`. Enterprises and state gateways send data
with an API key in the same header. The pages use the `ioc_session` cookie of
`POST /api/v1/auth/login` instead. Each operation states the capability it needs
(`x-capability`): 401 means no or a bad credential (an expired login says so), 403 a caller
that may not do this. Refusals are in the audit log.

**Errors** answer `{"error": reason, ...}`, sometimes with `problems` (every problem of a bad
body) or other details. Times are ISO 8601 with an offset; answers use UTC (`Z`).

**Websocket.** `GET /ws` is the wall's live feed (JSON text frames), documented here for its
access rule and query; the frames are described in docs/protocol.md.
"""

TAGS = {
    "auth": "Logging in and out, one's own account.",
    "users": "User accounts (admins).",
    "audit": "The audit log (admins).",
    "apikeys": "API keys of enterprises and state gateways.",
    "stations": "Stations, readings and refused data.",
    "alerts": "The alert lifecycle.",
    "silences": "Maintenance windows that silence alerts.",
    "analytics": "VN_AQI, forest-fire danger and rule backtests.",
    "cameras": "Camera numbers and snapshots.",
    "ingest": "Readings and station files sent over HTTP.",
    "config": "The versioned configuration in force: rules, stations, enterprises, parameter sets.",
    "portal": "The enterprise portal.",
    "system": "Health, this document and the wall's websocket.",
    "undocumented": "Routes without a description yet.",
}

ERROR_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}
_ERROR_TEXT = {
    400: "Bad query or body: `error` says what, `problems` may list every problem.",
    401: "No credential, or a bad one (unknown, revoked or expired: `expired` is true then).",
    403: "Logged in (or an API key) but not allowed; or a cross-site cookie request.",
    404: "No such item.",
    409: "Conflict with the current state (details in the body).",
    429: "Too many failed logins: `retry_after_s` says when to try again.",
    503: "A backing service (InfluxDB) is unavailable.",
}
ERROR_RESPONSES: JsonObject = {
    name: {
        "description": _ERROR_TEXT[code],
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    for code, name in ERROR_NAMES.items()
}
#: aiohttp's own answer to a GET /ws that is not a websocket upgrade.
ERROR_RESPONSES["NotAWebsocket"] = {
    "description": "Not a websocket upgrade (aiohttp's answer, plain text).",
    "content": {"text/plain": {"schema": _STRING}},
}

_PROBLEM = {
    "oneOf": [
        _s("A problem."),
        _obj({"field": _s("Path of the field inside the item."), "message": _s()}),
    ]
}

_PARAMETER_ENTRY = _obj(
    {
        "unit": _s("Unit, e.g. ug/m3.", minLength=1),
        "min": _n("Smallest plausible value."),
        "max": _n("Largest plausible value (above min)."),
        "label_vi": _s("Vietnamese label."),
        "label_en": _s("English label."),
    },
    ("unit", "min", "max"),
    closed=True,
)

SCHEMAS: dict[str, JsonObject] = {
    "Error": {
        "type": "object",
        "properties": {
            "error": _s("Why the request failed."),
            "problems": {"type": "array", "items": _PROBLEM},
            "expired": {"type": "boolean", "description": "401: the login has expired."},
            "retry_after_s": _n("429: seconds until a login may be tried again.", "integer"),
            "current_version": _null(_n("409: the item's version now.", "integer")),
        },
        "required": ["error"],
        "additionalProperties": True,
    },
    "Credentials": _obj(
        {"username": _s(maxLength=64), "password": _s(maxLength=1024, format="password")},
        ("username", "password"),
        closed=True,
    ),
    "Me": _obj(
        {
            "username": _s(),
            "role": _s(enum=_ROLES),
            "enterprise": _null(_s("The enterprise the user is confined to.")),
            "display_name": _s(),
            "capabilities": {"type": "array", "items": _s(enum=[c.value for c in Can])},
        },
        ("username", "role", "capabilities"),
    ),
    "Login": _obj(
        {"user": _ref("Me"), "expires_at": _TIME}, ("user", "expires_at"), "A session login."
    ),
    "Token": _obj(
        {
            "token": _s("Send as `Authorization: Bearer <token>`."),
            "token_type": _s(enum=["bearer"]),
            "user": _ref("Me"),
            "expires_at": _TIME,
        },
        ("token", "token_type", "user", "expires_at"),
    ),
    "User": _obj(
        {
            "username": _s(),
            "role": _s(enum=_ROLES),
            "enterprise": _null(_s()),
            "display_name": _s(),
            "disabled": {"type": "boolean"},
            "created_at": _TIME,
        },
        ("username", "role", "enterprise", "disabled"),
    ),
    "ApiKey": _obj(
        {
            "id": _n(kind="integer"),
            "enterprise": _null(_s("Its enterprise; null for a state gateway key.")),
            "label": _s(),
            "created_by": _s(),
            "created_at": _TIME,
            "revoked_at": _TIME_OR_NULL,
        },
        ("id", "enterprise", "label"),
    ),
    "AuditEntry": _obj(
        {
            "id": _n(kind="integer"),
            "time": _TIME,
            "actor": _s("User name, `apikey:<id>`, `anonymous` or `system`."),
            "action": _s("e.g. login, logout, access, rule.update, alert.ack."),
            "target": _s("What it was about: a route, a rule id ..."),
            "outcome": _s(enum=["ok", "denied", "failed"]),
            "address": _s("The client's address."),
            "detail": _ANY_OBJECT,
        },
        ("id", "time", "actor", "action", "outcome"),
    ),
    "Station": _obj(
        {
            "id": _s(),
            "name": _s(),
            "kind": _s(),
            "owner": _s("Enterprise id, or `state`."),
            "lat": _n(),
            "lon": _n(),
            "status": _s(enum=["unknown", "ok", "alert", "offline"]),
            "last_seen": _TIME_OR_NULL,
            "values": {"type": "object", "additionalProperties": {"type": "number"}},
            "units": {"type": "object", "additionalProperties": _STRING},
            "labels": {
                "type": "object",
                "description": "Parameters whose label differs from the common one.",
                "additionalProperties": _obj({"label_vi": _s(), "label_en": _s()}),
            },
        },
        ("id", "status"),
        "A station as the wall shows it.",
    ),
    "StoredRow": {
        "type": "object",
        "properties": {"time": _TIME},
        "additionalProperties": True,
        "description": "A stored row: its time and its fields (values, station, reason ...).",
    },
    "Alert": _obj(
        {
            "id": _s(),
            "rule_id": _s(),
            "rule_name": _s(),
            "station_id": _s(),
            "station_name": _s(),
            "parameter": _s(),
            "severity": _s(enum=_SEVERITIES),
            "state": _s(enum=_STATES),
            "opened_at": _TIME_OR_NULL,
            "raised_at": _TIME_OR_NULL,
            "last_seen": _TIME_OR_NULL,
            "resolved_at": _TIME_OR_NULL,
            "value": _null(_n()),
            "peak": _null(_n()),
            "limit": _null(_n()),
            "count": _n(kind="integer"),
            "window": _s(),
            "flaps": _n(kind="integer"),
            "flapping": {"type": "boolean"},
            "silenced": {"type": "boolean"},
            "escalated": {"type": "boolean"},
            "retroactive": {"type": "boolean"},
            "acknowledged_at": _TIME_OR_NULL,
            "acknowledged_by": _null(_s()),
            "resolved_by": _null(_s()),
            "closed_at": _TIME_OR_NULL,
            "snapshot": _null(_s("Camera alerts: the evidence frame's URL.")),
        },
        ("id", "rule_id", "station_id", "severity", "state"),
    ),
    "AlertHistoryEntry": _obj(
        {
            "action": _s(),
            "at": _TIME_OR_NULL,
            "recorded_at": _TIME_OR_NULL,
            "user": _null(_s()),
            "from_state": _null(_s(enum=_STATES)),
            "to_state": _s(enum=_STATES),
            "value": _null(_n()),
            "comment": _null(_s()),
            "retroactive": {"type": "boolean"},
        },
        ("action", "to_state"),
    ),
    "Silence": _obj(
        {
            "id": _s(),
            "station_id": _null(_s()),
            "rule_id": _null(_s()),
            "start": _TIME,
            "end": _TIME,
            "reason": _s(),
            "created_by": _s(),
            "created_at": _TIME,
        },
        ("id", "start", "end", "reason"),
    ),
    "ConfigItem": _obj(
        {"key": _s(), "version": _n(kind="integer"), "item": _ANY_OBJECT},
        ("key", "version", "item"),
    ),
    "ConfigChange": _obj(
        {
            "id": _n(kind="integer"),
            "time": _TIME,
            "actor": _s(),
            "kind": _s(enum=list(KINDS)),
            "key": _s(),
            "action": _s(enum=["seed", "create", "update", "delete", "rollback"]),
            "old": _null(_ANY_OBJECT),
            "new": _null(_ANY_OBJECT),
            "rollback_of": _null(_n(kind="integer")),
        },
        ("id", "time", "actor", "kind", "key", "action"),
    ),
    "StationEntry": _obj(
        {
            "id": _s(pattern=r"^[A-Za-z0-9_.-]+$", maxLength=64),
            "name": _s(),
            "kind": _s(enum=list(get_args(StationKind))),
            "owner": _s("Enterprise id, or `state` (default)."),
            "lat": _n(minimum=-90, maximum=90),
            "lon": _n(minimum=-180, maximum=180),
            "parameters": {
                "oneOf": [
                    _s("Name of a parameter set."),
                    {"type": "object", "additionalProperties": _ref("ParameterEntry")},
                ]
            },
            "interval_s": _n("Seconds between two readings.", exclusiveMinimum=0, maximum=86400),
        },
        ("id", "name", "kind", "lat", "lon", "parameters"),
        "A station of the registry.",
        closed=True,
    ),
    "EnterpriseEntry": _obj(
        {"id": _s(pattern=r"^[A-Za-z0-9_.-]+$"), "name": _s()}, ("id", "name"), closed=True
    ),
    "ParameterEntry": _PARAMETER_ENTRY,
    "ParameterSet": {
        "type": "object",
        "additionalProperties": _ref("ParameterEntry"),
        "description": "Parameter key → its unit and plausible range.",
    },
    "Reading": _obj(
        {
            "station_id": _s(),
            "ts": {
                "oneOf": [_n("Epoch seconds."), _s("ISO 8601 with offset.", format="date-time")]
            },
            "values": {"type": "object", "additionalProperties": {"type": "number"}},
            "units": {"type": "object", "additionalProperties": _STRING},
            "status": {
                "type": "object",
                "additionalProperties": {"oneOf": [_n(kind="integer"), _STRING]},
                "description": "0/measuring, 1/calibrating, 2/device_error per parameter.",
            },
        },
        ("station_id", "ts", "values"),
        "One reading (docs/protocol.md); unknown fields are ignored.",
    ),
    "SenMLRecord": {
        "type": "object",
        "description": "RFC 8428 record; name `<station_id>:<parameter>`.",
        "properties": {
            "bn": _STRING,
            "bt": {"type": "number"},
            "bu": _STRING,
            "n": _STRING,
            "u": _STRING,
            "v": {"type": "number"},
            "t": {"type": "number"},
        },
        "additionalProperties": True,
    },
    "Rejection": _obj(
        {
            "station_id": _null(_s()),
            "parameter": _null(_s()),
            "reason": _s(enum=[r.value for r in RejectReason]),
            "detail": _s(),
        },
        ("reason", "detail"),
    ),
    "IngestResult": _obj(
        {
            "accepted": _n("Values accepted.", "integer"),
            "accepted_readings": _n("Readings accepted.", "integer"),
            "rejected": {"type": "array", "items": _ref("Rejection")},
        },
        ("accepted", "accepted_readings", "rejected"),
    ),
    "FileResult": _obj(
        {
            "name": _s(),
            "station_id": _null(_s()),
            "accepted": _n(kind="integer"),
            "rejected": _n(kind="integer"),
            "lines": {
                "type": "array",
                "items": _obj(
                    {
                        "line": _n(kind="integer"),
                        "parameter": _null(_s()),
                        "accepted": {"type": "boolean"},
                        "reason": _s(enum=[r.value for r in RejectReason]),
                        "detail": _s(),
                    },
                    ("line", "accepted"),
                ),
            },
        },
        ("name", "accepted", "rejected", "lines"),
    ),
    "Aqi": _obj(
        {
            "station_id": _s(),
            "time": _TIME_OR_NULL,
            "aqi": _null(_n()),
            "band": _n("-1 when unknown.", "integer"),
            "label_vi": _null(_s()),
            "label_en": _null(_s()),
            "color": _null(_s("#rrggbb")),
            "sub_indices": _ANY_OBJECT,
            "day": _obj(
                {"date": _s(format="date"), "aqi": _null(_n()), "complete": {"type": "boolean"}}
            ),
        },
        ("station_id", "aqi", "band"),
    ),
    "FireDanger": _obj(
        {
            "station_id": _s(),
            "station_name": _s(),
            "date": _s(format="date"),
            "time": _TIME_OR_NULL,
            "complete": {"type": "boolean"},
            "nesterov": _null(_n()),
            "level": _null(_n("Nesterov level 1..5.", "integer")),
            "label_vi": _null(_s()),
            "label_en": _null(_s()),
            **{k: _null(_n()) for k in ("ffmc", "dmc", "dc", "isi", "bui", "fwi")},
        },
        ("station_id", "level"),
    ),
    "BacktestResult": _obj(
        {
            "rule": _ANY_OBJECT,
            "period": _obj({"start": _TIME, "end": _TIME}),
            "summary": _obj(
                {
                    k: _n(kind="integer" if k != "firing_s" else "number")
                    for k in (
                        "stations",
                        "values",
                        "events",
                        "alerts",
                        "flaps",
                        "firing_s",
                        "stations_alerted",
                    )
                }
            ),
            "stations": {
                "type": "object",
                "additionalProperties": _obj(
                    {
                        "alerts": _n(kind="integer"),
                        "flaps": _n(kind="integer"),
                        "firing_s": _n(),
                    }
                ),
            },
            "events": {
                "type": "array",
                "items": _obj(
                    {
                        "time": _TIME,
                        "station_id": _s(),
                        "parameter": _s(),
                        "firing": {"type": "boolean"},
                        "severity": _s(enum=_SEVERITIES),
                        "value": _null(_n()),
                        "limit": _null(_n()),
                    }
                ),
            },
            "events_truncated": {"type": "boolean"},
        },
        ("rule", "period", "summary", "stations", "events"),
    ),
    "Completeness": _obj(
        {
            "day": _s(format="date"),
            "received": _n("Distinct reading times stored that day.", "integer"),
            "expected": _n("Reporting intervals of the day (so far, today).", "integer"),
            "ratio": _null(_n("received / expected, at most 1; null: none expected yet.")),
            "partial": {"type": "boolean", "description": "Today: not over yet."},
        },
        ("day", "received", "expected", "ratio"),
    ),
    "PortalStations": _obj(
        {
            "enterprise": _null(_s("The enterprise shown; null = every enterprise.")),
            "enterprises": {
                "type": "array",
                "items": _obj({"id": _s(), "name": _s()}, ("id", "name")),
                "description": "Those the caller may choose from.",
            },
            "timezone": _s(),
            "generated_at": _TIME,
            "days": {"type": "array", "items": _s(format="date"), "description": "Oldest first."},
            "stations": {
                "type": "array",
                "items": {
                    "allOf": [
                        _ref("Station"),
                        _obj(
                            {
                                "owner_name": _s(),
                                "interval_s": _n(),
                                "parameters": {"type": "object", "additionalProperties": True},
                                "completeness": {
                                    "type": "array",
                                    "items": _ref("Completeness"),
                                },
                                "completeness_total": _obj(
                                    {
                                        "received": _n(kind="integer"),
                                        "expected": _n(kind="integer"),
                                        "ratio": _null(_n()),
                                    }
                                ),
                            }
                        ),
                    ]
                },
            },
        },
        ("enterprise", "enterprises", "days", "stations"),
    ),
    "Camera": {
        "type": "object",
        "properties": {
            "camera": _s(),
            "name": _s(),
            "kind": _s(),
            "frames": {"type": "integer"},
            "fps": _null(_n()),
            "health": _ANY_OBJECT,
            "traffic": _ANY_OBJECT,
        },
        "additionalProperties": True,
        "description": "A camera's latest numbers and health.",
    },
}

_STATION_Q = Param("station", "A station id.", _s(pattern=r"^[A-Za-z0-9_.-]{1,64}$"))
_SINCE_Q = Param("since", "Only from this time on (ISO 8601 with offset).", _s(format="date-time"))
_LIMIT_Q = Param("limit", "At most this many rows, newest first.", _n(kind="integer", minimum=1))
_ID_INT = _n(kind="integer", minimum=1)
_ID_INT_DAYS = _n(kind="integer", minimum=1, maximum=31)


def _config_operations() -> dict[tuple[str, str], Op]:
    """The four configuration kinds share their routes."""
    kinds = {
        "rules": ("rule", RULE_PLACEHOLDER, "officers and admins"),
        "stations": ("station", _ref("StationEntry"), "admins"),
        "enterprises": ("enterprise", _ref("EnterpriseEntry"), "admins"),
        "parameter-sets": ("parameter set", _ref("ParameterSet"), "admins"),
    }
    out: dict[tuple[str, str], Op] = {}
    for path, (name, schema, writers) in kinds.items():
        rule_note = " `item.id` may be left out: it is the key." if name == "rule" else ""
        base = f"/api/v1/config/{path}"
        key = Param("key", f"The {name}'s key (its id).", _STRING, "path")
        version = _n("The version the editor read: 409 if it changed since.", "integer")
        out[("GET", base)] = Op(
            f"List every {name} with its version",
            "config",
            ok_content=_json(_list_of("items", _ref("ConfigItem"))),
        )
        out[("GET", f"{base}/{{key}}")] = Op(
            f"One {name} and its history",
            "config",
            params=(key,),
            ok_content=_json(
                {
                    "allOf": [
                        _ref("ConfigItem"),
                        _obj({"history": {"type": "array", "items": _ref("ConfigChange")}}),
                    ]
                }
            ),
            errors=(404,),
        )
        out[("PUT", f"{base}/{{key}}")] = Op(
            f"Create or replace a {name}",
            "config",
            f"In force at once when the whole configuration stays valid; otherwise 400 with "
            f"`problems` (`field`, `message`). `?dry_run=1` only validates. Changed by "
            f"{writers}.{rule_note}",
            params=(
                key,
                Param("dry_run", "1 or true: only validate.", _s(enum=["1", "true", "0"])),
            ),
            body=Body(_json(_obj({"item": schema, "version": version}, ("item",), closed=True))),
            ok_description='The recorded change (`{"valid": true}` for a dry run).',
            ok_content=_json(
                {
                    "oneOf": [
                        _ref("ConfigChange"),
                        _obj({"valid": {"type": "boolean"}}, ("valid",), closed=True),
                    ]
                }
            ),
            errors=(400, 409),
        )
        out[("DELETE", f"{base}/{{key}}")] = Op(
            f"Remove a {name}",
            "config",
            "Refused (400) when the configuration without it would be invalid.",
            params=(key, Param("version", "The version the editor read.", _n(kind="integer"))),
            ok_description="The recorded change.",
            ok_content=_json(_ref("ConfigChange")),
            errors=(400, 409),
        )
    return out


OPERATIONS: dict[tuple[str, str], Op] = {
    # --- system ---
    ("GET", "/api/v1/health"): Op(
        "Service health counters",
        "system",
        "`status` `ok`, or `degraded` with its `reasons`; event-loop lag and stalls; MQTT, "
        "store, pipeline (with its processing lag and queue), rejections by reason, wall "
        "clients and webhooks.",
        ok_content=_json(
            _obj(
                {
                    "status": _s(enum=["ok", "degraded"]),
                    "reasons": {
                        "type": "array",
                        "items": _s(enum=["storage_full", "loop_stall"]),
                        "description": "Why `degraded`: the spool is full; the event loop "
                        "stalled within `web.loop_stall_recent_s`.",
                    },
                    "loop": _obj(
                        {
                            "lag_ms": _n("The monitor's latest wake-up delay."),
                            "worst_stall_ms": _n(
                                "The longest stall within `web.loop_stall_recent_s` (0: none)."
                            ),
                            "stalls": _n("Stalls since start.", "integer", minimum=0),
                            "stall_threshold_ms": _n("A longer delay is a stall."),
                        },
                        ("lag_ms", "worst_stall_ms", "stalls", "stall_threshold_ms"),
                        "Event-loop lag: how late a periodic wake-up came.",
                    ),
                    "pipeline": _obj(
                        {
                            "lag_ms": _n(
                                "Receipt to processed and durable of the newest processed "
                                "MQTT message; while messages wait, now minus its receipt.",
                                "integer",
                                minimum=0,
                            ),
                            "queued": _n(
                                "MQTT messages waiting to be processed.", "integer", minimum=0
                            ),
                        },
                        ("lag_ms", "queued"),
                    ),
                    **{
                        k: _ANY_OBJECT
                        for k in (
                            "storage",
                            "mqtt",
                            "store",
                            "rejected_by_reason",
                            "wall",
                            "webhooks",
                            "email",
                        )
                    },
                },
                ("status", "reasons", "loop", "pipeline"),
            )
        ),
    ),
    ("GET", OPENAPI_PATH): Op(
        "This OpenAPI document",
        "system",
        ok_content=_json(_ANY_OBJECT),
    ),
    ("GET", "/ws"): Op(
        "The wall's live feed (websocket)",
        "system",
        "A websocket upgrade: JSON text frames `snapshot`, `stations`, `alert`, `camera`, "
        "`heartbeat`; client frames `ping` and `ack` (operators and above). See "
        "docs/protocol.md. `?since=SEQ` resumes after the last event seen.",
        params=(Param("since", "The last `seq` seen.", _n(kind="integer", minimum=0)),),
        ok=101,
        ok_description="Switching Protocols: the websocket is open.",
        errors=(400,),
        own_errors={400: "NotAWebsocket"},
    ),
    # --- auth ---
    ("POST", "/api/v1/auth/login"): Op(
        "Log in for the pages (session cookie)",
        "auth",
        f"Sets the `{SESSION_COOKIE}` cookie (HttpOnly, SameSite=Strict). A wrong password "
        "is a 401; too many failures lock the user and address out (429).",
        body=Body(_json(_ref("Credentials"))),
        ok_content=_json(_ref("Login")),
        errors=(400, 401, 429),
    ),
    ("POST", "/api/v1/auth/token"): Op(
        "Log in for a bearer token",
        "auth",
        "A wrong password is a 401; too many failures lock the user and address out (429).",
        body=Body(_json(_ref("Credentials"))),
        ok_content=_json(_ref("Token")),
        errors=(400, 401, 429),
    ),
    ("POST", "/api/v1/auth/logout"): Op(
        "Log out",
        "auth",
        "Ends the login used for this request (and clears the cookie).",
        ok_content=_json(_obj({"logged_out": _s()}, ("logged_out",))),
    ),
    ("GET", "/api/v1/auth/me"): Op(
        "Who am I",
        "auth",
        ok_content=_json(_ref("Me")),
    ),
    ("POST", "/api/v1/auth/password"): Op(
        "Change one's own password",
        "auth",
        "Every login of the user ends. A wrong current password is a 403.",
        body=Body(
            _json(
                _obj(
                    {"current": _s(format="password"), "new": _s(format="password")},
                    ("current", "new"),
                    closed=True,
                )
            )
        ),
        ok_content=_json(_obj({"changed": {"type": "boolean"}, "note": _s()})),
        errors=(400,),
    ),
    # --- users ---
    ("GET", "/api/v1/users"): Op(
        "List every user", "users", ok_content=_json(_list_of("users", _ref("User")))
    ),
    ("POST", "/api/v1/users"): Op(
        "Add a user",
        "users",
        "An enterprise user needs `enterprise`.",
        body=Body(
            _json(
                _obj(
                    {
                        "username": _s(pattern=r"^[A-Za-z0-9_.@-]{1,64}$"),
                        "role": _s(enum=_ROLES),
                        "password": _s(format="password"),
                        "enterprise": _null(_s("A known enterprise id.")),
                        "display_name": _s(maxLength=200),
                    },
                    ("username", "role", "password"),
                    closed=True,
                )
            )
        ),
        ok=201,
        ok_description="Created.",
        ok_content=_json(_ref("User")),
        errors=(400,),
    ),
    ("PATCH", "/api/v1/users/{username}"): Op(
        "Change a user",
        "users",
        "Disabling a user or changing the role ends its logins. An unknown user is a 404. "
        "Every field is optional (an empty body changes nothing).",
        params=(Param("username", "The user.", _STRING, "path"),),
        body=Body(
            _json(
                _obj(
                    {
                        "role": _s(enum=_ROLES),
                        "enterprise": _null(_s()),
                        "display_name": _s(maxLength=200),
                        "disabled": {"type": "boolean"},
                    },
                    closed=True,
                )
            ),
            required=False,
        ),
        ok_content=_json(_ref("User")),
        errors=(400, 404),
    ),
    ("DELETE", "/api/v1/users/{username}"): Op(
        "Remove a user",
        "users",
        "One's own account cannot be removed (409); an unknown user is a 404.",
        params=(Param("username", "The user.", _STRING, "path"),),
        ok_content=_json(_obj({"removed": _s()}, ("removed",))),
        errors=(404, 409),
    ),
    ("POST", "/api/v1/users/{username}/password"): Op(
        "Set a user's password",
        "users",
        "Every login of the user ends. A short password is a 400; an unknown user is a 404.",
        params=(Param("username", "The user.", _STRING, "path"),),
        body=Body(_json(_obj({"password": _s(format="password")}, ("password",), closed=True))),
        ok_content=_json(_obj({"changed": {"type": "boolean"}})),
        errors=(400, 404),
    ),
    ("GET", "/api/v1/audit"): Op(
        "Read the audit log",
        "audit",
        "Newest first.",
        params=(
            Param("actor", "Only this actor.", _STRING),
            Param("action", "Only this action (e.g. login, access).", _STRING),
            Param("outcome", "Only this outcome.", _s(enum=["ok", "denied", "failed"])),
            _SINCE_Q,
            Param("limit", "At most this many (default 200).", _n(kind="integer", minimum=1)),
        ),
        ok_content=_json(_list_of("entries", _ref("AuditEntry"))),
        errors=(400,),
    ),
    # --- API keys ---
    ("GET", "/api/v1/apikeys"): Op(
        "List API keys",
        "apikeys",
        "An enterprise user sees its own; an admin every key, or one enterprise's with "
        "`?enterprise=` (empty: state gateway keys).",
        params=(Param("enterprise", "Admins: only this enterprise's keys.", _STRING),),
        ok_content=_json(_list_of("api_keys", _ref("ApiKey"))),
    ),
    ("POST", "/api/v1/apikeys"): Op(
        "Make an API key",
        "apikeys",
        "The key is in the answer once and never again. Enterprises make keys for "
        "themselves; admins for any enterprise (`enterprise`: null = a state gateway).",
        body=Body(
            _json(
                _obj(
                    {"label": _s("What the key is for.", maxLength=200), "enterprise": _null(_s())},
                    ("label",),
                    closed=True,
                )
            )
        ),
        ok=201,
        ok_description="Created; `key` is shown once.",
        ok_content=_json({"allOf": [_ref("ApiKey"), _obj({"key": _s(), "note": _s()}, ("key",))]}),
        errors=(400,),
    ),
    ("DELETE", "/api/v1/apikeys/{id}"): Op(
        "Revoke an API key",
        "apikeys",
        params=(Param("id", "The key's id.", _ID_INT, "path"),),
        ok_content=_json(_ref("ApiKey")),
        errors=(404,),
    ),
    # --- stations and data ---
    ("GET", "/api/v1/stations"): Op(
        "Stations with their latest values",
        "stations",
        ok_content=_json(_list_of("stations", _ref("Station"))),
    ),
    ("GET", "/api/v1/readings"): Op(
        "Stored readings of one station",
        "stations",
        "Newest first.",
        params=(
            Param("station", "The station id.", _STATION_Q.schema, required=True),
            _SINCE_Q,
            _LIMIT_Q,
        ),
        ok_content=_json(
            _obj(
                {"station": _s(), "readings": {"type": "array", "items": _ref("StoredRow")}},
                ("station", "readings"),
            )
        ),
        errors=(400, 503),
    ),
    ("GET", "/api/v1/rejected"): Op(
        "Refused data (the dead-letter store)",
        "stations",
        "Newest first; an enterprise sees what was refused for its own stations.",
        params=(_STATION_Q, _SINCE_Q, _LIMIT_Q),
        ok_content=_json(_list_of("rejected", _ref("StoredRow"))),
        errors=(400, 503),
    ),
    # --- alerts ---
    ("GET", "/api/v1/alerts"): Op(
        "Query alerts",
        "alerts",
        "Newest first.",
        params=(
            Param(
                "state",
                f"all (default), active, or a comma-separated list of {', '.join(_STATES)}.",
                _STRING,
            ),
            Param("severity", "Only this severity.", _s(enum=_SEVERITIES)),
            Param("station", "Only this station.", _s(minLength=1, maxLength=64)),
            Param("since", "Opened at or after (ISO 8601 with offset).", _s(format="date-time")),
            Param("until", "Opened before (ISO 8601 with offset).", _s(format="date-time")),
            Param("limit", "At most this many (default 100).", _n(kind="integer", minimum=1)),
        ),
        ok_content=_json(_list_of("alerts", _ref("Alert"))),
        errors=(400,),
    ),
    ("GET", "/api/v1/alerts/{id}"): Op(
        "One alert and its history",
        "alerts",
        params=(Param("id", "The alert's id.", _STRING, "path"),),
        ok_content=_json(
            _obj(
                {
                    "alert": _ref("Alert"),
                    "history": {"type": "array", "items": _ref("AlertHistoryEntry")},
                },
                ("alert", "history"),
            )
        ),
        errors=(404,),
    ),
    ("POST", "/api/v1/alerts/{id}/{action}"): Op(
        "Acknowledge, resolve or close an alert",
        "alerts",
        "As the caller; 409 (with `alert_id` and `state`) when the alert's state does not "
        "allow it.",
        params=(
            Param("id", "The alert's id.", _STRING, "path"),
            Param("action", "What to do.", _s(enum=["ack", "resolve", "close"]), "path"),
        ),
        body=Body(
            _json(_obj({"comment": _s(maxLength=2000)}, closed=True)),
            required=False,
            description="Optional comment (an empty body is fine).",
        ),
        ok_content=_json(_obj({"alert": _ref("Alert")}, ("alert",))),
        errors=(400, 404, 409),
    ),
    ("POST", "/api/v1/alerts/{id}/comment"): Op(
        "Comment on an alert",
        "alerts",
        params=(Param("id", "The alert's id.", _STRING, "path"),),
        body=Body(_json(_obj({"text": _s(minLength=1, maxLength=2000)}, ("text",), closed=True))),
        ok_content=_json(_obj({"alert": _ref("Alert")}, ("alert",))),
        errors=(400, 404, 409),
    ),
    ("GET", "/api/v1/silences"): Op(
        "Silences not yet ended",
        "silences",
        ok_content=_json(_list_of("silences", _ref("Silence"))),
    ),
    ("POST", "/api/v1/silences"): Op(
        "Silence alerts of a station and/or rule for a while",
        "silences",
        body=Body(
            _json(
                _obj(
                    {
                        "station_id": _s("A known station (none: every station).", maxLength=64),
                        "rule_id": _s("A known rule (none: every rule).", maxLength=64),
                        "start": _s("Default now; ISO 8601 with offset.", format="date-time"),
                        "end": _s("ISO 8601 with offset.", format="date-time"),
                        "reason": _s("Why.", minLength=1, maxLength=2000),
                    },
                    ("end", "reason"),
                    closed=True,
                )
            )
        ),
        ok=201,
        ok_description="Created.",
        ok_content=_json(_obj({"silence": _ref("Silence")}, ("silence",))),
        errors=(400,),
    ),
    ("DELETE", "/api/v1/silences/{id}"): Op(
        "End a silence",
        "silences",
        params=(Param("id", "The silence's id.", _STRING, "path"),),
        ok=204,
        ok_description="Removed.",
        errors=(404,),
    ),
    # --- analytics ---
    ("POST", "/api/v1/rules/backtest"): Op(
        "Backtest a rule over stored history",
        "analytics",
        "Runs the rule through the live engine code over the history in InfluxDB: its "
        "events, flaps and a summary. A bad rule or period is a 400 listing every problem.",
        body=Body(_json(BACKTEST_PLACEHOLDER)),
        ok_content=_json(_ref("BacktestResult")),
        errors=(400, 503),
    ),
    ("GET", "/api/v1/aqi"): Op(
        "Current VN_AQI",
        "analytics",
        "The latest hourly VN_AQI (NowCast for PM) and today's daily AQI so far.",
        params=(Param("station", "Only this station.", _STRING),),
        ok_content=_json(_list_of("aqi", _ref("Aqi"))),
        errors=(404,),
    ),
    ("GET", "/api/v1/fire-danger"): Op(
        "Forest-fire danger today",
        "analytics",
        "Nesterov level (I–V) and FWI components so far today, per forest weather station.",
        ok_content=_json(_list_of("fire_danger", _ref("FireDanger"))),
    ),
    # --- cameras ---
    ("GET", "/api/v1/cameras"): Op(
        "Cameras: latest numbers and health",
        "cameras",
        ok_content=_json(_list_of("cameras", _ref("Camera"))),
    ),
    ("GET", "/api/v1/cameras/{id}/snapshots/{name}"): Op(
        "A camera snapshot",
        "cameras",
        "`latest.jpg` (with overlays) or an evidence frame `<ms>.jpg` of an alert.",
        params=(
            Param("id", "The camera's id.", _STRING, "path"),
            Param("name", "`latest.jpg` or `<ms>.jpg`.", _STRING, "path"),
        ),
        ok_content={"image/jpeg": {"type": "string", "contentMediaType": "image/jpeg"}},
        errors=(404,),
    ),
    # --- ingest ---
    ("POST", "/api/v1/ingest"): Op(
        "Send readings",
        "ingest",
        'A reading, a batch `{"readings": [...]}` or a SenML pack (a JSON array, or '
        "`Content-Type: application/senml+json`). Good items of a partly bad batch are "
        "accepted; every refusal is listed with its reason and kept in the dead-letter store. "
        "Accepted data is durable before the answer.",
        body=Body(
            {
                "application/json": {
                    "oneOf": [
                        _ref("Reading"),
                        _list_of("readings", _ref("Reading")),
                        {"type": "array", "items": _ref("SenMLRecord")},
                    ]
                },
                "application/senml+json": {"type": "array", "items": _ref("SenMLRecord")},
            }
        ),
        ok_content=_json(_ref("IngestResult")),
        errors=(400,),
    ),
    ("POST", "/api/v1/ingest/files"): Op(
        "Send station data files",
        "ingest",
        "`multipart/form-data` with one or many files, or one file as the body with "
        "`?filename=<STATION>_<YYYYMMDDhhmmss>.txt`. Each line gets a result.",
        params=(
            Param(
                "filename",
                "The file's name when the body is one raw file.",
                _s(pattern=r"^.+_\d{14}\.txt$"),
            ),
        ),
        body=Body(
            {
                "multipart/form-data": _obj(
                    {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "contentMediaType": "text/plain"},
                        }
                    }
                ),
                "text/plain": _s("One station file (with ?filename=)."),
            }
        ),
        ok_content=_json(_list_of("files", _ref("FileResult"))),
        errors=(400,),
    ),
    # --- configuration ---
    **_config_operations(),
    ("GET", "/api/v1/config/history"): Op(
        "Configuration changes",
        "config",
        "Newest first.",
        params=(
            Param("kind", "Only this kind.", _s(enum=list(KINDS))),
            Param("key", "Only this item.", _STRING),
            Param("limit", "At most this many (default 100).", _n(kind="integer", minimum=1)),
        ),
        ok_content=_json(_list_of("changes", _ref("ConfigChange"))),
        errors=(400,),
    ),
    ("POST", "/api/v1/config/history/{id}/rollback"): Op(
        "Put back what a change replaced",
        "config",
        "Recorded as a new change; the caller must be allowed to change that kind (403).",
        params=(Param("id", "The change's id.", _ID_INT, "path"),),
        ok_content=_json(_ref("ConfigChange")),
        errors=(400, 404),
    ),
    # --- portal ---
    ("GET", "/api/v1/portal/stations"): Op(
        "The enterprise's stations and their daily data completeness",
        "portal",
        "An enterprise user sees its own enterprise's stations (asking for another "
        "`enterprise` is a 403, audited); an admin those of `?enterprise=ID`, or of every "
        "enterprise (state stations are not in the portal). Per station: the wall's snapshot, "
        "its parameters and, per local day (Asia/Ho_Chi_Minh), how many of the expected "
        "readings were received (`ratio` capped at 1; today is `partial`).",
        params=(
            Param("days", "Local days, today included (default 7).", _ID_INT_DAYS),
            Param("enterprise", "Admins: only this enterprise.", _STRING),
        ),
        ok_content=_json(_ref("PortalStations")),
        errors=(400, 503),
    ),
}
