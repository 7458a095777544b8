"""Synthetic camera streams with ground truth, rendered with OpenCV at 640×360.

* :class:`TrafficScene` — a road seen from above: two outbound lanes (leftwards, y 150–230)
  that jam on a schedule, two inbound lanes (rightwards, y 230–310) and a shoulder (310–340)
  where one car stops in the no-stopping zone for a while. Motorbikes, cars, vans and trucks
  at their own speeds follow each other without overlapping; day or night (lamps, headlights,
  more sensor noise). :class:`TrafficTruth` counts the vehicles whose centre crossed x = 320.
* :class:`ForestScene` — hills and forest under a sky with drifting clouds, lighting drift
  and sensor noise; from ``smoke_start_s`` a plume rises from a slope and grows, with flames
  at its foot later.
* :class:`CameraStream` — a scene as a camera sends it: JPEG frames at a fixed rate, with
  faults at given times (frozen, dark, overexposed, blurred, covered, moved, corrupt, offline).

:func:`publish_cameras` sends streams over MQTT to ``<prefix>/cameras/<id>/frames``, QoS 0.
The payload is the bare JPEG: the service stamps a frame with its receive time (no envelope
to parse, any IP camera pushing JPEGs over MQTT fits).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import aiomqtt
import cv2
import numpy as np

from analytics.cameras.config import CamerasConfig
from analytics.cameras.frames import Image
from ioc.config import MqttConfig

log = logging.getLogger(__name__)

WIDTH, HEIGHT = 640, 360
LINE_X = 320.0  # the counting line of the demo traffic cameras
STOP_X = 500.0  # where the shoulder car stops, inside the demo no-stopping zone
NOISE_FRAMES = 8  # sensor noise is drawn once per scene and cycled
FaultKind = Literal[
    "frozen", "dark", "overexposed", "blurred", "covered", "moved", "corrupt", "offline"
]


class Scene(Protocol):
    fps: float
    t: float

    def next_frame(self) -> Image: ...


@dataclass(frozen=True, slots=True)
class Lane:
    y: int  # centre
    direction: int  # +1 rightwards (inbound), -1 leftwards (outbound)
    jams: bool
    rate: float  # vehicles per second entering


@dataclass(frozen=True, slots=True)
class VehicleType:
    name: str
    length: tuple[int, int]
    height: int
    speed: tuple[float, float]  # desired speed range, px/s
    share: float


LANES = (
    Lane(170, -1, True, 0.3),
    Lane(210, -1, True, 0.3),
    Lane(250, 1, False, 0.3),
    Lane(290, 1, False, 0.3),
)
SHOULDER = Lane(326, 1, False, 0.0)
TYPES = (
    VehicleType("motorbike", (18, 22), 12, (110.0, 160.0), 0.3),
    VehicleType("car", (44, 56), 20, (130.0, 200.0), 0.4),
    VehicleType("van", (56, 66), 22, (120.0, 170.0), 0.15),
    VehicleType("truck", (90, 120), 26, (90.0, 130.0), 0.15),
)
COLOURS = [
    (40, 40, 200), (200, 200, 200), (30, 30, 30), (200, 120, 30), (60, 160, 230),
    (240, 240, 240), (90, 90, 90), (50, 150, 50), (20, 90, 160), (150, 60, 140),
]  # fmt: skip
MIN_GAP = 14.0  # px between bumpers when standing
HEADWAY_S = 1.0  # followers keep MIN_GAP + speed × headway
ACCEL = 120.0  # px/s²


@dataclass(slots=True)
class Vehicle:
    kind: VehicleType
    lane: Lane
    x: float  # centre
    length: int
    speed: float
    desired: float
    colour: tuple[int, int, int]

    def front(self) -> float:
        return self.x + self.lane.direction * self.length / 2

    def rear(self) -> float:
        return self.x - self.lane.direction * self.length / 2


@dataclass(slots=True)
class TrafficTruth:
    """What happened: vehicles crossed per direction, when the jams and the stop were."""

    crossed_in: int = 0
    crossed_out: int = 0
    jams: list[tuple[float, float]] = field(default_factory=list)  # jammed periods, s
    stop: tuple[float, float] | None = None  # the shoulder car stood still from, to, s


class TrafficScene:
    """A two-way road; ``jam_first_s`` and then every ``jam_every_s`` the outbound lanes slow
    down for ``SLOW_S``, then a bottleneck at their exit (x < ``BOTTLENECK_X``) lets traffic
    crawl for ``jam_s`` and a queue builds up behind it; a car stops on the shoulder at
    ``stop_at_s`` for ``stop_s`` (None: never)."""

    SLOW_S = 10.0
    SLOW_SPEED = 45.0
    CRAWL_SPEED = 10.0
    BOTTLENECK_X = 60.0

    def __init__(
        self,
        seed: int,
        *,
        fps: float = 10.0,
        night: bool = False,
        jam_first_s: float = 30.0,
        jam_every_s: float = 180.0,
        jam_s: float = 40.0,
        stop_at_s: float | None = 20.0,
        stop_s: float = 30.0,
    ) -> None:
        self.fps, self.t, self.night = fps, 0.0, night
        self._rng = np.random.default_rng(seed)
        self._jam = (jam_first_s, jam_every_s, jam_s)
        self._stop = (stop_at_s, stop_s)
        self._lanes: dict[Lane, list[Vehicle]] = {lane: [] for lane in (*LANES, SHOULDER)}
        self._stop_started: float | None = None
        self.truth = TrafficTruth()
        self._background = _road_background(self._rng, night)
        self._noise = _noise_bank(self._rng, 4.0 if night else 2.5)
        for lane in LANES:  # start with traffic already on the road
            for x in np.sort(self._rng.uniform(0, WIDTH, 2)):
                self._spawn(lane, float(x))

    def jam_phase(self, t: float) -> str:
        """``free``, ``slow`` or ``jam`` for the outbound lanes at time ``t``."""
        first, every, length = self._jam
        phase = (t - first) % every
        if t < first or phase >= self.SLOW_S + length:
            return "free"
        return "slow" if phase < self.SLOW_S else "jam"

    def next_frame(self) -> Image:
        dt = 1.0 / self.fps
        self.t += dt
        self._schedule()
        phase = self.jam_phase(self.t)
        for lane, vehicles in self._lanes.items():
            self._move(lane, vehicles, phase if lane.jams else "free", dt)
            if lane.rate and self._rng.random() < lane.rate * dt:
                self._spawn(lane, -60.0 if lane.direction > 0 else WIDTH + 60.0)
        return self._render()

    def _schedule(self) -> None:
        first, every, length = self._jam
        start = first + self.SLOW_S + every * len(self.truth.jams)
        if start <= self.t:
            self.truth.jams.append((start, start + length))
        stop_at, _ = self._stop
        if stop_at is not None and self.t >= stop_at and self._stop_started is None:
            self._stop_started = self.t
            self._lanes[SHOULDER].append(
                Vehicle(TYPES[1], SHOULDER, -30.0, 50, 90.0, 90.0, (40, 40, 200))
            )

    def _spawn(self, lane: Lane, x: float) -> None:
        vehicles = self._lanes[lane]
        kind = TYPES[self._rng.choice(len(TYPES), p=[t.share for t in TYPES])]
        length = int(self._rng.integers(kind.length[0], kind.length[1] + 1))
        if vehicles:
            last = vehicles[-1]
            if abs(last.rear() - x) < length / 2 + MIN_GAP + 40:
                return  # no room at the entry: this vehicle does not come
        desired = float(self._rng.uniform(*kind.speed))
        colour = COLOURS[int(self._rng.integers(len(COLOURS)))]
        vehicles.append(Vehicle(kind, lane, x, length, desired, desired, colour))

    def _move(self, lane: Lane, vehicles: list[Vehicle], phase: str, dt: float) -> None:
        leader: Vehicle | None = None
        for v in vehicles:  # front-most first
            target = v.desired
            if phase == "slow" or (phase == "jam" and v.x < self.BOTTLENECK_X):
                target = min(target, self.SLOW_SPEED if phase == "slow" else self.CRAWL_SPEED)
            if lane is SHOULDER:
                target = self._shoulder_speed(v, target)
            if leader is not None:
                gap = abs(leader.rear() - v.front()) - MIN_GAP
                target = min(target, max(0.0, gap / HEADWAY_S))
            v.speed = min(target, v.speed + ACCEL * dt)
            before = v.x
            v.x += lane.direction * v.speed * dt
            if (before - LINE_X) * (v.x - LINE_X) <= 0 < abs(v.x - before) and before != LINE_X:
                if lane.direction > 0:
                    self.truth.crossed_in += 1
                else:
                    self.truth.crossed_out += 1
            leader = v
        vehicles[:] = [v for v in vehicles if -150 < v.x < WIDTH + 150]

    def _shoulder_speed(self, v: Vehicle, target: float) -> float:
        """Drive to STOP_X, stand for the stop time, drive on."""
        _, stop_s = self._stop
        stop = self.truth.stop
        if stop is None:
            if v.x >= STOP_X - 0.5:
                self.truth.stop = (self.t, self.t + stop_s)
                return 0.0
            return min(target, max(3.0, 2.0 * (STOP_X - v.x)))
        return 0.0 if self.t < stop[1] else target

    def _render(self) -> Image:
        frame = self._background.copy()
        light = np.zeros_like(frame) if self.night else None
        for vehicles in self._lanes.values():
            for v in vehicles:
                _draw_vehicle(frame, v, self.night, light)
        if light is not None:
            cv2.add(frame, light, dst=frame)
        return _noisy(frame, self._noise, self._rng)


def _road_background(rng: np.random.Generator, night: bool) -> Image:
    frame: Image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    sky = np.linspace(235, 190, 60)[:, None]
    frame[:60] = np.dstack([sky, sky * 0.9, sky * 0.75]).astype(np.uint8)[:, :1]
    frame[60:150] = (70, 120, 80)
    for _ in range(14):  # buildings and trees
        x, w = int(rng.integers(0, WIDTH)), int(rng.integers(25, 80))
        top = int(rng.integers(30, 110))
        colour = tuple(int(c) for c in rng.integers(60, 200, 3))
        cv2.rectangle(frame, (x, top), (x + w, 140), colour, -1)
    frame[140:150] = (80, 140, 90)
    frame[150:340] = (96, 98, 100)
    frame[340:] = (170, 175, 175)
    texture = rng.normal(0, 6, (HEIGHT // 4, WIDTH // 4, 3)).astype(np.float32)
    frame = cv2.add(frame, cv2.resize(texture, (WIDTH, HEIGHT)), dtype=cv2.CV_8U)
    for y, dashed in ((190, True), (270, True), (310, False), (152, False), (338, False)):
        for x in range(0, WIDTH, 40 if dashed else WIDTH):
            cv2.line(frame, (x, y), (x + (20 if dashed else WIDTH), y), (230, 230, 230), 2)
    cv2.line(frame, (0, 228), (WIDTH, 228), (40, 200, 230), 2)
    cv2.line(frame, (0, 232), (WIDTH, 232), (40, 200, 230), 2)
    if not night:
        return frame
    dark = cv2.convertScaleAbs(frame, alpha=0.3)
    pools = np.zeros((HEIGHT, WIDTH), np.float32)
    for x in range(60, WIDTH, 160):  # street lamps along the upper kerb
        cv2.circle(pools, (x, 200), 70, 1.0, -1)
        cv2.line(dark, (x, 150), (x, 90), (50, 50, 50), 3)
    glow = cv2.GaussianBlur(pools, (0, 0), 30)[:, :, None] * np.array([27, 40, 45], np.float32)
    return cv2.add(dark, glow.astype(np.uint8))


def _draw_vehicle(frame: Image, v: Vehicle, night: bool, light: Image | None) -> None:
    """Seen from above: shadow, body, dark windscreen and rear window (a truck: cab and box)."""
    half_h = v.kind.height // 2
    x0, x1 = int(v.x - v.length / 2), int(v.x + v.length / 2)
    y0, y1 = v.lane.y - half_h, v.lane.y + half_h
    if not night:
        cv2.rectangle(frame, (x0 + 2, y0 + 3), (x1 + 2, y1 + 3), (55, 55, 58), -1)
    colour = tuple(int(c * 0.6) for c in v.colour) if night else v.colour
    glass = (12, 12, 12) if night else (60, 52, 48)
    cv2.rectangle(frame, (x0, y0), (x1, y1), colour, -1)
    cv2.rectangle(frame, (x0, y0), (x1, y1), (25, 25, 25), 1)
    front = x1 if v.lane.direction > 0 else x0
    ahead = v.lane.direction
    if v.kind.name == "motorbike":
        cv2.circle(frame, (int(v.x), v.lane.y), 4, (25, 25, 25), -1)  # the rider's helmet
    elif v.kind.name == "truck":  # the cab with its windscreen, then the cargo box
        cab = front - ahead * 24
        cv2.rectangle(frame, (cab, y0), (front - ahead * 4, y1), glass, -1)
        cv2.rectangle(
            frame, (cab - ahead * 2, y0), (x0 if ahead > 0 else x1, y1), (150, 150, 150), 1
        )
    else:
        screen = v.length // 4
        cv2.rectangle(
            frame,
            (front - ahead * screen, y0 + 2),
            (front - ahead * (screen // 2), y1 - 2),
            glass,
            -1,
        )
        rear = x0 if ahead > 0 else x1
        cv2.rectangle(
            frame, (rear + ahead * 3, y0 + 3), (rear + ahead * (screen // 2 + 3), y1 - 3), glass, -1
        )
    if light is None:
        return
    _add_beam(light, front, v.lane.y, v.lane.direction)
    cv2.circle(light, (front, v.lane.y), 4, (200, 220, 220), -1)
    rear = int(v.rear())
    cv2.circle(frame, (rear, v.lane.y), 3, (40, 40, 220), -1)


def _beam_sprite() -> Image:
    """The pool of light a headlight throws on the road ahead, fading with distance."""
    ahead = np.exp(-np.arange(90, dtype=np.float32) / 25)[None, :]
    across = np.exp(-(((np.arange(33, dtype=np.float32) - 16) / 9) ** 2))[:, None]
    pool = 60 * ahead * across
    return np.dstack([pool * 0.85, pool, pool]).astype(np.uint8)


BEAM = _beam_sprite()


def _add_beam(light: Image, front: int, y: int, direction: int) -> None:
    sprite = BEAM if direction > 0 else BEAM[:, ::-1]
    h, w = sprite.shape[:2]
    x0, y0 = (front if direction > 0 else front - w), y - h // 2
    a, b = max(0, x0), min(WIDTH, x0 + w)
    if a < b:
        region = light[y0 : y0 + h, a:b]
        region[:] = cv2.add(region, sprite[:, a - x0 : b - x0])


def _noise_bank(rng: np.random.Generator, sigma: float) -> list[Image]:
    """Sensor noise as uint8 around 32 (added, then 32 taken off, by cv2.addWeighted)."""
    shape = (HEIGHT, WIDTH, 3)
    bank = [rng.normal(32, sigma, shape) for _ in range(NOISE_FRAMES)]
    return [np.clip(noise, 0, 64).astype(np.uint8) for noise in bank]


def _noisy(frame: Image, bank: list[Image], rng: np.random.Generator, gain: float = 1.0) -> Image:
    noise = bank[int(rng.integers(len(bank)))]
    out: Image = cv2.addWeighted(frame, gain, noise, 1.0, -32.0)
    return out


@dataclass(frozen=True, slots=True)
class Puff:
    born: float
    x: float
    drift: float  # px/s sideways (the wind)
    size: float


class ForestScene:
    """Forest slopes under a sky; a plume rises at (``SOURCE``) from ``smoke_start_s`` (None:
    never), flames at its foot ``FLAME_AFTER_S`` later."""

    SOURCE = (430.0, 255.0)
    FLAME_AFTER_S = 60.0
    PUFF_LIFE_S = 45.0

    def __init__(self, seed: int, *, fps: float = 2.0, smoke_start_s: float | None = 60.0):
        self.fps, self.t, self.smoke_start_s = fps, 0.0, smoke_start_s
        self._rng = np.random.default_rng(seed)
        self._background, self._hills = _forest_background(self._rng)
        self._smoke_colour = np.full_like(self._background, (205, 208, 210))
        self._noise = _noise_bank(self._rng, 2.5)
        self._phase = float(self._rng.uniform(0, 2 * math.pi))
        self._clouds = [
            (float(self._rng.uniform(0, WIDTH)), float(self._rng.uniform(15, 70)),
             float(self._rng.uniform(30, 70)), float(self._rng.uniform(3, 8)))
            for _ in range(4)
        ]  # fmt: skip
        self._puffs: list[Puff] = []
        self._grid_x = np.arange(0, WIDTH, 4, dtype=np.float32) + 2
        self._grid_y = np.arange(0, HEIGHT, 4, dtype=np.float32) + 2

    def next_frame(self) -> Image:
        dt = 1.0 / self.fps
        self.t += dt
        frame = self._background.copy()
        for x, y, r, speed in self._clouds:
            cx = int((x + speed * self.t) % (WIDTH + 2 * r) - r)
            cv2.ellipse(frame, (cx, int(y)), (int(r), int(r * 0.4)), 0, 0, 360, (235, 232, 230), -1)
        cv2.copyTo(self._background, self._hills, frame)  # clouds pass behind the hills
        if self.smoke_start_s is not None and self.t >= self.smoke_start_s:
            frame = self._smoke(frame, self.t - self.smoke_start_s, dt)
        gain = 1.0 + 0.08 * math.sin(2 * math.pi * self.t / 900 + self._phase)
        return _noisy(frame, self._noise, self._rng, gain)

    def _smoke(self, frame: Image, age: float, dt: float) -> Image:
        rng = self._rng
        rate = min(4.0, 0.5 + age / 15)  # the fire grows: more smoke each second
        for _ in range(int(rng.poisson(rate * dt))):
            self._puffs.append(
                Puff(self.t, self.SOURCE[0] + rng.normal(0, 2), rng.normal(6, 2), rng.uniform(3, 6))
            )
        self._puffs = [p for p in self._puffs if self.t - p.born < self.PUFF_LIFE_S]
        if self._puffs:
            ages = np.array([self.t - p.born for p in self._puffs], np.float32)
            xs = np.array([p.x + p.drift * (self.t - p.born) for p in self._puffs], np.float32)
            ys = self.SOURCE[1] - 4.0 * ages  # rising 4 px/s
            sizes = np.array([p.size for p in self._puffs], np.float32) + 1.2 * ages
            strength = 0.5 * (1 - ages / self.PUFF_LIFE_S)
            gx = np.exp(-(((self._grid_x[None, :] - xs[:, None]) / sizes[:, None]) ** 2))
            gy = np.exp(-(((self._grid_y[None, :] - ys[:, None]) / sizes[:, None]) ** 2))
            alpha = np.minimum((gy.T * strength) @ gx, 0.85).astype(np.float32)
            wisps = rng.uniform(0.75, 1.0, alpha.shape).astype(np.float32)
            alpha = cv2.resize(alpha * wisps, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
            frame = cv2.blendLinear(self._smoke_colour, frame, alpha, 1 - alpha)
        if age >= self.FLAME_AFTER_S:
            x, y = int(self.SOURCE[0]), int(self.SOURCE[1])
            size = (int(rng.integers(3, 7)), int(rng.integers(5, 10)))
            cv2.ellipse(frame, (x, y), size, 0, 0, 360, (30, 140, 250), -1)
            cv2.ellipse(frame, (x, y + 2), (2, 3), 0, 0, 360, (120, 230, 255), -1)
        return frame


def _forest_background(rng: np.random.Generator) -> tuple[Image, Image]:
    """Sky, three ridges (farther ones paler and bluer) with a forest texture; also the mask
    of the pixels in front of the sky, where clouds are hidden."""
    rows = np.arange(HEIGHT, dtype=np.float32)[:, None]
    sky = np.linspace(225, 185, HEIGHT, dtype=np.float32)[:, None]
    frame = np.dstack([np.repeat(c, WIDTH, 1) for c in (sky, sky * 0.92, sky * 0.8)])
    texture = cv2.resize(rng.normal(0, 1, (HEIGHT // 3, WIDTH // 3)), (WIDTH, HEIGHT))
    hills = np.zeros((HEIGHT, WIDTH), np.uint8)
    for base, colour in ((120.0, (120, 130, 105)), (170.0, (60, 100, 55)), (240.0, (35, 80, 40))):
        walk = np.cumsum(rng.normal(0, 2.5, WIDTH))
        ridge = base + cv2.GaussianBlur(walk[None, :], (0, 0), 25)[0] - walk.mean()
        inside = rows >= ridge[None, :]
        hills[inside] = 1
        shade = np.array(colour, np.float32) * (1 + 0.25 * texture[:, :, None])
        frame = np.where(inside[:, :, None], shade, frame)
    return np.clip(frame, 0, 255).astype(np.uint8), hills


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    start_s: float
    end_s: float


class CameraStream:
    """A scene as a camera sends it: :meth:`next` gives the JPEG of the next frame (None
    while the camera is offline); faults apply between their start and end (scene time)."""

    def __init__(
        self, camera_id: str, scene: Scene, faults: Sequence[Fault] = (), quality: int = 80
    ) -> None:
        self.camera_id, self.scene, self.faults, self.quality = camera_id, scene, faults, quality
        self._last: bytes | None = None
        self._rng = np.random.default_rng(len(camera_id))

    def next(self) -> bytes | None:
        frame = self.scene.next_frame()
        fault = next((f.kind for f in self.faults if f.start_s <= self.scene.t < f.end_s), None)
        if fault == "offline":
            return None
        if fault == "frozen" and self._last is not None:
            return self._last
        if fault == "corrupt":
            return bytes(self._rng.integers(0, 256, 2000, dtype=np.uint8))
        data = encode_jpeg(impair(frame, fault) if fault else frame, self.quality)
        self._last = data
        return data


def impair(frame: Image, fault: FaultKind) -> Image:
    """The frame as a faulty camera delivers it (faults of the image itself)."""
    if fault == "dark":
        return cv2.convertScaleAbs(frame, alpha=0.06)
    if fault == "overexposed":
        return cv2.convertScaleAbs(frame, alpha=2.5, beta=120)
    if fault == "blurred":
        return cv2.GaussianBlur(frame, (0, 0), 5)
    if fault == "covered":  # a leaf or a bag on the lens: a dim, shapeless glow
        glow = cv2.resize(cv2.resize(frame, (16, 9), interpolation=cv2.INTER_AREA), (WIDTH, HEIGHT))
        return cv2.convertScaleAbs(glow, alpha=0.3, beta=40)
    if fault == "moved":
        shift = np.array([[1, 0, 40], [0, 1, 15]], np.float32)
        return cv2.warpAffine(frame, shift, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REFLECT)
    raise ValueError(f"{fault} is not an image fault")


def encode_jpeg(frame: Image, quality: int = 80) -> bytes:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(data.tobytes())


def demo_streams(cameras: CamerasConfig, fps: float, seed: int = 1) -> list[CameraStream]:
    """One stream per configured camera: traffic cameras alternate day and night (the night
    one is covered for a minute after 3 minutes), forest cameras see smoke after 2 minutes,
    security cameras a day road."""
    streams = []
    traffic = 0
    for i, camera in enumerate(cameras.cameras):
        scene: Scene
        faults: list[Fault] = []
        if camera.kind == "forest":
            scene = ForestScene(seed + i, fps=fps, smoke_start_s=120.0)
        else:
            night = camera.kind == "traffic" and traffic % 2 == 1
            traffic += camera.kind == "traffic"
            scene = TrafficScene(seed + i, fps=fps, night=night)
            if night:
                faults.append(Fault("covered", 180.0, 240.0))
        streams.append(CameraStream(camera.id, scene, faults))
    return streams


def frames_topic(topic_prefix: str, camera_id: str) -> str:
    return f"{topic_prefix}/cameras/{camera_id}/frames"


async def publish_cameras(
    mqtt: MqttConfig, streams: Sequence[CameraStream], fps: float, duration_s: float | None = None
) -> int:
    """Publish every stream's frames at ``fps`` (QoS 0: a late frame is worth nothing) until
    cancelled or ``duration_s`` passed; returns the number of frames published. Logs in with
    the camera account (``mqtt.cameras_username``), not the station simulator's."""
    published = 0
    username, password = mqtt.cameras_login()
    async with aiomqtt.Client(
        mqtt.host,
        mqtt.port,
        username=username,
        password=password,
        identifier=f"ioc-camera-simulator-{time.monotonic_ns() % (1 << 30):x}",
    ) as client:
        started = time.monotonic()
        tick = 0
        while duration_s is None or time.monotonic() - started < duration_s:
            for stream in streams:
                data = await asyncio.to_thread(stream.next)
                if data is not None:
                    topic = frames_topic(mqtt.topic_prefix, stream.camera_id)
                    await client.publish(topic, data, qos=0)
                    published += 1
            tick += 1
            await asyncio.sleep(max(0.0, started + tick / fps - time.monotonic()))
    log.info("camera simulator: %d frames published", published)
    return published
