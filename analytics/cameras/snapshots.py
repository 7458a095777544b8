"""Snapshots on disk: ``<dir>/<camera id>/latest.jpg`` for the wall and
``<dir>/<camera id>/<ts_ms>.jpg`` as alert evidence, the oldest evidence pruned beyond
``keep`` per camera. Names given out are relative to ``dir`` (``CAM-1/1764000000000.jpg``);
:meth:`SnapshotStore.path` resolves one safely for a web route. Writes are atomic (a
temporary file renamed), so a reader never sees half a JPEG."""

from __future__ import annotations

import os
import re
from pathlib import Path

CAMERA_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
FILE_NAME = re.compile(r"^(latest|[0-9]{1,16})\.jpg$")
LATEST = "latest.jpg"


class SnapshotStore:
    def __init__(self, directory: Path, keep: int) -> None:
        self.directory = directory
        self._keep = keep

    def save(self, camera_id: str, ts_ms: int, jpeg: bytes, *, evidence: bool) -> str:
        """Write the camera's latest snapshot (and, for evidence, a kept copy); returns the
        name to link: the kept copy's for evidence, else ``<camera id>/latest.jpg``."""
        folder = self.directory / camera_id
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / LATEST, jpeg)
        if not evidence:
            return f"{camera_id}/{LATEST}"
        name = f"{ts_ms}.jpg"
        _write(folder / name, jpeg)
        kept = sorted(
            (p for p in folder.iterdir() if p.name != LATEST and FILE_NAME.match(p.name)),
            key=lambda p: int(p.stem),
        )
        for old in kept[: max(0, len(kept) - self._keep)]:
            old.unlink(missing_ok=True)
        return f"{camera_id}/{name}"

    def path(self, camera_id: str, name: str) -> Path | None:
        """The file of a snapshot name from a URL, or None if there is no such snapshot."""
        if not CAMERA_ID.match(camera_id) or not FILE_NAME.match(name):
            return None
        path = self.directory / camera_id / name
        return path if path.is_file() else None


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
