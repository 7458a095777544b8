"""``ioc watch`` against the real service: it logs in, prints the snapshot and the alert
events; its connection is cut (by a TCP proxy between it and the service) while an event
happens, and it resumes with ``since`` — the missed event printed once, nothing repeated; and
when the service behind it restarted, it prints the new snapshot as a resync."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ioc import appkeys
from ioc.accounts import Role
from ioc.config import IocConfig
from ioc.watch import Feed, LoginRefused, Style, WatchOptions, watch
from tests.factories import payload
from tests.integration.conftest import (
    TEST_PASSWORD,
    TEST_USERS,
    RunningService,
    eventually,
    run_service,
)
from tests.integration.test_end_to_end import publish


class Proxy:
    """A TCP relay to the service whose connections can be cut; while cut it refuses new
    ones (accepts and closes them at once), as a broken network path would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refusing = False
        self.port = 0
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self.refusing = True
        for writer in list(self._open):
            writer.transport.abort()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._open |= {writer, up_writer}
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._open -= {writer, up_writer}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


@contextlib.asynccontextmanager
async def proxy_to(service: RunningService) -> AsyncIterator[Proxy]:
    proxy = Proxy(int(service.url.rsplit(":", 1)[1]))
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


class Client:
    """``watch`` in this process, its output and connection news collected."""

    def __init__(self, url: str, style: Style) -> None:
        self.lines: list[str] = []
        self.news: list[str] = []
        self.feed = Feed(style)
        options = WatchOptions(
            url=url,
            user=TEST_USERS[Role.VIEWER],
            password=TEST_PASSWORD,
            language=style.language,
            as_json=style.as_json,
            reconnect_min_s=0.05,
            reconnect_max_s=0.2,
        )
        self.task = asyncio.create_task(
            watch(options, self.lines.append, self.news.append, self.feed)
        )

    async def sees(self, match: Callable[[str], bool], in_news: bool = False) -> str:
        async def probe() -> str | None:
            if self.task.done():
                self.task.result()  # raises what ended it
            found = [line for line in (self.news if in_news else self.lines) if match(line)]
            return found[-1] if found else None

        return str(await eventually(probe, within_s=15))

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def clients(url: str) -> AsyncIterator[tuple[Client, Client]]:
    text, as_json = Client(url, Style("en")), Client(url, Style("en", as_json=True))
    try:
        yield text, as_json
    finally:
        await text.stop()
        await as_json.stop()


def json_objects(client: Client, kind: str) -> list[dict[str, object]]:
    return [o for o in map(json.loads, client.lines) if o["type"] == kind]


async def alert_events_reach(service: RunningService, count: int) -> None:
    async def probe() -> bool:
        return service.app[appkeys.PIPELINE].stats.alert_events >= count

    await eventually(probe)


async def test_watch_prints_the_events_and_resumes_after_a_cut_without_loss_or_repeat(
    service: RunningService,
) -> None:
    broadcaster = service.app[appkeys.BROADCASTER]
    async with proxy_to(service) as proxy, clients(proxy.url) as (text, as_json):
        await text.sees(lambda line: line.startswith("Open alerts at") and line.endswith(": 0"))
        assert text.lines[-1] == "(no alerts)"
        await as_json.sees(lambda line: '"type":"snapshot"' in line)

        await publish(service, "STK-1", payload({"dust": 260.5}))
        opened = await text.sees(lambda line: "New alert: dust" in line)
        assert "STK-1" in opened and "WARNING" in opened and "open" in opened
        assert "260.5" in opened and "(limit 200" in opened
        await as_json.sees(lambda line: '"event":"opened"' in line)
        seq_before_cut = as_json.feed.since()
        replays_before = broadcaster.stats.replays

        proxy.cut()
        await text.sees(lambda line: line.startswith("Connection lost"), in_news=True)
        await as_json.sees(lambda line: line.startswith("Connection lost"), in_news=True)
        await publish(service, "STK-1", payload({"dust": 120}))  # resolves it, unseen
        await alert_events_reach(service, 2)
        assert not any("Resolved" in line for line in text.lines)

        proxy.refusing = False
        resolved = await text.sees(lambda line: "Resolved: dust" in line)
        assert "STK-1" in resolved and "resolved" in resolved
        await as_json.sees(lambda line: '"event":"resolved"' in line)
        resumed = f"/ws?since={seq_before_cut}"
        await as_json.sees(lambda line: line.endswith(resumed + " …"), in_news=True)

    # Resumed, not resynced: one snapshot each, the missed event replayed by the server.
    assert broadcaster.stats.replays >= replays_before + 2
    assert [o["resync"] for o in json_objects(as_json, "snapshot")] == [False]
    assert as_json.feed.snapshots == text.feed.snapshots == 1
    # Only STK-1's: the test's cameras, which send no frames, go offline after 10 s.
    events = [o for o in json_objects(as_json, "alert") if o["alert"]["station_id"] == "STK-1"]  # type: ignore[index]
    assert [o["event"] for o in events] == ["opened", "resolved"]
    seqs = [o["seq"] for o in events]
    assert seqs == sorted(set(seqs))  # type: ignore[type-var]
    printed = [
        sum(word in line for line in text.lines) for word in ("New alert: dust", "Resolved: dust")
    ]
    assert printed == [1, 1]
    assert not any(line.startswith("Resync") for line in text.lines)


async def test_after_a_restart_of_the_service_watch_prints_a_resync(
    service: RunningService, config: IocConfig, tmp_path: Path
) -> None:
    async with proxy_to(service) as proxy, clients(proxy.url) as (text, as_json):
        await text.sees(lambda line: line.startswith("Open alerts at"))
        await as_json.sees(lambda line: '"type":"snapshot"' in line)
        await publish(service, "STK-1", payload({"dust": 260.5}))
        await text.sees(lambda line: "New alert: dust" in line)
        await as_json.sees(lambda line: '"event":"opened"' in line)

        # A service that ran a while (its seq well past anything a fresh one reaches soon):
        # `since` names no event of the other one.
        for _ in range(100):
            service.app[appkeys.BROADCASTER].publish({"type": "stations", "stations": []})
        seq = service.app[appkeys.BROADCASTER].seq
        await eventually(lambda: _at(as_json, seq))
        await eventually(lambda: _at(text, seq))

        # Another service (its own accounts and alerts, its seq from 0) takes the address.
        async with run_service(restarted(config, tmp_path)) as second:
            proxy.target_port = int(second.url.rsplit(":", 1)[1])
            proxy.cut()
            proxy.refusing = False
            resync = await text.sees(lambda line: line.startswith("Resync"))
            open_there = len(second.app[appkeys.ALERTS].open_alerts())
            assert resync.endswith(f": {open_there} open alerts")
            await as_json.sees(lambda line: '"resync":true' in line)
            # The login of the first service is unknown there: watch logged in again.
            for client in (text, as_json):  # counting from the other service's seq now
                since = client.feed.since()
                assert since is not None and since <= second.app[appkeys.BROADCASTER].seq < seq
            # Closed before the service: it would wait for open websockets (aiohttp's 60 s).
            await text.stop()
            await as_json.stop()
    assert [o["resync"] for o in json_objects(as_json, "snapshot")] == [False, True]


async def _at(client: Client, seq: int) -> bool:
    since = client.feed.since()
    return since is not None and since >= seq


def restarted(config: IocConfig, tmp_path: Path) -> IocConfig:
    """The configuration of another service on the same broker and database."""
    fresh = tmp_path / "second"
    fresh.mkdir()
    return config.model_copy(
        update={
            "mqtt": config.mqtt.model_copy(update={"client_id": f"ioc-{uuid.uuid4().hex[:8]}"}),
            "influx": config.influx.model_copy(update={"spool_dir": fresh / "spool"}),
            "alerts": config.alerts.model_copy(update={"database": fresh / "alerts.sqlite3"}),
            "access": config.access.model_copy(update={"database": fresh / "ioc.sqlite3"}),
        }
    )


async def test_refused_credentials_end_watch_with_the_reason(service: RunningService) -> None:
    quiet: list[str] = []
    wrong_password = WatchOptions(service.url, user=TEST_USERS[Role.VIEWER], password="wrong")
    with pytest.raises(LoginRefused, match="401"):
        await asyncio.wait_for(watch(wrong_password, quiet.append, quiet.append), 15)
    bad_token = WatchOptions(service.url, token="not-a-token", language="en")
    with pytest.raises(LoginRefused, match="refused the login \\(401\\)"):
        await asyncio.wait_for(watch(bad_token, quiet.append, quiet.append), 15)
    enterprise = WatchOptions(service.url, token=service.tokens[Role.ENTERPRISE])
    with pytest.raises(LoginRefused, match="403"):  # may not see the wall
        await asyncio.wait_for(watch(enterprise, quiet.append, quiet.append), 15)
    assert not any(line.startswith(("{", "Open", "Cảnh báo")) for line in quiet)
