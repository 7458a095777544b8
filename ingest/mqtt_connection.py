"""One MQTT 3.1.1 connection of the persistent subscriber, on an asyncio transport.

Written for the receive path of ingest (:mod:`ingest.mqtt_source`), where paho's per-packet
machinery was the largest share of the service's CPU: each socket read is cut into packets at
once (:func:`ingest.mqtt_wire.read_packets`) and its messages handed over as one list; the
acknowledgements of a batch go out as one write. What it does, and no more:

* CONNECT (client id, clean session or not, user name and password, keepalive) and the
  CONNACK, whose refusal raises :class:`ConnectionRefused` with the broker's reason;
* SUBSCRIBE / UNSUBSCRIBE at QoS 1, waiting for their SUBACK / UNSUBACK (a refused filter
  raises :class:`SubscriptionRefused`);
* receiving PUBLISH at QoS 0 and 1, and PUBACK by hand (:meth:`acknowledge`);
* publishing at QoS 1 (rejection notices), without waiting for the PUBACK;
* keepalive: a PINGREQ when nothing was sent for half the keepalive; a broker silent for a
  whole keepalive while we read ends the connection (:class:`ConnectionLost`) — while reading
  is paused (the inbox full) silence is expected and not held against it;
* reading paused and resumed by the receiver (backpressure: TCP leaves the rest in the broker);
* anything malformed from the broker ends the connection (:class:`~ingest.mqtt_wire.ProtocolError`).

It does not retry, reconnect or resend: the caller makes a new connection, and the broker's
persistent session brings back every message that was not acknowledged. TLS, QoS 2 and
MQTT 5 are not needed by the service and not implemented.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from ingest import mqtt_wire as wire
from ingest.mqtt_wire import BrokerError
from ioc.messages import RawMessage

CONNECT_TIMEOUT_S = 10.0


class ConnectionRefused(BrokerError):
    def __init__(self, code: int) -> None:
        self.code = code
        reason = wire.CONNACK_REFUSALS.get(code, f"return code {code}")
        super().__init__(f"the broker refused the connection: {reason}")


class SubscriptionRefused(BrokerError):
    def __init__(self, filters: list[str]) -> None:
        self.filters = filters
        super().__init__(f"the broker refused the subscription to {', '.join(filters)}")


class ConnectionLost(BrokerError):
    pass


# receives the PUBLISH messages of one socket read; True: the receiver is full, pause reading
MessageSink = Callable[[list[RawMessage]], bool]


class BrokerConnection(asyncio.Protocol):
    def __init__(
        self,
        session: int,
        on_messages: MessageSink,
        keepalive_s: int = 60,
        on_published: Callable[[], None] | None = None,
    ) -> None:
        """``session``: stamped on every message received, so acknowledgements can tell this
        connection's packet ids from another's. ``on_published``: called at each PUBACK of
        what :meth:`publish` sent."""
        self.session = session
        self.keepalive_s = keepalive_s
        self._on_messages = on_messages
        self._on_published = on_published
        self._transport: asyncio.Transport | None = None
        self._gathered: list[bytes] = []  # the start of a packet longer than one read
        self._gathered_size = 0
        self._needed = 0  # bytes the gathered packet needs, at least
        self._answers: dict[tuple[int, int], asyncio.Future[wire.Control]] = {}
        self._next_id = 0
        self._outgoing: set[int] = set()  # our QoS 1 publishes awaiting their PUBACK
        self._paused = False
        self._last_sent = self._last_heard = time.monotonic()
        self._keeping_alive: asyncio.Task[None] | None = None
        self.error: BrokerError | None = None  # why it ended, once closed
        self.closed = asyncio.Event()

    # ------------------------------------------------------------------ opening and closing

    async def open(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        clean_session: bool,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        """Connect and wait for the CONNACK; raises :class:`BrokerError` (or OSError) if
        refused, lost or not answered within ``CONNECT_TIMEOUT_S``."""
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: self, host, port), CONNECT_TIMEOUT_S
            )
        except TimeoutError as exc:
            raise ConnectionLost(f"no connection to {host}:{port} within the timeout") from exc
        connect = wire.encode_connect(
            client_id,
            clean_session=clean_session,
            keepalive_s=self.keepalive_s,
            username=username,
            password=password,
        )
        try:
            connack = await asyncio.wait_for(
                self._request((wire.CONNACK, 0), connect), CONNECT_TIMEOUT_S
            )
        except TimeoutError as exc:
            self.abort(ConnectionLost("no CONNACK within the timeout"))
            raise ConnectionLost("the broker did not answer CONNECT") from exc
        code = connack.body[1] if len(connack.body) >= 2 else 255
        if code:
            error = ConnectionRefused(code)
            self.abort(error)
            raise error
        self._keeping_alive = asyncio.create_task(self._keep_alive())

    def close(self) -> None:
        """DISCONNECT and close: the broker keeps a persistent session, with every message
        not acknowledged, for the next connection."""
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(wire.encode_disconnect())
            transport.close()
        self._end(ConnectionLost("closed by the service"))

    def abort(self, error: BrokerError) -> None:
        """Drop the connection at once (no DISCONNECT)."""
        if self._transport is not None:
            self._transport.abort()
        self._end(error)

    async def wait_closed(self) -> BrokerError:
        """Wait until the connection ends; why it ended."""
        await self.closed.wait()
        assert self.error is not None
        return self.error

    # --------------------------------------------------------------------------- requests

    async def subscribe(self, filters: list[str]) -> None:
        """Subscribe at QoS 1 and wait for the SUBACK (no time limit: a persistent session's
        backlog comes before it, read only as fast as the receiver takes it)."""
        packet_id = self._packet_id()
        suback = await self._request(
            (wire.SUBACK, packet_id), wire.encode_subscribe(packet_id, filters)
        )
        refused = [f for f, code in zip(filters, suback.body[2:], strict=False) if code > 2]
        if refused or len(suback.body) - 2 != len(filters):
            raise SubscriptionRefused(refused or filters)

    async def unsubscribe(self, filters: list[str]) -> None:
        packet_id = self._packet_id()
        await self._request((wire.UNSUBACK, packet_id), wire.encode_unsubscribe(packet_id, filters))

    def publish(self, topic: str, payload: bytes) -> None:
        """Send at QoS 1. The PUBACK is not waited for: the broker holds the message once it
        has read it (what the connection loses before that is lost with it, as a notice may
        be)."""
        packet_id = self._packet_id()
        self._outgoing.add(packet_id)
        self._write(wire.encode_publish(topic, payload, packet_id))

    def acknowledge(self, packet_ids: Iterable[int]) -> None:
        """PUBACK these QoS 1 messages of this connection, in one write."""
        self._write(wire.encode_pubacks(packet_ids))

    def pause_reading(self) -> None:
        if not self._paused and self._transport is not None and not self._transport.is_closing():
            self._paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._paused and self._transport is not None and not self._transport.is_closing():
            self._paused = False
            self._last_heard = time.monotonic()  # silence while paused was ours
            self._transport.resume_reading()

    @property
    def paused(self) -> bool:
        return self._paused

    # ----------------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._last_heard = time.monotonic()
        if self._gathered:  # a packet longer than one read: wait until it is all here
            self._gathered.append(data)
            self._gathered_size += len(data)
            if self._gathered_size < self._needed:
                return
            data = b"".join(self._gathered)
            self._gathered.clear()
        messages: list[RawMessage] = []
        controls: list[wire.Control] = []
        try:
            end = wire.read_packets(
                data, time.time_ns() // 1_000_000, self.session, messages, controls
            )
            if end < len(data):
                rest = data[end:]
                self._gathered = [rest]
                self._gathered_size = len(rest)
                self._needed = wire.packet_size(rest) or len(rest) + 1
            for control in controls:
                self._answer(control)
        except BrokerError as exc:  # nothing of this read is taken: none is acknowledged
            self.abort(exc)
            return
        if messages and self._on_messages(messages):
            self.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(ConnectionLost(f"connection lost: {exc}" if exc else "closed by the broker"))

    # ----------------------------------------------------------------------- internals

    def _answer(self, control: wire.Control) -> None:
        kind = control.kind
        if kind == wire.PINGRESP:
            return
        if kind == wire.CONNACK:
            key = (kind, 0)
        else:
            key = (kind, control.packet_id)
            if kind == wire.PUBACK:
                if key[1] in self._outgoing:
                    self._outgoing.discard(key[1])
                    if self._on_published is not None:
                        self._on_published()
                return
        waiting = self._answers.pop(key, None)
        if waiting is not None and not waiting.done():  # None: its requester gave up
            waiting.set_result(control)

    async def _request(self, answer: tuple[int, int], packet: bytes) -> wire.Control:
        if self.error is not None:
            raise self.error
        waiting: asyncio.Future[wire.Control] = asyncio.get_running_loop().create_future()
        self._answers[answer] = waiting
        self._write(packet)
        try:
            return await waiting
        finally:
            self._answers.pop(answer, None)

    def _packet_id(self) -> int:
        for _ in range(65_535):
            self._next_id = self._next_id % 65_535 + 1
            packet_id = self._next_id
            if packet_id not in self._outgoing and all(
                key[1] != packet_id for key in self._answers
            ):
                return packet_id
        raise BrokerError("no free packet identifier")

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if self.error is not None or transport is None or transport.is_closing():
            raise self.error or ConnectionLost("not connected")
        transport.write(data)
        self._last_sent = time.monotonic()

    async def _keep_alive(self) -> None:
        interval = self.keepalive_s / 2
        while True:
            await asyncio.sleep(interval / 2)
            now = time.monotonic()
            if self.error is not None:
                return
            if not self._paused and now - self._last_heard > self.keepalive_s:
                self.abort(ConnectionLost(f"the broker was silent for {self.keepalive_s} s"))
                return
            if now - self._last_sent >= interval:
                try:
                    self._write(wire.encode_pingreq())
                except BrokerError:
                    return  # closing: connection_lost ends it

    def _end(self, error: BrokerError) -> None:
        if self.error is None:
            self.error = error
        self.closed.set()
        for waiting in self._answers.values():
            if not waiting.done():
                waiting.set_exception(self.error)
                waiting.exception()  # retrieved here: the requester may be gone already
        self._answers.clear()
        if self._keeping_alive is not None and self._keeping_alive is not asyncio.current_task():
            self._keeping_alive.cancel()
