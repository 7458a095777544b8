from pathlib import Path

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


def test_over_its_limit_the_oldest_segment_is_dropped_and_counted(tmp_path: Path) -> None:
    s = spool(tmp_path, segment_bytes=100, max_bytes=300)
    for start in range(0, 60, 6):
        s.append(lines(start, 6))
    assert s.stats.dropped_bytes > 0
    kept = read_all(s)
    assert kept == lines(60 - len(kept), len(kept))  # the newest survive, in order
