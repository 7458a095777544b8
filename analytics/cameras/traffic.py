"""Traffic analytics of one camera, on the frame at the analysis scale:

1. MOG2 background subtraction (on colour, or grey if ``colour`` is off), its learning rate
   set from the time between frames (so the model's memory is ``background_tau_s`` whatever
   the frame rate), then an opening against noise and a closing that joins a vehicle's parts;
2. connected components → blobs (centroid, box) of at least ``min_blob_area``;
3. a centroid tracker: tracks predicted with their velocity; blobs assigned by least total
   distance (Hungarian, gated by ``max_jump_px``) first to the tracks seen in the previous
   frame, then — once blobs inside a just-seen vehicle's box (its fragments) are set
   aside — to older ones. A vehicle that stands (within ``still_radius_px`` for a second)
   is compared with its look when it settled: *held* while it fades into the background,
   ended when only its ghost is left;
4. counting: a track whose centroid passes from one side of the counting line to the other
   (outside a dead band, within the segment) counts ``in`` or ``out``;
5. occupancy of the region (foreground and held vehicles), its average and the median speed
   there give the congestion level: free, slow or jammed;
6. a vehicle standing still in the no-stopping zone longer than ``stopped_after_s``.

Coordinates are analysis pixels inside; speeds and reported values are in full-size pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from analytics.cameras.alarms import Condition
from analytics.cameras.config import CameraConfig, TrafficConfig, line_side
from analytics.cameras.frames import Frame, Image, polygon_mask

CONGESTION = ("free", "slow", "jammed")
ARRIVAL_PX = 16.0  # a vehicle came from at least this far (and its size), full-size px
KERNEL = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
FAR = 1e9
STANDING_MS = 1000  # a track settled this long is checked against its look (ghosts end)
Box = tuple[int, int, int, int]  # x, y, w, h
FRAGMENT_MARGIN = 4  # analysis px
# A new colour at a pixel becomes background once the old one's weight falls below this:
# after ≈0.7 τ at 0.5 (≈0.1 τ at OpenCV's 0.9), so crawling and stopped vehicles stay
# foreground while the colours of the road still adapt with τ.
BACKGROUND_RATIO = 0.5


@dataclass(slots=True)
class Track:
    id: int
    x: float
    y: float
    box: Box
    seen_ms: int  # -1: ended
    start: tuple[float, float]
    size: int  # longest side of its boxes so far
    template: Image  # its look when it settled at (ax, ay)
    template_box: Box
    ax: float
    ay: float
    still_since_ms: int  # within the still radius of (ax, ay) since
    vx: float = 0.0  # analysis px/s
    vy: float = 0.0
    reach: float = 0.0  # farthest it has been from where it started
    side: int = 0  # side of the counting line it was last on (0: not yet known)
    held: bool = False

    def speed(self) -> float:
        return math.hypot(self.vx, self.vy)


@dataclass(frozen=True, slots=True)
class TrafficResult:
    counted_in: int  # in this frame
    counted_out: int
    occupancy: float  # share of the region covered now
    occupancy_avg: float
    speed: float  # smoothed median speed in the region, full-size px/s (NaN: no vehicle)
    congestion: int  # index into CONGESTION
    stopped_s: float  # longest standing time in the no-stopping zone
    conditions: tuple[Condition, ...]


class TrafficAnalyser:
    def __init__(self, camera: CameraConfig) -> None:
        c, s = camera.traffic, camera.scale
        self._config, self._scale = c, s
        self._subtractor = cv2.createBackgroundSubtractorMOG2(
            history=500, varThreshold=c.var_threshold, detectShadows=False
        )
        self._subtractor.setBackgroundRatio(BACKGROUND_RATIO)
        self._line = camera.counting_line
        self._in_sign = 0
        if self._line is not None and camera.in_point is not None:
            self._in_sign = 1 if line_side(self._line, camera.in_point) > 0 else -1
        w, h = camera.width, camera.height
        self._region = polygon_mask(camera.occupancy_region, w, h, s)
        self._region_area = max(1, cv2.countNonZero(self._region))
        self._zone = polygon_mask(camera.no_stopping_zone, w, h, s)
        self._has_zone = camera.no_stopping_zone is not None
        self._min_area = c.min_blob_area / s**2
        self.tracks: list[Track] = []
        self._next_id = 1
        self._frames = 0
        self._last_ms: int | None = None
        self._occupancy_avg = 0.0
        self._speed_avg = math.nan
        self.count_in = self.count_out = 0
        self.foreground: Image = np.zeros_like(self._region)

    def reconfigure(self, config: TrafficConfig) -> None:
        """New thresholds, live (read at each frame)."""
        self._config = config

    def update(self, frame: Frame, ts_ms: int) -> TrafficResult:
        grey = frame.grey
        previous_ms = ts_ms if self._last_ms is None else self._last_ms
        dt = max(0.0, (ts_ms - previous_ms) / 1000)
        self._last_ms = ts_ms
        self._frames += 1
        rate = min(1.0, max(dt / self._config.background_tau_s, 1.0 / self._frames))
        model = frame.colour if frame.colour is not None else grey
        fg = self._subtractor.apply(model, learningRate=rate)
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, KERNEL)
        self.foreground = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, KERNEL)
        _, _, stats, centroids = cv2.connectedComponentsWithStats(self.foreground, connectivity=8)
        keep = stats[1:, cv2.CC_STAT_AREA] >= self._min_area
        counted = self._track(grey, centroids[1:][keep], stats[1:, :4][keep], ts_ms, previous_ms)
        occupancy = self._occupancy()
        smooth = 1 - math.exp(-dt / self._config.smoothing_s)
        self._occupancy_avg += smooth * (occupancy - self._occupancy_avg)
        self._smooth_speed(smooth)
        congestion = self._congestion()
        stopped_s = self._stopped_s(ts_ms)
        c = self._config
        conditions = (
            Condition(
                "traffic.congestion",
                congestion == 2,
                self._occupancy_avg * 100,
                c.jam_occupancy * 100,
            ),
            Condition(
                "traffic.stopped_vehicle", stopped_s >= c.stopped_after_s, stopped_s,
                c.stopped_after_s,
            ),
        )  # fmt: skip
        return TrafficResult(
            counted[0], counted[1], occupancy, self._occupancy_avg, self._speed_avg, congestion,
            stopped_s, conditions if self._has_zone else conditions[:1],
        )  # fmt: skip

    def _track(
        self, grey: Image, centres: np.ndarray, boxes: np.ndarray, ts_ms: int, previous_ms: int
    ) -> tuple[int, int]:
        """Assign blobs to the tracks seen in the previous frame, then to the older ones; skip
        the fragments of vehicles seen now, start tracks on the other blobs, end tracks.
        Returns (in, out) counted now."""
        tracks = self.tracks
        ages = np.array([(ts_ms - t.seen_ms) / 1000 for t in tracks])
        shift = np.array([(t.vx, t.vy) for t in tracks]).reshape(-1, 2) * ages[:, None]
        predicted = np.array([(t.x, t.y) for t in tracks]).reshape(-1, 2) + shift
        boxes_ahead = [
            (x + round(dx), y + round(dy), w, h)
            for (x, y, w, h), (dx, dy) in zip((t.box for t in tracks), shift.tolist(), strict=True)
        ]
        free = set(range(len(centres)))
        seen: set[int] = set()
        crossings = [0, 0, 0]  # by direction: none, in, out
        recent = [r for r, t in enumerate(tracks) if t.seen_ms == previous_ms]
        older = [r for r, t in enumerate(tracks) if t.seen_ms != previous_ms]
        for group in (recent, older):
            for r, c in self._assign(group, sorted(free), predicted, centres):
                crossed = self._match(tracks[r], centres[c], boxes[c], grey, ts_ms)
                if crossed is not None:
                    crossings[crossed] += 1
                    seen.add(r)
                    free.discard(c)
            if group is recent:  # fragments of the vehicles just seen are no vehicles
                ahead = [boxes_ahead[r] for r in seen]
                free = {c for c in free if not _inside_any(centres[c], ahead)}
        kept = []
        for r, t in enumerate(tracks):
            if r in seen:
                kept.append(t)
            elif t.seen_ms >= 0 and self._arrived(t) and self._present(t, grey):
                t.vx = t.vy = 0.0  # standing and faded into the background: held
                t.seen_ms, t.held = ts_ms, True
                kept.append(t)
            elif ts_ms - t.seen_ms <= self._config.max_missed_s * 1000:
                t.held = False
                kept.append(t)
        kept += [self._start(centres[c], boxes[c], grey, ts_ms) for c in sorted(free)]
        self.tracks = kept
        self.count_in += crossings[1]
        self.count_out += crossings[2]
        return crossings[1], crossings[2]

    def _assign(
        self, rows: list[int], cols: list[int], predicted: np.ndarray, centres: np.ndarray
    ) -> list[tuple[int, int]]:
        """Track-blob pairs of least total distance, each within ``max_jump_px``."""
        if not rows or not cols:
            return []
        gate = self._config.max_jump_px / self._scale
        gap = predicted[rows][:, None, :] - centres[cols][None, :, :]
        cost = np.hypot(gap[:, :, 0], gap[:, :, 1])
        picked = zip(*linear_sum_assignment(np.where(cost <= gate, cost, FAR)), strict=True)
        return [(rows[i], cols[j]) for i, j in picked if cost[i, j] <= gate]

    def _match(
        self, t: Track, centre: np.ndarray, box: np.ndarray, grey: Image, ts_ms: int
    ) -> int | None:
        """Give ``t`` its blob: 1 or 2 if it crossed the line in or out, 0 if not, None if
        the track ends (a vehicle stood, and what is there now no longer looks like it: it
        left, and the blob is its ghost or itself driving off, which starts anew)."""
        if ts_ms - t.still_since_ms < STANDING_MS or not self._arrived(t):
            self._follow(t, centre, box, grey, ts_ms)
            return self._cross(t)
        if self._present(t, grey):
            t.seen_ms, t.held = ts_ms, False  # standing; the blob is (part of) it
            return 0
        t.seen_ms = -1
        return None

    def _start(self, centre: np.ndarray, box: np.ndarray, grey: Image, ts_ms: int) -> Track:
        x, y, b = float(centre[0]), float(centre[1]), _box(box)
        track = Track(
            id=self._next_id, x=x, y=y, box=b, seen_ms=ts_ms, start=(x, y), size=max(b[2:]),
            template=_patch(grey, b), template_box=b, ax=x, ay=y, still_since_ms=ts_ms,
        )  # fmt: skip
        track.side = self._side(x, y)
        self._next_id += 1
        return track

    def _follow(
        self, t: Track, centre: np.ndarray, box: np.ndarray, grey: Image, ts_ms: int
    ) -> None:
        x, y = float(centre[0]), float(centre[1])
        dt = (ts_ms - t.seen_ms) / 1000
        if dt > 0:
            t.vx = 0.5 * t.vx + 0.5 * (x - t.x) / dt
            t.vy = 0.5 * t.vy + 0.5 * (y - t.y) / dt
        t.reach = max(t.reach, math.hypot(x - t.start[0], y - t.start[1]))
        t.x, t.y, t.box, t.seen_ms, t.held = x, y, _box(box), ts_ms, False
        t.size = max(t.size, *t.box[2:])
        if math.hypot(x - t.ax, y - t.ay) * self._scale > self._config.still_radius_px:
            t.ax, t.ay, t.still_since_ms = x, y, ts_ms
            t.template, t.template_box = _patch(grey, t.box), t.box

    def _arrived(self, t: Track) -> bool:
        """Whether ``t`` came from farther than its size: a vehicle, not a ghost or a
        fragment (their centres wander as they grow and shrink, but not that far)."""
        return t.reach * self._scale >= max(ARRIVAL_PX, t.size * self._scale)

    def _present(self, t: Track, grey: Image) -> bool:
        """Whether the settled vehicle still looks as it did when it settled, give or take
        twice the still radius (it may creep): RMS grey difference at the best offset."""
        x, y, w, h = t.template_box
        r = math.ceil(2 * self._config.still_radius_px / self._scale)
        x0, y0 = max(0, x - r), max(0, y - r)
        area = grey[y0 : y + h + r, x0 : x + w + r]
        if area.shape[0] < h or area.shape[1] < w:
            return False
        squares = cv2.matchTemplate(area, t.template, cv2.TM_SQDIFF)
        return math.sqrt(float(squares.min()) / (w * h)) < self._config.hold_diff

    def _side(self, x: float, y: float) -> int:
        if self._line is None:
            return 0
        d = line_side(self._line, (x * self._scale, y * self._scale))
        band = self._config.line_band_px
        return 1 if d > band else -1 if d < -band else 0

    def _within_segment(self, x: float, y: float) -> bool:
        assert self._line is not None
        (x1, y1), (x2, y2) = self._line
        dx, dy = x2 - x1, y2 - y1
        t = ((x * self._scale - x1) * dx + (y * self._scale - y1) * dy) / (dx * dx + dy * dy)
        return 0.0 <= t <= 1.0

    def _cross(self, t: Track) -> int:
        """After ``t`` moved: 1 if it crossed the line inwards, 2 outwards, else 0."""
        side = self._side(t.x, t.y)
        if side == 0 or side == t.side:
            return 0
        before, t.side = t.side, side
        if before == 0 or not self._within_segment(t.x, t.y):
            return 0
        return 1 if side == self._in_sign else 2

    def _occupancy(self) -> float:
        occupied = self.foreground
        held = [t.box for t in self.tracks if t.held]
        if held:
            occupied = occupied.copy()
            for x, y, w, h in held:
                cv2.rectangle(occupied, (x, y), (x + w - 1, y + h - 1), 255, -1)
        inside = cv2.countNonZero(cv2.bitwise_and(occupied, self._region))
        return float(inside / self._region_area)

    def _inside(self, mask: Image, t: Track) -> bool:
        h, w = mask.shape
        return bool(mask[min(h - 1, max(0, int(t.y))), min(w - 1, max(0, int(t.x)))])

    def _smooth_speed(self, smooth: float) -> None:
        speeds = [
            t.speed() * self._scale
            for t in self.tracks
            if self._arrived(t) and self._inside(self._region, t)
        ]
        if not speeds:
            self._speed_avg = math.nan
        elif math.isnan(self._speed_avg):
            self._speed_avg = float(np.median(speeds))
        else:
            self._speed_avg += smooth * (float(np.median(speeds)) - self._speed_avg)

    def _congestion(self) -> int:
        c, occupancy, speed = self._config, self._occupancy_avg, self._speed_avg
        if occupancy >= c.jam_occupancy or (
            occupancy >= c.slow_occupancy and speed <= c.jam_speed_px_s
        ):
            return 2
        return int(occupancy >= c.slow_occupancy or speed <= c.slow_speed_px_s)

    def _stopped_s(self, ts_ms: int) -> float:
        """Longest standing time of a vehicle in the no-stopping zone."""
        standing = [
            ts_ms - t.still_since_ms
            for t in self.tracks
            if self._arrived(t) and self._inside(self._zone, t)
        ]
        return max(standing, default=0) / 1000 if self._has_zone else 0.0


def _box(stats: np.ndarray) -> Box:
    x, y, w, h = (int(v) for v in stats)
    return x, y, w, h


def _inside_any(centre: np.ndarray, boxes: list[Box]) -> bool:
    """Whether a blob's centre lies in one of ``boxes`` (widened by ``FRAGMENT_MARGIN``): a
    fragment of a vehicle seen in the same frame (a roof as grey as the road between its
    windscreen and rear window), not a vehicle of its own."""
    x, y, m = centre[0], centre[1], FRAGMENT_MARGIN
    return any(
        bx - m <= x <= bx + bw + m and by - m <= y <= by + bh + m for bx, by, bw, bh in boxes
    )


def _patch(grey: Image, box: Box) -> Image:
    x, y, w, h = box
    return grey[y : y + h, x : x + w].copy()
