import asyncio
import errno
import os
from pathlib import Path
from typing import Any

import pytest

from ioc.errors import StorageFull
from store.spool import DiskSpool


def spool(path: Path, segment_bytes: int = 1 << 20, max_bytes: int = 1 << 30) -> DiskSpool:
    return DiskSpool(path, segment_bytes, max_bytes, fsync=False)


def lines(start: int, count: int) -> list[str]:
    return [f"m v={i}i {i}" for i in range(start, start + count)]


def read_all(s: DiskSpool, batch: int = 7) -> list[str]:
    out = []
    while True:
        body, count, end = s.read_batch(batch)
        if count == 0:
            return out
        out += body.decode().splitlines()
        s.commit(end)


def test_lines_come_back_in_order_across_segments(tmp_path: Path) -> None:
    s = spool(tmp_path, segment_bytes=200)
    for start in range(0, 100, 10):
        s.append(lines(start, 10))
    assert len(list(tmp_path.glob("*.lp"))) > 3
    assert read_all(s) == lines(0, 100)
    assert s.pending_bytes == 0
    assert len(list(tmp_path.glob("*.lp"))) == 1  # consumed segments are deleted


def test_a_restart_resumes_at_the_committed_cursor(tmp_path: Path) -> None:
    s = spool(tmp_path, segment_bytes=150)
    s.append(lines(0, 30))
    _, count, end = s.read_batch(12)
    assert count == 12
    s.commit(end)
    s.read_batch(5)  # read but not committed: must come again
    s.close()
    again = spool(tmp_path, segment_bytes=150)
    assert read_all(again) == lines(12, 18)


def test_half_a_line_from_a_crash_is_cut_off(tmp_path: Path) -> None:
    s = spool(tmp_path)
    s.append(lines(0, 3))
    s.close()
    segment = next(tmp_path.glob("*.lp"))
    with segment.open("ab") as f:
        f.write(b"m v=99i 9")  # the crash came mid-write
    again = spool(tmp_path)
    again.append(lines(3, 1))
    assert read_all(again) == lines(0, 4)


def test_over_its_limit_the_spool_refuses_new_lines_and_keeps_every_accepted_one(
    tmp_path: Path,
) -> None:
    s = spool(tmp_path, segment_bytes=100, max_bytes=300)
    accepted: list[str] = []
    with pytest.raises(StorageFull, match="limit"):
        for start in range(0, 60, 6):
            s.append(lines(start, 6))
            accepted += lines(start, 6)
    assert s.full is not None and "limit" in s.full.reason
    assert s.stats.refused_appends == 1
    with pytest.raises(StorageFull):  # full is a state: refused until there is room again
        s.append(lines(100, 1))
    assert read_all(s) == accepted  # nothing dropped: the database took it all
    assert s.recheck()  # drained: room again
    assert s.full is None
    s.append(lines(200, 2))
    assert read_all(s) == lines(200, 2)


class DiskFillsAfter:
    """The spool's segment file on a disk with ``room`` bytes left: a write takes what fits
    (a partial write) and the next one fails with ENOSPC, as a real file system does."""

    def __init__(self, real: Any, room: int) -> None:
        self._real = real
        self.room = room

    def write(self, data: bytes) -> int:
        if self.room == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        taken = self._real.write(bytes(data[: self.room]))
        self.room -= taken
        return int(taken)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_write_failing_on_a_full_disk_leaves_no_half_line_behind(tmp_path: Path) -> None:
    s = spool(tmp_path)
    s.append(lines(0, 3))
    real = s._writer
    s._writer = DiskFillsAfter(real, room=5)  # type: ignore[assignment]
    with pytest.raises(StorageFull) as refused:
        s.append(lines(3, 4))
    assert refused.value.errno == errno.ENOSPC
    assert s.full is not None and s.full.reason == "No space left on device"
    segment = next(tmp_path.glob("*.lp"))
    assert segment.read_bytes() == ("\n".join(lines(0, 3)) + "\n").encode()  # cut back
    s._writer = real  # space is back
    assert s.recheck()
    s.append(lines(3, 4))  # the refused batch, again
    assert read_all(s) == lines(0, 7)  # once each, nothing glued onto garbage


def test_a_full_disk_found_by_the_probe_keeps_the_spool_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = spool(tmp_path)
    real = s._writer
    s._writer = DiskFillsAfter(real, room=0)  # type: ignore[assignment]
    with pytest.raises(StorageFull):
        s.append(lines(0, 1))
    s._writer = real

    def no_space(*args: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", no_space)
    assert not s.recheck()
    assert s.full is not None
    monkeypatch.undo()
    assert s.recheck() and s.full is None
    assert list(tmp_path.iterdir()) == [next(tmp_path.glob("*.lp"))]  # the probe cleans up


async def test_a_failed_fsync_is_an_error_never_an_acknowledgement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = DiskSpool(tmp_path, 1 << 20, 1 << 30, fsync=True)
    s.append(lines(0, 2))

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StorageFull, match="Input/output error"):
        await s.sync()
    assert s.full is not None
    monkeypatch.undo()
    assert s.recheck()
    await s.sync()


async def test_a_rotation_while_an_fsync_runs_is_not_an_error(tmp_path: Path) -> None:
    s = DiskSpool(tmp_path, 100, 1 << 30, fsync=True)
    s.append(lines(0, 2))
    syncing = asyncio.create_task(s.sync())
    await asyncio.sleep(0)  # the fsync starts in its thread…
    s.append(lines(2, 10))  # …and a rotation closes the segment meanwhile
    await syncing
    await s.sync()
    assert read_all(s) == lines(0, 12)


class UnwritableDisk:
    """The segment file on a disk that refuses every write with ``code`` (read-only
    remount, a failing device)."""

    def __init__(self, real: Any, code: int) -> None:
        self._real, self.code = real, code

    def write(self, data: bytes) -> int:
        raise OSError(self.code, os.strerror(self.code))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EIO, errno.EACCES])
def test_an_unwritable_spool_refuses_with_its_reason_and_recovers(
    tmp_path: Path, code: int
) -> None:
    s = spool(tmp_path)
    s.append(lines(0, 2))
    real = s._writer
    s._writer = UnwritableDisk(real, code)  # type: ignore[assignment]
    with pytest.raises(StorageFull) as refused:
        s.append(lines(2, 1))
    assert s.full is not None and s.full.reason == os.strerror(code) == refused.value.reason
    s._writer = real
    assert s.recheck()
    s.append(lines(2, 1))
    assert read_all(s) == lines(0, 3)
