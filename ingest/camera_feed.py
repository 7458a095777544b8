"""Where camera frames enter: JPEG frames published on ``<prefix>/cameras/<id>/frames`` (QoS 0,
a late frame is worth nothing) and cameras read from a URL (RTSP, MJPEG, a file).

Only the latest frame of each camera is kept, and each camera's frames are analysed one at a
time in a worker thread (analytics/cameras/worker.py), so a slow camera never queues up
stale frames nor delays the others; frames replaced before analysis are counted. Every
output — metrics lines, rule transitions, a snapshot now and then — goes to ``on_output``.
Frames for an unknown camera are counted and dropped.

The camera analytics (OpenCV, SciPy: ~0.5 s to import) are imported when the feed is built,
not with this module, so importing the service does not wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiomqtt

from analytics.cameras.config import CamerasConfig
from ioc.clock import now_ms
from ioc.config import MqttConfig
from ioc.errors import ConfigError

if TYPE_CHECKING:
    from analytics.cameras.worker import CameraOutput, CameraWorker

log = logging.getLogger(__name__)
TICK_S = 1.0
FROM_MQTT = "mqtt"

OnOutput = Callable[[str, int, "CameraOutput"], None]  # (camera id, frame time, output)


@dataclass(slots=True)
class CameraFeedStats:
    received: int = 0
    analysed: int = 0
    replaced: int = 0  # a newer frame came before this one was analysed
    unknown_camera: int = 0
    reconnects: int = 0


class CameraFeed:
    def __init__(self, mqtt: MqttConfig, cameras: CamerasConfig, on_output: OnOutput) -> None:
        from analytics.cameras.worker import workers

        self._mqtt = mqtt
        self._config = cameras
        self._on_output = on_output
        self.workers: dict[str, CameraWorker] = workers(cameras)
        self._latest: dict[str, tuple[bytes, int] | None] = dict.fromkeys(self.workers)
        self._arrived = {camera_id: asyncio.Event() for camera_id in self.workers}
        self.stats = CameraFeedStats()

    async def run(self) -> None:
        """Analyse every camera, and receive MQTT frames, until cancelled."""
        async with asyncio.TaskGroup() as group:
            for camera in self._config.cameras:
                if camera.source == FROM_MQTT:
                    group.create_task(self._analyse_mqtt(camera.id))
                else:
                    group.create_task(self._analyse_url(camera.id, camera.source, camera.fps))
            if any(c.source == FROM_MQTT for c in self._config.cameras):
                group.create_task(self._receive())

    async def _receive(self) -> None:
        config = self._mqtt
        topic = f"{config.topic_prefix}/cameras/+/frames"
        try:
            username, password = config.cameras_login()
        except ConfigError as exc:
            # Logging in as the ingest subscriber would take over its persistent session.
            log.error("camera feed: MQTT frames not received: %s", "; ".join(exc.problems))
            return
        while True:
            try:
                async with aiomqtt.Client(
                    config.host,
                    config.port,
                    username=username,
                    password=password,
                    identifier=f"{config.client_id}-cameras",
                ) as client:
                    await client.subscribe(topic, qos=0)
                    async for message in client.messages:
                        self._keep_latest(message.topic.value, message.payload)
            except aiomqtt.MqttError as exc:
                self.stats.reconnects += 1
                log.warning("camera feed: MQTT connection lost (%s); reconnecting", exc)
                await asyncio.sleep(2.0)

    def _keep_latest(self, topic: str, payload: object) -> None:
        self.stats.received += 1
        camera_id = topic.rsplit("/", 2)[-2]
        if camera_id not in self._latest or not isinstance(payload, bytes):
            self.stats.unknown_camera += 1
            return
        if self._latest[camera_id] is not None:
            self.stats.replaced += 1
        self._latest[camera_id] = (payload, now_ms())
        self._arrived[camera_id].set()

    async def _analyse_mqtt(self, camera_id: str) -> None:
        worker, arrived = self.workers[camera_id], self._arrived[camera_id]
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):
                    await arrived.wait()
            arrived.clear()
            frame, self._latest[camera_id] = self._latest[camera_id], None
            if frame is not None:
                data, ts_ms = frame
                self._emit(
                    camera_id, ts_ms, await asyncio.to_thread(worker.process_jpeg, data, ts_ms)
                )
                self.stats.analysed += 1
            now = now_ms()
            self._emit(camera_id, now, worker.tick(now))

    async def _analyse_url(self, camera_id: str, url: str, fps: float) -> None:
        from analytics.cameras.source import CameraSource

        worker, source = self.workers[camera_id], CameraSource(url, fps)
        try:
            async for image, ts_ms in source.frames():
                self._emit(
                    camera_id, ts_ms, await asyncio.to_thread(worker.process_frame, image, ts_ms)
                )
                self.stats.analysed += 1
                self._emit(camera_id, now_ms(), worker.tick(now_ms()))
        finally:
            source.close()

    def _emit(self, camera_id: str, ts_ms: int, output: CameraOutput) -> None:
        if output.lines or output.transitions or output.snapshot is not None:
            self._on_output(camera_id, ts_ms, output)
