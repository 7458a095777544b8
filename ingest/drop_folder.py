"""The watched drop folder where station data files arrive (the centre's FTP server writes
there). Every ``drop_folder_poll_s`` the files that stopped growing are processed and moved to
``processed/<YYYYMMDD>/`` with a ``<name>.result.json`` beside them saying what each line
became. A file in a subfolder belongs to the enterprise the subfolder names, checked against
the registry in force when the file is processed (``process``): a subfolder naming no
enterprise has its files refused (fails closed), and an enterprise added later is confined at
once. Files are read in a worker thread, at most a byte more than the largest
``ingest.max_file_bytes`` allowed: ``process`` refuses a file above the limit in force.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from ingest.station_files import FileResult
from ioc.config import MAX_FILE_BYTES_ALLOWED

log = logging.getLogger(__name__)
SETTLE_S = 1.0  # a file untouched this long is complete
READ_AT_MOST = MAX_FILE_BYTES_ALLOWED + 1  # enough for process to refuse a larger file

ProcessFile = Callable[[str | None, str, bytes], Awaitable[FileResult]]  # (owner, name, data)


class DropFolder:
    def __init__(self, folder: Path, process: ProcessFile) -> None:
        """Confinement of a subfolder follows the live registry: ``process`` checks it."""
        self.folder = folder
        self._process = process
        self.processed = 0

    async def scan(self) -> int:
        """Process every complete file now; return how many."""
        done = 0
        now = time.time()
        for path in sorted(self.folder.rglob("*")):
            if not path.is_file() or path.suffix.lower() != ".txt":
                continue
            relative = path.relative_to(self.folder)
            if relative.parts[0] == "processed" or now - path.stat().st_mtime < SETTLE_S:
                continue
            owner = relative.parts[0] if len(relative.parts) > 1 else None
            owner = owner and owner.encode(errors="surrogateescape").decode(errors="replace")
            name = path.name.encode(errors="surrogateescape").decode(errors="replace")  # UTF-8
            data = await asyncio.to_thread(_read_head, path)
            result = await self._process(owner, name, data)
            self._archive(path, result)
            done += 1
        self.processed += done
        return done

    def _archive(self, path: Path, result: FileResult) -> None:
        day = datetime.now(UTC).strftime("%Y%m%d")
        target = self.folder / "processed" / day / path.relative_to(self.folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)
        summary = {
            "name": result.name,
            "station_id": result.station_id,
            "encoding": result.encoding,
            "accepted": result.accepted,
            "status_missing": result.status_missing,
            "lines": [
                {
                    "line": line.line,
                    "parameter": line.parameter,
                    "accepted": line.accepted,
                    "reason": line.reason,
                    "detail": line.detail,
                    "status_missing": line.status_missing,
                }
                for line in result.lines
            ],
        }
        target.with_name(target.name + ".result.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=1)
        )
        if result.accepted < len(result.lines):
            log.warning(
                "station file %s: %d of %d lines refused (see %s)",
                path.name,
                len(result.lines) - result.accepted,
                len(result.lines),
                target,
            )

    async def run(self, interval_s: float) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                await self.scan()
            except OSError as exc:
                log.error("drop folder %s: %s", self.folder, exc)
            except Exception:  # a bug must not stop the folder being watched
                log.exception("drop folder %s: scan failed", self.folder)
            await asyncio.sleep(interval_s)


def _read_head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(READ_AT_MOST)
