"""Fleet fixes over MQTT: ``{prefix}/vehicles/{plate}/positions``, one JSON object per fix,
or one JSON array per backlog (fixes buffered without network, sent together).

Connects and publishes like the station simulator (``simulators/runner.py``): one aiomqtt
client, QoS 1, chunks of ``PUBLISH_CHUNK`` publishes awaited together.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import random
import time
from collections.abc import Sequence
from typing import Any

import aiomqtt
from PIL import Image, ImageDraw

from ioc.config import MqttConfig
from simulators.fleet.config import FleetConfig
from simulators.fleet.engine import FixBatch, FleetSimulator
from simulators.fleet.registry import Vehicle
from simulators.runner import PUBLISH_CHUNK

IMAGE_TYPES = frozenset({"bus", "coach", "tractor"})  # passenger >= 8 seats, tractor units

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


class DriverCameras:
    """The in-cab cameras of the vehicles that must have one (buses, coaches, tractors): a
    JPEG of 640×480 every ``every_s`` of event time while the vehicle moves (Decree 10/2020:
    one every 3-5 minutes). One picture per vehicle type, drawn once."""

    def __init__(self, every_s: float) -> None:
        self._every_ms = int(every_s * 1000)
        self._next_ms: dict[int, int] = {}
        self._pictures: dict[str, str] = {}

    def images(
        self, batch: FixBatch, vehicles: Sequence[Vehicle], topic_prefix: str
    ) -> list[tuple[str, bytes]]:
        if self._every_ms <= 0:
            return []
        out = []
        moving = (batch.speed > 5) & (batch.batch < 0)
        for i in moving.nonzero()[0].tolist():
            v, ts = int(batch.vehicle[i]), int(batch.ts_ms[i])
            vehicle = vehicles[v]
            if vehicle.type not in IMAGE_TYPES or ts < self._next_ms.get(v, 0):
                continue
            self._next_ms[v] = ts + self._every_ms
            body = {
                "ts": ts,
                "jpeg": self._picture(vehicle.type),
                "driver": vehicle.driver,
                "lat": float(batch.lat[i]),
                "lon": float(batch.lon[i]),
            }
            topic = f"{topic_prefix}/vehicles/{vehicle.id}/images"
            out.append((topic, json.dumps(body, separators=(",", ":")).encode()))
        return out

    def _picture(self, vehicle_type: str) -> str:
        if vehicle_type not in self._pictures:
            picture = Image.new("RGB", (640, 480), (38, 50, 64))
            ImageDraw.Draw(picture).text((24, 24), f"IOC fleet simulator: {vehicle_type}")
            out = io.BytesIO()
            picture.save(out, "JPEG", quality=60)
            self._pictures[vehicle_type] = base64.b64encode(out.getvalue()).decode()
        return self._pictures[vehicle_type]


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
    cameras = DriverCameras(config.image_every_s)
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
            items += cameras.images(batch, sim.vehicles, mqtt.topic_prefix)
            for first in range(0, len(items), PUBLISH_CHUNK):
                chunk = items[first : first + PUBLISH_CHUNK]
                await asyncio.gather(*(client.publish(t, p, qos=1) for t, p in chunk))
            published += len(items)
        log.info("fleet: %d messages published", published)
    return sim
