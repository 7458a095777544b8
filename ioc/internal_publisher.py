"""QoS 1 publishing to the internal topics of the worker layout (ioc.partitions), with the
one guarantee the stages need: :meth:`InternalPublisher.flushed` returns once the broker has
acknowledged everything published before the call, so a worker acknowledges its own input
only after its output is in the broker's hands.

Fail-stop: a lost connection or an unacknowledged publish ends :meth:`run` with the error;
the worker process ends and is started again by the service, and the broker sends again what
the worker had not acknowledged. Nothing is retried here, so nothing is half-sent.
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from ingest.mqtt_source import broker_client
from ioc.config import MqttConfig

log = logging.getLogger(__name__)
QUIET = logging.getLogger(f"{__name__}.client")
QUIET.setLevel(logging.ERROR)
PUBACK_TIMEOUT_S = 60.0  # a broker that does not acknowledge within this: fail-stop


class InternalPublisher:
    def __init__(self, config: MqttConfig) -> None:
        """``config``: the connection's account and client id (MqttConfig.connection)."""
        self._config = config
        self._client: aiomqtt.Client | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._failed = asyncio.Event()
        self._error: BaseException | None = None
        self.ready = asyncio.Event()
        self.published = 0

    async def run(self) -> None:
        """Connect, then wait: a failed publish or a lost connection raises here."""
        client = broker_client(
            self._config,
            self._config.client_id,
            max_inflight_messages=1000,
            logger=QUIET,  # not "There are N pending publish calls" for every batch
        )
        async with client:
            self._client = client
            self.ready.set()
            try:
                await self._failed.wait()
            finally:
                self._client = None
        assert self._error is not None
        raise self._error

    async def started(self, running: asyncio.Task[None]) -> None:
        """Wait until connected, or raise the error that ended ``running`` (:meth:`run`)."""
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait({ready, running}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            running.result()
            raise RuntimeError("internal publisher ended before it connected")

    def publish(self, topic: str, payload: bytes) -> None:
        """Send ``payload`` (QoS 1); :meth:`flushed` waits for its acknowledgement."""
        client = self._client
        if client is None:
            raise RuntimeError("internal publisher not connected")
        task = asyncio.create_task(client.publish(topic, payload, qos=1, timeout=PUBACK_TIMEOUT_S))
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            self.published += 1
        elif self._error is None:
            log.error("internal publish failed: %s", error)
            self._error = error
            self._failed.set()

    async def flushed(self) -> None:
        """Wait until everything published so far is acknowledged by the broker; raise if
        any of it failed (the caller must not acknowledge its input then)."""
        if self._pending:
            await asyncio.wait(set(self._pending))
        if self._error is not None:
            raise self._error
