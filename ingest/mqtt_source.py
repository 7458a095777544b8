"""Where a reading enters: the MQTT subscriber.

One ``async for`` loop inside a reconnect loop (aiomqtt). Received messages go into a bounded
queue for the pipeline; when the queue is full the loop waits (counted as backpressure) and
the broker and client buffers hold the rest. A persistent session (fixed client id,
``clean_session=False``, QoS 1) lets the broker keep messages while the service is down.

QoS 1 messages are acknowledged by hand (paho's manual ack), only after the pipeline made
their content durable (spool) — so a killed service gets every unacknowledged message again
from the broker. Rejection notices (one per station per batch, docs/protocol.md) share the
connection through a bounded outbox; when it is full a notice is dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import aiomqtt

from ioc.config import MqttConfig
from ioc.messages import RawMessage

log = logging.getLogger(__name__)
OUTBOX_SIZE = 10_000


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
    """Reading JSON and SenML topics of stations, vehicles' positions and driver images, as
    shared subscriptions when a group is configured."""
    topics = [f"{config.topic_prefix}/stations/+/{kind}" for kind in ("readings", "senml")]
    topics += [f"{config.topic_prefix}/vehicles/+/{kind}" for kind in ("positions", "images")]
    if config.shared_group:
        return [f"$share/{config.shared_group}/{topic}" for topic in topics]
    return topics


class MqttLink:
    def __init__(self, config: MqttConfig, inbox: asyncio.Queue[RawMessage]) -> None:
        self._config = config
        self._inbox = inbox
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(OUTBOX_SIZE)
        self.stats = MqttStats()
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
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
            client = aiomqtt.Client(
                config.host,
                config.port,
                username=config.username,
                password=config.password.get_secret_value() if config.password else None,
                identifier=config.client_id,
                clean_session=False,
                max_inflight_messages=1000,
            )
            client._client.manual_ack_set(True)  # aiomqtt does not expose it; paho does
            try:
                async with client:
                    await client.subscribe([(topic, 1) for topic in input_filters(config)])
                    self._session += 1
                    self._client = client
                    self.stats.connected = True
                    self.connected.set()
                    delay = 0.5
                    log.info("MQTT connected to %s:%d", config.host, config.port)
                    sender = asyncio.create_task(self._send(client))
                    try:
                        await self._receive(client)
                    finally:
                        sender.cancel()
                        self._client = None
            except aiomqtt.MqttError as exc:
                self.stats.last_error = str(exc)
                log.warning("MQTT connection lost (%s); reconnecting in %.1fs", exc, delay)
            self.stats.connected = False
            self.connected.clear()
            self.stats.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, config.reconnect_max_s)

    async def _receive(self, client: aiomqtt.Client) -> None:
        inbox = self._inbox
        stats = self.stats
        session = self._session
        async for message in client.messages:
            payload = message.payload
            raw = RawMessage(
                topic=message.topic.value,
                payload=payload if isinstance(payload, bytes) else str(payload).encode(),
                received_ms=time.time_ns() // 1_000_000,
                mid=message.mid,
                qos=message.qos,
                session=session,
            )
            stats.received += 1
            if inbox.full():
                stats.backpressure_waits += 1
            await inbox.put(raw)

    def acknowledge(self, messages: list[RawMessage]) -> None:
        """PUBACK messages whose content is durable. Messages of an earlier connection are
        not acknowledged: the broker sends them again, and duplicates are refused then."""
        client = self._client
        if client is None:
            return
        session = self._session
        paho = client._client
        count = 0
        for message in messages:
            if message.qos and message.session == session:
                paho.ack(message.mid, message.qos)
                count += 1
        self.stats.acknowledged += count

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            topic, payload = await self._outbox.get()
            await client.publish(topic, payload, qos=1)
            self.stats.published += 1
