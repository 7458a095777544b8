"""E-mail of alert events against a real local SMTP server (aiosmtpd)."""

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import ValidationError

from alerts.config import EmailConfig
from alerts.lifecycle import AlertBook
from alerts.mail import EMAIL_NOTIFIER, EmailNotifier
from ioc import appkeys
from ioc.config import IocConfig, friendly_errors
from ioc.messages import Alert, Severity
from ioc.registry import StationRegistry
from ioc.service import alerts_context
from tests.factories import registry
from tests.unit.test_alert_notify import delivering
from tests.unit.test_alerts import RULES, T0, Clock, config, fire
from web.wire import alert_facts

WAIT_S = 10.0
HOUR_MS = 3_600_000
AT_15_00 = T0  # 2027-01-15 08:00 UTC, 15:00 in Vietnam
AT_23_00 = T0 + 8 * HOUR_MS


@dataclass
class Mailbox:
    """The SMTP server's handler: answers DATA with ``replies`` in turn (then 250), refuses
    the recipients in ``refused``, keeps the messages accepted."""

    replies: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    attempts: int = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, _: list[str]
    ) -> str:
        if address in self.refused:
            return self.refused[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.attempts += 1
        if self.replies:
            return self.replies.pop(0)
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((sorted(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def recipients(self) -> list[list[str]]:
        return sorted(to for to, _ in self.received)


@pytest.fixture
def smtp(unused_tcp_port: int) -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=unused_tcp_port)
    controller.start()
    try:
        yield mailbox, unused_tcp_port
    finally:
        controller.stop()


def email_config(port: int, *routes: dict[str, Any], **changes: object) -> EmailConfig:
    values: dict[str, object] = {
        "enabled": True,
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "sender": "IOC <ioc@example.vn>",
        "backoff_s": 0.01,
        "attempts": 3,
        "routes": list(routes),
    }
    return EmailConfig.model_validate({**values, **changes})


def mailer(config: EmailConfig, reg: StationRegistry, now_ms: int = AT_15_00) -> EmailNotifier:
    return EmailNotifier(
        config, reg.get, describe=lambda a: alert_facts(a, RULES, reg), clock=Clock(now_ms)
    )


def opened(severity: Severity = Severity.CRITICAL, station: str = "STK-1") -> tuple[str, Alert]:
    book = AlertBook(RULES, config(), clock=Clock())
    [event] = book.apply([fire(severity=severity, station=station)])
    book.shutdown()
    return event


async def test_each_route_gets_the_alerts_of_its_severities_and_area(
    smtp: tuple[Mailbox, int], tmp_path: Path
) -> None:
    mailbox, port = smtp
    config = email_config(
        port,
        {"name": "duty", "to": ["duty@example.vn"], "severities": ["critical"]},
        {"name": "warnings", "to": ["w@example.vn"], "severities": ["warning"]},
        {"name": "ent-a", "to": ["a@example.vn", "b@example.vn"], "owners": ["ENT-A"]},
        {"name": "air", "to": ["air@example.vn"], "kinds": ["air"]},
        {
            "name": "north",
            "to": ["north@example.vn"],
            "area": {"min_lat": 11.85, "max_lat": 12.5, "min_lon": 108, "max_lon": 109},
        },
        {
            "name": "near",
            "to": ["near@example.vn"],
            "area": {"lat": 11.8, "lon": 108.3, "radius_km": 5},
        },
    )
    notifier = mailer(config, registry(tmp_path))
    async with delivering(notifier):
        notifier.enqueue([opened()])  # critical at STK-1: a stack of ENT-A at 11.8, 108.3
    assert mailbox.recipients() == [
        ["a@example.vn", "b@example.vn"],
        ["duty@example.vn"],
        ["near@example.vn"],
    ]
    assert (notifier.stats.queued, notifier.stats.sent) == (3, 3)
    message = mailbox.received[0][1]
    assert message["Subject"] == "[KHẨN] Cảnh báo mới: Stack one — " + RULES["stack_dust"].name
    assert message["From"] == "IOC <ioc@example.vn>"
    text = message.get_content()
    assert "Trạm: Stack one (STK-1)" in text
    assert "Giá trị: 250 mg/Nm³ (giới hạn 200 mg/Nm³)" in text
    assert "Bắt đầu: 15:00 15/01/2027 (giờ Việt Nam)" in text


async def test_a_route_may_write_in_english(smtp: tuple[Mailbox, int], tmp_path: Path) -> None:
    mailbox, port = smtp
    route = {"name": "en", "to": ["x@example.vn"], "language": "en"}
    notifier = mailer(email_config(port, route), registry(tmp_path))
    async with delivering(notifier):
        notifier.enqueue([opened()])
    [(_, message)] = mailbox.received
    assert message["Subject"].startswith("[CRITICAL] New alert: Stack one — ")
    assert "Value: 250 mg/Nm³ (limit 200 mg/Nm³)" in message.get_content()


async def test_quiet_hours_hold_back_all_but_the_critical_alerts_let_through(
    smtp: tuple[Mailbox, int], tmp_path: Path
) -> None:
    mailbox, port = smtp
    night = {"start": "22:00", "end": "06:00"}
    config = email_config(
        port,
        {"name": "lenient", "to": ["l@example.vn"], "quiet_hours": night},
        {
            "name": "strict",
            "to": ["s@example.vn"],
            "quiet_hours": {**night, "critical_passes": False},
        },
    )
    reg = registry(tmp_path)
    at_night, by_day = mailer(config, reg, AT_23_00), mailer(config, reg, AT_15_00)
    async with delivering(at_night), delivering(by_day):
        at_night.enqueue([opened(Severity.WARNING)])
        at_night.enqueue([opened(Severity.CRITICAL)])
        by_day.enqueue([opened(Severity.WARNING)])
    assert (at_night.stats.sent, at_night.stats.quiet) == (1, 3)
    assert by_day.stats.sent == 2
    severities = sorted((to, m["Subject"].partition("]")[0] + "]") for to, m in mailbox.received)
    assert severities == [
        (["l@example.vn"], "[CẢNH BÁO]"),  # by day
        (["l@example.vn"], "[KHẨN]"),  # at night, let through
        (["s@example.vn"], "[CẢNH BÁO]"),  # by day
    ]


async def test_a_temporary_failure_is_retried_and_a_permanent_one_given_up(
    smtp: tuple[Mailbox, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox, port = smtp
    mailbox.replies = ["451 4.3.0 Try again later", "554 5.7.1 Message rejected"]
    notifier = mailer(
        email_config(port, {"name": "duty", "to": ["d@example.vn"]}), registry(tmp_path)
    )
    with caplog.at_level(logging.WARNING, logger="alerts.mail"):
        async with delivering(notifier):
            notifier.enqueue([opened()])  # 451, then 554: given up
        async with delivering(notifier):
            notifier.enqueue([opened()])  # delivered
    assert mailbox.attempts == 3
    assert len(mailbox.received) == 1
    stats = notifier.stats
    assert (stats.queued, stats.sent, stats.retried, stats.failed) == (2, 1, 1, 1)
    assert "not sent after 2 attempt(s): SMTP 554 5.7.1 Message rejected" in caplog.text


async def test_an_unreachable_server_is_tried_until_the_attempts_run_out(
    tmp_path: Path, unused_tcp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    route = {"name": "duty", "to": ["d@example.vn"]}
    notifier = mailer(email_config(unused_tcp_port, route), registry(tmp_path))
    with caplog.at_level(logging.WARNING, logger="alerts.mail"):
        async with delivering(notifier):
            notifier.enqueue([opened()])
    assert (notifier.stats.sent, notifier.stats.retried, notifier.stats.failed) == (0, 2, 1)
    assert "not sent after 3 attempt(s): ConnectionRefusedError" in caplog.text


async def test_refused_recipients_are_logged_and_the_others_served(
    smtp: tuple[Mailbox, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox, port = smtp
    mailbox.refused = {"gone@example.vn": "550 5.1.1 No such user"}
    route = {"name": "duty", "to": ["gone@example.vn", "d@example.vn"]}
    notifier = mailer(email_config(port, route), registry(tmp_path))
    with caplog.at_level(logging.WARNING, logger="alerts.mail"):
        async with delivering(notifier):
            notifier.enqueue([opened()])
    assert mailbox.recipients() == [["d@example.vn"]]
    assert (notifier.stats.sent, notifier.stats.failed) == (1, 0)
    assert "refused for gone@example.vn (550)" in caplog.text


async def test_silenced_and_flapping_alerts_and_unchosen_events_are_not_sent(
    smtp: tuple[Mailbox, int], tmp_path: Path
) -> None:
    mailbox, port = smtp
    route = {"name": "duty", "to": ["d@example.vn"], "events": ["opened"]}
    notifier = mailer(email_config(port, route), registry(tmp_path))
    book = AlertBook(RULES, config(), clock=Clock())
    book.subscribe(notifier.enqueue)
    book.add_silence(station_id="STK-1", start_ms=T0, end_ms=T0 + 1, reason="m", user="lan")
    async with delivering(notifier):
        book.apply([fire(station="STK-1")])  # silenced
        [(_, sent)] = book.apply([fire(station="STK-3")])
        book.apply([fire(station="STK-3", value=300.0)])  # "updated": not chosen
        notifier.enqueue([("opened", replace(sent, id="99", flapping=True))])
    book.shutdown()
    assert len(mailbox.received) == 1
    assert mailbox.received[0][1].get_content().rstrip().endswith(f"Mã cảnh báo: {sent.id}")
    assert (notifier.stats.queued, notifier.stats.suppressed) == (1, 2)


def test_enqueue_never_blocks_and_counts_what_does_not_fit(tmp_path: Path) -> None:
    route = {"name": "duty", "to": ["d@example.vn"]}
    config = email_config(25, route, {**route, "name": "again"}, queue_size=3)
    notifier = mailer(config, registry(tmp_path))  # not running: nothing leaves the queue
    notifier.enqueue([opened(), opened()])
    assert (notifier.stats.queued, notifier.stats.dropped) == (3, 1)


def test_disabled_e_mail_queues_nothing(tmp_path: Path) -> None:
    config = email_config(25, {"name": "duty", "to": ["d@example.vn"]}, enabled=False)
    notifier = mailer(config, registry(tmp_path))
    notifier.enqueue([opened()])
    assert notifier.stats.queued == 0


@pytest.mark.parametrize(
    ("email", "problem"),
    [
        (
            {
                "routes": [
                    {"name": "n", "to": ["a@b.vn"], "quiet_hours": {"start": 1320, "end": "06:00"}}
                ]
            },
            "alerts.email.routes.0.quiet_hours.start: Value error, write the time in quotes, "
            "e.g. '22:00'",
        ),
        (
            {
                "routes": [
                    {
                        "name": "n",
                        "to": ["a@b.vn"],
                        "quiet_hours": {"start": "24:00", "end": "06:00"},
                    }
                ]
            },
            "alerts.email.routes.0.quiet_hours.start: Value error, '24:00' is not a time of day "
            "HH:MM (00:00 to 23:59)",
        ),
        (
            {
                "routes": [
                    {
                        "name": "n",
                        "to": ["a@b.vn"],
                        "quiet_hours": {"start": "06:00", "end": "06:00"},
                    }
                ]
            },
            "alerts.email.routes.0.quiet_hours: Value error, quiet hours: start and end are the "
            "same time",
        ),
        (
            {"routes": [{"name": "n", "to": ["a@b.vn"], "severity": ["critical"]}]},
            "alerts.email.routes.0.severity: unknown key (check spelling; see `ioc check-config "
            "--help`)",
        ),
        (
            {"routes": [{"name": "n", "to": ["duty"]}]},
            "alerts.email.routes.0.to: Value error, not e-mail addresses: duty",
        ),
        (
            {"enabled": True, "routes": []},
            "alerts.email: Value error, e-mail is enabled but host, sender, routes not given",
        ),
    ],
)
def test_bad_e_mail_settings_are_refused_with_a_clear_reason(
    email: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        IocConfig.model_validate({"alerts": {"email": email}})
    assert friendly_errors(refused.value) == [problem]


async def test_the_service_e_mails_what_the_alert_book_raises(
    smtp: tuple[Mailbox, int], tmp_path: Path
) -> None:
    mailbox, port = smtp
    route = {"name": "duty", "to": ["d@example.vn"]}
    email = email_config(port, route).model_dump(mode="json")
    app = web.Application()
    app[appkeys.CONFIG] = IocConfig.model_validate(
        {"alerts": {"database": str(tmp_path / "alerts.sqlite3"), "email": email}}
    )
    app[appkeys.RULES] = dict(RULES)
    app[appkeys.REGISTRY] = registry(tmp_path)
    context = alerts_context(app)
    await anext(context)
    app[appkeys.ALERTS].apply([fire()])
    async with asyncio.timeout(WAIT_S):
        await app[EMAIL_NOTIFIER].join()
    with contextlib.suppress(StopAsyncIteration):
        await anext(context)
    [(to, message)] = mailbox.received
    assert to == ["d@example.vn"]
    assert message["Subject"] == "[KHẨN] Cảnh báo mới: Stack one — " + RULES["stack_dust"].name
