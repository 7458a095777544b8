"""Publishes the simulated network over MQTT, as stations would (docs/protocol.md).

At start it publishes ``backfill_hours`` of history (a data logger sending its backlog), so
that windowed rules such as the 24 h PM2.5 mean have data at once; then one reading per
station every ``interval_s``. Pollution episodes start at random, and one stack exceedance is
forced ``first_episode_after_s`` after start so the wall shows an alert within the first
minute.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from datetime import UTC, datetime, timedelta, timezone

import aiomqtt

from ioc.config import IocConfig, MqttConfig, SimulatorConfig
from ioc.registry import StationRegistry
from simulators.models import StationModel

log = logging.getLogger(__name__)
LOCAL_TZ = timezone(timedelta(hours=7), "ICT")
PUBLISH_CHUNK = 500


def reading_payload(ts_s: float, values: dict[str, float]) -> bytes:
    """Station loggers stamp local time; the contract requires the offset, so it is given."""
    ts = datetime.fromtimestamp(ts_s, LOCAL_TZ).isoformat(timespec="seconds")
    return json.dumps({"ts": ts, "values": values}).encode()


class NetworkSimulator:
    def __init__(
        self,
        registry: StationRegistry,
        mqtt: MqttConfig,
        config: SimulatorConfig,
    ) -> None:
        self._registry = registry
        self._mqtt = mqtt
        self._config = config
        self._rng = random.Random(config.seed)
        month = datetime.now(UTC).month
        self._models = {
            s.id: StationModel(
                s.kind,
                self._rng,
                month,
                config.pm_scale,
                s.parameters,
                s.licence.permitted_m3_day if s.licence else None,  # wells keep their licence
                s.licence.max_level_m if s.licence else None,
            )
            for s in registry
        }
        self.published = 0

    def _topic(self, station_id: str) -> str:
        return f"{self._mqtt.topic_prefix}/stations/{station_id}/readings"

    async def run(self, ticks: int | None = None) -> None:
        """Backfill, then publish live until cancelled (or for ``ticks`` rounds)."""
        config = self._mqtt
        async with aiomqtt.Client(
            config.host,
            config.port,
            username=config.username,
            password=config.password.get_secret_value() if config.password else None,
            identifier=f"ioc-simulator-{self._rng.randrange(1 << 30):x}",
            max_inflight_messages=PUBLISH_CHUNK * 2,
        ) as client:
            client.pending_calls_threshold = PUBLISH_CHUNK * 2  # chunks are awaited together
            await self._backfill(client)
            await self._live(client, ticks)

    async def _publish_all(self, client: aiomqtt.Client, items: list[tuple[str, bytes]]) -> None:
        for start in range(0, len(items), PUBLISH_CHUNK):
            chunk = items[start : start + PUBLISH_CHUNK]
            await asyncio.gather(*(client.publish(t, p, qos=1) for t, p in chunk))
            self.published += len(chunk)

    async def _backfill(self, client: aiomqtt.Client) -> None:
        hours, step = self._config.backfill_hours, self._config.backfill_step_s
        if hours <= 0:
            return
        now = time.time()
        first = now - hours * 3600
        items = []
        ts = first - first % step
        while ts < now:
            for station_id, model in self._models.items():
                items.append((self._topic(station_id), reading_payload(ts, model.values(ts))))
            ts += step
        log.info("simulator: publishing %d hours of history (%d readings)", hours, len(items))
        started = time.monotonic()
        await self._publish_all(client, items)
        log.info("simulator: history published in %.1fs", time.monotonic() - started)

    async def _live(self, client: aiomqtt.Client, ticks: int | None) -> None:
        config = self._config
        started = time.time()
        forced = config.first_episode_after_s <= 0
        tick = 0
        while ticks is None or tick < ticks:
            now = time.time()
            if not forced and now - started >= config.first_episode_after_s:
                forced = True
                self._force_first_episode(now)
            for station_id, model in self._models.items():
                if model.episode is None and self._rng.random() < config.episode_probability:
                    parameter = model.start_episode(now, self._rng.uniform(60, 600))
                    log.info("simulator: episode of %s at %s", parameter, station_id)
            items = [
                (self._topic(sid), reading_payload(now, model.values(now)))
                for sid, model in self._models.items()
            ]
            await self._publish_all(client, items)
            tick += 1
            await asyncio.sleep(max(0.0, config.interval_s - (time.time() - now)))

    def _force_first_episode(self, now: float) -> None:
        stacks = [s.id for s in self._registry if s.kind == "stack"]
        if not stacks:
            return
        station_id = max(stacks, key=lambda sid: self._models[sid].level)
        self._models[station_id].start_episode(now, 90.0, factor=5.0)
        log.info("simulator: forced a dust exceedance at %s for 90 s", station_id)


async def simulate(config: IocConfig, registry: StationRegistry) -> None:
    """The station network and, if ``simulator.cameras_fps`` > 0, the configured cameras."""
    from simulators.cameras import demo_streams, publish_cameras

    network = NetworkSimulator(registry, config.mqtt, config.simulator)
    fps = config.simulator.cameras_fps
    async with asyncio.TaskGroup() as group:
        group.create_task(network.run())
        if fps > 0 and config.cameras.cameras:
            group.create_task(publish_cameras(config.mqtt, demo_streams(config.cameras, fps), fps))
