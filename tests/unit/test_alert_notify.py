"""Webhook notifications against a real local HTTP server."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from alerts.config import AlertsConfig
from alerts.lifecycle import AlertBook
from alerts.notify import WebhookNotifier
from alerts.wording import AlertFacts
from ioc.messages import Severity
from tests.factories import registry
from tests.unit.test_alerts import RULES, T0, Clock, config, fire
from web.wire import alert_json

WAIT_S = 10.0


@dataclass
class Hook:
    """The receiving end: answers with ``statuses`` in turn (then 200), records bodies."""

    statuses: list[int] = field(default_factory=list)
    hang_first: bool = False
    bodies: list[dict[str, Any]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        if self.hang_first and len(self.bodies) == 1:
            await self.release.wait()
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
async def hook(aiohttp_server: Callable[..., Any]) -> AsyncIterator[tuple[Hook, str]]:
    receiver = Hook()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    server: TestServer = await aiohttp_server(app)
    yield receiver, str(server.make_url("/hook"))
    receiver.release.set()


def notifier_config(*urls: str | dict[str, Any], **changes: object) -> AlertsConfig:
    values: dict[str, object] = {
        "webhooks": {"critical": list(urls)},
        "webhook_backoff_s": 0.01,
        "webhook_attempts": 3,
    }
    return AlertsConfig.model_validate({**values, **changes})


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Notifier(Protocol):
    async def run(self) -> None: ...
    async def join(self) -> None: ...


@contextlib.asynccontextmanager
async def delivering(notifier: Notifier) -> AsyncIterator[None]:
    """Run a notifier (webhooks, e-mail); on leaving, wait until everything it queued was
    delivered or given up."""
    task = asyncio.create_task(notifier.run())
    try:
        yield
        async with asyncio.timeout(WAIT_S):
            await notifier.join()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def an_alert_event(severity: Severity = Severity.CRITICAL) -> list[tuple[str, Any]]:
    book = AlertBook(RULES, config(), clock=Clock())
    events = book.apply([fire(severity=severity)])
    book.shutdown()
    return events


async def test_a_failed_call_is_retried_until_it_succeeds(
    hook: tuple[Hook, str], session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    receiver, url = hook
    receiver.statuses = [500, 503]
    reg = registry(tmp_path)
    notifier = WebhookNotifier(
        notifier_config(url), session, render=lambda a: alert_json(a, RULES, reg)
    )
    [(event, alert)] = an_alert_event()
    async with delivering(notifier):
        notifier.enqueue([(event, alert)])
    expected = {"event": "opened", "alert": alert_json(alert, RULES, reg)}
    assert receiver.bodies == [expected] * 3
    stats = notifier.stats
    assert (stats.queued, stats.sent, stats.retried, stats.failed) == (1, 1, 2, 0)


async def test_a_call_is_given_up_after_the_last_attempt(
    hook: tuple[Hook, str], session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    receiver, url = hook
    receiver.statuses = [500] * 10
    notifier = WebhookNotifier(notifier_config(url), session)
    [(event, alert)] = an_alert_event()
    with caplog.at_level(logging.WARNING, logger="alerts.notify"):
        async with delivering(notifier):
            notifier.enqueue([(event, alert)])
    assert len(receiver.bodies) == 3
    assert receiver.bodies[0]["alert"]["id"] == alert.id
    assert receiver.bodies[0]["alert"]["severity"] == "critical"
    assert (notifier.stats.sent, notifier.stats.retried, notifier.stats.failed) == (0, 2, 1)
    assert f"opened of alert {alert.id} not delivered after 3 attempt(s): HTTP 500" in caplog.text


async def test_a_refused_call_is_not_retried(
    hook: tuple[Hook, str], session: aiohttp.ClientSession
) -> None:
    receiver, url = hook
    receiver.statuses = [400]
    notifier = WebhookNotifier(notifier_config(url), session)
    async with delivering(notifier):
        notifier.enqueue(an_alert_event())
    assert len(receiver.bodies) == 1
    assert (notifier.stats.sent, notifier.stats.retried, notifier.stats.failed) == (0, 0, 1)


async def test_timeouts_and_unreachable_hosts_are_retried(
    hook: tuple[Hook, str], session: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    receiver, url = hook
    receiver.hang_first = True
    nobody = f"http://127.0.0.1:{unused_tcp_port}/hook"
    config = notifier_config(url, nobody, webhook_timeout_s=0.2, webhook_attempts=2)
    notifier = WebhookNotifier(config, session)
    async with delivering(notifier):
        notifier.enqueue(an_alert_event())
    assert len(receiver.bodies) == 2  # the first timed out, the second was answered
    assert (notifier.stats.sent, notifier.stats.retried, notifier.stats.failed) == (1, 2, 1)


async def test_only_chosen_events_of_notifiable_alerts_are_sent(
    hook: tuple[Hook, str], session: aiohttp.ClientSession
) -> None:
    receiver, url = hook
    notifier = WebhookNotifier(notifier_config(url), session)
    book = AlertBook(RULES, config(), clock=Clock())
    book.subscribe(notifier.enqueue)
    book.add_silence(station_id="STK-1", start_ms=T0, end_ms=T0 + 1, reason="m", user="lan")
    async with delivering(notifier):
        book.apply([fire(station="STK-1")])  # silenced
        book.apply([fire(station="STK-2", severity=Severity.WARNING)])  # no warning webhook
        [(_, sent)] = book.apply([fire(station="STK-3")])
        book.apply([fire(station="STK-3", value=300.0)])  # "updated" is not notified by default
        notifier.enqueue([("opened", replace(sent, id="99", flapping=True))])
    book.shutdown()
    assert [(b["event"], b["alert"]["id"]) for b in receiver.bodies] == [("opened", sent.id)]
    assert (notifier.stats.queued, notifier.stats.suppressed) == (1, 2)


async def test_enqueue_never_blocks_and_counts_what_does_not_fit(
    session: aiohttp.ClientSession,
) -> None:
    config = notifier_config("http://a.example/hook", "http://b.example/hook", webhook_queue_size=3)
    notifier = WebhookNotifier(config, session)  # not running: nothing leaves the queue
    notifier.enqueue(an_alert_event() * 2)
    assert (notifier.stats.queued, notifier.stats.dropped) == (3, 1)


async def test_a_text_webhook_gets_its_fields_and_a_one_line_message(
    hook: tuple[Hook, str], session: aiohttp.ClientSession
) -> None:
    receiver, url = hook
    sms = {"url": url, "format": "text", "text_key": "message", "fields": {"to": "+84901234567"}}
    chat = {"url": url, "format": "text", "language": "en", "fields": {"chat_id": -100123}}
    notifier = WebhookNotifier(
        notifier_config(sms, chat),
        session,
        describe=lambda a: AlertFacts(a, "Stack one", "Dust", unit="mg/Nm³"),
    )
    async with delivering(notifier):
        notifier.enqueue(an_alert_event())  # opened 2027-01-15 08:00 UTC = 15:00 Vietnam time
    assert sorted(receiver.bodies, key=lambda body: "to" in body) == [
        {
            "chat_id": -100123,
            "text": "[CRITICAL] New alert: Stack one — Dust: "
            "250 mg/Nm³ (limit 200 mg/Nm³), 15:00 15/01",
        },
        {
            "to": "+84901234567",
            "message": "[KHẨN] Cảnh báo mới: Stack one — Dust: "
            "250 mg/Nm³ (giới hạn 200 mg/Nm³), 15:00 15/01",
        },
    ]
