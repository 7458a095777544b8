"""Where a reading enters: the MQTT subscriber.

A persistent session (fixed client id, ``clean_session=False``, QoS 1) lets the broker keep
messages while the service is down; a reconnect loop with backoff comes back after any broker
error. aiomqtt connects, subscribes, publishes and notices a disconnection; the receiving
itself bypasses aiomqtt's message iterator (a task and an ``asyncio.wait`` per message, its
own Message and Topic objects): paho's ``on_message`` callback builds the
:class:`~ioc.messages.RawMessage` straight from paho's message and appends it to the
:class:`~ingest.inbox.Inbox`, from which the pipeline takes whole batches. Nothing per message
creates a task or awaits.

QoS 1 messages are acknowledged by hand (paho's manual ack), only after the pipeline made
their content durable (spool) — so a killed service gets every unacknowledged message again
from the broker. Each connection has its own session number; messages received on an earlier
connection are never acknowledged (their packet ids mean nothing now): the broker sends them
again and the duplicates are refused. Rejection notices (one per station per batch,
docs/protocol.md) share the connection through a bounded outbox; when it is full a notice is
dropped and counted.

What bounds memory: once the inbox holds ``mqtt.queue_size`` messages the receiver stops
reading its socket (the socket reader is removed from the event loop, counted in
``stats.backpressure_waits``); TCP flow control then leaves the rest in the broker, which
keeps it in the persistent session. The reader comes back when the pipeline has taken the
inbox down to half. The inbox holds at most ``queue_size`` plus the packets of one paho read
(a few). A message is never dropped: it is either processed and then acknowledged, or stays
unacknowledged and the broker sends it again on the next connection. A pause longer than
about twice the keepalive (60 s; the spool full that long) lets paho's keepalive end the
connection: the service reconnects, and what it held unacknowledged comes again.

A persistent session's backlog comes right after the CONNACK, before the SUBACK of our
(re)subscription: with backpressure the SUBACK is read only once the pipeline has worked off
all but an inbox of the backlog, so subscribing has no time limit (it ends with the
connection). ``stats.connected`` (health) is true from the CONNACK on; the ``connected`` event
is set once subscribed.

aiomqtt 2.5 / paho 2.2 internals relied on (checked against aiomqtt/client.py):

* ``aiomqtt.Client._client`` — the paho client: ``manual_ack_set``, ``ack``, ``on_message``
  (replaced by ours before connecting, so aiomqtt's own queue stays empty), ``socket()`` and
  ``loop_read()``;
* aiomqtt registers a socket reader (``loop.add_reader``) calling ``loop_read`` when the
  socket opens; once connected we replace it with our own, which reads several packets per
  wakeup and can be removed and added again (backpressure). Like aiomqtt's, an exception in it
  sets ``Client._disconnected``, which ends ``async for ... in client.messages``; TLS is not
  used here (aiomqtt's extra loop over ``SSLSocket.pending()`` is not needed);
* ``async for _ in client.messages`` (public) only waits for the disconnection: it raises
  :class:`aiomqtt.MqttError` when the connection is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import aiomqtt
import paho.mqtt.client as paho_mqtt

from ingest.inbox import Inbox
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


def broker_client(
    config: MqttConfig, client_id: str, *, persistent: bool, **options: Any
) -> aiomqtt.Client:
    """A client of the configured broker and account; a ``persistent`` session receives
    with manual acknowledgements (sent once the content is durable)."""
    client = aiomqtt.Client(
        config.host,
        config.port,
        username=config.username,
        password=config.password.get_secret_value() if config.password else None,
        identifier=client_id,
        clean_session=not persistent,
        **options,
    )
    if persistent:
        client._client.manual_ack_set(True)  # aiomqtt does not expose it; paho does
    return client


async def register_session(config: MqttConfig, filters: list[str]) -> None:
    """Make sure the broker keeps a persistent session for ``config.client_id`` with these
    subscriptions (QoS 1), so what is published to them from now on waits for the client
    even before it first connects. What the session had waiting is received and not
    acknowledged here: the broker sends it again to the real connection."""
    client = broker_client(config, config.client_id, persistent=True)
    async with client:
        await client.subscribe([(topic, 1) for topic in filters], timeout=SUBSCRIBE_TIMEOUT_S)


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
        self._client: aiomqtt.Client | None = None
        self._receiver: _Receiver | None = None
        self._session = 0

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
            client = broker_client(
                config, config.client_id, persistent=True, max_inflight_messages=1000
            )
            # Messages may come right after the CONNACK, before the subscription is
            # confirmed: they belong to this connection from the start.
            self._session += 1
            receiver = _Receiver(client, self._inbox, self.stats, self._session)
            self._receiver = receiver
            try:
                async with client:
                    receiver.start()
                    self._client = client
                    self.stats.connected = True  # the broker reads our acknowledgements
                    self.session_closed.clear()
                    sender = asyncio.create_task(self._send(client))
                    receiving = asyncio.create_task(receiver.until_disconnected())
                    try:
                        await self._subscribe(client, receiving)
                        self.connected.set()
                        delay = 0.5
                        log.info("MQTT connected to %s:%d", config.host, config.port)
                        await receiving
                    finally:
                        sender.cancel()
                        receiving.cancel()
                        receiver.stop()
                        self._client = None
            except aiomqtt.MqttError as exc:
                self.stats.last_error = str(exc)
                log.warning("MQTT connection lost (%s); reconnecting in %.1fs", exc, delay)
            finally:
                receiver.stop()
            self.stats.connected = False
            self.connected.clear()
            self.session_closed.set()
            self.stats.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, config.reconnect_max_s)

    async def _subscribe(self, client: aiomqtt.Client, receiving: asyncio.Task[None]) -> None:
        """Subscribe without a time limit, unless the connection is lost first. The broker
        sends a persistent session's backlog right after the CONNACK, so the SUBACK comes
        behind it: with the inbox full, only once the pipeline has worked it off."""
        filters = [(topic, 1) for topic in self._filters]
        subscribing = asyncio.create_task(client.subscribe(filters, timeout=math.inf))
        try:
            await asyncio.wait((subscribing, receiving), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not subscribing.done():
                subscribing.cancel()
        if subscribing.done() and not subscribing.cancelled():
            subscribing.result()  # an error to subscribe ends the connection
            return
        receiving.result()  # raises the MqttError of the disconnection
        raise aiomqtt.MqttError("disconnected while subscribing")

    async def unsubscribe(self, filters: list[str]) -> None:
        """Remove ``filters`` from the persistent session (what an earlier layout left in it);
        not connected: they stay until the next start tries again."""
        client = self._client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.unsubscribe(filters, timeout=UNSUBSCRIBE_TIMEOUT_S)

    def acknowledge(self, messages: list[RawMessage]) -> None:
        """PUBACK messages whose content is durable. Messages of an earlier connection are
        not acknowledged: the broker sends them again, and duplicates are refused then."""
        receiver = self._receiver
        if receiver is None or receiver.stopped:
            return
        session = receiver.session
        ack = receiver.paho.ack
        count = 0
        for message in messages:
            if message.qos and message.session == session:
                ack(message.mid, message.qos)
                count += 1
        self.stats.acknowledged += count

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            topic, payload = await self._outbox.get()
            try:
                await client.publish(topic, payload, qos=1)
            except aiomqtt.MqttCodeError:
                return  # not connected any more: the rest waits for the next connection
            except aiomqtt.MqttError as exc:  # no PUBACK in time (reading may be paused by
                self.stats.last_error = str(exc)  # backpressure): paho still holds and
                continue  # sends the message; the next notice need not wait for it
            self.stats.published += 1


READS_PER_WAKEUP = 256  # packets read per readable socket at most, then other work runs
RECV_BYTES = 256 * 1024  # one recv() feeds paho many packets (it asks for 1 byte, 1, then n)


class _Receiver:
    """The receiving side of one connection: paho's ``on_message`` and the socket reader."""

    def __init__(
        self,
        client: aiomqtt.Client,
        inbox: Inbox[RawMessage],
        stats: MqttStats,
        session: int,
    ) -> None:
        self.client = client
        self.paho = client._client
        self.inbox = inbox
        self.stats = stats
        self.session = session
        self.paused = False
        self.stopped = False
        self.reading = False  # our reader replaced aiomqtt's
        self._loop = asyncio.get_running_loop()
        self._buffer = b""  # what one recv() brought and paho has not taken yet
        self._taken = 0
        # paho hands each message to _handle_on_message, which matches the topic against
        # per-topic callbacks (none here) under two locks before on_message: ~2 µs a message.
        setattr(self.paho, "_handle_on_message", self._on_message)  # noqa: B010
        inbox.on_room = self._resume  # set before any message: no pause goes unanswered

    def _on_message(self, message: paho_mqtt.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # the broker checks UTF-8; refused as malformed if not
            topic = message._topic.decode("utf-8", "replace")
        payload = message.payload  # bytes (paho decodes PUBLISH packets into bytes)
        raw = RawMessage(
            topic,
            payload if type(payload) is bytes else bytes(payload),
            time.time_ns() // 1_000_000,
            message.mid,
            message.qos,
            self.session,
        )
        self.stats.received += 1
        if self.inbox.put(raw) and not self.paused:
            self._pause()

    def start(self) -> None:
        """Connected: our reader replaces aiomqtt's (unless the inbox filled already), and
        paho reads through our buffer."""
        self.paho._sock_recv = self._recv  # type: ignore[method-assign, assignment]
        if not self.paused:
            self._add_reader()

    def _recv(self, size: int) -> bytes:
        """paho's ``_sock_recv``: up to ``size`` bytes, from one large recv() kept here —
        paho asks for a packet's first byte, its length bytes one by one, then the rest,
        each a system call of its own otherwise. Raises BlockingIOError as the socket does
        (paho: nothing more to read now); b"" when the broker closed the connection."""
        taken, buffer = self._taken, self._buffer
        if taken >= len(buffer):
            sock = self.paho._sock
            if sock is None:
                raise ConnectionError("the connection is closed")
            buffer = self._buffer = sock.recv(RECV_BYTES)
            taken = 0
            if not buffer:
                return b""
        end = taken + size
        self._taken = end
        return buffer[taken:end]

    def _buffered(self) -> bool:
        return self._taken < len(self._buffer)

    def stop(self) -> None:
        """The connection is over: nothing more is read nor acknowledged through it."""
        self.stopped = True
        if self.inbox.on_room == self._resume:
            self.inbox.on_room = None

    async def until_disconnected(self) -> None:
        """Raises MqttError once the connection is lost. aiomqtt's queue stays empty (our
        ``on_message`` replaced its own); anything found there all the same is taken in."""
        async for message in self.client.messages:
            payload = message.payload
            self.stats.received += 1
            self.inbox.put(
                RawMessage(
                    message.topic.value,
                    payload if isinstance(payload, bytes) else str(payload).encode(),
                    time.time_ns() // 1_000_000,
                    message.mid,
                    message.qos,
                    self.session,
                )
            )

    def _pause(self) -> None:
        self.paused = True
        self.stats.backpressure_waits += 1
        sock = self.paho.socket()
        if sock is not None:
            self._loop.remove_reader(sock.fileno())

    def _resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        if not self.stopped:
            self._add_reader()

    def _add_reader(self) -> None:
        sock = self.paho.socket()
        if sock is not None:  # None: the connection is closed already
            self._loop.add_reader(sock.fileno(), self._read)
            self.reading = True
            if self._buffered():  # read before the pause: the socket may stay quiet
                self._loop.call_soon(self._read)

    def _read(self) -> None:
        """The socket is readable: read packets until none is complete, the inbox is full or
        ``READS_PER_WAKEUP``. An exception ends the connection, as in aiomqtt's reader."""
        paho = self.paho
        stats = self.stats
        try:
            for _ in range(READS_PER_WAKEUP):
                before = stats.received
                if paho.loop_read() != paho_mqtt.MQTT_ERR_SUCCESS:
                    return  # paho handled it: on_disconnect ends until_disconnected()
                if self.paused or self.stopped:
                    return  # _resume() reads on, the buffer first
                if stats.received == before and not self._buffered():
                    return  # nothing complete to read: the next wakeup
            if self._buffered():  # more in the buffer than this turn took: no wakeup for it
                self._loop.call_soon(self._read)
        except Exception as exc:  # as aiomqtt: a broken connection
            disconnected = self.client._disconnected
            if not disconnected.done():
                disconnected.set_exception(exc)
