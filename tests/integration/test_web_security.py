"""Web security of the real service (issue #11): a burst of concurrent logins cannot guess
more than the lock-out allows, the websocket refuses the session cookie from another site and
bounds what it is sent, idle and slow connections are closed, and every answer carries the
browser security headers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, ConsoleMessage

from ioc import appkeys
from ioc.accounts import Role
from ioc.config import IocConfig
from ioc.private_services import free_port
from ioc.registry import StationRegistry
from ioc.runner import app_runner
from ioc.service import create_app
from tests.factories import payload
from tests.integration.conftest import (
    TEST_PASSWORD,
    TEST_USERS,
    RunningService,
    logged_in_context,
    run_service,
)
from tests.integration.test_access_bad_input import answer, audit_entries
from tests.integration.test_end_to_end import next_frame, publish
from tests.reliability import Outcome, record
from web.alerts_api import MAX_TEXT

pytestmark = pytest.mark.adversarial

OPERATOR = TEST_USERS[Role.OPERATOR]
EVIL = "http://evil.example"
BURST = 41


# --- logins ------------------------------------------------------------------------------


async def test_a_burst_of_concurrent_logins_gets_no_more_guesses_than_the_limit(
    service: RunningService,
) -> None:
    """41 logins for one user at once, 40 wrong and the right one last: at most
    ``max_login_failures`` reach the password check, every other is a 429."""
    limit = service.config.access.max_login_failures
    passwords = ["a wrong guess"] * (BURST - 1) + [TEST_PASSWORD]
    async with aiohttp.ClientSession() as http:

        async def attempt(password: str) -> int:
            async with http.post(
                f"{service.url}/api/v1/auth/token",
                json={"username": OPERATOR, "password": password},
            ) as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(attempt(p) for p in passwords))
    checked = [s for s in statuses if s != 429]
    assert set(checked) <= {200, 401}, statuses
    assert len(checked) <= limit, statuses
    entries = await audit_entries(service, actor=OPERATOR, action="login", limit="100")
    assert len([e for e in entries if e["outcome"] != "denied"]) == len(checked)
    record(
        Outcome(
            fault="attack: concurrent password guesses",
            input="HTTP login",
            sent=BURST,
            stored=0,
            refused=statuses.count(429),
            lost=0,
            duplicated=0,
            note=f"{len(checked)} reached the password check (limit {limit})",
        )
    )


# --- websocket ---------------------------------------------------------------------------


async def session_cookie(service: RunningService, role: Role = Role.OPERATOR) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{service.url}/api/v1/auth/login",
            json={"username": TEST_USERS[role], "password": TEST_PASSWORD},
        ) as response,
    ):
        await answer(response, 200)
        return response.cookies["ioc_session"].value


async def open_alert(service: RunningService) -> str:
    """An open alert (a dust exceedance at STK-1), seen on the wall's feed."""
    async with service.http() as http, http.ws_connect(f"{service.url}/ws") as ws:
        await next_frame(ws, "snapshot")
        await publish(service, "STK-1", payload({"dust": 480}))
        alert_id: str = (await next_frame(ws, "alert"))["alert"]["id"]
        return alert_id


async def alert_state(service: RunningService, alert_id: str) -> dict[str, Any]:
    async with service.http() as http, http.get(f"{service.url}/api/v1/alerts/{alert_id}") as r:
        body: dict[str, Any] = await answer(r, 200)
        return body


async def test_the_session_cookie_opens_the_websocket_from_our_own_pages_only(
    service: RunningService,
) -> None:
    alert_id = await open_alert(service)
    cookie = {"Cookie": f"ioc_session={await session_cookie(service)}"}
    async with aiohttp.ClientSession() as http, asyncio.timeout(30):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with http.ws_connect(f"{service.url}/ws", headers={**cookie, "Origin": EVIL}):
                pass
        assert refused.value.status == 403
        assert (await alert_state(service, alert_id))["alert"]["state"] == "open"
        async with http.ws_connect(
            f"{service.url}/ws", headers={**cookie, "Origin": service.url}
        ) as ws:
            await next_frame(ws, "snapshot")
            await ws.send_json({"type": "ack", "alert_id": alert_id})
            await next_frame(ws, "alert")
    assert (await alert_state(service, alert_id))["alert"]["acknowledged_by"] == OPERATOR
    denied = await audit_entries(service, actor=OPERATOR, action="access", outcome="denied")
    assert any("evil.example" in e["detail"].get("reason", "") for e in denied), denied
    record(
        Outcome(
            fault="attack: cross-site websocket with the session cookie",
            input="websocket",
            sent=1,
            stored=0,
            refused=1,
            lost=0,
            duplicated=0,
            note="403 at the handshake; the same page origin acknowledges",
        )
    )


async def test_a_bearer_token_opens_the_websocket_without_origin(service: RunningService) -> None:
    async with service.http(Role.VIEWER) as http, http.ws_connect(f"{service.url}/ws") as ws:
        await next_frame(ws, "snapshot")


async def test_the_allowed_origins_may_use_the_session_cookie(config: IocConfig) -> None:
    proxied = "https://ioc.example.gov.vn"
    access = config.access.model_copy(update={"allowed_origins": [proxied]})
    async with run_service(config.model_copy(update={"access": access})) as service:
        cookie = {"Cookie": f"ioc_session={await session_cookie(service)}"}
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"{service.url}/ws", headers={**cookie, "Origin": proxied}) as ws,
        ):
            await next_frame(ws, "snapshot")


async def test_a_websocket_comment_is_bounded_like_the_rest_api(service: RunningService) -> None:
    alert_id = await open_alert(service)
    too_long = {"type": "ack", "alert_id": alert_id, "comment": "x" * (MAX_TEXT + 1)}
    huge = {**too_long, "comment": "x" * 3 * 1024**2}
    async with service.http(Role.OPERATOR) as http, asyncio.timeout(30):
        async with http.ws_connect(f"{service.url}/ws") as ws:
            await next_frame(ws, "snapshot")
            await ws.send_json(too_long)
            error = await next_frame(ws, "error")
            assert str(MAX_TEXT) in error["reason"] and error["alert_id"] == alert_id
        assert (await alert_state(service, alert_id))["alert"]["state"] == "open"
        # a frame far beyond any valid message closes the socket (1009: message too big)
        async with http.ws_connect(f"{service.url}/ws") as ws:
            await next_frame(ws, "snapshot")
            await ws.send_str(json.dumps(huge))
            while not ws.closed:
                await ws.receive()
            assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    state = await alert_state(service, alert_id)
    assert state["alert"]["state"] == "open"
    assert all(len(h.get("comment") or "") <= MAX_TEXT for h in state["history"])
    record(
        Outcome(
            fault="attack: oversized websocket comment",
            input="websocket",
            sent=2,
            stored=0,
            refused=2,
            lost=0,
            duplicated=0,
            note=f"> {MAX_TEXT} characters: error frame; > 64 KiB: closed with 1009",
        )
    )


# --- connections -------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def served_by_the_runner(config: IocConfig) -> AsyncIterator[tuple[str, int]]:
    """The service behind :func:`ioc.runner.app_runner`, as ``ioc run`` serves it."""
    app = create_app(config, StationRegistry.from_file(config.registry))
    runner = app_runner(app, config.web)
    await runner.setup()
    port = free_port()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.wait_for(app[appkeys.MQTT].connected.wait(), 10)
        yield "127.0.0.1", port
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("opening", [b"", b"GET /login HTTP/1.1\r\nHost: ioc\r\n"])
async def test_an_idle_or_slow_connection_is_closed(config: IocConfig, opening: bytes) -> None:
    """A connection that sends nothing, or a request header that never ends (one byte at a
    time: slowloris), is closed after ``web.idle_timeout_s``."""
    web_config = config.web.model_copy(update={"idle_timeout_s": 1.0})
    async with served_by_the_runner(config.model_copy(update={"web": web_config})) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(opening)

            async def trickle() -> None:
                while not writer.is_closing():
                    writer.write(b"X")
                    await writer.drain()
                    await asyncio.sleep(0.2)

            dripping = asyncio.create_task(trickle()) if opening else None
            async with asyncio.timeout(30):  # generous: the bound is 1 s
                assert await reader.read() == b""
            if dripping:
                dripping.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await dripping
        finally:
            writer.close()


# --- headers -----------------------------------------------------------------------------


async def test_every_answer_carries_the_security_headers(service: RunningService) -> None:
    cookie = {"Cookie": f"ioc_session={await session_cookie(service, Role.ADMIN)}"}
    calls = [
        ("GET", "/login", {}, 200),
        ("GET", "/wall", cookie, 200),
        ("GET", "/console", cookie, 200),
        ("GET", "/static/wall.js", {}, 200),
        ("GET", "/api/v1/auth/me", cookie, 200),
        ("GET", "/api/v1/auth/me", {}, 401),
        ("GET", "/wall", {}, 302),
        ("POST", "/api/v1/apikeys", {**cookie, "Origin": EVIL}, 403),
        ("GET", "/no/such/page", {}, 404),
        ("POST", "/api/v1/auth/login", {}, 400),
    ]
    async with aiohttp.ClientSession() as http:
        for method, path, headers, status in calls:
            async with http.request(
                method, service.url + path, headers=headers, allow_redirects=False
            ) as response:
                assert response.status == status, (method, path, await response.text())
                got = response.headers
                csp = got.get("Content-Security-Policy", "")
                assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
                assert got.get("X-Frame-Options") == "DENY", path
                assert got.get("X-Content-Type-Options") == "nosniff", path
                assert got.get("Referrer-Policy") == "same-origin", path


PAGES = {  # page → the mark it sets once it has loaded and, for the wall, connected
    "/login": "body[data-ready='true']",
    "/wall": "body[data-connected='true']",
    "/console": "body[data-ready='true']",
    "/portal": "body[data-ready='true']",
}


async def test_the_pages_work_under_the_content_security_policy(
    service: RunningService, browser: Browser
) -> None:
    """Chromium reports what the policy blocks on the console (not as page errors)."""
    context = await logged_in_context(browser, service, Role.ADMIN, 1400, 900)
    blocked: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            blocked.append(message.text)

    for path, loaded in PAGES.items():
        page = await context.new_page()
        page.on("console", watch)
        await page.goto(service.url + path)
        await page.wait_for_selector(loaded, timeout=15_000)
        assert blocked == [], path
        await page.close()
