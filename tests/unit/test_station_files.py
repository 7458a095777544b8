import asyncio
from pathlib import Path

import pytest

from ingest.station_files import ingest_station_file, parse_local_ts
from ingest.validate import Origin, ReadingValidator
from ioc.config import DEFAULT_FILE_SYMBOLS, IngestConfig
from ioc.messages import InstrumentStatus
from tests.factories import now_ms, registry


@pytest.fixture
def validator(tmp_path: Path) -> ReadingValidator:
    return ReadingValidator(registry(tmp_path), IngestConfig())


def local_stamp(offset_s: int = 0) -> str:
    from datetime import datetime

    from ioc.clock import LOCAL_TZ

    return datetime.fromtimestamp(now_ms() / 1000 - offset_s, LOCAL_TZ).strftime("%Y%m%d%H%M%S")


def run(validator: ReadingValidator, name: str, text: str, owner: str | None = None):  # type: ignore[no-untyped-def]
    origin = Origin("file", now_ms(), text.encode(), owner)
    return ingest_station_file(validator, origin, name, text.encode(), DEFAULT_FILE_SYMBOLS)


def test_local_time_becomes_utc() -> None:
    assert parse_local_ts("20261123150000") == 1_795_420_800_000  # 08:00 UTC
    assert parse_local_ts("2026-11-23") is None


def test_a_logger_file_becomes_readings_with_symbols_units_and_status(
    validator: ReadingValidator,
) -> None:
    ts = local_stamp(600)
    text = f"PM2,5\t35,2\tug/m3\t{ts}\t00\nPM10\t51.0\tµg/m³\t{ts}\t01\nNO2  20  ug/m3  {ts}  00\n"
    result = run(validator, f"LD_ENT-A_AIR-1_{ts}.txt", text)
    assert result.station_id == "AIR-1"
    [reading] = result.readings
    assert reading.values == {"pm25": 35.2, "pm10": 51.0, "no2": 20.0}
    assert reading.status == {"pm10": InstrumentStatus.CALIBRATING}
    assert [line.accepted for line in result.lines] == [True, True, True]


def test_every_bad_line_gets_its_reason_and_good_lines_stay(validator: ReadingValidator) -> None:
    ts = local_stamp(600)
    text = "\n".join(
        [
            f"PM2,5 12 ug/m3 {ts} 00",
            f"PM10 high ug/m3 {ts} 00",
            f"NO2 5 m3/h {ts} 00",
            f"Benzene 1 ug/m3 {ts} 00",
            f"PM2,5 12 ug/m3 {ts} 07",
            "PM10 3",
            "NO2 4 ug/m3 2026-11-23 00",
        ]
    )
    result = run(validator, f"AIR-2_{ts}.txt", text)
    assert [(line.line, line.accepted, line.reason) for line in result.lines] == [
        (1, True, ""),
        (2, False, "not_numeric"),
        (3, False, "wrong_unit"),
        (4, False, "unknown_parameter"),
        (5, False, "malformed"),
        (6, False, "malformed"),
        (7, False, "bad_timestamp"),
    ]
    assert result.readings[0].values == {"pm25": 12.0}
    assert len(result.rejections) == 6


def test_a_bad_file_name_is_refused(validator: ReadingValidator) -> None:
    result = run(validator, "readings.txt", "PM10 1 ug/m3 20261123150000 00")
    assert result.readings == [] and result.lines[0].reason == "malformed"


def test_an_enterprise_file_for_another_station_is_refused(validator: ReadingValidator) -> None:
    ts = local_stamp(60)
    result = run(validator, f"STK-1_{ts}.txt", f"PM 80 mg/Nm3 {ts} 00", owner="ENT-B")
    assert [line.reason for line in result.lines] == ["not_owner"]
    assert run(validator, f"STK-1_{ts}.txt", f"PM 80 mg/Nm3 {ts} 00", owner="ENT-A").accepted == 1


def test_repeated_lines_each_get_a_result(validator: ReadingValidator) -> None:
    ts = local_stamp(600)
    text = "\n".join([f"PM10 {n} ug/m3 {ts} 00" for n in range(3_000)])
    result = run(validator, f"AIR-1_{ts}.txt", text)
    assert len(result.lines) == 3_000
    assert [line.line for line in result.lines] == list(range(1, 3_001))
    assert result.lines[0].accepted and result.readings[0].values == {"pm10": 0.0}
    assert {line.reason for line in result.lines[1:]} == {"duplicate"}
    assert "repeats line 1" in result.lines[1].detail
    assert len(result.rejections) == 2_999


def test_a_refused_line_keeps_that_line_not_the_file(validator: ReadingValidator) -> None:
    ts = local_stamp(600)
    filler = "".join(f"# comment {n:05}\n" for n in range(1_000))  # 16 KB of refused lines
    text = f"{filler}NO2 5 m3/h {ts} 00\nPM10 {'9' * 10_000} ug/m3 {ts} 00\n"
    result = run(validator, f"AIR-1_{ts}.txt", text)
    payloads = [r.payload for r in result.rejections]
    assert payloads[0] == "# comment 00000"
    assert payloads[1_000] == f"NO2 5 m3/h {ts} 00"
    assert len(payloads[1_001]) <= 4_096 and payloads[1_001].startswith("PM10 999")
    assert sum(map(len, payloads)) < 30_000


def test_the_drop_folder_takes_a_file_whose_name_is_not_utf8(
    validator: ReadingValidator, tmp_path: Path
) -> None:
    import os

    from ingest.drop_folder import DropFolder
    from ingest.station_files import FileResult

    async def process(owner: str | None, name: str, data: bytes) -> FileResult:
        return run(validator, name, data.decode(), owner)

    folder = tmp_path / "drop"
    folder.mkdir()
    ts = local_stamp(60)
    path = os.path.join(os.fsencode(folder), b"AIR\xff_" + ts.encode() + b".txt")
    with open(path, "wb") as f:
        f.write(f"PM10 5 ug/m3 {ts} 00\n".encode())
    os.utime(path, (0, 0))
    drop = DropFolder(folder, set(), process)
    assert asyncio.run(drop.scan()) == 1
    [summary] = (folder / "processed").rglob("*.result.json")
    assert "unknown_station" in summary.read_text()
