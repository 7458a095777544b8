"""``ioc watch``: the wall's alert feed in a terminal, for operators on a remote shell.

It follows the websocket ``/ws`` as the wall page does (web/static/wall/connection.js): the
first frame is a snapshot, printed as a table of the open alerts; then one line per alert
event. Station deltas, camera frames and heartbeats are not printed; heartbeats only prove
the feed alive. Times are Vietnam time (Asia/Ho_Chi_Minh).

A dropped connection is opened again with backoff (1 s doubling to 15 s) and
``?since=<last seq seen>``: the server replays exactly the events missed, or, when they are
no longer in its replay buffer (or it restarted), sends a fresh snapshot, printed as a resync.
No frame for max(20 s, three heartbeat intervals) counts as a dropped connection.

Login: ``--token`` or ``IOC_TOKEN`` (``Authorization: Bearer``; a bearer token needs no
``Origin``), else ``POST /api/v1/auth/token`` with ``--user`` (or ``IOC_USER``) and the
password of ``IOC_PASSWORD`` or asked on the terminal. A login that expires is renewed with the
same password; a refused token ends the command.

Two halves: :class:`Feed` turns frames into output lines and keeps what resuming needs (pure,
no input/output); :func:`watch` is the connection loop around it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from alerts.wording import EVENT_WORDS, SCORED_RULES, SEVERITY_WORDS
from ioc.clock import LOCAL_TZ
from ioc.messages import Severity

Language = Literal["vi", "en"]
Frame = dict[str, Any]
Out = Callable[[str], None]

RECONNECT_MIN_S = 1.0
RECONNECT_MAX_S = 15.0
LOST_AFTER_S = 20.0
LOST_AFTER_HEARTBEATS = 3
MAX_FRAME_BYTES = 64 * 1024 * 1024  # a snapshot of a large province

STATE_WORDS: dict[Language, dict[str, str]] = {
    "vi": {
        "open": "đang mở",
        "acknowledged": "đã tiếp nhận",
        "resolved": "đã hết",
        "closed": "đã đóng",
    },
    "en": {
        "open": "open",
        "acknowledged": "acknowledged",
        "resolved": "resolved",
        "closed": "closed",
    },
}
TEXTS: dict[Language, dict[str, str]] = {
    "vi": {
        "snapshot": "Cảnh báo đang mở lúc {time}: {count}",
        "resync": "Đồng bộ lại lúc {time} (sự kiện đã lỡ không còn): {count} cảnh báo đang mở",
        "none": "(không có cảnh báo nào)",
        "header": "Thời gian|Mức|Trạm|Quy tắc|Trạng thái|Nội dung",
        "limit": "giới hạn",
        "baseline": "nền",
        "by": "bởi",
        "error": "Máy chủ báo lỗi: {reason}",
        "connecting": "Đang kết nối {url} …",
        "connected": "Đã kết nối.",
        "lost": "Mất kết nối ({why}); thử lại sau {delay:g} giây.",
        "silent": "không nhận được gì trong {seconds:g} giây",
        "refused": "Máy chủ từ chối đăng nhập ({status}): {reason}",
        "password": "Mật khẩu của {user}: ",
        "no_user": "Cần --user (hoặc IOC_USER), hoặc --token (hoặc IOC_TOKEN).",
    },
    "en": {
        "snapshot": "Open alerts at {time}: {count}",
        "resync": "Resync (the missed events are no longer kept) at {time}: {count} open alerts",
        "none": "(no alerts)",
        "header": "Time|Severity|Station|Rule|State|Message",
        "limit": "limit",
        "baseline": "baseline",
        "by": "by",
        "error": "The server reports an error: {reason}",
        "connecting": "Connecting to {url} …",
        "connected": "Connected.",
        "lost": "Connection lost ({why}); retrying in {delay:g} s.",
        "silent": "nothing received for {seconds:g} s",
        "refused": "The server refused the login ({status}): {reason}",
        "password": "Password of {user}: ",
        "no_user": "Give --user (or IOC_USER), or --token (or IOC_TOKEN).",
    },
}
#: The time an alert event happened, where the alert carries it.
EVENT_TIME = {
    "opened": "opened_at",
    "updated": "last_seen",
    "acknowledged": "acknowledged_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
}
TABLE_WIDTHS = (14, 10, 28, 24, 13)  # the last column (message) is not cut


# --- frames to lines (no input/output) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Style:
    language: Language = "vi"
    as_json: bool = False


def render(
    frame: Frame,
    style: Style,
    received: datetime,
    parameters: dict[str, dict[str, str]] | None = None,
    resync: bool = False,
) -> list[str]:
    """The lines that one frame prints: a snapshot's table (``resync``: not the first one),
    an alert event's line, a server error; nothing for the others. ``parameters`` are the
    labels and units of the last snapshot; ``received`` stands in for a time the frame lacks."""
    kind = frame.get("type")
    texts = TEXTS[style.language]
    if kind == "snapshot":
        alerts = [a for a in frame.get("alerts") or [] if isinstance(a, dict)]
        if style.as_json:
            out = {"type": "snapshot", "seq": frame.get("seq"), "resync": resync}
            return [_json_line(out | {"server_time": frame.get("server_time"), "alerts": alerts})]
        when = local_time(frame.get("server_time"), received)
        title = texts["resync" if resync else "snapshot"].format(time=when, count=len(alerts))
        if not alerts:
            return [title, texts["none"]]
        rows = [texts["header"].split("|")]
        rows += [_columns(a, style.language, parameters or {}, "", None) for a in alerts]
        return [title, *(_table_row(row) for row in rows)]
    if kind == "alert" and isinstance(frame.get("alert"), dict):
        if style.as_json:
            return [_json_line({k: frame.get(k) for k in ("type", "seq", "event", "alert")})]
        event = str(frame.get("event", ""))
        alert = frame["alert"]
        return [_table_row(_columns(alert, style.language, parameters or {}, event, received))]
    if kind == "error":
        if style.as_json:
            return [_json_line(frame)]
        return [texts["error"].format(reason=frame.get("reason", ""))]
    return []  # heartbeats, station deltas, cameras, pong


@dataclass
class Feed:
    """What the client keeps of the feed: the last ``seq`` seen (to resume from), how many
    snapshots came (a later one is a resync), the parameters' labels and the heartbeat interval."""

    style: Style = field(default_factory=Style)
    last_seq: int | None = None
    snapshots: int = 0
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)
    heartbeat_s: float | None = None

    def since(self) -> int | None:
        """The ``since`` of the next connection."""
        return self.last_seq

    def take(self, frame: Frame) -> bool:
        """Note the frame; False for one to skip: an event seen already (its ``seq`` is not
        after the last one seen). A snapshot is always taken: it restarts the count (a
        restarted server counts from 0 again). A heartbeat names the latest ``seq`` without
        being an event: it moves nothing."""
        kind, seq = frame.get("type"), frame.get("seq")
        if kind in ("snapshot", "heartbeat"):
            interval = frame.get("heartbeat_s" if kind == "snapshot" else "interval_s")
            if isinstance(interval, int | float) and interval > 0:
                self.heartbeat_s = float(interval)
        if kind == "heartbeat":
            return False
        if kind == "snapshot":
            if not isinstance(seq, int):
                return False
            self.snapshots += 1
            self.last_seq = seq
            self.parameters = dict(frame.get("parameters") or {})
            return True
        if isinstance(seq, int):
            if self.last_seq is not None and seq <= self.last_seq:
                return False
            self.last_seq = seq
        return True

    def receive(self, frame: Frame, received: datetime) -> list[str]:
        """:meth:`take` the frame, then the lines it prints (:func:`render`)."""
        if not self.take(frame):
            return []
        resync = frame.get("type") == "snapshot" and self.snapshots > 1
        return render(frame, self.style, received, self.parameters, resync)

    def lost_after_s(self) -> float:
        """Silence after which the connection counts as dropped."""
        return max(LOST_AFTER_S, LOST_AFTER_HEARTBEATS * (self.heartbeat_s or 0))


def _columns(
    alert: Frame,
    language: Language,
    parameters: dict[str, dict[str, str]],
    event: str,
    received: datetime | None,
) -> list[str]:
    """time, severity, station, rule, state, message: of the event, or (no ``event``) of the
    alert's opening."""
    when = local_time(alert.get(EVENT_TIME.get(event or "opened", "")), received)
    severity = str(alert.get("severity", ""))
    with contextlib.suppress(ValueError):
        severity = SEVERITY_WORDS[language][Severity(severity)]
    station = str(alert.get("station_id", ""))
    if alert.get("station_name") and alert["station_name"] != station:
        station = f"{station} {alert['station_name']}"
    rule = str(alert.get("rule_name") or alert.get("rule_id", ""))
    state = str(alert.get("state", ""))
    message = _message(alert, language, parameters)
    if event:
        message = f"{EVENT_WORDS[language].get(event, event)}: {message}"
        if event == "acknowledged" and alert.get("acknowledged_by"):
            message += f" ({TEXTS[language]['by']} {alert['acknowledged_by']})"
    return [when, severity, station, rule, STATE_WORDS[language].get(state, state), message]


def _message(alert: Frame, language: Language, parameters: dict[str, dict[str, str]]) -> str:
    """``PM2.5 260.5 µg/m³ (giới hạn 200 µg/m³)``"""
    parameter = str(alert.get("parameter") or "")
    spec = parameters.get(parameter, {})
    label = spec.get(f"label_{language}") or parameter
    unit = f" {spec['unit']}" if spec.get("unit") else ""
    value, limit = _number(alert.get("value")), _number(alert.get("limit"))
    baseline = _number(alert.get("baseline"))
    text = f"{label} {value}{unit}".strip()
    if baseline:  # an anomaly: its limit is a detector's score, its baseline a level
        text += f" ({TEXTS[language]['baseline']} {baseline}{unit})"
    elif limit and str(alert.get("rule_id")) not in SCORED_RULES:
        text += f" ({TEXTS[language]['limit']} {limit}{unit})"
    return text


def local_time(iso: object, fallback: datetime | None) -> str:
    """An ISO time of the wire in Vietnam time, ``05/12 14:03:22``; else ``fallback``'s."""
    moment = fallback
    if isinstance(iso, str) and iso:
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(iso)
    if moment is None:
        return "-"
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m %H:%M:%S")


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) else ""


def _table_row(columns: list[str]) -> str:
    cells = [_fit(text, width) for text, width in zip(columns, TABLE_WIDTHS, strict=False)]
    return "  ".join([*cells, *columns[len(TABLE_WIDTHS) :]])


def _fit(text: str, width: int) -> str:
    return text[: width - 1] + "…" if len(text) > width else text.ljust(width)


def _json_line(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- the connection loop ---------------------------------------------------------------------


class LoginRefused(Exception):
    """The server refused the credentials: retrying cannot help."""


@dataclass
class WatchOptions:
    url: str  # the service, http(s)://host:port
    token: str | None = None
    user: str | None = None
    password: str | None = None
    language: Language = "vi"
    as_json: bool = False
    reconnect_min_s: float = RECONNECT_MIN_S
    reconnect_max_s: float = RECONNECT_MAX_S


def socket_url(base: str, since: int | None) -> str:
    """``http://h:p`` → ``ws://h:p/ws[?since=N]`` (https → wss)."""
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
    path = parts.path.rstrip("/") + "/ws"
    return urlunsplit((scheme, parts.netloc, path, "" if since is None else f"since={since}", ""))


async def log_in(base: str, user: str, password: str) -> str:
    """A login token from ``POST /api/v1/auth/token``; :class:`LoginRefused` on 4xx."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            base.rstrip("/") + "/api/v1/auth/token",
            json={"username": user, "password": password},
            timeout=aiohttp.ClientTimeout(total=30),
        ) as response,
    ):
        text = await response.text()
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {"error": text[:200]}
        if 400 <= response.status < 500:
            raise LoginRefused(f"{response.status}: {body.get('error', '')}")
        response.raise_for_status()
        if not isinstance(body.get("token"), str):
            raise aiohttp.ClientPayloadError("the login answer has no token")
        return str(body["token"])


async def watch(options: WatchOptions, out: Out, status: Out, feed: Feed | None = None) -> None:
    """Follow the feed until cancelled: frames' lines to ``out``, connection news to
    ``status``. Raises :class:`LoginRefused` when the credentials are refused."""
    feed = feed or Feed(Style(options.language, options.as_json))
    texts = TEXTS[options.language]
    token = options.token
    delay = options.reconnect_min_s
    while True:
        why = ""
        try:
            if token is None:
                if options.user is None or options.password is None:
                    raise LoginRefused(texts["no_user"])
                token = await log_in(options.url, options.user, options.password)
            url = socket_url(options.url, feed.since())
            status(texts["connecting"].format(url=url))
            async with connect(
                url,
                additional_headers={"Authorization": f"Bearer {token}"},
                max_size=MAX_FRAME_BYTES,
                open_timeout=15,
            ) as socket:
                status(texts["connected"])
                while True:
                    silence = feed.lost_after_s()
                    try:
                        async with asyncio.timeout(silence):
                            text = await socket.recv()
                    except TimeoutError:
                        why = texts["silent"].format(seconds=silence)
                        break
                    delay = options.reconnect_min_s  # a frame: the connection works
                    try:
                        frame = json.loads(text)
                    except ValueError:
                        continue
                    if isinstance(frame, dict):
                        for line in feed.receive(frame, datetime.now(LOCAL_TZ)):
                            out(line)
        except InvalidStatus as exc:
            code = exc.response.status_code
            if code == 401 and options.token is None:
                token = None  # the login expired: log in again
            elif code in (401, 403):
                reason = exc.response.body.decode("utf-8", "replace").strip()
                raise LoginRefused(texts["refused"].format(status=code, reason=reason)) from exc
            why = f"HTTP {code}"
        except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as exc:
            why = str(exc) or type(exc).__name__
        except aiohttp.ClientError as exc:
            why = str(exc) or type(exc).__name__
        status(texts["lost"].format(why=why or "closed", delay=delay))
        await asyncio.sleep(delay)
        delay = min(delay * 2, options.reconnect_max_s)


# --- the command -----------------------------------------------------------------------------


def add_watch_parser(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--url", help="the service (default: web.host and web.port of the config)")
    sub.add_argument("--user", default=os.environ.get("IOC_USER"), help="user name (IOC_USER)")
    sub.add_argument(
        "--token", default=os.environ.get("IOC_TOKEN"), help="a login token instead (IOC_TOKEN)"
    )
    sub.add_argument("--lang", choices=["vi", "en"], default="vi", help="language (default vi)")
    sub.add_argument("--json", action="store_true", help="one JSON object per line")


def default_url(config_path: Path | None) -> str:
    """The service of the configuration: ``http://web.host:web.port``."""
    from ioc.cli import DEFAULT_CONFIG
    from ioc.config import load_config

    if config_path is None and DEFAULT_CONFIG.exists():
        config_path = DEFAULT_CONFIG
    web = load_config(config_path).web
    host = "127.0.0.1" if web.host in ("", "0.0.0.0", "::") else web.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{web.port}"


def watch_command(args: argparse.Namespace) -> int:
    language: Language = args.lang
    texts = TEXTS[language]
    options = WatchOptions(
        url=args.url or default_url(args.config),
        token=args.token or None,
        user=args.user,
        language=language,
        as_json=args.json,
    )
    if options.token is None and options.user:
        options.password = os.environ.get("IOC_PASSWORD") or getpass.getpass(
            texts["password"].format(user=options.user)
        )

    def out(line: str) -> None:
        print(line, flush=True)

    def status(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        asyncio.run(watch(options, out, status))
    except LoginRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
