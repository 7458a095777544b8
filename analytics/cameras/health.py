"""Camera health from the picture, measured on one grey frame every ``sample_interval_s``:

* brightness (mean grey) — too dark or overexposed;
* sharpness (mean |Laplacian|) against the camera's own reference, and contrast (grey
  standard deviation) — blurred, or covered;
* change since the previous sample — a frozen image repeats itself exactly, a live one
  always carries sensor noise;
* shift of the view against a reference view — moved. Every ``MOVED_CHECK_MS`` ORB key
  points are matched with the reference's and a shift fitted with RANSAC, so vehicles
  and the repeated lane marks are outliers; with too few inliers (night, fog) the view
  cannot be compared and ``camera.moved`` stays as it was.

The reference sharpness is the mean of the first ``reference_s`` of usable samples and
then follows slowly; the reference view is taken at the end of that time and renewed every
``reference_refresh_s`` while the view has not moved. Blur and shift are not judged on a
dark or overexposed picture, which has nothing to judge them by, nor a blurred one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from analytics.cameras.alarms import Condition
from analytics.cameras.config import CameraConfig, HealthConfig
from analytics.cameras.frames import Image

MOVED_CHECK_MS = 2000
MIN_INLIERS = 15  # key points agreeing on a shift, to trust it
INLIER_SHARE = 0.25  # … and this share of the matches
ALIGNED_PX = 1.0  # full-size px: the view is where it was (the reference may be renewed)


@dataclass(frozen=True, slots=True)
class HealthSample:
    brightness: float
    contrast: float
    sharpness: float
    sharpness_ratio: float  # against the reference (NaN until there is one)
    unchanged_s: float
    shift_px: float  # full-size px (NaN until known)
    clear: bool  # neither dark, overexposed, blurred nor covered: fit for analytics
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class _View:
    points: np.ndarray  # key point positions, (n, 2) float32
    descriptors: np.ndarray
    ts_ms: int


class HealthMonitor:
    def __init__(self, camera: CameraConfig) -> None:
        self._config, self._scale = camera.health, camera.scale
        self._orb = cv2.ORB.create(nfeatures=400, fastThreshold=10)
        self._matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
        self._next_ms: int | None = None
        self._previous: Image | None = None
        self._changed_ms = 0
        self._first_ms: int | None = None
        self._sharpness_sum = 0.0
        self._samples = 0
        self._reference_sharpness = math.nan
        self._view: _View | None = None
        self._next_check_ms = 0
        self._shift_px = math.nan

    def reconfigure(self, config: HealthConfig) -> None:
        """New thresholds, live (read at each frame)."""
        self._config = config

    def sample(self, grey: Image, ts_ms: int) -> HealthSample | None:
        """Measure ``grey`` if a sample is due, else None."""
        c = self._config
        if self._next_ms is not None and ts_ms < self._next_ms:
            return None
        self._next_ms = ts_ms + round(c.sample_interval_s * 1000)
        mean, std = cv2.meanStdDev(grey)
        brightness, contrast = float(mean[0, 0]), float(std[0, 0])
        sharpness = float(cv2.mean(cv2.convertScaleAbs(cv2.Laplacian(grey, cv2.CV_16S)))[0])
        unchanged_s = self._unchanged_s(grey, ts_ms)
        dark, bright = brightness < c.dark_level, brightness > c.bright_level
        visible = not (dark or bright)
        covered = visible and contrast < c.covered_contrast
        ratio = sharpness / self._reference_sharpness
        blurred = covered or (visible and ratio < c.blur_ratio)
        conditions: tuple[Condition, ...] = (
            Condition("camera.dark", dark, brightness, c.dark_level),
            Condition("camera.overexposed", bright, brightness, c.bright_level),
        )
        if visible:  # else there is nothing to judge by: these alerts stay as they were
            frozen = unchanged_s >= c.frozen_after_s
            conditions += (
                Condition("camera.frozen", frozen, unchanged_s, c.frozen_after_s),
                Condition("camera.blurred", blurred, 0.0 if covered else ratio, c.blur_ratio),
            )
        clear = visible and not blurred
        if clear:
            self._learn(grey, sharpness, ts_ms)
            if ts_ms >= self._next_check_ms:
                self._next_check_ms = ts_ms + MOVED_CHECK_MS
                if self._check_view(grey, ts_ms):  # else moved stays as it was
                    shift = self._shift_px
                    moved = shift > c.moved_px
                    conditions += (Condition("camera.moved", moved, shift, c.moved_px),)
        return HealthSample(
            brightness, contrast, sharpness, ratio, unchanged_s, self._shift_px, clear, conditions
        )

    def _unchanged_s(self, grey: Image, ts_ms: int) -> float:
        previous, self._previous = self._previous, grey
        if previous is None or float(cv2.mean(cv2.absdiff(grey, previous))[0]) >= (
            self._config.frozen_diff
        ):
            self._changed_ms = ts_ms
        return (ts_ms - self._changed_ms) / 1000

    def _learn(self, grey: Image, sharpness: float, ts_ms: int) -> None:
        """Average the reference sharpness over the first ``reference_s`` and take the
        reference view at its end; afterwards the sharpness follows slowly."""
        c = self._config
        if self._view is not None:
            rate = min(1.0, c.sample_interval_s / c.reference_refresh_s)
            self._reference_sharpness += rate * (sharpness - self._reference_sharpness)
            return
        if self._first_ms is None:
            self._first_ms = ts_ms
        self._sharpness_sum += sharpness
        self._samples += 1
        if ts_ms - self._first_ms >= c.reference_s * 1000:
            self._view = self._describe(grey, ts_ms)
            self._reference_sharpness = self._sharpness_sum / self._samples

    def _describe(self, grey: Image, ts_ms: int) -> _View | None:
        points, descriptors = self._orb.detectAndCompute(cv2.equalizeHist(grey), None)
        if descriptors is None or len(points) < MIN_INLIERS:
            return None
        return _View(np.array([p.pt for p in points], np.float32), descriptors, ts_ms)

    def _check_view(self, grey: Image, ts_ms: int) -> bool:
        """Fit the shift of ``grey`` against the reference view (False if it cannot be
        told); renew an old reference while the view is where it was."""
        reference, current = self._view, self._describe(grey, ts_ms)
        if reference is None or current is None:
            return False
        matches = self._matcher.match(reference.descriptors, current.descriptors)
        if len(matches) < MIN_INLIERS:
            return False
        ours = reference.points[[m.queryIdx for m in matches]]
        theirs = current.points[[m.trainIdx for m in matches]]
        fit, inliers = cv2.estimateAffinePartial2D(ours, theirs, method=cv2.RANSAC,
                                                   ransacReprojThreshold=2.0)  # fmt: skip
        if fit is None or int(inliers.sum()) < max(MIN_INLIERS, INLIER_SHARE * len(matches)):
            return False
        self._shift_px = float(math.hypot(fit[0, 2], fit[1, 2]) * self._scale)
        refresh = ts_ms - reference.ts_ms >= self._config.reference_refresh_s * 1000
        if self._shift_px <= ALIGNED_PX and refresh:
            self._view = current
        return True
