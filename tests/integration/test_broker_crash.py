"""A broker SIGKILLed mid-stream, restarted on its data directory: what it acknowledged to the
publisher is still delivered to a persistent session (docs/protocol.md, "Broker security and
persistence")."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from ioc.private_services import PrivateMosquitto, free_port
from tests.reliability import Outcome, record

pytestmark = pytest.mark.adversarial

TOTAL = 3000
KILL_AFTER = 1500
#: Publishes awaiting their PUBACK at once (a station's backlog, the simulator send chunks).
IN_FLIGHT = 20
#: Acknowledged messages the broker may lose in a crash: those acknowledged in its last event
#: loop pass before the save that follows it (autosave_on_changes, every change).
LOSS_WINDOW = IN_FLIGHT


@dataclass(frozen=True, slots=True)
class CrashOutcome:
    acknowledged: frozenset[int]
    delivered: frozenset[int]
    publish_rate: float  # acknowledged messages per second before the crash

    @property
    def lost(self) -> frozenset[int]:
        return self.acknowledged - self.delivered


async def publish_until_killed(broker: PrivateMosquitto, topic: str) -> tuple[set[int], float]:
    """QoS 1 messages 0, 1, … with ``IN_FLIGHT`` awaiting their PUBACK; the broker is
    SIGKILLed once ``KILL_AFTER`` are acknowledged. Returns the acknowledged ones and the rate."""
    acknowledged: set[int] = set()
    started = time.monotonic()
    rate = 0.0
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def send(client: aiomqtt.Client, number: int) -> None:
        nonlocal rate
        try:
            await client.publish(topic, str(number).encode(), qos=1)
        except aiomqtt.MqttError:
            return
        finally:
            slots.release()
        acknowledged.add(number)
        if len(acknowledged) == KILL_AFTER:
            rate = KILL_AFTER / (time.monotonic() - started)
            broker.kill()

    with contextlib.suppress(aiomqtt.MqttError):
        async with (
            aiomqtt.Client("127.0.0.1", broker.port, max_inflight_messages=IN_FLIGHT) as client,
            asyncio.TaskGroup() as group,
        ):
            client.pending_calls_threshold = IN_FLIGHT + 1
            for number in range(TOTAL):
                await slots.acquire()
                if not broker.running:
                    break
                group.create_task(send(client, number))
    return acknowledged, rate


async def crash_mid_stream(directory: Path) -> CrashOutcome:
    broker = PrivateMosquitto(directory, free_port())
    broker.start()
    topic = f"crash/{uuid.uuid4().hex[:8]}"
    subscriber = f"crash-subscriber-{uuid.uuid4().hex[:8]}"
    try:
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, identifier=subscriber, clean_session=False
        ) as client:
            await client.subscribe(topic, qos=1)  # a persistent session, offline from now on
        acknowledged, rate = await publish_until_killed(broker, topic)
        broker.start()  # the same data directory and port
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, identifier=subscriber, clean_session=False
        ) as client:
            # The broker sends the queued messages on connect, before this SUBACK.
            await client.subscribe(topic, qos=1)
            delivered = set()
            while len(client.messages):
                message = await anext(aiter(client.messages))
                delivered.add(int(bytes(message.payload)))  # type: ignore[arg-type]
    finally:
        broker.stop()
    return CrashOutcome(frozenset(acknowledged), frozenset(delivered), rate)


async def test_a_killed_broker_keeps_what_it_acknowledged(tmp_path: Path) -> None:
    outcome = await crash_mid_stream(tmp_path / "broker")
    print(
        f"broker crash: {len(outcome.acknowledged)} acknowledged, "
        f"{len(outcome.delivered)} delivered after restart, {len(outcome.lost)} lost; "
        f"{outcome.publish_rate:.0f} QoS 1 msg/s before the crash"
    )
    acknowledged, lost = len(outcome.acknowledged), len(outcome.lost)
    note = f"acknowledged by the broker; window {LOSS_WINDOW} (autosave on every change)"
    kept = acknowledged - lost
    record(Outcome("broker SIGKILLed", "MQTT QoS 1", acknowledged, kept, 0, lost, 0, note))
    assert acknowledged >= KILL_AFTER
    assert lost <= LOSS_WINDOW, sorted(outcome.lost)
