"""Real services for the integration tier: one Mosquitto and one InfluxDB per test session,
on free ports in a temporary directory. Each test gets its own topic prefix, MQTT client id
and database, so tests never see each other's data."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, async_playwright

from ingest.credentials import Credentials
from ingest.mqtt_source import MqttLink
from ioc import appkeys
from ioc.accounts import Role
from ioc.config import IocConfig
from ioc.private_services import PrivateInfluxDB, PrivateMosquitto, free_port
from ioc.registry import StationRegistry
from ioc.service import create_app
from tests.factories import TEST_RULES, registry, write_registry
from web.access import ACCOUNTS, SESSION_COOKIE


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMosquitto]:
    broker = PrivateMosquitto(tmp_path_factory.mktemp("mosquitto"), free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateInfluxDB]:
    database = PrivateInfluxDB(tmp_path_factory.mktemp("influxdb"), free_port())
    database.start()
    yield database
    database.stop()


@pytest.fixture
def api_keys(tmp_path: Path) -> dict[str, str]:
    """Accounts for the test registry (file at tmp_path/credentials.yaml): plain API keys."""
    credentials, secrets = Credentials.generate(registry(tmp_path))
    credentials.write(tmp_path / "credentials.yaml")
    return secrets.api_keys


@pytest.fixture
def config(
    tmp_path: Path, mosquitto: PrivateMosquitto, influxdb: PrivateInfluxDB, api_keys: object
) -> IocConfig:
    unique = uuid.uuid4().hex[:10]
    return IocConfig.model_validate(
        {
            "registry": str(write_registry(tmp_path / "stations.yaml")),
            "mqtt": {
                "port": mosquitto.port,
                "topic_prefix": f"test/{unique}/ioc/v1",
                "client_id": f"ioc-test-{unique}",
            },
            "influx": {
                "url": influxdb.url,
                "database": f"test_{unique}",
                "flush_interval_s": 0.05,
                "spool_dir": str(tmp_path / "spool"),
            },
            "ingest": {
                "credentials_file": str(tmp_path / "credentials.yaml"),
                "drop_folder": str(tmp_path / "drop"),
                "drop_folder_poll_s": 0.1,
            },
            "alerts": {"database": str(tmp_path / "alerts.sqlite3")},
            "access": {"database": str(tmp_path / "ioc.sqlite3"), "scrypt_n": 2**12},
            "cameras": {"snapshot_dir": str(tmp_path / "snapshots")},
            "web": {"heartbeat_s": 1, "station_push_interval_s": 0.1},
            "analytics": {"rules": TEST_RULES},
            "workers": {"ingest": 0},  # one process, whatever the machine's cores
            "vehicles": {
                "images": {"directory": str(tmp_path / "vehicle-images")},
                "journeys_database": str(tmp_path / "journeys.sqlite3"),
            },
        }
    )


#: One user per role in every test service (the enterprise user belongs to ENT-A).
TEST_USERS = {role: f"test-{role.value}" for role in Role}
TEST_PASSWORD = "correct horse battery"


@dataclass
class RunningService:
    app: web.Application
    url: str
    config: IocConfig
    tokens: dict[Role, str]

    def topic(self, station: str) -> str:
        return f"{self.config.mqtt.topic_prefix}/stations/{station}/readings"

    def auth(self, role: Role = Role.ADMIN) -> dict[str, str]:
        """Headers of a logged-in user with this role."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def http(self, role: Role = Role.ADMIN) -> aiohttp.ClientSession:
        """A client session logged in with this role."""
        return aiohttp.ClientSession(headers=self.auth(role))


async def add_test_users(app: web.Application) -> dict[Role, str]:
    accounts = app[ACCOUNTS]
    tokens = {}
    for role, name in TEST_USERS.items():
        enterprise = "ENT-A" if role == Role.ENTERPRISE else None
        accounts.add_user(name, role, TEST_PASSWORD, enterprise)
        tokens[role], _ = await accounts.login(name, TEST_PASSWORD, "test", "bearer")
    return tokens


@contextlib.asynccontextmanager
async def run_service(config: IocConfig) -> AsyncIterator[RunningService]:
    """The service on a free port, subscribed, with one test user per role."""
    app = create_app(config, StationRegistry.from_file(config.registry))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()  # the kernel's free port: no race
    port = runner.addresses[0][1]
    try:
        await asyncio.wait_for(app[appkeys.MQTT].connected.wait(), 10)
        tokens = await add_test_users(app)
        yield RunningService(app, f"http://127.0.0.1:{port}", config, tokens)
    finally:
        await runner.cleanup()


@pytest.fixture
async def service(config: IocConfig) -> AsyncIterator[RunningService]:
    async with run_service(config) as running:
        yield running


#: Debian's Chromium, with the flags this machine needs (never `playwright install`).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Screenshots of the browser tests, kept for a look after the run: outside the checkout (tests
#: never write into it), under the temp dir unless IOC_TEST_ARTIFACTS names another place.
ARTIFACTS = Path(
    os.environ.get("IOC_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "ioc-test-artifacts"
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


async def logged_in_context(
    browser: Browser, service: RunningService, role: Role, width: int, height: int
) -> BrowserContext:
    """A browser context with the session cookie of the test user of ``role``."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    await context.add_cookies(
        [{"name": SESSION_COOKIE, "value": service.tokens[role], "url": service.url}]
    )
    return context


async def eventually(
    probe: Callable[[], Awaitable[object]], within_s: float = 10.0, interval: float = 0.05
) -> object:
    """Await ``probe`` until it returns something truthy; fail after ``within_s`` seconds."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within_s}s (last: {result!r})")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_subscriber(link: MqttLink) -> AsyncIterator[None]:
    """The service's own MQTT subscriber (persistent session, manual acknowledgements),
    subscribed, until the block ends."""
    task = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(link.connected.wait(), 10)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
