"""A durable on-disk queue of line protocol between the pipeline and InfluxDB.

Every point is appended to a segment file (``<n>.lp``) and fsynced (:meth:`DiskSpool.sync`,
shared by all that was appended meanwhile) before the MQTT message that carried it is
acknowledged, and the InfluxDB writer reads batches back in order; the cursor (``cursor``:
segment number and byte offset) is moved only over what InfluxDB confirmed, batches in order.
So a database outage only makes the spool grow, and a killed service resumes where InfluxDB
stopped: at most the batches that were in flight (store.influx.WRITE_CONCURRENCY) are written
twice, which InfluxDB absorbs (a point with the same series and timestamp is overwritten, not
added).

Full is a state, not a loss: when a write fails (ENOSPC, EDQUOT, EFBIG), an fsync fails, or
the spool holds ``max_bytes``, :meth:`DiskSpool.append` and :meth:`DiskSpool.sync` raise
:class:`ioc.errors.StorageFull` and every append is refused until :meth:`DiskSpool.recheck`
finds room again (the spool under its limit and a probe file written and fsynced). A write
that failed half-way is cut back to the last complete line, so nothing is glued onto it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ioc.clock import now_ms
from ioc.errors import StorageFull

log = logging.getLogger(__name__)
SUFFIX = ".lp"
PROBE_NAME = "space-probe"
PROBE_BYTES = 64 * 1024  # room for a batch, so the state does not flap at the last bytes


@dataclass(frozen=True, slots=True)
class Position:
    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class FullState:
    reason: str  # "No space left on device", "spool holds its limit of … bytes", …
    since_ms: int


@dataclass(slots=True)
class SpoolStats:
    appended_lines: int = 0
    refused_appends: int = 0  # appends refused while full
    full_episodes: int = 0


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
        self.full: FullState | None = None
        self.has_room = asyncio.Event()  # set while not full
        self.has_room.set()

    # -- writing ---------------------------------------------------------------------------
    def append(self, lines: list[str]) -> None:
        """Write ``lines`` (to the OS); :meth:`sync` makes everything appended durable.
        Raises :class:`StorageFull`, having written nothing, when the spool is full."""
        if not lines:
            return
        if self.full is not None:
            self.stats.refused_appends += 1
            raise StorageFull(self.full.reason)
        data = ("\n".join(lines) + "\n").encode()
        good = self._writer.tell()  # the end of the last complete line
        try:
            if self.pending_bytes + len(data) > self._max_bytes:
                raise StorageFull(f"spool holds its limit of {self._max_bytes} bytes")
            _write_all(self._writer, data)
            if good + len(data) >= self._segment_bytes:
                self._rotate()
        except OSError as exc:
            _cut_back(self._writer, good)
            self.stats.refused_appends += 1
            self._become_full(exc)
        self.stats.appended_lines += len(lines)

    async def sync(self) -> None:
        """fsync what was appended so far, in a worker thread: the event loop keeps receiving
        meanwhile, so the next batch is larger (group commit). Concurrent callers share one
        fsync when they can. A failed fsync raises :class:`StorageFull` (and the spool is full
        until :meth:`recheck`): what was appended is not known to be durable."""
        if not self._fsync:
            return
        if self._syncing is not None:
            await asyncio.shield(self._syncing)  # the running one may predate our append
        if self._syncing is None:
            # A duplicate of the descriptor: a rotation may close the segment meanwhile (it
            # fsyncs it first), this fsync still reaches the same file and reports its errors.
            fd = os.dup(self._writer.fileno())
            self._syncing = asyncio.ensure_future(asyncio.to_thread(_fsync_and_close, fd))
        task = self._syncing
        try:
            await asyncio.shield(task)
        except OSError as exc:
            self._become_full(exc)
        finally:
            if self._syncing is task and task.done():
                self._syncing = None

    def recheck(self) -> bool:
        """If full: is there room again — under the size limit, and a probe file of
        ``PROBE_BYTES`` written and fsynced? Then the state ends. True when not full."""
        if self.full is None:
            return True
        if self.pending_bytes >= self._max_bytes:
            return False
        probe = self._dir / PROBE_NAME
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all_fd(fd, bytes(PROBE_BYTES))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            return False
        finally:
            probe.unlink(missing_ok=True)
        log.warning("spool has room again after %s (%s)", self.full.reason, self._dir)
        self.full = None
        self.has_room.set()
        return True

    def _become_full(self, cause: OSError) -> None:
        """Enter the full state (or stay in it) and raise :class:`StorageFull`."""
        reason = cause.reason if isinstance(cause, StorageFull) else _reason(cause)
        if self.full is None:
            self.full = FullState(reason, now_ms())
            self.stats.full_episodes += 1
            self.has_room.clear()
            log.error("spool full, input refused until there is room: %s (%s)", reason, self._dir)
        raise StorageFull(reason, cause.errno or 0) from cause

    def _rotate(self) -> None:
        if self._fsync:
            os.fsync(self._writer.fileno())  # a closed segment is durable as a whole
        writer = self._open_for_append(self._write_segment + 1)
        self._writer.close()
        self._write_segment += 1
        self._writer = writer

    def _open_for_append(self, segment: int) -> BinaryIO:
        path = self._path(segment)
        if path.exists():
            _cut_partial_last_line(path)
        return path.open("ab", buffering=0)

    # -- reading ---------------------------------------------------------------------------
    def read_batch(
        self, max_lines: int, start: Position | None = None
    ) -> tuple[bytes, int, Position]:
        """Up to ``max_lines`` complete lines from ``start`` (default: the cursor): (body,
        count, end position). A writer with several batches in flight reads each from the end
        of the one before and commits only what InfluxDB confirmed (:meth:`commit`)."""
        if start is None:
            start = self._read
        segment, offset = start.segment, start.offset
        while segment < self._write_segment and offset >= self._size(segment):
            segment, offset = segment + 1, 0  # that segment is fully written and consumed
        if segment != start.segment and start == self._read:
            self.commit(Position(segment, offset))  # nothing before it is unconfirmed
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
        """Everything before ``position`` is in InfluxDB: persist the cursor, drop old files.
        A cursor that cannot be saved (disk full) only means a restart sends again what
        InfluxDB already has (absorbed there); files behind the cursor go anyway."""
        self._read = position
        tmp = self._cursor_path.with_suffix(".tmp")
        try:
            tmp.write_text(f"{position.segment} {position.offset}\n")
            os.replace(tmp, self._cursor_path)
        except OSError as exc:
            log.warning("spool cursor not saved (%s): kept in memory", _reason(exc))
        for segment in self._segments():
            if segment >= position.segment:
                break
            self._path(segment).unlink(missing_ok=True)

    def read_to_end(self, position: Position) -> bool:
        """Has a reader at ``position`` read everything appended so far?"""
        return position.segment >= self._write_segment and position.offset >= self._writer.tell()

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


def _write_all(f: BinaryIO, data: bytes) -> None:
    """Write ``data`` to an unbuffered file; a short write is continued (raises when full)."""
    view = memoryview(data)
    while view:
        view = view[f.write(view) :]


def _write_all_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _cut_back(f: BinaryIO, good: int) -> None:
    """Truncate a segment to ``good`` bytes: a failed write leaves no half line behind. (Appends
    go to the end of the file, wherever that is.)"""
    try:
        os.ftruncate(f.fileno(), good)
    except OSError as exc:  # cannot happen on a local file system; said loudly if it does
        log.error("spool: could not cut a failed write back to %d bytes: %s", good, exc)
    f.seek(good)


def _fsync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


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
