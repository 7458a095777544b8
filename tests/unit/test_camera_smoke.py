"""Forest smoke on synthetic streams with known truth: a plume is confirmed soon after it
starts, with a critical alert and its evidence; a smoke-free forest under drifting clouds and
lighting raises nothing; the alert resolves once the smoke is gone."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from analytics.cameras.config import CameraConfig, CamerasConfig
from analytics.cameras.worker import CameraOutput, CameraWorker
from ioc.messages import RuleTransition, Severity
from simulators.cameras import ForestScene, encode_jpeg

T0_MS = 1_764_000_000_000
SMOKE_START_S = 30.0


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(threads)


def forest_camera() -> CameraConfig:
    return CamerasConfig().cameras[2]


def run_forest(scene: ForestScene, seconds: float) -> list[CameraOutput]:
    worker = CameraWorker(forest_camera())
    outputs = []
    while scene.t < seconds:
        jpeg = encode_jpeg(scene.next_frame())
        outputs.append(worker.process_jpeg(jpeg, T0_MS + round(scene.t * 1000)))
    return outputs


def smoke_transitions(outputs: list[CameraOutput]) -> list[RuleTransition]:
    return [t for o in outputs for t in o.transitions if t.rule_id == "camera.smoke"]


def test_smoke_is_confirmed_soon_after_it_starts_with_evidence() -> None:
    outputs = run_forest(ForestScene(11, fps=2.0, smoke_start_s=SMOKE_START_S), 85.0)
    (fired,) = smoke_transitions(outputs)
    delay_s = (fired.ts_ms - T0_MS) / 1000 - SMOKE_START_S
    assert 10 <= delay_s <= 30  # confirm_s = 10 after the first candidates
    assert fired.severity is Severity.CRITICAL and fired.parameter == "smoke_area_pct"
    assert fired.station_id == "CAM-FOR-01" and fired.value >= fired.limit
    evidence = next(o for o in outputs if fired in o.transitions)
    assert evidence.evidence and evidence.snapshot is not None
    picture = cv2.imdecode(np.frombuffer(evidence.snapshot, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (360, 640, 3)
    x, y = (int(v) for v in ForestScene.SOURCE)
    assert evidence.state["smoke"]["confirmed"]
    box = (picture[:, :, 2] > 200) & (picture[:, :, 1] < 80)  # the red box around it
    ys, xs = np.nonzero(box)
    assert xs.min() <= x + 5 and ys.max() >= y - 10  # it frames the plume's foot
    assert outputs[-1].state["smoke"]["fire_px"] == 0  # the flames show from 90 s


def test_flames_count_as_fire() -> None:
    outputs = run_forest(ForestScene(13, fps=2.0, smoke_start_s=0.0), 75.0)
    assert outputs[-1].state["smoke"]["fire_px"] > 0  # flames from 60 s


def test_no_false_alarm_in_a_smoke_free_forest() -> None:
    outputs = run_forest(ForestScene(12, fps=1.0, smoke_start_s=None), 600.0)
    assert [t for o in outputs for t in o.transitions] == []
    areas = [o.state["smoke"]["area"] for o in outputs]
    assert max(areas) < forest_camera().smoke.min_area


def test_the_alert_resolves_once_the_smoke_is_gone() -> None:
    """A grey plume growing over a wooded slope for 60 s, then gone."""
    camera = forest_camera().model_copy(
        update={"smoke": forest_camera().smoke.model_copy(update={"clear_after_s": 20.0})}
    )
    worker = CameraWorker(camera)
    rng = np.random.default_rng(3)
    trees = rng.integers(0, 60, (360, 640, 1), dtype=np.uint8)
    slope = cv2.add(np.full((360, 640, 3), (30, 75, 35), np.uint8), np.repeat(trees, 3, 2))
    transitions = []
    for i in range(240):  # 2 fps, 120 s
        frame = cv2.add(slope, rng.integers(0, 12, slope.shape, dtype=np.uint8))
        if 40 <= i < 160:  # 20 s – 80 s
            radius = 8 + (i - 40) // 3
            alpha = np.zeros((360, 640), np.float32)
            cv2.circle(alpha, (400, 260 - radius), radius, 0.6, -1)
            alpha *= rng.uniform(0.6, 1.0, alpha.shape).astype(np.float32)  # it swirls
            grey = np.full_like(frame, 200)
            frame = cv2.blendLinear(grey, frame, alpha, 1 - alpha)
        transitions += worker.process_jpeg(encode_jpeg(frame), T0_MS + i * 500).transitions
    assert [(t.rule_id, t.firing) for t in transitions] == [
        ("camera.smoke", True),
        ("camera.smoke", False),
    ]
    fired, resolved = ((t.ts_ms - T0_MS) / 1000 for t in transitions)
    assert 30 <= fired <= 50 and 100 <= resolved <= 105
