"""The lean MQTT receive path (ingest.mqtt_source + ingest.inbox) against a real Mosquitto:
a full inbox pauses the socket reader, the broker keeps the rest, nothing is lost or
reordered, and only messages of the current connection are acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from pathlib import Path

import aiomqtt

from ingest.inbox import Inbox
from ingest.mqtt_source import MqttLink
from ioc.config import MqttConfig
from ioc.messages import RawMessage
from ioc.private_services import PrivateMosquitto, free_port
from tests.integration.conftest import eventually, running_subscriber

CAPACITY = 100
SENT = 2_000
PAYLOAD_BYTES = 1_000  # 2 MB in all: several socket reads (256 KiB each)
SLACK = 256 * 1024 // PAYLOAD_BYTES + 1  # the messages of one socket read go past the bound


def link_config(mosquitto: PrivateMosquitto) -> MqttConfig:
    unique = uuid.uuid4().hex[:8]
    return MqttConfig(port=mosquitto.port, topic_prefix=f"rx/{unique}", client_id=f"rx-{unique}")


async def publish(config: MqttConfig, count: int, start: int = 0) -> None:
    topic = f"{config.topic_prefix}/stations/S-1/readings"
    async with aiomqtt.Client("127.0.0.1", config.port) as publisher:
        for n in range(start, start + count):  # int() reads the number, spaces around
            await publisher.publish(topic, str(n).encode().ljust(PAYLOAD_BYTES), qos=1)


async def test_a_full_inbox_pauses_reading_and_loses_nothing(
    mosquitto: PrivateMosquitto,
) -> None:
    config = link_config(mosquitto)
    inbox: Inbox[RawMessage] = Inbox(CAPACITY)
    link = MqttLink(config, inbox)
    async with running_subscriber(link):
        await publish(config, SENT)

        async def paused() -> bool:
            return link.stats.backpressure_waits > 0 and len(inbox) >= CAPACITY

        await eventually(paused, 10)
        received: list[RawMessage] = []
        async with asyncio.timeout(30):
            while len(received) < SENT:
                await inbox.wait()
                batch = inbox.take(30)
                received += batch
                link.acknowledge(batch)
        assert [int(m.payload) for m in received] == list(range(SENT))  # once each, in order
        assert all(m.topic == f"{config.topic_prefix}/stations/S-1/readings" for m in received)
        assert inbox.stats.high_water <= CAPACITY + SLACK
        assert link.stats.received == SENT and link.stats.acknowledged == SENT
        assert link.stats.reconnects == 0
        assert link.stats.backpressure_waits >= 2  # paused, resumed and paused again


async def test_unacknowledged_messages_come_again_and_old_ones_are_not_acknowledged(
    mosquitto: PrivateMosquitto,
) -> None:
    config = link_config(mosquitto)
    inbox: Inbox[RawMessage] = Inbox(1_000)
    link = MqttLink(config, inbox)
    async with running_subscriber(link):
        await publish(config, 10)
        early = await collect(inbox, 10)
        link.acknowledge(early[:4])  # 4 durable; 6 not when the connection drops
        await round_trip(link)
        assert link._connection is not None
        link._connection.close()  # DISCONNECT: the session keeps what was not acknowledged

        async def reconnected() -> bool:
            return link.stats.reconnects == 1 and link.stats.connected

        await eventually(reconnected, 10)
        again = await collect(inbox, 6)
        assert [int(m.payload) for m in again] == list(range(4, 10))
        link.acknowledge(early)  # an earlier connection's: its packet ids mean nothing now
        assert link.stats.acknowledged == 4
        link.acknowledge(again)
        assert link.stats.acknowledged == 10
        await round_trip(link)
    restarted = MqttLink(config, inbox)
    async with running_subscriber(restarted):
        await publish(config, 1, start=10)  # anything sent again would come before it
        assert [int(m.payload) for m in await collect(inbox, 1)] == [10]


async def test_a_backlog_larger_than_the_inbox_is_worked_off_before_the_suback(
    mosquitto: PrivateMosquitto,
) -> None:
    """The broker sends the session's backlog before the SUBACK: subscribing waits for the
    pipeline (no time limit, no reconnection), and nothing is lost."""
    config = link_config(mosquitto)
    inbox: Inbox[RawMessage] = Inbox(CAPACITY)
    async with running_subscriber(MqttLink(config, inbox)):
        pass  # the persistent session exists; the service is down now
    await publish(config, SENT)
    link = MqttLink(config, inbox)
    task = asyncio.create_task(link.run())
    try:
        received: list[RawMessage] = []
        async with asyncio.timeout(30):
            while len(received) < SENT:
                await inbox.wait()
                assert not link.connected.is_set() or len(received) >= SENT - 2 * CAPACITY
                batch = inbox.take(30)
                received += batch
                link.acknowledge(batch)
            await link.connected.wait()
        assert [int(m.payload) for m in received] == list(range(SENT))
        assert link.stats.reconnects == 0 and link.stats.acknowledged == SENT
        assert inbox.stats.high_water <= CAPACITY + SLACK
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_frozen_broker_is_noticed_by_the_keepalive_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    """A broker that stops answering (SIGSTOP) ends the connection after one keepalive; once
    it answers again the link reconnects and gets what it had not acknowledged."""
    broker = PrivateMosquitto(tmp_path / "broker", free_port())
    broker.start()
    try:
        config = link_config(broker).model_copy(update={"keepalive_s": 2, "reconnect_max_s": 0.5})
        inbox: Inbox[RawMessage] = Inbox(1_000)
        link = MqttLink(config, inbox)
        async with running_subscriber(link):
            await publish(config, 10)
            early = await collect(inbox, 10)
            link.acknowledge(early[:5])
            await round_trip(link)
            broker.process.send_signal(signal.SIGSTOP)
            try:

                async def noticed() -> bool:
                    return not link.stats.connected

                await eventually(noticed, 10)
                assert "silent" in link.stats.last_error
            finally:
                broker.process.send_signal(signal.SIGCONT)

            async def reconnected() -> bool:
                return link.connected.is_set() and link.stats.reconnects >= 1

            await eventually(reconnected, 20)
            again = await collect(inbox, 5)
            assert [int(m.payload) for m in again] == list(range(5, 10))
            link.acknowledge(again)
            await round_trip(link)
    finally:
        broker.stop()


async def collect(inbox: Inbox[RawMessage], count: int) -> list[RawMessage]:
    received: list[RawMessage] = []
    async with asyncio.timeout(10):
        while len(received) < count:
            await inbox.wait()
            received += inbox.take(count - len(received))
    return received


async def round_trip(link: MqttLink) -> None:
    """A QoS 1 publish answered by the broker: it has read our acknowledgements before."""
    published = link.stats.published
    link.publish_nowait(f"{link._config.topic_prefix}/rejected", b"{}")

    async def answered() -> bool:
        return link.stats.published > published

    await eventually(answered, 10)
