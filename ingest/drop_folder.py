"""The watched drop folder where station data files arrive (the centre's FTP server writes
there). Every ``drop_folder_poll_s`` the files that stopped growing are processed and moved to
``processed/<YYYYMMDD>/`` with a ``<name>.result.json`` beside them saying what each line
became. A subfolder named after an enterprise id may only hold that enterprise's stations.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ingest.station_files import FileResult

log = logging.getLogger(__name__)
SETTLE_S = 1.0  # a file untouched this long is complete

ProcessFile = Callable[[str | None, str, bytes], FileResult]  # (owner, name, data)


class DropFolder:
    def __init__(self, folder: Path, enterprises: set[str], process: ProcessFile) -> None:
        self.folder = folder
        self._enterprises = enterprises
        self._process = process
        self.processed = 0

    def scan(self) -> int:
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
            if owner is not None and owner not in self._enterprises:
                owner = None  # a plain subfolder, not an enterprise's
            name = path.name.encode(errors="surrogateescape").decode(errors="replace")  # UTF-8
            result = self._process(owner, name, path.read_bytes())
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
            "accepted": result.accepted,
            "lines": [
                {
                    "line": line.line,
                    "parameter": line.parameter,
                    "accepted": line.accepted,
                    "reason": line.reason,
                    "detail": line.detail,
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
                self.scan()
            except OSError as exc:
                log.error("drop folder %s: %s", self.folder, exc)
            except Exception:  # a bug must not stop the folder being watched
                log.exception("drop folder %s: scan failed", self.folder)
            await asyncio.sleep(interval_s)
