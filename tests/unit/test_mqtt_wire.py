"""MQTT 3.1.1 packets (ingest.mqtt_wire) and the connection's cutting of socket reads into
them (ingest.mqtt_connection), without a broker: examples from the specification's layout,
properties over any messages cut into any reads, and hostile bytes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest import mqtt_wire as wire
from ingest.mqtt_connection import BrokerConnection, ConnectionLost, SubscriptionRefused
from ioc.messages import RawMessage


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.reading = True
        self.closing = False

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True


def connected(received: list[RawMessage], full_after: int | None = None) -> BrokerConnection:
    def take(messages: list[RawMessage]) -> bool:
        received.extend(messages)
        return full_after is not None and len(received) >= full_after

    connection = BrokerConnection(7, take)
    connection.connection_made(FakeTransport())
    return connection


def transport_of(connection: BrokerConnection) -> FakeTransport:
    transport = connection._transport
    assert isinstance(transport, FakeTransport)
    return transport


def test_a_publish_as_the_specification_lays_it_out() -> None:
    packet = b"\x32\x09\x00\x03a/b\x00\x0ahi"  # QoS 1, remaining 9, topic "a/b", id 10, "hi"
    assert wire.encode_publish("a/b", b"hi", 10) == packet
    messages: list[RawMessage] = []
    assert wire.read_packets(packet + b"\x32", 5, 3, messages, []) == len(packet)
    assert messages == [RawMessage("a/b", b"hi", 5, 10, 1, 3)]
    qos0 = b"\x30\x05\x00\x01tok"  # QoS 0: no packet identifier
    messages.clear()
    wire.read_packets(qos0, 5, 3, messages, [])
    assert messages == [RawMessage("t", b"ok", 5, 0, 0, 3)]


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_remaining_length_boundaries(length: int, encoded: bytes) -> None:
    assert wire._remaining_length(length) == encoded  # §2.2.3's table
    header = b"\x30" + encoded
    assert wire.packet_size(header) == len(header) + length


def test_a_remaining_length_of_five_bytes_is_refused() -> None:
    with pytest.raises(wire.ProtocolError):
        wire.read_packets(b"\x30\xff\xff\xff\xff\x01", 0, 0, [], [])
    with pytest.raises(wire.ProtocolError):
        wire.packet_size(b"\x30\xff\xff\xff\xff\x01")


def test_controls_and_acknowledgements() -> None:
    controls: list[wire.Control] = []
    stream = b"\x20\x02\x01\x00" + b"\x90\x03\x00\x05\x01" + b"\x40\x02\x00\x09" + b"\xd0\x00"
    assert wire.read_packets(stream, 0, 0, [], controls) == len(stream)
    assert [(c.kind, c.body) for c in controls] == [
        (wire.CONNACK, b"\x01\x00"),
        (wire.SUBACK, b"\x00\x05\x01"),
        (wire.PUBACK, b"\x00\x09"),
        (wire.PINGRESP, b""),
    ]
    assert controls[1].packet_id == 5 and controls[2].packet_id == 9
    assert wire.encode_pubacks([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"


@pytest.mark.parametrize(
    "packet",
    [
        b"\x10\x00",  # CONNECT: a client's packet
        b"\x82\x00",  # SUBSCRIBE
        b"\x36\x05\x00\x01tok",  # PUBLISH with QoS 3
        b"\x32\x03\x00\x01t",  # QoS 1 without room for the packet identifier
        b"\x30\x04\x00\x09ab",  # topic longer than the packet
        b"\x30\x01\x00",  # no room for the topic length
        b"\x50\x02\x00\x01",  # PUBREC: no QoS 2 is asked for
    ],
)
def test_what_a_server_may_not_send_is_refused(packet: bytes) -> None:
    with pytest.raises(wire.ProtocolError):
        wire.read_packets(packet, 0, 0, [], [])


def test_a_topic_that_is_not_utf8_is_kept_with_replacement_characters() -> None:
    messages: list[RawMessage] = []
    wire.read_packets(b"\x30\x05\x00\x02\xff/x", 0, 0, messages, [])
    assert messages[0].topic == "\ufffd/" and messages[0].payload == b"x"


MESSAGES = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=40).filter(lambda t: len(t.encode()) <= 65_535),
        st.binary(max_size=300),
        st.sampled_from([0, 1]),
        st.integers(1, 65_535),
    ),
    max_size=30,
)


def encoded(messages: list[tuple[str, bytes, int, int]]) -> bytes:
    return b"".join(wire.encode_publish(t, p, mid if qos else 0) for t, p, qos, mid in messages)


def expected(messages: list[tuple[str, bytes, int, int]], received: list[RawMessage]) -> None:
    assert [(m.topic, m.payload, m.qos, m.mid) for m in received] == [
        (t, p, qos, mid if qos else 0) for t, p, qos, mid in messages
    ]


@given(MESSAGES, st.lists(st.integers(1, 400), max_size=60))
def test_any_messages_cut_into_any_reads_come_out_whole_and_in_order(
    messages: list[tuple[str, bytes, int, int]], cuts: list[int]
) -> None:
    stream = encoded(messages)
    received: list[RawMessage] = []
    connection = connected(received)
    position = 0
    for size in cuts:
        connection.data_received(stream[position : position + size])
        position += size
    connection.data_received(stream[position:])
    expected(messages, received)
    assert connection.error is None and not connection._gathered
    assert all(m.session == 7 for m in received)


@given(MESSAGES)
def test_read_packets_takes_whole_packets_and_leaves_the_rest(
    messages: list[tuple[str, bytes, int, int]],
) -> None:
    stream = encoded(messages)
    for end in {0, len(stream) // 2, max(len(stream) - 1, 0), len(stream)}:
        received: list[RawMessage] = []
        taken = wire.read_packets(stream[:end], 0, 0, received, [])
        assert taken <= end
        assert encoded(messages[: len(received)]) == stream[:taken]  # a whole prefix


@given(st.binary(max_size=200))
def test_hostile_bytes_end_the_connection_with_a_reason_and_nothing_else(data: bytes) -> None:
    received: list[RawMessage] = []
    connection = connected(received)
    connection.data_received(data)  # never raises: a protocol error closes the connection
    if connection.error is not None:
        assert isinstance(connection.error, wire.ProtocolError)
        assert transport_of(connection).closing and connection.closed.is_set()


def test_a_packet_larger_than_a_read_is_gathered_and_read_once() -> None:
    payload = bytes(range(256)) * 4_000  # ~1 MB, four length bytes
    stream = wire.encode_publish("big", payload, 3) + wire.encode_publish("s", b"1", 4)
    received: list[RawMessage] = []
    connection = connected(received)
    for start in range(0, len(stream), 65_536):
        connection.data_received(stream[start : start + 65_536])
    assert [(m.topic, len(m.payload), m.mid) for m in received] == [
        ("big", len(payload), 3),
        ("s", 1, 4),
    ]
    assert received[0].payload == payload


def test_a_full_receiver_pauses_reading_until_resumed() -> None:
    received: list[RawMessage] = []
    connection = connected(received, full_after=2)
    transport = transport_of(connection)
    connection.data_received(encoded([("t", b"1", 1, 1), ("t", b"2", 1, 2)]))
    assert not transport.reading and connection.paused
    connection.resume_reading()
    assert transport.reading and not connection.paused


def test_acknowledgements_of_a_batch_are_one_write() -> None:
    connection = connected([])
    connection.acknowledge([1, 2, 3])
    assert transport_of(connection).written == [wire.encode_pubacks([1, 2, 3])]


async def test_a_request_waits_for_its_answer_and_fails_when_the_connection_is_lost() -> None:
    connection = connected([])
    subscribing = asyncio.create_task(connection.subscribe(["a/#", "b/#"]))
    await asyncio.sleep(0)
    sent = transport_of(connection).written[-1]
    assert sent == wire.encode_subscribe(1, ["a/#", "b/#"])
    connection.data_received(b"\x90\x04\x00\x01\x01\x01")  # granted QoS 1 twice
    await subscribing
    unsubscribing = asyncio.create_task(connection.unsubscribe(["a/#"]))
    await asyncio.sleep(0)
    connection.connection_lost(ConnectionResetError("reset"))
    with pytest.raises(ConnectionLost, match="reset"):
        await unsubscribing


async def test_a_refused_subscription_is_an_error() -> None:
    connection = connected([])
    subscribing = asyncio.create_task(connection.subscribe(["a/#", "secret/#"]))
    await asyncio.sleep(0)
    connection.data_received(b"\x90\x04\x00\x01\x01\x80")
    with pytest.raises(SubscriptionRefused, match="secret/#"):
        await subscribing
