"""Webhook notifications of alert events.

Subscribe :meth:`WebhookNotifier.enqueue` to the alert book and run :meth:`WebhookNotifier.run`
as a background task. ``enqueue`` never blocks: it keeps the events worth sending — listed in
``alerts.notify_events``, of an alert neither silenced nor flapping, with webhooks configured
for its severity — as one call per URL in a bounded queue, and counts what did not fit.
``run`` POSTs ``{"event": ..., "alert": {...}}`` — or, to a webhook of format ``text``, its
``fields`` and a one-line message (alerts.wording) — with ``webhook_workers`` calls in flight. A
call that fails (no connection, timeout, HTTP 5xx, 408 or 429) is tried again after
``webhook_backoff_s``, doubled each time, up to ``webhook_attempts`` attempts; then it is
logged and counted as failed. Any other answer outside 2xx fails at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from alerts.config import AlertsConfig
from alerts.delivery import DeliveryQueue
from alerts.wording import AlertFacts, bare_facts, one_line
from ioc.messages import Alert, Severity

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 300.0
RETRY_STATUSES = frozenset({408, 429})


@dataclass(slots=True)
class NotifierStats:
    queued: int = 0  # calls accepted into the queue
    sent: int = 0  # calls answered with 2xx
    retried: int = 0  # attempts that failed and were tried again
    failed: int = 0  # calls given up
    dropped: int = 0  # calls that did not fit in the queue
    suppressed: int = 0  # events of silenced or flapping alerts, not sent


class WebhookNotifier:
    """``render`` turns an alert into the JSON object sent (the service passes
    ``web.wire.alert_json`` with its rules and registry); by default, the Alert's fields.
    ``describe`` gives the names and unit of a ``text`` message; by default, the ids."""

    def __init__(
        self,
        config: AlertsConfig,
        session: aiohttp.ClientSession,
        render: Callable[[Alert], Mapping[str, Any]] = asdict,
        describe: Callable[[Alert], AlertFacts] = bare_facts,
    ) -> None:
        self._config = config
        self._session = session
        self._render = render
        self._describe = describe
        self._events = frozenset(config.notify_events)
        self._webhooks = {s: config.webhooks.for_severity(s) for s in Severity}
        self._timeout = aiohttp.ClientTimeout(total=config.webhook_timeout_s)
        self.stats = NotifierStats()
        self._outbox: DeliveryQueue[tuple[str, dict[str, Any]]] = DeliveryQueue(
            "webhook", config.webhook_queue_size, config.webhook_workers, self._call, self.stats
        )

    def enqueue(self, events: Iterable[tuple[str, Alert]]) -> None:
        """Queue the webhook calls of ``events``; never blocks (an alert book subscriber)."""
        for event, alert in events:
            if event not in self._events:
                continue
            if alert.silenced or alert.flapping:
                self.stats.suppressed += 1
                continue
            webhooks = self._webhooks[alert.severity]
            if not webhooks:
                continue
            json_body: dict[str, Any] = {"event": event, "alert": dict(self._render(alert))}
            for webhook in webhooks:
                body = json_body
                if webhook.format == "text":
                    text = one_line(event, self._describe(alert), webhook.language)
                    body = {**webhook.fields, webhook.text_key: text}
                self._outbox.put((str(webhook.url), body))

    async def run(self) -> None:
        """Make the queued calls until cancelled."""
        await self._outbox.run()

    async def join(self) -> None:
        """Wait until every queued call was delivered or given up (at shutdown)."""
        await self._outbox.join()

    async def _call(self, call: tuple[str, dict[str, Any]]) -> None:
        url, body = call
        delay = self._config.webhook_backoff_s
        attempts = self._config.webhook_attempts
        for attempt in range(1, attempts + 1):
            try:
                async with self._session.post(url, json=body, timeout=self._timeout) as answer:
                    if 200 <= answer.status < 300:
                        self.stats.sent += 1
                        return
                    reason = f"HTTP {answer.status}"
                    retry = answer.status >= 500 or answer.status in RETRY_STATUSES
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason, retry = f"{type(exc).__name__} {exc}".strip(), True
            if not retry or attempt == attempts:
                break
            self.stats.retried += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
        self.stats.failed += 1
        what = f"{body['event']} of alert {body['alert'].get('id')}" if "alert" in body else body
        log.warning(
            "webhook %s: %s not delivered after %d attempt(s): %s", url, what, attempt, reason
        )
