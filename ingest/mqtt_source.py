"""Where a reading enters: the MQTT subscriber.

A persistent session (fixed client id, ``clean_session=False``, QoS 1) lets the broker keep
messages while the service is down; a reconnect loop with backoff comes back after any broker
error. Each connection is an :class:`~ingest.mqtt_connection.BrokerConnection`: every socket
read is cut into packets at once and its messages, as :class:`~ioc.messages.RawMessage`, go to
the :class:`~ingest.inbox.Inbox` as one list, from which the pipeline takes whole batches.
Nothing per message creates a task or awaits. (This path was paho's through aiomqtt until
paho's per-packet handling became the largest share of the service's CPU:
tests/benchmarks/bench_mqtt_receive.py measures both.)

QoS 1 messages are acknowledged by hand, only after the pipeline made their content durable
(spool), a batch's PUBACKs in one write — so a killed service gets every unacknowledged
message again from the broker. Each connection has its own session number; messages received
on an earlier connection are never acknowledged (their packet ids mean nothing now): the
broker sends them again and the duplicates are refused. Rejection notices (one per station
per batch, docs/protocol.md) share the connection through a bounded outbox; when it is full a
notice is dropped and counted.

What bounds memory: once the inbox holds ``mqtt.queue_size`` messages the connection stops
reading its socket (counted in ``stats.backpressure_waits``); TCP flow control then leaves the
rest in the broker, which keeps it in the persistent session. Reading resumes when the
pipeline has taken the inbox down to half. The inbox holds at most ``queue_size`` plus the
messages of one socket read (256 KiB). A message is never dropped: it is either processed and
then acknowledged, or stays unacknowledged and the broker sends it again on the next
connection. Keepalive pings go on while reading is paused, so a long pause (the spool full)
does not end the connection.

A persistent session's backlog comes right after the CONNACK, before the SUBACK of our
(re)subscription: with backpressure the SUBACK is read only once the pipeline has worked off
all but an inbox of the backlog, so subscribing has no time limit (it ends with the
connection). ``stats.connected`` (health) is true from the CONNACK on; the ``connected`` event
is set once subscribed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt

from ingest.inbox import Inbox
from ingest.mqtt_connection import BrokerConnection, MessageSink
from ingest.mqtt_wire import BrokerError
from ioc.config import MqttConfig
from ioc.messages import RawMessage

log = logging.getLogger(__name__)
OUTBOX_SIZE = 10_000
UNSUBSCRIBE_TIMEOUT_S = 30.0
SUBSCRIBE_TIMEOUT_S = 30.0


@dataclass(slots=True)
class MqttStats:
    connected: bool = False
    received: int = 0
    backpressure_waits: int = 0
    reconnects: int = 0
    published: int = 0
    acknowledged: int = 0
    outbox_dropped: int = 0
    last_error: str = ""


def input_filters(config: MqttConfig) -> list[str]:
    """Reading JSON and SenML topics of stations, vehicles' positions and driver images (the
    ingest workers' shared subscription: ingest.worker.shared_filters)."""
    topics = [f"{config.topic_prefix}/stations/+/{kind}" for kind in ("readings", "senml")]
    return topics + [f"{config.topic_prefix}/vehicles/+/{k}" for k in ("positions", "images")]


def broker_client(config: MqttConfig, client_id: str, **options: Any) -> aiomqtt.Client:
    """An aiomqtt client (clean session) of the configured broker and account: publishers
    and the live lane; receiving the stations is :class:`MqttLink`'s."""
    return aiomqtt.Client(
        config.host,
        config.port,
        username=config.username,
        password=config.password.get_secret_value() if config.password else None,
        identifier=client_id,
        **options,
    )


def session_connection(
    config: MqttConfig,
    session: int,
    on_messages: MessageSink,
    on_published: Callable[[], None] | None = None,
) -> BrokerConnection:
    """A connection (not yet open) whose messages, stamped ``session``, go to
    ``on_messages``."""
    return BrokerConnection(session, on_messages, config.keepalive_s, on_published)


async def open_session(config: MqttConfig, connection: BrokerConnection) -> None:
    """Open ``connection`` as the persistent session ``config.client_id`` of the configured
    account."""
    await connection.open(
        config.host,
        config.port,
        config.client_id,
        clean_session=False,
        username=config.username,
        password=config.password.get_secret_value() if config.password else None,
    )


async def register_session(config: MqttConfig, filters: list[str]) -> None:
    """Make sure the broker keeps a persistent session for ``config.client_id`` with these
    subscriptions (QoS 1), so what is published to them from now on waits for the client
    even before it first connects. What the session had waiting is received and not
    acknowledged here: the broker sends it again to the real connection."""
    connection = session_connection(config, 0, lambda messages: False)
    await open_session(config, connection)
    try:
        await asyncio.wait_for(connection.subscribe(filters), SUBSCRIBE_TIMEOUT_S)
    finally:
        connection.close()


class MqttLink:
    def __init__(
        self,
        config: MqttConfig,
        inbox: Inbox[RawMessage],
        filters: list[str] | None = None,
    ) -> None:
        """``filters``: what to subscribe to (default :func:`input_filters`)."""
        self._config = config
        self._inbox = inbox
        self._filters = input_filters(config) if filters is None else filters
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(OUTBOX_SIZE)
        self.stats = MqttStats()
        self.connected = asyncio.Event()  # subscribed
        self.session_closed = asyncio.Event()  # the connection is lost (set until the next)
        self._connection: BrokerConnection | None = None
        self._session = 0
        inbox.on_room = self._resume  # set before any message: no pause goes unanswered

    def publish_nowait(self, topic: str, payload: bytes) -> None:
        """Queue a QoS 1 publish; if the outbox is full the message is counted as dropped."""
        try:
            self._outbox.put_nowait((topic, payload))
        except asyncio.QueueFull:
            self.stats.outbox_dropped += 1

    async def run(self) -> None:
        """Connect, subscribe and receive until cancelled; reconnect on any broker error."""
        delay = 0.5
        config = self._config
        while True:
            # Messages may come right after the CONNACK, before the subscription is
            # confirmed: they belong to this connection from the start.
            self._session += 1
            connection = session_connection(config, self._session, self._take, self._published)
            self._connection = connection  # its reading resumes once the inbox has room
            try:
                await open_session(config, connection)
                self.stats.connected = True  # the broker reads our acknowledgements
                self.session_closed.clear()
                if self._inbox.full():  # full of an earlier connection's messages
                    self._pause(connection)
                sender = asyncio.create_task(self._send(connection))
                try:
                    await connection.subscribe(self._filters)
                    self.connected.set()
                    delay = 0.5
                    log.info("MQTT connected to %s:%d", config.host, config.port)
                    raise await connection.wait_closed()
                finally:
                    sender.cancel()
            except (BrokerError, OSError) as exc:
                self.stats.last_error = str(exc)
                log.warning("MQTT connection lost (%s); reconnecting in %.1fs", exc, delay)
            finally:
                self._connection = None
                connection.close()
            self.stats.connected = False
            self.connected.clear()
            self.session_closed.set()
            self.stats.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, config.reconnect_max_s)

    async def unsubscribe(self, filters: list[str]) -> None:
        """Remove ``filters`` from the persistent session (what an earlier layout left in it);
        not connected: they stay until the next start tries again."""
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(BrokerError, TimeoutError):
                await asyncio.wait_for(connection.unsubscribe(filters), UNSUBSCRIBE_TIMEOUT_S)

    def acknowledge(self, messages: list[RawMessage]) -> None:
        """PUBACK messages whose content is durable. Messages of an earlier connection are
        not acknowledged: the broker sends them again, and duplicates are refused then."""
        connection = self._connection
        if connection is None or connection.error is not None:
            return
        session = connection.session
        packet_ids = [m.mid for m in messages if m.qos and m.session == session]
        if packet_ids:
            connection.acknowledge(packet_ids)
            self.stats.acknowledged += len(packet_ids)

    def _take(self, messages: list[RawMessage]) -> bool:
        """One socket read's messages; True (pause reading) once the inbox is full."""
        self.stats.received += len(messages)
        if not self._inbox.put_many(messages):
            return False
        self.stats.backpressure_waits += 1
        return True

    def _pause(self, connection: BrokerConnection) -> None:
        self.stats.backpressure_waits += 1
        connection.pause_reading()

    def _resume(self) -> None:
        connection = self._connection
        if connection is not None:
            connection.resume_reading()

    async def _send(self, connection: BrokerConnection) -> None:
        while True:
            topic, payload = await self._outbox.get()
            try:
                connection.publish(topic, payload)
            except BrokerError:
                return  # not connected any more: the rest waits for the next connection

    def _published(self) -> None:
        self.stats.published += 1  # the broker acknowledged a notice
