import asyncio
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.station_files import ingest_station_file, parse_local_ts
from ingest.validate import Origin, ReadingValidator
from ioc.config import DEFAULT_FILE_SYMBOLS, IngestConfig
from ioc.messages import InstrumentStatus
from tests.factories import now_ms, registry
from tests.reliability import scale


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
    drop = DropFolder(folder, process)
    assert asyncio.run(drop.scan()) == 1
    [summary] = (folder / "processed").rglob("*.result.json")
    assert "unknown_station" in summary.read_text()


WASTEWATER = {
    "ph": {"unit": "pH", "min": 0, "max": 14},
    "temp": {"unit": "C", "min": 0, "max": 80},
    "cod": {"unit": "mg/L", "min": 0, "max": 10000},
    "flow": {"unit": "m3/h", "min": 0, "max": 50000},
}


@pytest.fixture
def logger_validator(tmp_path: Path) -> ReadingValidator:
    """The test registry and a wastewater station of ENT-A."""
    from ioc.registry import StationRegistry
    from tests.factories import REGISTRY_DOC

    station = {"id": "WW-1", "name": "Outfall", "kind": "wastewater", "owner": "ENT-A"}
    station |= {"lat": 11.8, "lon": 108.3, "parameters": WASTEWATER, "interval_s": 300}
    document = REGISTRY_DOC | {"stations": [*REGISTRY_DOC["stations"], station]}
    return ReadingValidator(StationRegistry.from_document(document, "test"), IngestConfig())


def read(validator: ReadingValidator, name: str, data: bytes, tolerance_s: float | None = 3600):  # type: ignore[no-untyped-def]
    origin = Origin("file", now_ms(), data)
    return ingest_station_file(validator, origin, name, data, DEFAULT_FILE_SYMBOLS, tolerance_s)


def test_a_hand_written_air_file_in_ug_per_normal_cubic_metre_is_accepted(
    logger_validator: ReadingValidator,
) -> None:
    ts = local_stamp(300)
    text = (
        f"PM2,5 \t 35,2\tug/Nm3\t{ts}\t00\n"
        f"PM10   51.0   µg/Nm³   {ts}   01\n"
        f"NO2\t20\tµg/m³\t{ts}\t02\n"
    )
    result = read(logger_validator, f"AIR-1_{ts}.txt", text.encode())
    assert [(line.accepted, line.reason) for line in result.lines] == [(True, "")] * 3
    [reading] = result.readings
    assert reading.values == {"pm25": 35.2, "pm10": 51.0, "no2": 20.0}
    assert reading.status == {
        "pm10": InstrumentStatus.CALIBRATING,
        "no2": InstrumentStatus.DEVICE_ERROR,
    }
    assert reading.sent_units == {}  # spellings of the registry's unit: nothing converted


def test_a_wastewater_file_with_ph_dash_and_temp_in_oc_is_accepted(
    logger_validator: ReadingValidator,
) -> None:
    ts = local_stamp(300)
    text = (
        f"pH\t7,2\t-\t{ts}\t00\nTemp\t28.5\toC\t{ts}\t00\nCOD\t45\tmg/l\t{ts}\t00\n"
        f"Flow\t10\tL/s\t{ts}\t00\n"
    )
    result = read(logger_validator, f"LD_ENT-A_WW-1_{ts}.txt", text.encode())
    assert [line.reason for line in result.lines] == [""] * 4
    [reading] = result.readings
    assert reading.values == pytest.approx({"ph": 7.2, "temp": 28.5, "cod": 45.0, "flow": 36.0})
    assert reading.sent_units == {"flow": "L/s"}


def test_ph_without_a_unit_is_read_with_tabs_or_spaces(logger_validator: ReadingValidator) -> None:
    ts = local_stamp(300)
    text = f"pH\t7.1\t\t{ts}\t00\nCOD 12 mg/L {ts} 00\n"
    result = read(logger_validator, f"WW-1_{ts}.txt", text.encode())
    assert result.accepted == 2 and result.readings[0].values == {"ph": 7.1, "cod": 12.0}
    earlier = local_stamp(600)
    spaced = read(logger_validator, f"WW-1_{earlier}.txt", f"pH 7.3 {earlier} 00".encode())
    assert spaced.accepted == 1


def test_a_truly_wrong_unit_is_refused_with_its_reason(logger_validator: ReadingValidator) -> None:
    ts = local_stamp(300)
    text = f"pH 7 % {ts} 00\nTemp 20 mg/L {ts} 00\nCOD 5 NTU {ts} 00\n"
    result = read(logger_validator, f"WW-1_{ts}.txt", text.encode())
    assert [line.reason for line in result.lines] == ["wrong_unit"] * 3
    assert (
        result.lines[0].detail
        == "ph sent in '%', the registry expects 'pH': another kind of quantity"
    )


def test_a_crlf_file_with_a_byte_order_mark_is_read(logger_validator: ReadingValidator) -> None:
    ts = local_stamp(300)
    data = b"\xef\xbb\xbf" + f"COD\t45\tmg/L\t{ts}\t00\r\npH\t7\tpH\t{ts}\t00\r\n".encode()
    result = read(logger_validator, f"WW-1_{ts}.txt", data)
    assert [(line.parameter, line.accepted) for line in result.lines] == [
        ("cod", True),
        ("ph", True),
    ]
    assert result.encoding == "utf-8 with BOM"


def test_a_windows_1258_file_is_read(logger_validator: ReadingValidator) -> None:
    ts = local_stamp(300)
    station = "Tra\u0323m quan tr\u0103\u0301c \u0110a\u0300 La\u0323t"  # as cp1258 composes
    text = f"{station}\nPM10\t51\tµg/m³\t{ts}\t00\n"
    result = read(logger_validator, f"AIR-1_{ts}.txt", text.encode("cp1258"))
    assert result.encoding == "cp1258 (Windows-1258)"
    assert result.lines[0].reason == "malformed" and result.lines[1].accepted
    assert result.readings[0].values == {"pm10": 51.0}


def test_a_utf16_file_is_read(logger_validator: ReadingValidator) -> None:
    ts = local_stamp(300)
    result = read(logger_validator, f"AIR-1_{ts}.txt", f"PM10 5 ug/m3 {ts} 00".encode("utf-16"))
    assert result.encoding == "utf-16" and result.accepted == 1


def test_a_line_without_status_is_stored_flagged_status_missing(
    logger_validator: ReadingValidator,
) -> None:
    ts = local_stamp(300)
    text = f"PM10\t5\tug/m3\t{ts}\nNO2\t7\tug/m3\t{ts}\t00\nPM2,5 9 ug/m3 {ts}\n"
    result = read(logger_validator, f"AIR-1_{ts}.txt", text.encode())
    assert [(line.accepted, line.status_missing) for line in result.lines] == [
        (True, True),
        (True, False),
        (True, True),
    ]
    assert result.status_missing == 2
    [reading] = result.readings
    assert reading.status == {} and reading.status_missing == {"pm10", "pm25"}


def test_an_impossible_date_in_the_file_name_refuses_the_file(
    logger_validator: ReadingValidator,
) -> None:
    result = read(logger_validator, "AIR-1_20261332990000.txt", b"PM10 5 ug/m3 20261123150000 00")
    assert result.readings == []
    assert [(line.line, line.reason) for line in result.lines] == [(0, "bad_timestamp")]
    assert "20261332990000, is not a date" in result.lines[0].detail
    assert result.rejections[0].reason.value == "bad_timestamp"


def test_a_line_far_from_the_file_name_time_is_refused(logger_validator: ReadingValidator) -> None:
    name_time, near, far = local_stamp(600), local_stamp(900), local_stamp(3 * 86_400)
    text = f"PM10 5 ug/m3 {near} 00\nNO2 7 ug/m3 {far} 00\n"
    result = read(logger_validator, f"AIR-1_{name_time}.txt", text.encode())
    assert [(line.accepted, line.reason) for line in result.lines] == [
        (True, ""),
        (False, "bad_timestamp"),
    ]
    assert f"is 4310 min from the file name's {name_time} (more than 60 min)" in (
        result.lines[1].detail
    )
    unchecked = read(logger_validator, f"AIR-2_{name_time}.txt", text.encode(), None)
    assert unchecked.accepted == 2


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n \t\r\n"])
def test_an_empty_file_is_answered_with_a_message(
    logger_validator: ReadingValidator, data: bytes
) -> None:
    result = read(logger_validator, f"AIR-1_{local_stamp(0)}.txt", data)
    assert [(line.line, line.reason, line.detail) for line in result.lines] == [
        (0, "malformed", "the file is empty: no lines to read")
    ]
    assert result.station_id == "AIR-1" and len(result.rejections) == 1


FILE_PROPERTY = settings(
    max_examples=scale(200, 2_000), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@FILE_PROPERTY
@given(data=st.binary(max_size=300))
def test_any_bytes_as_a_file_are_read_in_some_encoding_and_every_line_answered(
    data: bytes,
) -> None:
    from ingest.station_files import decode_file, read_station_file

    text, encoding = decode_file(data)
    assert encoding
    read_file = read_station_file(
        Origin("file", now_ms(), data), "AIR-1_20261123150000.txt", data, {}, 3600
    )
    answered = {line.line for line in read_file.result.lines} | {
        number for group in read_file.groups.values() for number, _ in group.lines.values()
    }
    lines_with_text = {n for n, line in enumerate(text.splitlines(), 1) if line.split()}
    assert answered == (lines_with_text or {0})
    assert all(line.reason for line in read_file.result.lines)
