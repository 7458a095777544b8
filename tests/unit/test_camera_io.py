"""Camera input and output: frames from a URL source (a video file that ends, then
disappears), snapshots on disk (latest, kept evidence, pruning, safe lookup), and the
simulator's frames over MQTT."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest

import simulators.cameras
from analytics.cameras.config import CamerasConfig
from analytics.cameras.snapshots import SnapshotStore
from analytics.cameras.source import CameraSource
from analytics.cameras.worker import CameraWorker
from ioc.config import MqttConfig
from simulators.cameras import TrafficScene, demo_streams, publish_cameras

FRAMES_IN_FILE = 8


def write_video(path: Path) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (640, 360))
    assert writer.isOpened()
    scene = TrafficScene(1)
    for _ in range(FRAMES_IN_FILE):
        writer.write(scene.next_frame())
    writer.release()


async def test_a_file_source_replays_and_survives_its_disappearance(tmp_path: Path) -> None:
    video = tmp_path / "road.avi"
    write_video(video)
    source = CameraSource(str(video), fps=200.0, reconnect_max_s=0.05)
    worker = CameraWorker(CamerasConfig().cameras[0])
    frames = source.frames()
    try:
        for _ in range(FRAMES_IN_FILE + 3):  # past the end of the file: reopened
            image, ts_ms = await anext(frames)
            assert not worker.process_frame(image, ts_ms).transitions
        assert worker.frames == FRAMES_IN_FILE + 3 and worker.bad_frames == 0
        assert source.reconnects == 1
        video.unlink()
        for _ in range(FRAMES_IN_FILE - 3):  # what was opened still plays
            await anext(frames)
        with pytest.raises(TimeoutError):  # then nothing comes, and nothing raises
            await asyncio.wait_for(anext(frames), timeout=0.5)
        assert source.failures >= 3 and source.frames_read == 2 * FRAMES_IN_FILE
    finally:
        await frames.aclose()
        source.close()


def test_snapshots_latest_evidence_and_pruning(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, keep=2)
    assert store.save("CAM-1", 1000, b"wall", evidence=False) == "CAM-1/latest.jpg"
    names = [store.save("CAM-1", ts, f"e{ts}".encode(), evidence=True) for ts in (900, 2000, 3000)]
    assert names == ["CAM-1/900.jpg", "CAM-1/2000.jpg", "CAM-1/3000.jpg"]
    assert sorted(p.name for p in (tmp_path / "CAM-1").iterdir()) == [
        "2000.jpg",
        "3000.jpg",
        "latest.jpg",
    ]  # the oldest evidence went, by time and not by name
    latest = store.path("CAM-1", "latest.jpg")
    assert latest is not None and latest.read_bytes() == b"e3000"
    assert store.path("CAM-1", "900.jpg") is None
    for camera, name in (("..", "latest.jpg"), ("CAM-1", "../x.jpg"), ("CAM-1", "a.png")):
        assert store.path(camera, name) is None


def test_worker_snapshots_come_every_few_seconds() -> None:
    worker = CameraWorker(CamerasConfig().cameras[0], snapshot_interval_s=5.0)
    scene = TrafficScene(2)
    got = []
    for i in range(120):  # 12 s at 10 fps
        out = worker.process_frame(scene.next_frame(), i * 100)
        if out.snapshot is not None:
            got.append(i)
            picture = cv2.imdecode(np.frombuffer(out.snapshot, np.uint8), cv2.IMREAD_COLOR)
            assert picture.shape == (360, 640, 3)
    assert got == [0, 50, 100]


class FakeClient:
    """Stands in for aiomqtt.Client: records what is published."""

    published: ClassVar[list[tuple[str, bytes, int]]] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    async def __aenter__(self) -> FakeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def publish(self, topic: str, payload: bytes, qos: int) -> None:
        self.published.append((topic, payload, qos))


async def test_the_simulator_publishes_bare_jpegs_per_camera(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(simulators.cameras.aiomqtt, "Client", FakeClient)
    FakeClient.published = []
    streams = demo_streams(CamerasConfig(), fps=20.0)
    sent = await publish_cameras(MqttConfig(), streams, fps=20.0, duration_s=0.5)
    topics = [topic for topic, _, _ in FakeClient.published]
    assert sent == len(topics) and 27 <= sent <= 33  # 3 cameras × 20 fps × 0.5 s
    assert topics[:3] == [f"ioc/v1/cameras/{c}/frames" for c in ("CAM-TRF-01", "CAM-TRF-02",
                                                                   "CAM-FOR-01")]  # fmt: skip
    _, payload, qos = FakeClient.published[0]
    picture = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
    assert qos == 0 and picture.shape == (360, 640, 3)
