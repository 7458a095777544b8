"""The fleet simulator over a real Mosquitto: every fix arrives on
``…/vehicles/{plate}/positions`` as the offline generator made it, the backlog as one array."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import aiomqtt

from ioc.config import MqttConfig
from ioc.private_services import PrivateMosquitto
from simulators.fleet import FleetConfig, FleetSimulator, fix_payloads, publish_fleet

ICT = timezone(timedelta(hours=7))
START = int(datetime(2026, 12, 1, 9, 30, tzinfo=ICT).timestamp() * 1000)
TICKS = 140  # 70 simulated minutes: the scripted backlog is released after ~65


async def test_fleet_fixes_reach_a_subscriber(mosquitto: PrivateMosquitto) -> None:
    unique = uuid.uuid4().hex[:10]
    mqtt = MqttConfig.model_validate(
        {
            "port": mosquitto.port,
            "topic_prefix": f"test/{unique}/ioc/v1",
            "client_id": f"ioc-test-{unique}",
        }
    )
    config = FleetConfig(vehicles=12, seed=22, speedup=3600)
    offline = FleetSimulator(config)
    expected = [
        item
        for batch in offline.ticks(START, TICKS)
        for item in fix_payloads(batch, offline.vehicles, mqtt.topic_prefix)
    ]
    assert any(payload.startswith(b"[") for _, payload in expected)
    received: list[tuple[str, bytes]] = []
    async with aiomqtt.Client("127.0.0.1", mqtt.port, identifier=mqtt.client_id) as subscriber:
        await subscriber.subscribe(f"{mqtt.topic_prefix}/vehicles/+/positions", qos=1)
        publisher = asyncio.create_task(publish_fleet(mqtt, config, ticks=TICKS, start_ms=START))

        async def receive() -> None:
            async for message in subscriber.messages:
                assert isinstance(message.payload, bytes)
                received.append((message.topic.value, message.payload))
                if len(received) == len(expected):
                    return

        await asyncio.wait_for(receive(), 30)
        sim = await asyncio.wait_for(publisher, 10)
    assert sorted(received) == sorted(expected)
    assert sim.ground_truth == offline.ground_truth
    arrays = [json.loads(p) for _, p in received if p.startswith(b"[")]
    (backlog,) = [g for g in sim.ground_truth if g.kind == "backlog"]
    assert len(arrays) == 1 and len(arrays[0]) == backlog.count
    # per vehicle the broker keeps the publishing order: the backlog after newer fixes of others
    order = [json.loads(p) for _, p in received]
    first_array = next(i for i, body in enumerate(order) if isinstance(body, list))
    newest_before = max(body["ts"] for body in order[:first_array] if isinstance(body, dict))
    assert newest_before > arrays[0][0]["ts"]


async def test_accelerated_time_never_publishes_a_fix_before_its_timestamp(
    mosquitto: PrivateMosquitto,
) -> None:
    prefix = f"test/{uuid.uuid4().hex[:10]}/ioc/v1"
    mqtt = MqttConfig.model_validate({"port": mosquitto.port, "topic_prefix": prefix})
    config = FleetConfig(
        vehicles=3, moving_interval_s=1, stopped_interval_s=30, speedup=1000, episodes=False
    )
    start = int(time.time() * 1000) - 3000  # 3 s of history, then live
    offline = FleetSimulator(config)
    expected = sum(len(b) for b in offline.ticks(start, 6))  # parked at night: fewer fixes
    seen: list[tuple[int, int]] = []  # (arrival, ts)
    async with aiomqtt.Client("127.0.0.1", mqtt.port) as subscriber:
        await subscriber.subscribe(f"{prefix}/vehicles/+/positions", qos=1)
        publisher = asyncio.create_task(publish_fleet(mqtt, config, ticks=6, start_ms=start))

        async def receive() -> None:
            async for message in subscriber.messages:
                assert isinstance(message.payload, bytes)
                body = json.loads(message.payload)
                seen.append((int(time.time() * 1000), body["ts"]))
                if len(seen) == expected:
                    return

        await asyncio.wait_for(receive(), 20)
        await asyncio.wait_for(publisher, 10)
    assert all(arrival >= ts for arrival, ts in seen)  # live fixes waited for the clock
    live = [arrival - ts for arrival, ts in seen if ts > start + 3000]
    assert all(delay < 1500 for delay in live)  # and not much longer
