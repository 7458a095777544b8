"""A frozen service must not look alive (issue #14): health reports event-loop stalls, and the
wall shows its data as stale within 10 s of its feed going quiet, and clears it by itself."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from jsonschema import Draft202012Validator
from playwright.async_api import Browser, Page, expect

from ioc.accounts import AccountBook, Role
from ioc.config import IocConfig
from ioc.database import open_database
from ioc.private_services import PrivateInfluxDB, PrivateMosquitto, free_port
from tests.factories import TEST_RULES, write_registry
from tests.integration.conftest import (
    ARTIFACTS,
    TEST_PASSWORD,
    RunningService,
    eventually,
)
from web.access import SESSION_COOKIE
from web.openapi import openapi_for

#: The issue's bound: the wall shows its data as stale within 10 s of its feed going quiet.
STALE_WITHIN_S = 10.0
SERVICE_STOP_S = 30.0


async def health(service: RunningService) -> dict[str, Any]:
    """The health answer, checked against the schema the OpenAPI document gives it."""
    async with service.http() as http, http.get(f"{service.url}/api/v1/health") as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
    document = openapi_for(service.app)
    operation = document["paths"]["/api/v1/health"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": document["components"]}).validate(body)
    return body


async def test_health_reports_a_stall_of_the_event_loop(service: RunningService) -> None:
    before = await health(service)
    assert {"lag_ms", "worst_stall_ms", "stalls"} <= before["loop"].keys()
    assert {"lag_ms", "queued", "messages"} <= before["pipeline"].keys()
    threshold_ms = service.config.web.loop_stall_ms
    blocked = asyncio.get_running_loop().create_future()

    def block_the_loop() -> None:  # as a synchronous call in a handler would
        time.sleep(threshold_ms / 1000 + 1.0)
        blocked.set_result(None)

    asyncio.get_running_loop().call_soon(block_the_loop)
    await blocked
    await asyncio.sleep(2 * service.config.web.loop_check_interval_s)  # the monitor wakes up

    after = await health(service)
    assert after["loop"]["stalls"] >= before["loop"]["stalls"] + 1
    assert after["loop"]["worst_stall_ms"] >= threshold_ms
    assert after["status"] == "degraded" and "loop_stall" in after["reasons"]


async def test_the_wall_shows_a_frozen_service_as_stale_and_clears_it_when_it_resumes(
    tmp_path: Path, mosquitto: PrivateMosquitto, influxdb: PrivateInfluxDB, browser: Browser
) -> None:
    """The report of issue #14, as it happened: the service's process stopped (SIGSTOP), its
    sockets open and silent. Default heartbeats (``web.heartbeat_s``)."""
    async with (
        frozen_service(tmp_path, mosquitto, influxdb) as (service, url, token),
        wall(browser, url, token, "/wall") as page_vi,
        wall(browser, url, token, "/wall?lang=en") as page_en,
    ):
        banner_vi = page_vi.get_by_test_id("stale-banner")
        await expect(banner_vi).to_be_hidden()

        service.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        await expect(banner_vi).to_be_visible(timeout=STALE_WITHIN_S * 1000)
        seconds = time.monotonic() - stopped_at
        print(f"\nSIGSTOP to stale banner: {seconds:.1f} s")
        await expect(banner_vi).to_contain_text("DỮ LIỆU KHÔNG CẬP NHẬT")
        await expect(page_vi.locator("body")).to_have_attribute("data-feed", "stale")
        await expect(page_vi.locator("body")).to_have_attribute("data-connected", "true")
        await expect(page_vi.get_by_test_id("connection-banner")).to_be_hidden()
        await expect(page_vi.get_by_test_id("connection-indicator")).to_contain_text("Dữ liệu cũ")
        banner_en = page_en.get_by_test_id("stale-banner")
        await expect(banner_en).to_contain_text("DATA NOT UPDATING", timeout=5_000)
        ARTIFACTS.mkdir(exist_ok=True)
        await page_vi.screenshot(path=str(ARTIFACTS / "wall-stale-service-frozen.png"))
        await page_en.screenshot(path=str(ARTIFACTS / "wall-stale-service-frozen-en.png"))

        service.send_signal(signal.SIGCONT)
        await expect(banner_vi).to_be_hidden(timeout=STALE_WITHIN_S * 1000)
        # Frozen again right after the first frame that cleared it: stale again, as fast.
        service.send_signal(signal.SIGSTOP)
        await expect(banner_vi).to_be_visible(timeout=STALE_WITHIN_S * 1000)
        service.send_signal(signal.SIGCONT)
        await expect(banner_vi).to_be_hidden(timeout=STALE_WITHIN_S * 1000)
        await expect(banner_en).to_be_hidden(timeout=STALE_WITHIN_S * 1000)
        await expect(page_vi.locator("body")).to_have_attribute("data-feed", "live")
        await page_vi.screenshot(path=str(ARTIFACTS / "wall-stale-service-resumed.png"))


@contextlib.asynccontextmanager
async def frozen_service(
    tmp_path: Path, mosquitto: PrivateMosquitto, influxdb: PrivateInfluxDB
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str, str]]:
    """``ioc serve`` in its own process, and a viewer's session token for it."""
    unique = uuid.uuid4().hex[:8]
    port = free_port()
    document = {
        "registry": str(write_registry(tmp_path / "stations.yaml")),
        "mqtt": {"port": mosquitto.port, "topic_prefix": f"s/{unique}", "client_id": unique},
        "influx": {
            "url": influxdb.url,
            "database": f"stale_{unique}",
            "spool_dir": str(tmp_path / "spool"),
        },
        "web": {"port": port},
        "workers": {"ingest": 0},  # one process, whatever the cores
        "analytics": {"rules": TEST_RULES},
        "alerts": {"database": str(tmp_path / "alerts.sqlite3")},
        "access": {"database": str(tmp_path / "ioc.sqlite3"), "scrypt_n": 2**12},
        "cameras": {"snapshot_dir": str(tmp_path / "snapshots")},
    }
    config_path = tmp_path / "ioc.yaml"
    config_path.write_text(yaml.safe_dump(document))
    token = await viewer_token(IocConfig.model_validate(document))
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "service.log").open("ab") as log:
        service = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "ioc", "serve", "-c", str(config_path)],
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        await eventually(lambda: answers_health(url), 30)
        yield service, url, token
    finally:
        service.send_signal(signal.SIGCONT)  # a stopped process cannot act on its SIGTERM
        service.terminate()
        try:
            await asyncio.wait_for(service.wait(), SERVICE_STOP_S)
        except TimeoutError:
            service.kill()
            await service.wait()
            raise


async def viewer_token(config: IocConfig) -> str:
    db = open_database(config.access.database)
    try:
        accounts = AccountBook(db, config.access)
        accounts.add_user("wall-viewer", Role.VIEWER, TEST_PASSWORD, None)
        token, _ = await accounts.login("wall-viewer", TEST_PASSWORD, "test", "session")
        return token
    finally:
        db.close()


async def answers_health(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(f"{url}/api/v1/health") as answer:
            return answer.status == 200
    except (aiohttp.ClientError, OSError):
        return False


@contextlib.asynccontextmanager
async def wall(browser: Browser, url: str, token: str, path: str) -> AsyncIterator[Page]:
    """The wall at ``path``, live, logged in as a viewer; closed on leaving (its websocket
    too, before the service is asked to stop)."""
    context = await browser.new_context(viewport={"width": 1600, "height": 900})
    try:
        await context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": url}])
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{url}{path}")
        await expect(page.locator("body")).to_have_attribute("data-feed", "live", timeout=15_000)
        yield page
        assert errors == []
    finally:
        await context.close()
