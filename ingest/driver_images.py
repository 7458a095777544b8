"""Driver images (Decree 10/2020, Circular 12/2020; REFERENCE §6): passenger vehicles of 8
seats or more and tractor units send a JPEG of at least 640×480 every 3-5 minutes while
running, tagged with plate, licence, coordinates and time; they are kept as evidence (at least
3 months) and shown on the vehicle's panel.

MQTT ``<prefix>/vehicles/<plate>/images``, one JSON object per image::

    {"ts": 1796450000000 | "2026-12-05T09:13:20+07:00", "jpeg": "<base64>",
     "driver": "790123456789", "lat": 11.94, "lon": 108.45}

``jpeg`` is required; ``ts`` defaults to the arrival time (flagged ``server_time``). The image
is checked by Pillow reading its header only (format JPEG, width × height at least
``vehicles.images.min_width`` × ``min_height``; no full decode on the event loop) and written
to ``<images.directory>/<plate>/<ts_ms>.jpg`` atomically and durably before the message is
acknowledged. A bad image is refused with its reason and recorded, like a bad fix.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ingest.decode import loads
from ingest.positions import fix_time, number, refusal, topic_vehicle
from ingest.validate import Origin
from ioc.messages import PositionRejection, RejectReason
from ioc.vehicles_config import DriverImagesConfig

FILE_NAME = re.compile(r"^[0-9]{1,16}\.jpg$")
PLATE = re.compile(r"^[0-9A-Z]{4,12}$")
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class DriverImage:
    vehicle: str
    ts_ms: int
    jpeg: bytes
    width: int
    height: int
    driver: str | None = None
    lat: float | None = None
    lon: float | None = None


def images_topic(topic: str) -> bool:
    """``<prefix>/vehicles/<plate>/images`` (the decoder checks the rest)."""
    return topic.endswith("/images") and "/vehicles/" in topic


class DriverImageDecoder:
    def __init__(self, config: DriverImagesConfig, prefix: str = "ioc/v1") -> None:
        self._config = config
        self._prefix = prefix

    def decode(
        self, origin: Origin, topic: str, rejections: list[PositionRejection]
    ) -> DriverImage | None:
        """The image of one message, or None with the reason appended."""
        vehicle, reason, problem = topic_vehicle(topic, self._prefix, "images")
        if reason is not None:
            rejections.append(refusal(origin, reason, problem))
            return None
        config = self._config

        def refuse(why: RejectReason, detail: str) -> None:
            shown = f"({len(origin.payload)} bytes)"  # the image is no text to keep
            rejections.append(
                refusal(origin, why, detail, vehicle, parameter="jpeg", payload=shown)
            )

        if len(origin.payload) > config.max_message_bytes:
            refuse(RejectReason.TOO_LARGE, f"above {config.max_message_bytes} bytes")
            return None
        try:
            body = loads(origin.payload)
        except (ValueError, RecursionError):
            refuse(RejectReason.MALFORMED, "not JSON")
            return None
        if not isinstance(body, dict) or not isinstance(body.get("jpeg"), str):
            refuse(RejectReason.MALFORMED, 'an image is {"jpeg": base64, "ts", ...}')
            return None
        try:
            jpeg = base64.b64decode(body["jpeg"], validate=True)
        except (binascii.Error, ValueError):
            refuse(RejectReason.MALFORMED, "`jpeg` is not base64")
            return None
        size = _jpeg_size(jpeg)
        if size is None:
            refuse(RejectReason.MALFORMED, "`jpeg` is not a JPEG image")
            return None
        width, height = size
        if width < config.min_width or height < config.min_height:
            detail = f"{width}×{height} is smaller than {config.min_width}×{config.min_height}"
            refuse(RejectReason.OUT_OF_RANGE, detail)
            return None
        if "ts" in body:
            ts_ms, problem = fix_time(body["ts"])
            if problem:
                refuse(RejectReason.BAD_TIMESTAMP, problem)
                return None
        else:
            ts_ms = origin.received_ms
        driver = body.get("driver")
        return DriverImage(
            vehicle=vehicle,
            ts_ms=ts_ms,
            jpeg=jpeg,
            width=width,
            height=height,
            driver=driver[:32] if isinstance(driver, str) else None,
            lat=number(body.get("lat")),
            lon=number(body.get("lon")),
        )


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG's header (Pillow reads no pixels here)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG":
                return None
            width, height = image.size
            return int(width), int(height)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


class DriverImageStore:
    """``<directory>/<plate>/<ts_ms>.jpg``, written atomically and fsynced; kept
    ``keep_days`` (purged by :meth:`purge`)."""

    def __init__(self, directory: Path, keep_days: int) -> None:
        self.directory = directory
        self._keep_ms = keep_days * DAY_MS

    def save(self, image: DriverImage) -> str:
        folder = self.directory / image.vehicle
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{image.ts_ms}.jpg"
        temporary = folder / f".{name}.tmp"
        with open(temporary, "wb") as file:
            file.write(image.jpeg)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, folder / name)
        return name

    def names(self, vehicle: str, start_ms: int, end_ms: int) -> list[int]:
        """Times (ms) of the vehicle's images in [start_ms, end_ms), oldest first."""
        folder = self.directory / vehicle
        if not PLATE.match(vehicle) or not folder.is_dir():
            return []
        times = (int(p.stem) for p in folder.iterdir() if FILE_NAME.match(p.name))
        return sorted(t for t in times if start_ms <= t < end_ms)

    def path(self, vehicle: str, name: str) -> Path | None:
        """The file of an image name from a URL, or None."""
        if not PLATE.match(vehicle) or not FILE_NAME.match(name):
            return None
        path = self.directory / vehicle / name
        return path if path.is_file() else None

    def purge(self, now_ms: int | None = None) -> int:
        """Remove images older than ``keep_days``; how many."""
        oldest = (now_ms if now_ms is not None else int(time.time() * 1000)) - self._keep_ms
        removed = 0
        if not self.directory.is_dir():
            return 0
        for folder in self.directory.iterdir():
            if folder.is_dir() and PLATE.match(folder.name):
                for path in folder.iterdir():
                    if FILE_NAME.match(path.name) and int(path.stem) < oldest:
                        path.unlink(missing_ok=True)
                        removed += 1
        return removed
