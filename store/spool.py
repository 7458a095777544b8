"""A durable on-disk queue of line protocol between the pipeline and InfluxDB.

Every point is appended to a segment file (``<n>.lp``) and fsynced (:meth:`DiskSpool.sync`,
shared by all that was appended meanwhile) before the MQTT message that carried it is
acknowledged, and the InfluxDB writer reads batches back in order from a cursor
(``cursor``: segment number and byte offset). So a database outage only makes the spool grow,
and a killed service resumes where InfluxDB stopped: at most the last batch is written twice,
which InfluxDB absorbs (a point with the same series and timestamp is overwritten, not added).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)
SUFFIX = ".lp"


@dataclass(frozen=True, slots=True)
class Position:
    segment: int
    offset: int


@dataclass(slots=True)
class SpoolStats:
    appended_lines: int = 0
    dropped_bytes: int = 0


class DiskSpool:
    def __init__(self, directory: Path, segment_bytes: int, max_bytes: int, fsync: bool) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)
        self._segment_bytes = segment_bytes
        self._max_bytes = max_bytes
        self._fsync = fsync
        self.stats = SpoolStats()
        self._cursor_path = directory / "cursor"
        segments = self._segments()
        self._read = self._load_cursor(segments[0] if segments else 1)
        self._write_segment = segments[-1] if segments else self._read.segment
        self._writer = self._open_for_append(self._write_segment)
        self._reader: BinaryIO | None = None
        self._reader_segment = -1
        self._syncing: asyncio.Future[None] | None = None

    # -- writing ---------------------------------------------------------------------------
    def append(self, lines: list[str]) -> None:
        """Write ``lines`` (to the OS); :meth:`sync` makes everything appended durable."""
        if not lines:
            return
        self._writer.write(("\n".join(lines) + "\n").encode())
        self._writer.flush()
        self.stats.appended_lines += len(lines)
        if self._writer.tell() >= self._segment_bytes:
            self._rotate()
        if self.pending_bytes > self._max_bytes:
            self._drop_oldest()

    async def sync(self) -> None:
        """fsync what was appended so far, in a worker thread: the event loop keeps receiving
        meanwhile, so the next batch is larger (group commit). Concurrent callers share one
        fsync when they can."""
        if not self._fsync:
            return
        if self._syncing is not None:
            await asyncio.shield(self._syncing)  # the running one may predate our append
        if self._syncing is None:
            self._syncing = asyncio.ensure_future(asyncio.to_thread(_fsync, self._writer))
        task = self._syncing
        try:
            await asyncio.shield(task)
        finally:
            if self._syncing is task and task.done():
                self._syncing = None

    def _rotate(self) -> None:
        if self._fsync:
            os.fsync(self._writer.fileno())  # a closed segment is durable as a whole
        self._writer.close()
        self._write_segment += 1
        self._writer = self._open_for_append(self._write_segment)

    def _open_for_append(self, segment: int) -> BinaryIO:
        path = self._path(segment)
        if path.exists():
            _cut_partial_last_line(path)
        return path.open("ab")

    # -- reading ---------------------------------------------------------------------------
    def read_batch(self, max_lines: int) -> tuple[bytes, int, Position]:
        """Up to ``max_lines`` complete lines from the cursor: (body, count, end position)."""
        segment, offset = self._read.segment, self._read.offset
        while segment < self._write_segment and offset >= self._size(segment):
            segment, offset = segment + 1, 0  # that segment is fully written and consumed
        if segment != self._read.segment:
            self.commit(Position(segment, offset))
        reader = self._reader_at(segment, offset)
        lines = []
        for _ in range(max_lines):
            line = reader.readline()
            if not line.endswith(b"\n"):
                break
            lines.append(line)
        end = Position(segment, offset + sum(len(line) for line in lines))
        return b"".join(lines), len(lines), end

    def commit(self, position: Position) -> None:
        """Everything before ``position`` is in InfluxDB: persist the cursor, drop old files."""
        self._read = position
        tmp = self._cursor_path.with_suffix(".tmp")
        tmp.write_text(f"{position.segment} {position.offset}\n")
        os.replace(tmp, self._cursor_path)
        for segment in self._segments():
            if segment >= position.segment:
                break
            self._path(segment).unlink(missing_ok=True)

    @property
    def pending_bytes(self) -> int:
        total = -self._read.offset
        for segment in range(self._read.segment, self._write_segment + 1):
            total += self._size(segment)
        return max(total, 0)

    def close(self) -> None:
        self._writer.close()
        if self._reader is not None:
            self._reader.close()

    # -- internals -------------------------------------------------------------------------
    def _reader_at(self, segment: int, offset: int) -> BinaryIO:
        if self._reader is None or self._reader_segment != segment:
            if self._reader is not None:
                self._reader.close()
            self._reader = self._path(segment).open("rb")
            self._reader_segment = segment
        self._reader.seek(offset)
        return self._reader

    def _drop_oldest(self) -> None:
        """Over ``max_bytes``: the oldest segment goes, loudly (the database is down too long)."""
        if self._read.segment >= self._write_segment:
            self._rotate()
        dropped = self._size(self._read.segment) - self._read.offset
        self.stats.dropped_bytes += dropped
        log.error(
            "spool over %d bytes: dropped %d bytes of the oldest points", self._max_bytes, dropped
        )
        self.commit(Position(self._read.segment + 1, 0))

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self._dir.glob(f"*{SUFFIX}") if p.stem.isdigit())

    def _path(self, segment: int) -> Path:
        return self._dir / f"{segment:08d}{SUFFIX}"

    def _size(self, segment: int) -> int:
        try:
            return self._path(segment).stat().st_size
        except FileNotFoundError:
            return 0

    def _load_cursor(self, first_segment: int) -> Position:
        try:
            segment, offset = self._cursor_path.read_text().split()
            return Position(int(segment), int(offset))
        except (FileNotFoundError, ValueError):
            return Position(first_segment, 0)


def _fsync(f: BinaryIO) -> None:
    with contextlib.suppress(ValueError, OSError):  # closed by a rotation: fsynced there
        os.fsync(f.fileno())


def _cut_partial_last_line(path: Path) -> None:
    """A crash in the middle of a write leaves half a line: cut it off."""
    with path.open("rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(max(0, size - 65_536))
        tail = f.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        f.truncate(size - len(tail) + cut + 1 if cut >= 0 else size - len(tail))
