"""CPU per message of the MQTT receive path: the project's own (ingest.mqtt_connection +
ingest.mqtt_wire) against paho 2.2, the library it replaced, on the same bytes.

The stream: ``MESSAGES`` QoS 1 PUBLISH packets as Mosquitto sends a station backlog (topic
``ioc/v1/stations/<id>/readings``, a reading JSON with the six air parameters, 100 stations),
cut into 256 KiB reads as a socket gives them. Each side turns every read into
:class:`~ioc.messages.RawMessage` objects and acknowledges them in batches of ``BATCH``
(the pipeline's batch), writing the PUBACKs to a real socket (a socketpair drained between
batches), so system calls count:

* **paho**: ``loop_read`` over the reads (through ``_sock_recv``, as the service did: one
  recv feeding paho's byte-by-byte header reads), an ``on_message`` building the RawMessage
  as ``ingest/mqtt_source.py`` did, and ``Client.ack`` per message (paho writes each PUBACK
  at once);
* **ours**: ``BrokerConnection.data_received`` per read and ``acknowledge`` per batch (one
  write).

CPU is ``time.process_time`` (user + system) over the whole stream; the figures are the
median of ``REPEATS`` rounds. The issue's bar for a hand-written protocol path is 2× the
library it replaces.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from typing import Any

import paho.mqtt.client as paho_mqtt

from ingest import mqtt_wire as wire
from ingest.mqtt_connection import BrokerConnection
from ioc.messages import RawMessage
from tests.benchmarks.bench_load import PAYLOAD_TEMPLATE, value_pool

MESSAGES = 100_000
BATCH = 500
READ_BYTES = 256 * 1024
REPEATS = 5


def stream_reads() -> list[bytes]:
    pool = value_pool(1)
    packets = []
    for n in range(MESSAGES):
        body = (PAYLOAD_TEMPLATE % (1_764_900_000 + n // 100, pool[n % len(pool)])).encode()
        topic = f"ioc/v1/stations/AIR-{n % 100:03d}/readings"
        packets.append(wire.encode_publish(topic, body, n % 65_535 + 1))
    stream = b"".join(packets)
    return [stream[i : i + READ_BYTES] for i in range(0, len(stream), READ_BYTES)]


class _Drained:
    """A socketpair: PUBACKs written to one end, the other end read empty now and then."""

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair()
        self.ours.setblocking(False)
        self.theirs.setblocking(False)

    def drain(self) -> None:
        try:
            while self.theirs.recv(1 << 20):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        self.ours.close()
        self.theirs.close()


def paho_round(reads: list[bytes]) -> float:
    pair = _Drained()
    client = paho_mqtt.Client(
        paho_mqtt.CallbackAPIVersion.VERSION2, client_id="bench", clean_session=False
    )
    client.manual_ack_set(True)
    received: list[RawMessage] = []

    def on_message(message: paho_mqtt.MQTTMessage) -> None:  # as ingest/mqtt_source.py did
        payload = message.payload
        received.append(
            RawMessage(
                message.topic,
                payload if type(payload) is bytes else bytes(payload),
                time.time_ns() // 1_000_000,
                message.mid,
                message.qos,
                1,
            )
        )

    setattr(client, "_handle_on_message", on_message)  # noqa: B010 (as the service did)
    state: dict[str, Any] = {"read": 0, "buffer": b"", "taken": 0}

    def recv(size: int) -> bytes:
        if state["taken"] >= len(state["buffer"]):
            if state["read"] >= len(reads):
                raise BlockingIOError
            state["buffer"], state["taken"] = reads[state["read"]], 0
            state["read"] += 1
        start = state["taken"]
        state["taken"] = start + size
        return bytes(state["buffer"][start : start + size])

    client._sock_recv = recv  # type: ignore[method-assign, assignment]
    client._sock = pair.ours  # type: ignore[assignment]
    client._state = paho_mqtt._ConnectionState.MQTT_CS_CONNECTED
    acknowledged = 0
    start = time.process_time()
    while len(received) < MESSAGES:
        if client.loop_read() != paho_mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError("paho stopped reading")
        while len(received) - acknowledged >= BATCH or (
            len(received) == MESSAGES and acknowledged < MESSAGES
        ):
            for message in received[acknowledged : acknowledged + BATCH]:
                client.ack(message.mid, message.qos)
            acknowledged = min(acknowledged + BATCH, MESSAGES)
            pair.drain()
    elapsed = time.process_time() - start
    client._sock = None
    pair.close()
    return elapsed / MESSAGES * 1e6


class _SocketTransport(asyncio.Transport):
    """What asyncio's transport does with a write when the socket has room: one send."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock

    def write(self, data: Any) -> None:
        self._sock.send(data)

    def is_closing(self) -> bool:
        return False


def ours_round(reads: list[bytes]) -> float:
    pair = _Drained()
    received: list[RawMessage] = []

    def take(messages: list[RawMessage]) -> bool:
        received.extend(messages)
        return False

    connection = BrokerConnection(1, take)
    connection.connection_made(_SocketTransport(pair.ours))
    acknowledged = 0
    start = time.process_time()
    for data in reads:
        connection.data_received(data)
        while len(received) - acknowledged >= BATCH or (
            len(received) == MESSAGES and acknowledged < MESSAGES
        ):
            batch = received[acknowledged : acknowledged + BATCH]
            connection.acknowledge([m.mid for m in batch if m.qos and m.session == 1])
            acknowledged += len(batch)
            pair.drain()
    elapsed = time.process_time() - start
    pair.close()
    if len(received) != MESSAGES:
        raise RuntimeError(f"received {len(received)} of {MESSAGES}")
    return elapsed / MESSAGES * 1e6


def main() -> dict[str, float]:
    reads = stream_reads()
    paho_us, ours_us = [], []
    for _ in range(REPEATS):  # interleaved: both sides see the same machine
        paho_us.append(paho_round(reads))
        ours_us.append(ours_round(reads))
    paho, ours = statistics.median(paho_us), statistics.median(ours_us)
    print(
        f"[mqtt_receive] {MESSAGES:,} QoS 1 messages, PUBACK per batch of {BATCH}: "
        f"paho {paho:.2f} µs/msg, ours {ours:.2f} µs/msg (CPU) → {paho / ours:.1f}× less",
        flush=True,
    )
    return {
        "paho_receive_and_ack_us_per_message": paho,
        "ours_receive_and_ack_us_per_message": ours,
        "ours_vs_paho_cpu_ratio": paho / ours,
    }


if __name__ == "__main__":
    main()
