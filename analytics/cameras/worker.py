"""One camera's analytics, frame by frame: :class:`CameraWorker` turns frames (JPEG bytes from
MQTT, or pictures from a :class:`~analytics.cameras.source.CameraSource`) into a
:class:`CameraOutput` — InfluxDB lines once per metrics interval, rule transitions for the
alert pipeline, now and then a snapshot with overlays, and the latest numbers for the wall.

A frame that cannot be decoded or has the wrong size is counted, kept as ``last_error`` and
makes the camera unhealthy (``camera.bad_frames`` once only such frames came for
``bad_after_s``); nothing raises. While the picture is dark, overexposed, blurred, covered
or moved, the traffic and smoke analytics pause (``analysing`` in the state) rather than
count what they cannot see. :meth:`CameraWorker.tick`, called every second or so, notices a
camera that went silent (``camera.offline``) and closes metrics intervals without frames.

Measurement ``camera`` (tags ``camera``, ``kind``), stamped at the end of each interval:
``frames``, ``bad_frames``, ``fps``, health flags ``offline frozen dark overexposed blurred
moved bad_input`` and the latest ``brightness`` and ``sharpness``; traffic cameras add
``count_in``, ``count_out`` (vehicles in the interval), ``occupancy`` (mean), ``congestion``
(worst level: 0 free, 1 slow, 2 jammed), ``speed`` (px/s) and ``stopped``; forest cameras
``smoke`` and ``smoke_area`` (largest share of the region).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from analytics.cameras.alarms import RULES, Alarms, Condition
from analytics.cameras.config import CameraConfig, CamerasConfig
from analytics.cameras.frames import Frame, Image, decode_jpeg, from_array
from analytics.cameras.health import HealthMonitor, HealthSample
from analytics.cameras.overlay import render
from analytics.cameras.smoke import SmokeDetector, SmokeResult
from analytics.cameras.traffic import CONGESTION, TrafficAnalyser, TrafficResult
from analytics.output import line
from ioc.messages import RuleTransition, Severity

HEALTH_FLAGS = {
    "offline": "camera.offline",
    "frozen": "camera.frozen",
    "dark": "camera.dark",
    "overexposed": "camera.overexposed",
    "blurred": "camera.blurred",
    "moved": "camera.moved",
    "bad_input": "camera.bad_frames",
}


@dataclass(frozen=True, slots=True)
class CameraOutput:
    lines: list[str]  # InfluxDB line protocol, measurement `camera`
    transitions: list[RuleTransition]  # station_id = camera id
    snapshot: bytes | None  # JPEG with overlays: the evidence when a transition fires
    state: dict[str, Any]  # latest numbers for the wall (JSON-ready)

    @property
    def evidence(self) -> bool:
        """Whether ``snapshot`` shows why a rule fired (keep it with the alert)."""
        return self.snapshot is not None and any(t.firing for t in self.transitions)


@dataclass(slots=True)
class _Interval:
    index: int  # start = index × interval
    frames: int = 0
    analysed: int = 0  # frames the traffic or smoke analytics saw
    bad_frames: int = 0
    count_in: int = 0
    count_out: int = 0
    occupancy: float = 0.0  # sum over the analysed frames
    congestion: int = 0
    smoke_area: float = 0.0


class CameraWorker:
    def __init__(
        self,
        config: CameraConfig,
        *,
        metrics_interval_s: float = 10.0,
        snapshot_interval_s: float = 5.0,
    ) -> None:
        self.config = config
        self._interval_ms = round(metrics_interval_s * 1000)
        self._snapshot_ms = round(snapshot_interval_s * 1000)
        self._traffic = TrafficAnalyser(config) if config.kind == "traffic" else None
        self._smoke = SmokeDetector(config) if config.kind == "forest" else None
        self._colour = config.kind == "forest" or (
            self._traffic is not None and config.traffic.colour
        )
        self._health = HealthMonitor(config)
        self._alarms = Alarms(
            config.id, _delays(config), config.disabled_rules, _severities(config)
        )
        self._current: _Interval | None = None
        self._fps = math.nan
        self.frames = 0
        self.bad_frames = 0
        self.last_error: str | None = None
        self._bad_streak = 0  # bad frames in a row
        self._started_ms: int | None = None
        self._last_frame_ms: int | None = None
        self._last_snapshot_ms: int | None = None
        self._sample: HealthSample | None = None
        self._road: TrafficResult | None = None
        self._plume: SmokeResult | None = None

    def reconfigure(self, config: CameraConfig) -> None:
        """New thresholds, delays, switches and severities of the camera's rules, live (the
        background models, tracks and alert states stay). Geometry and sizes must not change:
        only the rule settings of analytics.detector_rules are expected to."""
        self.config = config
        if self._traffic is not None:
            self._traffic.reconfigure(config.traffic)
        if self._smoke is not None:
            self._smoke.reconfigure(config.smoke)
        self._health.reconfigure(config.health)
        self._alarms.configure(_delays(config), config.disabled_rules, _severities(config))

    def process_jpeg(self, data: bytes, ts_ms: int) -> CameraOutput:
        c = self.config
        return self._process(decode_jpeg(data, c.width, c.height, c.scale, self._colour), ts_ms)

    def process_frame(self, image: Image, ts_ms: int) -> CameraOutput:
        """A decoded BGR picture (from a URL source)."""
        c = self.config
        return self._process(from_array(image, c.width, c.height, c.scale, self._colour), ts_ms)

    def tick(self, now_ms: int) -> CameraOutput:
        """Offline detection and the metrics of intervals without frames."""
        lines = self._roll(now_ms)
        if self._started_ms is None:
            self._started_ms = now_ms
        silence_s = (now_ms - (self._last_frame_ms or self._started_ms)) / 1000
        limit = self.config.health.offline_after_s
        offline = Condition("camera.offline", silence_s >= limit, silence_s, limit)
        return CameraOutput(lines, self._alarms.update([offline], now_ms), None, self.state())

    def _process(self, frame: Frame | str, ts_ms: int) -> CameraOutput:
        lines = self._roll(ts_ms)
        assert self._current is not None
        self._last_frame_ms = ts_ms
        self._bad_streak = self._bad_streak + 1 if isinstance(frame, str) else 0
        conditions = [
            Condition("camera.offline", False, 0.0, self.config.health.offline_after_s),
            Condition("camera.bad_frames", self._bad_streak > 0, self._bad_streak, 1.0),
        ]
        if isinstance(frame, str):
            self.bad_frames += 1
            self._current.bad_frames += 1
            self.last_error = frame
            return CameraOutput(lines, self._alarms.update(conditions, ts_ms), None, self.state())
        self.frames += 1
        self._current.frames += 1
        conditions += self._analyse(frame, ts_ms)
        transitions = self._alarms.update(conditions, ts_ms)
        snapshot = None
        due = self._last_snapshot_ms is None or ts_ms - self._last_snapshot_ms >= self._snapshot_ms
        if due or any(t.firing for t in transitions):
            snapshot = self._snapshot(frame, ts_ms)
            self._last_snapshot_ms = ts_ms
        return CameraOutput(lines, transitions, snapshot, self.state())

    def _analyse(self, frame: Frame, ts_ms: int) -> list[Condition]:
        assert self._current is not None
        conditions: list[Condition] = []
        sample = self._health.sample(frame.grey, ts_ms)
        if sample is not None:
            self._sample = sample
            conditions += sample.conditions
        if not self.analysing():
            return conditions
        self._current.analysed += 1
        if self._traffic is not None:
            road = self._road = self._traffic.update(frame, ts_ms)
            self._current.count_in += road.counted_in
            self._current.count_out += road.counted_out
            self._current.occupancy += road.occupancy
            self._current.congestion = max(self._current.congestion, road.congestion)
            conditions += road.conditions
        if self._smoke is not None and frame.colour is not None:
            plume = self._plume = self._smoke.update(frame.colour, ts_ms)
            self._current.smoke_area = max(self._current.smoke_area, plume.area)
            conditions.append(plume.condition)
        return conditions

    def analysing(self) -> bool:
        """Whether the picture is fit for traffic and smoke analytics: not dark, overexposed,
        blurred or covered at the latest health sample, nor moved (counts on a dark or moved
        picture would be wrong; the analytics resume where they were)."""
        sample = self._sample
        return (sample is None or sample.clear) and not self._alarms.is_on("camera.moved")

    def _roll(self, ts_ms: int) -> list[str]:
        """Close the metrics interval if ``ts_ms`` is past it: its line, if any."""
        index = ts_ms // self._interval_ms
        current = self._current
        if current is None or index <= current.index:
            self._current = current or _Interval(index)
            return []
        self._current = _Interval(index)
        end_ms = (current.index + 1) * self._interval_ms
        self._fps = current.frames / (self._interval_ms / 1000)
        text = line("camera", {"camera": self.config.id, "kind": self.config.kind},
                    self._fields(current), end_ms)  # fmt: skip
        return [text] if text else []

    def _fields(self, current: _Interval) -> dict[str, float | int | bool]:
        sample, on = self._sample, self._alarms.is_on
        fields: dict[str, float | int | bool] = {
            "frames": current.frames,
            "bad_frames": current.bad_frames,
            "fps": self._fps,
            **{flag: on(rule) for flag, rule in HEALTH_FLAGS.items()},
            "brightness": sample.brightness if sample else math.nan,
            "sharpness": sample.sharpness if sample else math.nan,
        }
        if self._traffic is not None:
            frames = current.analysed or math.nan
            fields |= {
                "count_in": current.count_in,
                "count_out": current.count_out,
                "occupancy": current.occupancy / frames,
                "congestion": current.congestion,
                "speed": self._road.speed if self._road else math.nan,
                "stopped": on("traffic.stopped_vehicle"),
            }
        if self._smoke is not None:
            fields |= {"smoke": on("camera.smoke"), "smoke_area": current.smoke_area}
        return fields

    def _snapshot(self, frame: Frame, ts_ms: int) -> bytes:
        tracks = self._traffic.tracks if self._traffic else ()
        box = self._plume.box if self._plume and self._plume.area > 0 else None
        alerts = [RULES[rule].name for rule in self._alarms.active()]
        return render(frame.full(), self.config, ts_ms, self._status(), alerts, tracks, box)

    def _status(self) -> str:
        if self._traffic is not None and self._road is not None:
            r = self._road
            return (
                f"in {self._traffic.count_in}  out {self._traffic.count_out}  "
                f"occupancy {r.occupancy_avg:.0%}  {CONGESTION[r.congestion]}"
            )
        if self._plume is not None:
            return f"smoke {self._plume.area:.1%}" + (" CONFIRMED" if self._plume.confirmed else "")
        return "" if math.isnan(self._fps) else f"{self._fps:.1f} fps"

    def state(self) -> dict[str, Any]:
        """The latest numbers, for the wall (NaN becomes None)."""
        c, sample = self.config, self._sample
        state: dict[str, Any] = {
            "camera": c.id, "name": c.name, "kind": c.kind, "lat": c.lat, "lon": c.lon,
            "last_frame_ms": self._last_frame_ms, "frames": self.frames,
            "bad_frames": self.bad_frames, "last_error": self.last_error, "fps": _num(self._fps),
            "alerts": self._alarms.active(),
            "analysing": self.analysing(),
            "health": {
                "brightness": _num(sample.brightness if sample else math.nan),
                "sharpness_ratio": _num(sample.sharpness_ratio if sample else math.nan),
                "unchanged_s": _num(sample.unchanged_s if sample else math.nan),
                "shift_px": _num(sample.shift_px if sample else math.nan),
            },
        }  # fmt: skip
        if self._traffic is not None:
            road = self._road
            state["traffic"] = {
                "count_in": self._traffic.count_in,
                "count_out": self._traffic.count_out,
                "occupancy": _num(road.occupancy_avg if road else math.nan),
                "congestion": CONGESTION[road.congestion if road else 0],
                "speed": _num(road.speed if road else math.nan),
                "vehicles": len(self._traffic.tracks),
                "stopped_s": _num(road.stopped_s if road else math.nan),
            }
        if self._smoke is not None:
            plume = self._plume
            state["smoke"] = {
                "area": _num(plume.area if plume else math.nan),
                "fire_px": plume.fire_px if plume else 0,
                "confirmed": bool(plume and plume.confirmed),
            }
        return state


def _delays(c: CameraConfig) -> dict[str, tuple[float, float]]:
    """(on, off) delays of the camera's rules, seconds."""
    h = c.health
    delays = {
        "camera.offline": (0.0, 0.0),
        "camera.bad_frames": (h.bad_after_s, h.clear_after_s),
        "camera.frozen": (0.0, h.clear_after_s),  # the condition waits frozen_after_s
        **{
            rule: (h.alert_after_s, h.clear_after_s)
            for rule in ("camera.dark", "camera.overexposed", "camera.blurred", "camera.moved")
        },
    }
    if c.kind == "traffic":
        delays["traffic.congestion"] = (c.traffic.congestion_after_s, c.traffic.congestion_clear_s)
        delays["traffic.stopped_vehicle"] = (0.0, c.traffic.stopped_clear_s)
    if c.kind == "forest":
        delays["camera.smoke"] = (0.0, c.smoke.clear_after_s)
    return delays


def _severities(c: CameraConfig) -> dict[str, Severity]:
    return {str(rule): severity for rule, severity in c.severities.items()}


def _num(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def workers(config: CamerasConfig) -> dict[str, CameraWorker]:
    """One worker per configured camera, by id."""
    return {
        c.id: CameraWorker(
            c,
            metrics_interval_s=config.metrics_interval_s,
            snapshot_interval_s=config.snapshot_interval_s,
        )
        for c in config.cameras
    }
