"""E-mail of alert events over SMTP (``alerts.email``).

Subscribe :meth:`EmailNotifier.enqueue` to the alert book and run :meth:`EmailNotifier.run` as
a background task. ``enqueue`` never blocks: for each event of an alert neither silenced nor
flapping, every route that wants it — its events, severities, station kinds, owners and area
— gets one e-mail to all its recipients, unless the route's quiet hours hold (Vietnam time)
and the alert is not a critical one let through. E-mails wait in a bounded queue; what does
not fit is counted. ``run`` sends them with the standard library's SMTP client in worker
threads, ``email.workers`` at once. A temporary failure (no connection, timeout, SMTP 4xx) is
tried again after ``email.backoff_s``, doubled each time, up to ``email.attempts``; a
permanent one (SMTP 5xx, refused login, no STARTTLS) is given up at once, logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from aiohttp import web

from alerts.config import EmailConfig, EmailRoute
from alerts.delivery import DeliveryQueue
from alerts.wording import AlertFacts, bare_facts, body, subject
from ioc.clock import LOCAL_TZ, now_ms
from ioc.messages import Alert, Severity
from ioc.registry import Station

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 600.0


@dataclass(slots=True)
class EmailStats:
    queued: int = 0  # e-mails accepted into the queue
    sent: int = 0  # e-mails the server accepted (for at least one recipient)
    retried: int = 0  # attempts that failed for a while and were tried again
    failed: int = 0  # e-mails given up: permanent failure or attempts used up
    dropped: int = 0  # e-mails that did not fit in the queue
    suppressed: int = 0  # events of silenced or flapping alerts, not sent
    quiet: int = 0  # e-mails not sent because of a route's quiet hours


@dataclass(frozen=True, slots=True)
class Outgoing:
    route: str
    event: str
    alert_id: str
    message: EmailMessage


class TemporaryFailure(Exception):
    """Worth trying again later."""


class EmailNotifier:
    """``station_of`` finds a station for the routes' filters (the registry's ``get``);
    ``describe`` gives the names and unit the messages show; ``clock`` (UTC epoch ms) decides
    quiet hours."""

    def __init__(
        self,
        config: EmailConfig,
        station_of: Callable[[str], Station | None],
        describe: Callable[[Alert], AlertFacts] = bare_facts,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._config = config
        self._station_of = station_of
        self._describe = describe
        self._clock = clock
        self.stats = EmailStats()
        self._outbox: DeliveryQueue[Outgoing] = DeliveryQueue(
            "e-mail", config.queue_size, config.workers, self._deliver, self.stats
        )

    def enqueue(self, events: Iterable[tuple[str, Alert]]) -> None:
        """Queue the e-mails of ``events``; never blocks (an alert book subscriber)."""
        if not self._config.enabled:
            return
        for event, alert in events:
            routes = [r for r in self._config.routes if self._wants(r, event, alert)]
            if not routes:
                continue
            if alert.silenced or alert.flapping:
                self.stats.suppressed += 1
                continue
            facts = self._describe(alert)
            for route in routes:
                if _quiet(route, alert.severity, self._clock()):
                    self.stats.quiet += 1
                    continue
                self._outbox.put(
                    Outgoing(route.name, event, alert.id, self._message(route, event, facts))
                )

    async def run(self) -> None:
        """Send the queued e-mails until cancelled."""
        await self._outbox.run()

    async def join(self) -> None:
        """Wait until every queued e-mail was sent or given up (at shutdown)."""
        await self._outbox.join()

    def _wants(self, route: EmailRoute, event: str, alert: Alert) -> bool:
        if event not in route.events or alert.severity not in route.severities:
            return False
        if not (route.kinds or route.owners or route.area):
            return True
        station = self._station_of(alert.station_id)
        return (
            station is not None
            and (not route.kinds or station.kind in route.kinds)
            and (not route.owners or station.owner in route.owners)
            and (route.area is None or route.area.contains(station.lat, station.lon))
        )

    def _message(self, route: EmailRoute, event: str, facts: AlertFacts) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = subject(event, facts, route.language)
        message["From"] = self._config.sender
        message["To"] = ", ".join(route.to)
        message["Date"] = formatdate(self._clock() / 1000, localtime=False)
        message["Message-ID"] = make_msgid("ioc-alert")
        message.set_content(body(event, facts, route.language))
        return message

    async def _deliver(self, outgoing: Outgoing) -> None:
        delay = self._config.backoff_s
        attempts = self._config.attempts
        for attempt in range(1, attempts + 1):
            try:
                refused = await asyncio.to_thread(self._send, outgoing.message)
            except TemporaryFailure as exc:
                reason = str(exc)
                if attempt == attempts:
                    break
                self.stats.retried += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            except (smtplib.SMTPException, ValueError) as exc:
                reason = _smtp_reason(exc)
                break
            self.stats.sent += 1
            if refused:
                log.warning(
                    "e-mail route %s: %s of alert %s refused for %s",
                    outgoing.route,
                    outgoing.event,
                    outgoing.alert_id,
                    ", ".join(f"{to} ({code})" for to, (code, _) in refused.items()),
                )
            return
        self.stats.failed += 1
        log.warning(
            "e-mail route %s: %s of alert %s not sent after %d attempt(s): %s",
            outgoing.route,
            outgoing.event,
            outgoing.alert_id,
            attempt,
            reason,
        )

    def _send(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        """One SMTP session (in a worker thread); the recipients refused while others were
        accepted. Raises :class:`TemporaryFailure` for what may pass later."""
        config = self._config
        try:
            with self._connect() as client:
                if config.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if config.username is not None:
                    password = config.password.get_secret_value() if config.password else ""
                    client.login(config.username, password)
                return client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            if any(400 <= code < 500 for code, _ in exc.recipients.values()):
                raise TemporaryFailure(_smtp_reason(exc)) from exc
            raise
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                raise TemporaryFailure(_smtp_reason(exc)) from exc
            raise
        except smtplib.SMTPServerDisconnected as exc:
            raise TemporaryFailure(f"SMTPServerDisconnected {exc}".strip()) from exc
        except (smtplib.SMTPException, ssl.SSLCertVerificationError):  # both are OSErrors
            raise
        except OSError as exc:  # refused, reset, timed out
            raise TemporaryFailure(f"{type(exc).__name__} {exc}".strip()) from exc

    def _connect(self) -> smtplib.SMTP:
        config = self._config
        if config.security == "tls":
            return smtplib.SMTP_SSL(
                config.host,
                config.port,
                timeout=config.timeout_s,
                context=ssl.create_default_context(),
            )
        return smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)


def _quiet(route: EmailRoute, severity: Severity, utc_ms: int) -> bool:
    hours = route.quiet_hours
    if hours is None or (severity == Severity.CRITICAL and hours.critical_passes):
        return False
    start, end = hours.minutes()
    moment = datetime.fromtimestamp(utc_ms / 1000, LOCAL_TZ)
    local = moment.hour * 60 + moment.minute
    if start < end:
        return start <= local < end
    return local >= start or local < end  # across midnight


def _smtp_reason(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipients refused: " + ", ".join(
            f"{to} ({code} {text.decode(errors='replace')})"
            for to, (code, text) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        message = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        return f"SMTP {exc.smtp_code} {message}"
    return f"{type(exc).__name__} {exc}".strip()


EMAIL_NOTIFIER = web.AppKey("email_notifier", EmailNotifier)
