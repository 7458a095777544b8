"""Smoke and fire candidates of a forest camera, on the colour frame at the analysis scale.

A pixel of the region is a candidate when, in the lightly smoothed picture (2 s), it is

* **smoke**: brighter than the smoke-free reference view by ``brighten`` (after correcting
  the reference for the global lighting drift), greyish (saturation ≤ ``max_saturation``),
  and moving (its frame-to-frame change stands ``min_motion`` above the scene's noise); or
* **fire**: flame-coloured (red well above blue, bright) and brighter than the reference.

Candidates covering at least ``min_area`` of the region for ``confirm_s``, while growing by
``growth``, are confirmed as smoke: that is the alert condition, held while candidates stay.
The reference follows the view with ``background_tau_s`` except under candidates, so a
plume is not learnt away while it grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from analytics.cameras.alarms import Condition
from analytics.cameras.config import CameraConfig, SmokeConfig
from analytics.cameras.frames import Image, polygon_mask

SMOOTH_S = 2.0  # time constant of the smoothed picture
MOTION_S = 5.0  # time constant of the motion energy
KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


@dataclass(frozen=True, slots=True)
class SmokeResult:
    area: float  # candidate share of the region
    fire_px: int  # flame-coloured pixels among the candidates (analysis scale)
    box: tuple[int, int, int, int] | None  # candidates' bounding box, full-size px
    confirmed: bool
    condition: Condition


@dataclass(slots=True)
class _Views:
    """What the detector keeps (float32): the smoothed picture, the smoke-free reference,
    the motion energy (grey) and the previous grey frame."""

    smooth: Image
    reference: Image
    motion: Image
    previous: Image


class SmokeDetector:
    def __init__(self, camera: CameraConfig) -> None:
        self._config, self._scale = camera.smoke, camera.scale
        self._region = polygon_mask(camera.smoke.region, camera.width, camera.height, camera.scale)
        self._region_area = max(1, cv2.countNonZero(self._region))
        self._views: _Views | None = None
        self._last_ms = 0
        self._since_ms: int | None = None
        self._first_area = 0.0
        self._confirmed = False

    def reconfigure(self, config: SmokeConfig) -> None:
        """New thresholds, live (read at each frame)."""
        self._config = config

    def update(self, colour: Image, ts_ms: int) -> SmokeResult:
        c = self._config
        frame: Image = colour.astype(np.float32)
        grey: Image = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        views = self._views
        if views is None:
            self._views = _Views(frame, frame.copy(), np.zeros_like(grey), grey)
            self._last_ms = ts_ms
            return self._judge(0.0, 0, None, ts_ms)
        dt = max(0.0, (ts_ms - self._last_ms) / 1000)
        self._last_ms = ts_ms
        cv2.accumulateWeighted(frame, views.smooth, 1 - math.exp(-dt / SMOOTH_S))
        change = cv2.absdiff(grey, views.previous)
        views.previous = grey
        cv2.accumulateWeighted(change, views.motion, 1 - math.exp(-dt / MOTION_S))
        candidates, fire = self._candidates(views)
        learn = cv2.bitwise_not(candidates)
        cv2.accumulateWeighted(frame, views.reference, min(1.0, dt / c.background_tau_s), learn)
        area = cv2.countNonZero(candidates) / self._region_area
        box = None
        if area > 0:
            x, y, w, h = cv2.boundingRect(candidates)
            s = self._scale
            box = (x * s, y * s, w * s, h * s)
        return self._judge(area, cv2.countNonZero(fire), box, ts_ms)

    def _candidates(self, views: _Views) -> tuple[Image, Image]:
        c, region, smooth = self._config, self._region, views.smooth
        smooth_grey = cv2.cvtColor(smooth, cv2.COLOR_BGR2GRAY)
        reference_grey = cv2.cvtColor(views.reference, cv2.COLOR_BGR2GRAY)
        gain = cv2.mean(smooth_grey, region)[0] / max(1.0, cv2.mean(reference_grey, region)[0])
        rise = smooth_grey - gain * reference_grey
        saturation = cv2.cvtColor(smooth, cv2.COLOR_BGR2HSV)[:, :, 1]
        noise = float(np.median(views.motion[region > 0]))
        smoke = (
            (rise > c.brighten)
            & (saturation <= c.max_saturation)
            & (views.motion > noise + c.min_motion)
        )
        blue, red = smooth[:, :, 0], smooth[:, :, 2]
        fire = (red > 180) & (red - blue > 90) & (rise > c.brighten)
        found = ((smoke | fire) & (region > 0)).astype(np.uint8) * 255
        candidates = cv2.morphologyEx(found, cv2.MORPH_OPEN, KERNEL)
        return candidates, cv2.bitwise_and(candidates, fire.astype(np.uint8) * 255)

    def _judge(
        self, area: float, fire_px: int, box: tuple[int, int, int, int] | None, ts_ms: int
    ) -> SmokeResult:
        """Confirm candidates that stay ``confirm_s`` and grow; keep them while they stay."""
        c = self._config
        if area < c.min_area:
            self._since_ms, self._confirmed = None, False
        elif self._since_ms is None:
            self._since_ms, self._first_area = ts_ms, area
        elif ts_ms - self._since_ms >= c.confirm_s * 1000 and area >= c.growth * self._first_area:
            self._confirmed = True
        condition = Condition("camera.smoke", self._confirmed, area * 100, c.min_area * 100)
        return SmokeResult(area, fire_px, box, self._confirmed, condition)
