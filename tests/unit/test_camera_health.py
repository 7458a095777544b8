"""Camera health on synthetic streams with faults at known times: each condition raises its
alert and resolves after the fault; normal day, night and forest streams raise none; silent
cameras go offline; bad frames are counted and never stop the worker."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from analytics.cameras.config import CameraConfig, CamerasConfig
from analytics.cameras.worker import CameraOutput, CameraWorker
from ioc.messages import RuleTransition
from simulators.cameras import (
    CameraStream,
    Fault,
    FaultKind,
    ForestScene,
    Scene,
    TrafficScene,
    encode_jpeg,
)

T0_MS = 1_764_000_000_000
FPS = 4.0
FAULT = (15.0, 40.0)  # s
END_S = 60.0


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(threads)


def watch(camera: CameraConfig, stream: CameraStream, seconds: float) -> list[RuleTransition]:
    """Every transition of a worker fed the stream (ticked as a service would)."""
    worker = CameraWorker(camera)
    transitions = []
    while stream.scene.t < seconds:
        data = stream.next()
        ts = T0_MS + round(stream.scene.t * 1000)
        if data is not None:
            transitions += worker.process_jpeg(data, ts).transitions
        transitions += worker.tick(ts).transitions
    return transitions


def security(camera_id: str = "CAM-SEC-1") -> CameraConfig:
    return CameraConfig(id=camera_id, name="Gate", kind="security", lat=11.9, lon=108.4)


def at_s(t: RuleTransition) -> float:
    return (t.ts_ms - T0_MS) / 1000


@pytest.mark.parametrize(
    ("fault", "rule_id"),
    [
        ("frozen", "camera.frozen"),
        ("dark", "camera.dark"),
        ("overexposed", "camera.overexposed"),
        ("blurred", "camera.blurred"),
        ("covered", "camera.blurred"),
        ("moved", "camera.moved"),
        ("offline", "camera.offline"),
        ("corrupt", "camera.bad_frames"),
    ],
)
def test_each_fault_raises_its_alert_and_it_resolves(fault: FaultKind, rule_id: str) -> None:
    start, end = FAULT
    stream = CameraStream("CAM-SEC-1", TrafficScene(3, fps=FPS), [Fault(fault, start, end)])
    transitions = watch(security(), stream, END_S)
    assert [(t.rule_id, t.firing) for t in transitions] == [(rule_id, True), (rule_id, False)]
    fired, resolved = transitions
    h = security().health
    delay = {"camera.frozen": h.frozen_after_s, "camera.offline": h.offline_after_s,
             "camera.bad_frames": h.bad_after_s}.get(rule_id, h.alert_after_s)  # fmt: skip
    # health is sampled every 0.5 s; the view compared every 2 s, when it can be told
    slack = 10 if rule_id == "camera.moved" else 3.5
    assert start + delay - 0.5 <= at_s(fired) <= start + delay + slack
    assert fired.station_id == "CAM-SEC-1" and fired.severity.value == "warning"
    assert end <= at_s(resolved) <= end + h.clear_after_s + 3


@pytest.mark.parametrize(
    ("scene", "camera"),
    [
        (TrafficScene(4, fps=FPS, night=True), CamerasConfig().cameras[1]),
        (ForestScene(5, fps=FPS, smoke_start_s=None), CamerasConfig().cameras[2]),
    ],
    ids=["night traffic", "forest"],
)
def test_normal_streams_raise_no_alert(scene: Scene, camera: CameraConfig) -> None:
    quiet = camera.model_copy(update={"kind": "security"})  # health only: faster
    assert watch(quiet, CameraStream(camera.id, scene), 120.0) == []


def test_a_silent_camera_goes_offline_and_back() -> None:
    worker = CameraWorker(security())
    frame = encode_jpeg(TrafficScene(1).next_frame())
    assert worker.tick(T0_MS).transitions == []  # never seen: silence counts from here
    assert worker.tick(T0_MS + 9_000).transitions == []
    (offline,) = worker.tick(T0_MS + 10_000).transitions
    assert offline.rule_id == "camera.offline" and offline.firing and offline.value == 10.0
    assert worker.state()["alerts"] == ["camera.offline"]
    (back,) = worker.process_jpeg(frame, T0_MS + 30_000).transitions
    assert back.rule_id == "camera.offline" and not back.firing
    lines = worker.tick(T0_MS + 40_000).lines
    assert len(lines) == 1 and "offline=false" in lines[0] and "frames=1i" in lines[0]


def test_bad_frames_are_counted_and_the_worker_goes_on() -> None:
    camera = security()
    worker = CameraWorker(camera)
    scene = TrafficScene(1)
    picture = scene.next_frame()
    good = encode_jpeg(picture)
    bad = [
        b"",
        b"not a jpeg at all",
        good[: len(good) // 2],  # cut off
        good[:600] + bytes(len(good) - 600),  # scrambled after the header
        encode_jpeg(cv2.resize(picture, (1280, 720))),
        encode_jpeg(picture[:, :320]),
    ]
    transitions = []
    for i, data in enumerate(bad * 3):  # 18 bad frames over 4.5 s
        out = worker.process_jpeg(data, T0_MS + i * 250)
        assert out.snapshot is None
        transitions += out.transitions
    assert worker.bad_frames == 18 and worker.frames == 0
    assert [(t.rule_id, t.firing) for t in transitions] == [("camera.bad_frames", True)]
    assert worker.state()["last_error"] == "frame of about 320x360 px, expected 640x360"
    out = worker.process_frame(np.zeros((720, 1280, 3), np.uint8), T0_MS + 5_000)
    assert worker.bad_frames == 19 and "expected (360, 640, 3)" in str(worker.last_error)
    for i in range(50):
        out = worker.process_jpeg(encode_jpeg(scene.next_frame()), T0_MS + 6_000 + i * 250)
        transitions += out.transitions
    assert worker.frames == 50
    assert transitions[-1].rule_id == "camera.bad_frames" and not transitions[-1].firing
    assert camera.health.clear_after_s <= at_s(transitions[-1]) - 6 <= 11


def test_alerts_snapshot_and_state_are_consistent_for_a_moved_camera() -> None:
    start, end = FAULT
    stream = CameraStream("CAM-SEC-1", TrafficScene(3, fps=FPS), [Fault("moved", start, end)])
    worker = CameraWorker(security())
    evidence: list[CameraOutput] = []
    while stream.scene.t < 30.0:
        data = stream.next()
        assert data is not None
        out = worker.process_jpeg(data, T0_MS + round(stream.scene.t * 1000))
        evidence += [out] if out.evidence else []
    (out,) = evidence
    assert out.state["alerts"] == ["camera.moved"]
    assert out.state["health"]["shift_px"] == pytest.approx(np.hypot(40, 15), abs=2)
    assert out.transitions[0].value == pytest.approx(np.hypot(40, 15), abs=2)
