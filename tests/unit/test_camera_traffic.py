"""Traffic analytics on synthetic streams with known truth: counts per direction, the
congestion and stopped-vehicle alerts, the counting direction, and the camera config."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from analytics.cameras.config import CameraConfig, CamerasConfig
from analytics.cameras.frames import Frame
from analytics.cameras.traffic import TrafficAnalyser
from analytics.cameras.worker import CameraOutput, CameraWorker
from ioc.messages import RuleTransition, Severity
from simulators.cameras import (
    LINE_X,
    SHOULDER,
    STOP_X,
    CameraStream,
    Fault,
    TrafficScene,
    TrafficTruth,
    encode_jpeg,
)

T0_MS = 1_764_000_000_000


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Measure the analytics as deployed per camera, and leave the other cores alone."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(threads)


@dataclass
class Run:
    worker: CameraWorker
    truth: TrafficTruth
    outputs: list[CameraOutput]

    def transitions(self, rule_id: str) -> list[RuleTransition]:
        return [t for o in self.outputs for t in o.transitions if t.rule_id == rule_id]


def run_traffic(scene: TrafficScene, seconds: float) -> Run:
    worker = CameraWorker(CamerasConfig().cameras[0])
    outputs = []
    while scene.t < seconds:
        jpeg = encode_jpeg(scene.next_frame())
        outputs.append(worker.process_jpeg(jpeg, T0_MS + round(scene.t * 1000)))
    return Run(worker, scene.truth, outputs)


@pytest.fixture(scope="module")
def day() -> Run:
    """150 s of day traffic at 10 fps: a jam of the outbound lanes 40–80 s (slowing from
    30 s), a car standing on the shoulder from ≈27 s for 30 s."""
    return run_traffic(TrafficScene(seed=7), 150.0)


def accuracy(counted_in: int, counted_out: int, truth: TrafficTruth) -> float:
    errors = abs(counted_in - truth.crossed_in) + abs(counted_out - truth.crossed_out)
    return 1 - errors / (truth.crossed_in + truth.crossed_out)


def at_s(t: RuleTransition) -> float:
    return (t.ts_ms - T0_MS) / 1000


def test_counts_both_directions_through_a_jam(day: Run) -> None:
    traffic = day.outputs[-1].state["traffic"]
    assert day.truth.crossed_in > 50 and day.truth.crossed_out > 50
    assert accuracy(traffic["count_in"], traffic["count_out"], day.truth) >= 0.95


def fields_of(line: str) -> dict[str, str]:
    return dict(field.split("=") for field in line.split(" ")[1].split(","))


def test_interval_lines_add_up_to_the_counts(day: Run) -> None:
    closing = [i for i, o in enumerate(day.outputs) if o.lines]
    assert len(closing) >= 14  # one line per 10 s interval
    lines = [fields_of(line) for o in day.outputs for line in o.lines]
    assert all(line.startswith("camera,camera=CAM-TRF-01,kind=traffic ") for o in
               day.outputs for line in o.lines)  # fmt: skip
    before_last = day.outputs[closing[-1] - 1].state["traffic"]
    assert sum(int(f["count_in"].rstrip("i")) for f in lines) == before_last["count_in"]
    assert sum(int(f["count_out"].rstrip("i")) for f in lines) == before_last["count_out"]
    assert sum(int(f["frames"].rstrip("i")) for f in lines) == closing[-1]
    assert all(f["fps"] == "10.0" for f in lines[1:])
    assert {f["congestion"] for f in lines} == {"0i", "1i", "2i"}


def test_night_counts_in_free_flow() -> None:
    run = run_traffic(TrafficScene(seed=2, night=True, jam_first_s=1e9, stop_at_s=None), 90.0)
    traffic = run.outputs[-1].state["traffic"]
    assert run.truth.crossed_in + run.truth.crossed_out > 60
    assert accuracy(traffic["count_in"], traffic["count_out"], run.truth) >= 0.95


def test_congestion_alert_during_the_jam_only(day: Run) -> None:
    (jam_start, jam_end), = day.truth.jams  # fmt: skip
    fired, resolved = day.transitions("traffic.congestion")
    assert fired.firing and fired.severity is Severity.INFO and fired.station_id == "CAM-TRF-01"
    assert jam_start < at_s(fired) < jam_end
    assert not resolved.firing and jam_end < at_s(resolved) < jam_end + 60


def test_stopped_vehicle_alert_while_the_car_stands(day: Run) -> None:
    assert day.truth.stop is not None
    stop_start, stop_end = day.truth.stop
    fired, resolved = day.transitions("traffic.stopped_vehicle")
    assert fired.firing and fired.parameter == "stopped_s" and fired.value >= 10
    assert stop_start + 9 <= at_s(fired) <= stop_start + 13  # stopped_after_s = 10
    assert stop_end < at_s(resolved) <= stop_end + 8  # the car is gone; stopped_clear_s = 5
    evidence = next(o for o in day.outputs if fired in o.transitions)
    assert evidence.evidence
    picture = cv2.imdecode(np.frombuffer(evidence.snapshot or b"", np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (360, 640, 3)


def test_a_normal_stream_raises_no_device_alert(day: Run) -> None:
    rules = {t.rule_id for o in day.outputs for t in o.transitions}
    assert rules == {"traffic.congestion", "traffic.stopped_vehicle"}


def test_counting_pauses_while_the_lens_is_covered() -> None:
    scene = TrafficScene(seed=5, jam_first_s=1e9, stop_at_s=None)
    stream = CameraStream("CAM-TRF-01", scene, [Fault("covered", 20.0, 35.0)])
    worker = CameraWorker(CamerasConfig().cameras[0])
    unseen = 0  # vehicles that crossed while the camera could not see
    paused = []
    while scene.t < 60.0:
        before = scene.truth.crossed_in + scene.truth.crossed_out
        data = stream.next()
        assert data is not None
        out = worker.process_jpeg(data, T0_MS + round(scene.t * 1000))
        if not out.state["analysing"]:
            paused.append(scene.t)
            unseen += scene.truth.crossed_in + scene.truth.crossed_out - before
    assert 20.0 <= min(paused) <= 21.0 and 35.0 <= max(paused) <= 36.0
    traffic, truth = out.state["traffic"], scene.truth
    seen = truth.crossed_in + truth.crossed_out - unseen
    assert unseen > 0 and abs(traffic["count_in"] + traffic["count_out"] - seen) <= 2


def crossing(config: CameraConfig, rightwards: bool) -> tuple[int, int]:
    """A bright block driving across a plain 320×180 picture; (in, out) counted."""
    analyser = TrafficAnalyser(config)
    for i in range(60):
        picture = np.full((90, 160), 90, np.uint8)
        x = 10 + 2 * i if rightwards else 140 - 2 * i
        picture[40:50, x : x + 12] = 220
        analyser.update(Frame(picture, None, b""), T0_MS + i * 100)
    return analyser.count_in, analyser.count_out


def small_camera(in_point: tuple[float, float]) -> CameraConfig:
    return CameraConfig(
        id="T", name="test", kind="traffic", lat=0, lon=0, width=320, height=180,
        counting_line=((160, 0), (160, 180)), in_point=in_point,
    )  # fmt: skip


def test_in_is_the_side_of_in_point() -> None:
    towards_right = small_camera((300, 90))
    assert crossing(towards_right, rightwards=True) == (1, 0)
    assert crossing(towards_right, rightwards=False) == (0, 1)
    assert crossing(small_camera((20, 90)), rightwards=True) == (0, 1)


def test_demo_cameras_match_the_simulated_road() -> None:
    traffic = CamerasConfig().cameras[0]
    assert traffic.counting_line is not None and traffic.no_stopping_zone is not None
    (x1, _), (x2, _) = traffic.counting_line
    assert x1 == x2 == LINE_X
    zone = np.array(traffic.no_stopping_zone, np.float32)
    assert cv2.pointPolygonTest(zone, (STOP_X, float(SHOULDER.y)), False) > 0
    assert [c.kind for c in CamerasConfig().cameras] == ["traffic", "traffic", "forest"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"occupancy_region": [(0, 0), (700, 0), (0, 100)]}, "outside the frame"),
        ({"no_stopping_zone": [(0, 0), (10, 10)]}, "at least 3 points"),
        ({"in_point": None}, "needs an in_point"),
        ({"colour_model": True}, "Extra inputs"),
        ({"width": 641}, "multiples of scale"),
    ],
)
def test_bad_camera_config_is_refused(change: dict[str, object], problem: str) -> None:
    document = CamerasConfig().cameras[0].model_dump() | change
    with pytest.raises(ValidationError, match=problem):
        CameraConfig.model_validate(document)


def test_duplicate_camera_ids_are_refused() -> None:
    camera = CamerasConfig().cameras[0]
    with pytest.raises(ValidationError, match="duplicate camera ids: CAM-TRF-01"):
        CamerasConfig(cameras=[camera, camera])
