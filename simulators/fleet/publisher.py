"""Fleet fixes over MQTT: ``{prefix}/vehicles/{plate}/positions``, one JSON object per fix,
or one JSON array per backlog (fixes buffered without network, sent together).

Connects and publishes like the station simulator (``simulators/runner.py``): one aiomqtt
client, QoS 1, chunks of ``PUBLISH_CHUNK`` publishes awaited together.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Sequence
from typing import Any

import aiomqtt

from ioc.config import MqttConfig
from simulators.fleet.config import FleetConfig
from simulators.fleet.engine import FixBatch, FleetSimulator
from simulators.fleet.registry import Vehicle
from simulators.runner import PUBLISH_CHUNK

log = logging.getLogger(__name__)


def positions_topic(topic_prefix: str, vehicle: str) -> str:
    return f"{topic_prefix}/vehicles/{vehicle}/positions"


def _objects(
    batch: FixBatch, rows: Sequence[int], vehicles: Sequence[Vehicle]
) -> list[dict[str, Any]]:
    ts, lat, lon = batch.ts_ms.tolist(), batch.lat.tolist(), batch.lon.tolist()
    speed, heading, acc = batch.speed.tolist(), batch.heading.tolist(), batch.accuracy.tolist()
    ign, door, odo = batch.ignition.tolist(), batch.door.tolist(), batch.odometer.tolist()
    vid = batch.vehicle.tolist()
    return [
        {
            "ts": ts[i],
            "lat": lat[i],
            "lon": lon[i],
            "speed": round(speed[i]),
            "heading": int(heading[i]),
            "accuracy": acc[i],
            "ignition": ign[i],
            "door": door[i],
            "driver": vehicles[vid[i]].driver,
            "odometer": odo[i],
        }
        for i in rows
    ]


def fix_payloads(
    batch: FixBatch, vehicles: Sequence[Vehicle], topic_prefix: str = "ioc/v1"
) -> list[tuple[str, bytes]]:
    """(topic, payload) in sending order: a JSON object per fix, a JSON array per backlog."""
    objects = _objects(batch, range(len(batch)), vehicles)
    out: list[tuple[str, bytes]] = []
    batch_ids = batch.batch.tolist()
    vid = batch.vehicle.tolist()
    sent_arrays: set[int] = set()
    for i, obj in enumerate(objects):
        topic = positions_topic(topic_prefix, vehicles[vid[i]].id)
        b = batch_ids[i]
        if b < 0:
            out.append((topic, json.dumps(obj, separators=(",", ":")).encode()))
        elif b not in sent_arrays:
            sent_arrays.add(b)
            members = [objects[j] for j, bj in enumerate(batch_ids) if bj == b]
            out.append((topic, json.dumps(members, separators=(",", ":")).encode()))
    return out


async def publish_fleet(
    mqtt: MqttConfig,
    config: FleetConfig,
    *,
    ticks: int | None = None,
    start_ms: int | None = None,
    simulator: FleetSimulator | None = None,
) -> FleetSimulator:
    """Publish the fleet's fixes until cancelled (or for ``ticks`` ticks); returns the
    simulator (its ``ground_truth`` holds what happened).

    Simulated time starts at ``start_ms`` (default: ``config.history_s`` before now) and runs
    ``config.speedup`` times faster than real time, but no fix is published before its own
    timestamp: history is caught up at ``speedup``, then the fleet runs live."""
    sim = simulator or FleetSimulator(config)
    start = int(time.time() * 1000) - config.history_s * 1000 if start_ms is None else start_ms
    step = config.moving_interval_s / config.speedup
    async with aiomqtt.Client(
        mqtt.host,
        mqtt.port,
        username=mqtt.username,
        password=mqtt.password.get_secret_value() if mqtt.password else None,
        identifier=f"ioc-fleet-{random.randrange(1 << 30):x}",
        max_inflight_messages=PUBLISH_CHUNK * 2,
    ) as client:
        client.pending_calls_threshold = PUBLISH_CHUNK * 2  # chunks are awaited together
        began = time.monotonic()
        published = 0
        for k, batch in enumerate(sim.ticks(start, ticks), start=1):
            await asyncio.sleep(max(0.0, began + k * step - time.monotonic()))
            if len(batch):
                await asyncio.sleep(max(0.0, int(batch.ts_ms.max()) / 1000 - time.time()))
            items = fix_payloads(batch, sim.vehicles, mqtt.topic_prefix)
            for first in range(0, len(items), PUBLISH_CHUNK):
                chunk = items[first : first + PUBLISH_CHUNK]
                await asyncio.gather(*(client.publish(t, p, qos=1) for t, p in chunk))
            published += len(items)
        log.info("fleet: %d messages published", published)
    return sim
