"""Where the wall gets its data: the page, the websocket feed and the REST API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from aiohttp import WSMsgType, web
from pydantic import ConfigDict, Field

from alerts.lifecycle import AlertError
from alerts.mail import EMAIL_NOTIFIER
from ioc import appkeys
from ioc.accounts import Role
from ioc.audit import DENIED, OK
from ioc.clock import iso_utc
from ioc.loop_monitor import LOOP_MONITOR, PIPELINE_LAG
from ioc.workers import WORKERS
from web.access import (
    PRINCIPAL,
    Can,
    audit,
    check_station,
    principal_of,
    visible_station_ids,
)
from web.alerts_api import MAX_TEXT
from web.api import Answer, ApiRoutes, Query
from web.api_docs import ASSETS, PAGE, SWAGGER_UI_DIR, api_docs_page
from web.basemap_api import add_basemap_routes
from web.broadcast import Broadcaster, WallClient
from web.fields import ID_PATTERN, IsoTime, UtcTime, WholeNumber, count, whole_number
from web.store_query import query_store

STATIC_DIR = Path(__file__).parent / "static"
MAX_ROWS = 10_000
#: The longest message the wall sends: an ``ack`` whose comment has MAX_TEXT characters, each
#: escaped as a surrogate pair in JSON (12 bytes), fits.
MAX_SOCKET_MESSAGE = 32 * 1024


api = ApiRoutes()


class StationLabel(Answer):
    label_vi: str
    label_en: str


class StationState(Answer):
    """A station and its latest values, as the wall's board has them."""

    id: str
    name: str
    kind: str
    owner: str = Field(description="Enterprise id, or `state`.")
    lat: float
    lon: float
    status: Literal["unknown", "ok", "alert", "offline"]
    last_seen: UtcTime | None
    values: dict[str, float]
    units: dict[str, str]


class StationAnswer(StationState):
    """A station as the wall shows it."""

    labels: dict[str, StationLabel] = Field(
        description="Parameters whose label differs from the common one."
    )


class StationList(Answer):
    stations: list[StationAnswer]


class StoredRow(Answer):
    """A stored row: its time and its fields (values, station, reason ...)."""

    model_config = ConfigDict(extra="allow")
    time: UtcTime


class StationReadings(Answer):
    station: str
    readings: list[StoredRow]


class RejectedList(Answer):
    rejected: list[StoredRow]


class RejectedQuery(Query):
    station: str | None = Field(None, pattern=ID_PATTERN, description="Only this station.")
    since: IsoTime | None = Field(None, description="Only from this time on.")
    limit: WholeNumber = count(100, MAX_ROWS, "At most this many rows, newest first.")


class ReadingsQuery(RejectedQuery):
    station: str = Field(pattern=ID_PATTERN, description="The station id.")


class SocketQuery(Query):
    since: str | None = Field(
        None, description="The last `seq` seen: the feed resumes after it (else a snapshot)."
    )


class LoopHealth(Answer):
    """Event-loop lag: how late a periodic wake-up came."""

    lag_ms: float = Field(description="The monitor's latest wake-up delay.")
    worst_stall_ms: float = Field(
        description="The longest stall within `web.loop_stall_recent_s` (0: none)."
    )
    stalls: int = Field(ge=0, description="Stalls since start.")
    stall_threshold_ms: float = Field(description="A longer delay is a stall.")


class StorageHealth(Answer):
    state: Literal["ok", "full"]
    reason: str | None
    since: UtcTime | None
    full_episodes: int
    refused_appends: int
    unstored_derived_lines: int


class PipelineHealth(Answer):
    model_config = ConfigDict(extra="allow")
    lag_ms: int = Field(
        ge=0,
        description="Receipt to processed and durable of the newest processed MQTT message; "
        "while messages wait, now minus its receipt.",
    )
    queued: int = Field(ge=0, description="MQTT messages waiting to be processed.")


class Health(Answer):
    status: Literal["ok", "degraded"]
    reasons: list[Literal["storage_full", "loop_stall", "worker_down"]] = Field(
        description="Why `degraded`: the spool is full; the event loop stalled within "
        "`web.loop_stall_recent_s`; a worker of the worker layout is not receiving (it is "
        "being started again)."
    )
    loop: LoopHealth
    storage: StorageHealth
    mqtt: dict[str, Any]
    store: dict[str, Any]
    pipeline: PipelineHealth
    rejected_by_reason: dict[str, int]
    wall: dict[str, Any]
    webhooks: dict[str, Any]
    email: dict[str, Any]
    workers: list[dict[str, Any]] = Field(
        description="The worker layout's processes (`workers.ingest` > 0): name, pid, "
        "running, ready (receiving), starts, crashes, last exit code."
    )
    forwarding: list[dict[str, Any]] = Field(
        description="Per `vehicles.forward` target: forwarded, failed POSTs, dropped, queued, "
        "and how long the oldest waiting position has waited (s)."
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", to_wall)
    app.router.add_get("/wall", wall_page)
    app.router.add_get("/console", console_page)
    app.router.add_get("/portal", portal_page)
    app.router.add_static("/static", STATIC_DIR)
    app.router.add_get(PAGE, api_docs_page)
    app.router.add_static(ASSETS, SWAGGER_UI_DIR)
    add_basemap_routes(app)
    api.add_to(app)


async def to_wall(request: web.Request) -> web.StreamResponse:
    """Each role's home: the wall, an enterprise its portal."""
    principal = request.get(PRINCIPAL)
    raise web.HTTPFound("/portal" if principal and principal.role == Role.ENTERPRISE else "/wall")


async def wall_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "wall.html")


async def console_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "console.html")


async def portal_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "portal.html")


@api.get("/ws", tag="system", status=101)
async def wall_socket(request: web.Request, query: SocketQuery) -> web.WebSocketResponse:
    """The wall's live feed (websocket)

    A websocket upgrade: JSON text frames `snapshot`, `stations`, `alert`, `camera`,
    `heartbeat`; client frames `ping` and `ack` (operators and above). See docs/protocol.md.
    A client message larger than 32 KiB closes the socket (1009)."""
    ws = web.WebSocketResponse(max_msg_size=MAX_SOCKET_MESSAGE)
    await ws.prepare(request)
    broadcaster = request.app[appkeys.BROADCASTER]
    client = broadcaster.attach(whole_number(query.since))
    sender = asyncio.create_task(_send_events(ws, client, broadcaster))
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                _answer_client_message(request, message.data, client)
    finally:
        sender.cancel()
        broadcaster.detach(client)
    return ws


async def _send_events(ws: web.WebSocketResponse, client: WallClient, b: Broadcaster) -> None:
    with contextlib.suppress(ConnectionError):
        while not ws.closed:
            item = await client.queue.get()
            await ws.send_str(b.snapshot_for(client) if item is None else item)


def _answer_client_message(request: web.Request, data: str, client: WallClient) -> None:
    """``ping`` → ``pong``; ``ack`` acknowledges an alert as the logged-in user, if their role
    may (the change itself reaches every wall as an alert event); anything else gets an error
    frame and the connection stays."""
    principal = principal_of(request)
    try:
        body = json.loads(data)
        kind = body.get("type") if isinstance(body, dict) else None
    except ValueError:
        kind, body = None, None
    reply: dict[str, Any] | None = None
    if kind == "ping":
        reply = {"type": "pong"}
    elif kind == "ack" and not principal.may(Can.OPERATE):
        reason = f"role {principal.role} may not acknowledge alerts"
        audit(request, principal.name, "alert.ack", DENIED, reason=reason)
        reply = {"type": "error", "reason": reason, "alert_id": body.get("alert_id")}
    elif kind == "ack" and not _is_comment(body.get("comment", "")):
        reason = f"`comment` must be a string of at most {MAX_TEXT} characters"
        reply = {"type": "error", "reason": reason, "alert_id": body.get("alert_id")}
    elif kind == "ack":
        try:
            alert = request.app[appkeys.ALERTS].acknowledge(
                str(body.get("alert_id", "")), principal.name, body.get("comment") or ""
            )
            audit(request, principal.name, "alert.ack", OK, alert_id=alert.id, via="wall")
        except AlertError as exc:
            reply = {"type": "error", "reason": str(exc), "alert_id": body.get("alert_id")}
    elif body is None:
        reply = {"type": "error", "reason": "message is not JSON"}
    else:
        reply = {"type": "error", "reason": f"unknown message type {kind!r}"}
    if reply is not None and not client.queue.full():
        client.queue.put_nowait(json.dumps(reply, ensure_ascii=False))


def _is_comment(value: object) -> bool:
    """An acknowledgement's comment: bounded as in the REST API."""
    return value is None or (isinstance(value, str) and len(value) <= MAX_TEXT)


@api.get("/api/v1/health", tag="system")
async def health(request: web.Request) -> Health:
    """Service health counters

    `status` is `ok`, or `degraded` with its `reasons`: `storage_full` while the spool is full
    (`storage` says why and since when; input is refused meanwhile), `loop_stall` for
    `web.loop_stall_recent_s` after the event loop stalled (`loop`). Also MQTT, store,
    pipeline (its processing lag and queue), rejections by reason, wall clients, webhooks,
    e-mail and the worker layout's processes (`worker_down` while one is not receiving)."""
    app = request.app
    store = app[appkeys.STORE]
    mqtt = app[appkeys.MQTT]
    spool = store.spool
    full = spool.full
    monitor = app[LOOP_MONITOR]
    stall = monitor.worst_recent_stall(asyncio.get_running_loop().time())
    pipeline_lag = app[PIPELINE_LAG]
    supervisor = app.get(WORKERS)
    workers = supervisor.health() if supervisor else []
    reasons = [
        reason
        for reason, present in (
            ("storage_full", full is not None),
            ("loop_stall", stall is not None),
            ("worker_down", any(not w["ready"] for w in workers)),
        )
        if present
    ]
    return Health.model_validate(
        {
            "status": "degraded" if reasons else "ok",
            "reasons": reasons,
            "loop": {
                "lag_ms": round(monitor.lag_ms, 1),
                "worst_stall_ms": 0 if stall is None else round(stall.ms),
                "stalls": monitor.stalls,
                "stall_threshold_ms": monitor.stall_threshold_ms,
            },
            "storage": {
                "state": "ok" if full is None else "full",
                "reason": None if full is None else full.reason,
                "since": None if full is None else iso_utc(full.since_ms),
                "full_episodes": spool.stats.full_episodes,
                "refused_appends": spool.stats.refused_appends,
                "unstored_derived_lines": store.stats.unstored_lines,
            },
            "mqtt": {
                "connected": mqtt.stats.connected,
                "received": mqtt.stats.received,
                "backpressure_waits": mqtt.stats.backpressure_waits,
                "reconnects": mqtt.stats.reconnects,
                "rejections_published": mqtt.stats.published,
                "outbox_dropped": mqtt.stats.outbox_dropped,
                "live_lane": vars_of(app[appkeys.LIVE_LANE]),
            },
            "store": {
                "written_points": store.stats.written_points,
                "pending_bytes": store.pending_bytes,
                "failed_requests": store.stats.failed_requests,
                "refused_points": store.stats.refused_points,
                "last_error": store.stats.last_error,
            },
            "pipeline": {
                **vars_of(app[appkeys.PIPELINE].stats),
                "lag_ms": pipeline_lag.lag_ms(),
                "queued": pipeline_lag.queued(),
            },
            "rejected_by_reason": dict(app[appkeys.REJECTIONS].by_reason),
            "wall": vars_of(app[appkeys.BROADCASTER].stats),
            "webhooks": vars_of(app[appkeys.NOTIFIER].stats),
            "email": vars_of(app[EMAIL_NOTIFIER].stats),
            "workers": workers,
            "forwarding": [
                {"url": str(f.target.url), **vars_of(f.stats)}
                for f in app[appkeys.PIPELINE].vehicles.forwarders
            ],
        }
    )


def vars_of(stats: object) -> dict[str, Any]:
    return {name: getattr(stats, name) for name in getattr(stats, "__slots__", ())}


@api.get("/api/v1/stations", tag="stations")
async def stations(request: web.Request) -> StationList:
    """Stations with their latest values

    An enterprise sees its own only."""
    board = request.app[appkeys.BOARD]
    now_ms = int(datetime.now().timestamp() * 1000)
    rows = board.snapshot(now_ms)
    visible = visible_station_ids(request)
    if visible is not None:
        rows = [row for row in rows if row["id"] in set(visible)]
    return StationList.model_validate({"stations": rows})


@api.get("/api/v1/readings", tag="stations", errors=(503,))
async def readings(request: web.Request, query: ReadingsQuery) -> StationReadings:
    """Stored readings of one station

    Newest first."""
    check_station(request, query.station)
    where = f"station = '{query.station}'" + _since_clause(query)
    rows = await query_store(
        request, f"SELECT * FROM reading WHERE {where} ORDER BY time DESC LIMIT {query.limit}"
    )
    return StationReadings(station=query.station, readings=[_row(r) for r in rows])


@api.get("/api/v1/rejected", tag="stations", errors=(503,))
async def rejected(request: web.Request, query: RejectedQuery) -> RejectedList:
    """Refused data (the dead-letter store)

    Newest first. An enterprise sees what was refused for its own stations, but not others'
    attempts on them (`not_owner`: the payload is the sender's)."""
    station = query.station
    where = "time > 0" + (f" AND station = '{station}'" if station else "")
    visible = visible_station_ids(request)
    if station:
        check_station(request, station)
    elif visible is not None:
        if not visible:  # `=~ /^()$/` would match the refusals that have no station
            return RejectedList(rejected=[])
        where += " AND station =~ /^(" + "|".join(map(re.escape, visible)) + ")$/"
    if visible is not None:  # another sender's attempt on its station is not its data
        where += " AND reason != 'not_owner'"
    where += _since_clause(query)
    rows = await query_store(
        request, f"SELECT * FROM rejected WHERE {where} ORDER BY time DESC LIMIT {query.limit}"
    )
    return RejectedList(rejected=[_row(r) for r in rows])


def _row(row: dict[str, Any]) -> StoredRow:
    out = {k: v for k, v in row.items() if k not in ("tags", "time") and v is not None}
    out["time"] = iso_utc(row["time"])
    return StoredRow.model_validate(out)


def _since_clause(query: RejectedQuery) -> str:
    return "" if query.since is None else f" AND time >= {query.since}ms"
