"""MQTT 3.1.1 packets: the few a persistent subscriber sends and receives (OASIS MQTT 3.1.1,
§2 fixed header and remaining length, §3 the packets).

The receive side is the hot path of ingest: :func:`read_packets` cuts a byte buffer into
packets and turns every PUBLISH straight into a :class:`~ioc.messages.RawMessage` — a loop of
slicing and one object per message, about 2 µs where paho's packet machine (a ``recv`` call
per header byte, a message object, logging and locks per packet) costs about 9 µs, and the
acknowledgements of a whole batch are one :func:`encode_pubacks` buffer (0.2 µs a message,
one socket write) where paho sends each one by itself (tests/benchmarks/bench_mqtt_receive.py
measures both on the same bytes).

What the broker sends is checked, not trusted: a packet type a server never sends, a remaining
length over four bytes, a PUBLISH shorter than its topic or with QoS 3 raises
:class:`ProtocolError` (the connection is then dropped and made again). A topic that is not
UTF-8 (a broker must refuse it) is decoded with replacement characters, so the message is
refused later as malformed with a reason, not lost in the receiver.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from ioc.errors import IocError
from ioc.messages import RawMessage

PROTOCOL_LEVEL = 4  # MQTT 3.1.1
CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
# what a server may send a client, besides PUBLISH (QoS 2 flows are never asked for)
SERVER_CONTROLS = frozenset({CONNACK, PUBACK, SUBACK, UNSUBACK, PINGRESP})
MAX_REMAINING_LENGTH = 268_435_455  # four length bytes (§2.2.3)

CONNACK_REFUSALS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}

_PUBACK = struct.Struct("!BBH")
_PINGREQ = bytes((PINGREQ << 4, 0))
_DISCONNECT = bytes((DISCONNECT << 4, 0))


class BrokerError(IocError):
    """The connection to the broker failed or ended."""


class ProtocolError(BrokerError):
    """The broker sent something MQTT 3.1.1 does not allow a server to send."""


@dataclass(frozen=True, slots=True)
class Control:
    """A packet from the broker other than PUBLISH: its type, header flags and body."""

    kind: int
    flags: int
    body: bytes

    @property
    def packet_id(self) -> int:
        """PUBACK, SUBACK, UNSUBACK: the packet identifier they answer."""
        if len(self.body) < 2:
            raise ProtocolError(f"packet type {self.kind} without a packet identifier")
        return int.from_bytes(self.body[:2], "big")


def read_packets(
    buffer: bytes,
    received_ms: int,
    session: int,
    messages: list[RawMessage],
    controls: list[Control],
) -> int:
    """Cut ``buffer`` into whole packets from its start: PUBLISH packets are appended to
    ``messages`` (stamped ``received_ms`` and ``session``), the others to ``controls``.
    Returns where the first incomplete packet starts (``len(buffer)``: none)."""
    size = len(buffer)
    pos = 0
    append = messages.append
    while size - pos >= 2:
        first = buffer[pos]
        length = buffer[pos + 1]
        body = pos + 2
        if length > 127:  # more length bytes, 7 bits each, least significant first
            length &= 127
            shift = 7
            while True:
                if body >= size:
                    return pos
                byte = buffer[body]
                body += 1
                length |= (byte & 127) << shift
                if byte < 128:
                    break
                shift += 7
                if shift > 21:
                    raise ProtocolError("remaining length longer than four bytes")
        end = body + length
        if end > size:
            return pos
        kind = first >> 4
        if kind == PUBLISH:
            if length < 2:
                raise ProtocolError("PUBLISH without a topic")
            topic_end = body + 2 + (buffer[body] << 8 | buffer[body + 1])
            qos = first >> 1 & 3
            data = topic_end + 2 if qos else topic_end
            if data > end or qos == 3:
                raise ProtocolError("malformed PUBLISH (topic beyond the packet, or QoS 3)")
            try:
                topic = buffer[body + 2 : topic_end].decode()
            except UnicodeDecodeError:
                topic = buffer[body + 2 : topic_end].decode("utf-8", "replace")
            append(
                RawMessage(
                    topic,
                    buffer[data:end],
                    received_ms,
                    buffer[topic_end] << 8 | buffer[topic_end + 1] if qos else 0,
                    qos,
                    session,
                )
            )
        elif kind in SERVER_CONTROLS:
            controls.append(Control(kind, first & 15, bytes(buffer[body:end])))
        else:
            raise ProtocolError(f"packet type {kind} is not sent by a server")
        pos = end
    return pos


def packet_size(buffer: bytes) -> int | None:
    """The whole size of the packet ``buffer`` starts with, once its header is complete
    (None before): how much to gather before :func:`read_packets` can take it."""
    length = 0
    for index in range(1, min(len(buffer), 5)):
        byte = buffer[index]
        length |= (byte & 127) << 7 * (index - 1)
        if byte < 128:
            return index + 1 + length
    if len(buffer) >= 5:
        raise ProtocolError("remaining length longer than four bytes")
    return None


def _remaining_length(length: int) -> bytes:
    if not 0 <= length <= MAX_REMAINING_LENGTH:
        raise ValueError(f"an MQTT packet body is at most {MAX_REMAINING_LENGTH} bytes")
    out = bytearray()
    while True:
        byte = length & 127
        length >>= 7
        out.append(byte | 128 if length else byte)
        if not length:
            return bytes(out)


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _remaining_length(len(body)) + body


def _text(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    if len(data) > 65_535:
        raise ValueError("an MQTT string is at most 65,535 bytes")
    return len(data).to_bytes(2, "big") + data


def encode_connect(
    client_id: str,
    *,
    clean_session: bool,
    keepalive_s: int,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    flags = (2 if clean_session else 0) | (128 if username is not None else 0)
    flags |= 64 if password is not None else 0
    body = _text("MQTT") + bytes((PROTOCOL_LEVEL, flags)) + keepalive_s.to_bytes(2, "big")
    body += _text(client_id)
    if username is not None:
        body += _text(username)
    if password is not None:
        body += _text(password)
    return _packet(CONNECT << 4, body)


def encode_subscribe(packet_id: int, filters: Iterable[str], qos: int = 1) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"".join(_text(f) + bytes((qos,)) for f in filters)
    return _packet(SUBSCRIBE << 4 | 2, body)


def encode_unsubscribe(packet_id: int, filters: Iterable[str]) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"".join(_text(f) for f in filters)
    return _packet(UNSUBSCRIBE << 4 | 2, body)


def encode_publish(topic: str, payload: bytes, packet_id: int = 0, *, dup: bool = False) -> bytes:
    """QoS 1 with a ``packet_id``, QoS 0 without."""
    header = PUBLISH << 4 | (8 if dup else 0) | (2 if packet_id else 0)
    body = _text(topic) + (packet_id.to_bytes(2, "big") if packet_id else b"") + payload
    return _packet(header, body)


def encode_pubacks(packet_ids: Iterable[int]) -> bytes:
    """The PUBACKs of these QoS 1 messages, as one buffer for one socket write."""
    pack = _PUBACK.pack
    return b"".join([pack(PUBACK << 4, 2, packet_id) for packet_id in packet_ids])


def encode_pingreq() -> bytes:
    return _PINGREQ


def encode_disconnect() -> bytes:
    return _DISCONNECT
