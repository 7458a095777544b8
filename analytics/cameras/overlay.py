"""Snapshots for the wall and as alert evidence: the full-size frame with what the analytics
see drawn on it — counting line and its `in` side, occupancy region, no-stopping zone,
tracked vehicles with their ids (held ones orange), smoke candidates — and a status bar."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import cv2
import numpy as np

from analytics.cameras.config import CameraConfig, line_side
from analytics.cameras.frames import Image
from analytics.cameras.traffic import Track
from ioc.clock import LOCAL_TZ

FONT = cv2.FONT_HERSHEY_SIMPLEX
YELLOW, CYAN, RED, ORANGE, GREEN, WHITE = (
    (0, 220, 255), (255, 220, 0), (40, 40, 230), (0, 150, 255), (80, 220, 80), (255, 255, 255),
)  # fmt: skip
JPEG_QUALITY = 80


def render(
    image: Image,
    camera: CameraConfig,
    ts_ms: int,
    status: str,
    alerts: Sequence[str],
    tracks: Sequence[Track] = (),
    smoke_box: tuple[int, int, int, int] | None = None,
) -> bytes:
    """The JPEG of ``image`` (full size, BGR; not modified) with the overlays."""
    out = image.copy()
    s = camera.scale
    for polygon, colour in ((camera.occupancy_region, CYAN), (camera.no_stopping_zone, RED)):
        if polygon is not None:
            cv2.polylines(out, [_points(polygon)], True, colour, 1, cv2.LINE_AA)
    if camera.counting_line is not None and camera.in_point is not None:
        _counting_line(out, camera)
    for t in tracks:
        x, y, w, h = (v * s for v in t.box)
        colour = ORANGE if t.held else GREEN
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, 1)
        cv2.putText(out, str(t.id), (x, max(10, y - 3)), FONT, 0.4, colour, 1, cv2.LINE_AA)
    if smoke_box is not None:
        x, y, w, h = smoke_box
        cv2.rectangle(out, (x, y), (x + w, y + h), RED, 2)
        cv2.putText(out, "smoke?", (x, max(12, y - 4)), FONT, 0.5, RED, 1, cv2.LINE_AA)
    when = datetime.fromtimestamp(ts_ms / 1000, LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")
    _bar(out, 0, f"{camera.id} {when}  {status}", WHITE)
    if alerts:
        _bar(out, out.shape[0] - 20, "  ".join(alerts), RED)
    ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(data.tobytes())


def _points(polygon: Sequence[tuple[float, float]]) -> np.ndarray:
    return np.round(np.asarray(polygon, np.float64)).astype(np.int32)


def _counting_line(out: Image, camera: CameraConfig) -> None:
    """The line, and an arrow from its middle towards the `in` side."""
    assert camera.counting_line is not None and camera.in_point is not None
    (x1, y1), (x2, y2) = camera.counting_line
    cv2.line(out, (round(x1), round(y1)), (round(x2), round(y2)), YELLOW, 2, cv2.LINE_AA)
    length = float(np.hypot(x2 - x1, y2 - y1))
    nx, ny = -(y2 - y1) / length, (x2 - x1) / length  # unit normal
    if np.sign(line_side(camera.counting_line, camera.in_point)) != np.sign(
        line_side(camera.counting_line, ((x1 + x2) / 2 + nx, (y1 + y2) / 2 + ny))
    ):
        nx, ny = -nx, -ny
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    tip = (round(mx + 25 * nx), round(my + 25 * ny))
    cv2.arrowedLine(out, (round(mx), round(my)), tip, YELLOW, 2, cv2.LINE_AA, tipLength=0.4)
    cv2.putText(out, "in", (tip[0] + 3, tip[1] - 3), FONT, 0.45, YELLOW, 1, cv2.LINE_AA)


def _bar(out: Image, y: int, text: str, colour: tuple[int, int, int]) -> None:
    """A strip of darkened picture with ``text`` on it."""
    strip = out[y : y + 20]
    strip[:] = (strip * 0.35).astype(np.uint8)
    cv2.putText(out, text, (6, y + 14), FONT, 0.45, colour, 1, cv2.LINE_AA)
