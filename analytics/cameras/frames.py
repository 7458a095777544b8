"""Frames as the analytics see them: decoded once, straight at the analysis scale (libjpeg
scales while decoding: a 640×360 JPEG becomes a 320×180 grey image in ≈0.3 ms), and checked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from cv2.typing import MatLike

Image = MatLike  # a picture: numpy array, uint8 (BGR or grey) unless said otherwise

JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"
GREY_FLAGS = {
    1: cv2.IMREAD_GRAYSCALE,
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}
COLOUR_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame at the analysis scale: ``grey`` always, ``colour`` (BGR) when asked for;
    ``source`` gives the full-size picture for snapshots."""

    grey: Image
    colour: Image | None
    source: bytes | Image

    def full(self) -> Image:
        if isinstance(self.source, bytes):
            image = cv2.imdecode(np.frombuffer(self.source, np.uint8), cv2.IMREAD_COLOR)
            return np.asarray(image, np.uint8)
        return self.source


def decode_jpeg(data: bytes, width: int, height: int, scale: int, colour: bool) -> Frame | str:
    """The frame, or why it is refused (not a whole JPEG, undecodable, wrong size)."""
    if not data.startswith(JPEG_START) or JPEG_END not in data[-64:]:
        return "not a complete JPEG"
    buffer = np.frombuffer(data, np.uint8)
    try:
        image = cv2.imdecode(buffer, (COLOUR_FLAGS if colour else GREY_FLAGS)[scale])
    except cv2.error:
        image = None
    if image is None:
        return "undecodable JPEG"
    if image.shape[:2] != (height // scale, width // scale):
        w, h = image.shape[1] * scale, image.shape[0] * scale
        return f"frame of about {w}x{h} px, expected {width}x{height}"
    if colour:
        return Frame(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), image, data)
    return Frame(image, None, data)


def from_array(image: Image, width: int, height: int, scale: int, colour: bool) -> Frame | str:
    """A decoded BGR frame (from a URL source), scaled down for the analytics."""
    if image.ndim != 3 or image.shape != (height, width, 3) or image.dtype != np.uint8:
        return f"frame of shape {image.shape}, expected ({height}, {width}, 3) uint8"
    small = image
    if scale > 1:
        size = (width // scale, height // scale)
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return Frame(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), small if colour else None, image)


def polygon_mask(
    polygon: Sequence[tuple[float, float]] | None, width: int, height: int, scale: int
) -> Image:
    """255 inside ``polygon`` (full-size px; None: everywhere), at the analysis scale."""
    shape = (height // scale, width // scale)
    if polygon is None:
        return np.full(shape, 255, np.uint8)
    mask = np.zeros(shape, np.uint8)
    points = np.round(np.asarray(polygon, np.float64) / scale).astype(np.int32)
    cv2.fillPoly(mask, [points], 255)
    return mask
