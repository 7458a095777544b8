"""The daily provincial report from fabricated InfluxDB rows (a fake store answering the
report's three queries) and a real in-memory alert book: daily AQI and worst hour, fire
danger, exceedance counts, camera incidents of the day only; the files (CSV parsed back,
XLSX opened), their writing, and when the daily task writes them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from alerts.lifecycle import AlertBook
from analytics.cameras.config import CamerasConfig
from ioc.clock import LOCAL_TZ
from ioc.config import ReportsConfig, RuleConfig
from ioc.messages import RuleTransition, Severity
from tests.factories import TEST_RULES, registry
from web.daily_report import DailyReport, build_daily_report, day_bounds, yesterday
from web.daily_report_files import (
    daily_csv,
    daily_xlsx,
    due_day,
    report_paths,
    seconds_until_next_run,
    write_report_files,
)

HOUR_MS = 3_600_000
CAMERAS = CamerasConfig().cameras  # the demo cameras


def local_ms(day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(2026, 12, day, hour, minute, tzinfo=LOCAL_TZ).timestamp() * 1000)


DAY = "2026-12-03"
START, END = day_bounds(DAY)
NOW = local_ms(5, 9)


class FakeStore:
    """Answers the report's queries (by measurement and period) with fabricated rows."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    async def query(self, influxql: str) -> list[dict[str, Any]]:
        self.queries.append(influxql)
        if 'FROM "aqi"' in influxql and "'day'" in influxql:
            return [
                {"time": START, "aqi": 123.0, "band": 2, "complete": True, "tags": st("AIR-1")},
                {"time": START, "aqi": 40.0, "band": 0, "complete": False, "tags": st("AIR-2")},
            ]
        if 'FROM "aqi"' in influxql:
            hours = [(1, 80.0), (9, 161.0), (15, 161.0), (24, 90.0)]  # hour-ending
            rows = [{"time": START + h * HOUR_MS, "aqi": a, "tags": st("AIR-1")} for h, a in hours]
            return [*rows, {"time": START + HOUR_MS, "aqi": None, "tags": st("AIR-2")}]
        if 'FROM "fire_danger"' in influxql:
            return [
                {"time": START, "level": 3, "nesterov": 3100.5, "fwi": 12.25, "complete": True}
                | {"tags": st("AIR-2")}
            ]
        raise AssertionError(influxql)


def st(station: str) -> dict[str, str]:
    return {"station": station}


def transition(
    station: str, rule: str, parameter: str, firing: bool, value: float, ts: int
) -> RuleTransition:
    return RuleTransition(
        rule_id=rule,
        station_id=station,
        parameter=parameter,
        firing=firing,
        value=value,
        limit=200.0,
        ts_ms=ts,
        severity=Severity.CRITICAL,
    )


@pytest.fixture
def book() -> Iterator[AlertBook]:
    rules = {r["id"]: RuleConfig.model_validate(r) for r in TEST_RULES}
    book = AlertBook(rules, clock=lambda: NOW)
    # dust at STK-1: one from the day before into the day, two in the day, one the day after
    book.apply([transition("STK-1", "dust", "dust", True, 250, local_ms(2, 22))])
    book.apply([transition("STK-1", "dust", "dust", False, 150, local_ms(3, 1))])
    book.apply([transition("STK-1", "dust", "dust", True, 260, local_ms(3, 10))])
    book.apply([transition("STK-1", "dust", "dust", False, 150, local_ms(3, 11))])
    book.apply([transition("STK-1", "dust", "dust", True, 270, local_ms(3, 23))])
    book.apply([transition("STK-1", "dust", "dust", False, 150, local_ms(4, 1))])
    book.apply([transition("STK-1", "dust", "dust", True, 280, local_ms(4, 10))])
    book.apply([transition("AIR-1", "pm25_instant", "pm25", True, 150, local_ms(3, 8))])
    book.apply([transition("AIR-1", "zscore_pm25", "pm25", True, 999, local_ms(3, 9))])  # no
    # camera incidents: one in the day, one the day before
    book.apply([transition("CAM-FOR-01", "camera.smoke", "smoke", True, 0.9, local_ms(3, 14))])
    book.apply([transition("CAM-FOR-01", "camera.smoke", "smoke", False, 0.1, local_ms(3, 15))])
    book.apply([transition("CAM-TRF-02", "camera.frozen", "frozen", True, 1, local_ms(2, 14))])
    yield book
    book.shutdown()


async def report_of(tmp_path: Path, book: AlertBook, store: FakeStore) -> DailyReport:
    rules = {r["id"]: RuleConfig.model_validate(r) for r in TEST_RULES}
    return await build_daily_report(
        day=DAY,
        registry=registry(tmp_path),
        store=store,
        alerts=book,
        rules=rules,
        cameras=CAMERAS,
        now_ms=NOW,
    )


async def test_aqi_worst_hour_fire_danger_and_exceedances_per_station(
    tmp_path: Path, book: AlertBook
) -> None:
    store = FakeStore()
    report = await report_of(tmp_path, book, store)
    assert (report.day, report.partial, report.timezone) == (DAY, False, "Asia/Ho_Chi_Minh")
    assert report.start == "2026-12-02T17:00:00.000Z" and report.end == "2026-12-03T17:00:00.000Z"
    assert len(store.queries) == 3
    assert f"time = {START}ms" in store.queries[0]
    assert f"time > {START}ms AND time <= {END}ms" in store.queries[1]
    stations = {s.id: s for s in report.stations}
    assert list(stations) == ["AIR-1", "AIR-2", "STK-1"]

    air = stations["AIR-1"]
    assert (air.aqi, air.aqi_band, air.aqi_label_en, air.aqi_color) == (
        123.0,
        2,
        "Poor",
        "#ff7e00",
    )
    assert air.aqi_complete is True
    # The worst hour: 161 first reached in the hour ending 09:00 local (02:00Z).
    assert (air.worst_hour_aqi, air.worst_hour) == (161.0, "2026-12-03T02:00:00.000Z")
    assert air.hours_with_aqi == 4
    assert air.exceedances == {"pm25": 1} and air.exceedance_count == 1  # not the anomaly
    assert air.fire_level is None

    other = stations["AIR-2"]
    assert (other.aqi, other.aqi_complete, other.worst_hour, other.hours_with_aqi) == (
        40.0,
        False,
        None,
        0,
    )
    assert (other.fire_level, other.fire_label_en, other.nesterov, other.fwi) == (
        3,
        "medium",
        3100.5,
        12.25,
    )

    stack = stations["STK-1"]
    assert (stack.aqi, stack.aqi_band, stack.aqi_complete) == (None, -1, None)
    # from the day before into the day, two within it; not the next day's
    assert stack.exceedances == {"dust": 3} and stack.exceedance_count == 3

    (dust,) = [g for g in report.exceedances if g.parameter == "dust"]
    assert [e.peak for e in dust.events] == [250.0, 260.0, 270.0]

    (smoke,) = report.camera_incidents
    assert (smoke.camera_id, smoke.rule_id, smoke.rule_name_en) == (
        "CAM-FOR-01",
        "camera.smoke",
        "Smoke or fire seen",
    )
    assert smoke.start == "2026-12-03T07:00:00.000Z" and smoke.end == "2026-12-03T08:00:00.000Z"


async def test_a_day_not_over_is_partial(tmp_path: Path, book: AlertBook) -> None:
    rules = {r["id"]: RuleConfig.model_validate(r) for r in TEST_RULES}
    report = await build_daily_report(
        day=DAY,
        registry=registry(tmp_path),
        store=FakeStore(),
        alerts=book,
        rules=rules,
        cameras=CAMERAS,
        now_ms=local_ms(3, 12),
    )
    assert report.partial


async def test_the_report_as_csv_and_xlsx(tmp_path: Path, book: AlertBook) -> None:
    report = await report_of(tmp_path, book, FakeStore())
    rows = list(csv.reader(io.StringIO(daily_csv(report, "vi").decode("utf-8-sig"))))
    assert rows[0] == ["# Trạm"]
    heads, air = rows[1], rows[2]
    assert air[0] == "AIR-1" and air[heads.index("VN_AQI ngày")] == "123.0"
    assert air[heads.index("Mức chất lượng không khí")] == "Kém"
    assert air[heads.index("Giờ kết thúc (giờ Việt Nam)")] == "2026-12-03 09:00:00"
    stack = rows[4]
    assert stack[0] == "STK-1" and stack[heads.index("Vượt ngưỡng theo thông số")] == "dust: 3"
    titles = [r[0] for r in rows if r and r[0].startswith("#")]
    assert titles == ["# Trạm", "# Vượt ngưỡng", "# Sự cố camera"]

    book_xlsx = openpyxl.load_workbook(io.BytesIO(daily_xlsx(report, "en")))
    assert book_xlsx.sheetnames == ["Stations", "Exceedances", "Camera incidents"]
    heads_x, first = list(book_xlsx["Stations"].iter_rows(values_only=True))[:2]
    assert first[0] == "AIR-1" and first[heads_x.index("Daily VN_AQI")] == 123.0
    assert first[heads_x.index("Hour ending (Vietnam time)")] == datetime(2026, 12, 3, 9)
    cameras = list(book_xlsx["Camera incidents"].iter_rows(values_only=True))
    assert cameras[1][:3] == ("CAM-FOR-01", "Langbiang forest watch", "Smoke or fire seen")


async def test_files_are_written_whole_into_the_folder(tmp_path: Path, book: AlertBook) -> None:
    report = await report_of(tmp_path, book, FakeStore())
    folder = tmp_path / "reports" / "daily"
    written = write_report_files(report, folder, "vi")
    assert [p.name for p in written] == [
        "bao-cao-ngay-2026-12-03.csv",
        "bao-cao-ngay-2026-12-03.xlsx",
    ]
    assert written == report_paths(folder, DAY, "vi")
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)
    assert openpyxl.load_workbook(written[1]).sheetnames[0] == "Trạm"


def test_when_the_daily_files_are_due() -> None:
    config = ReportsConfig(daily_at_minute=60)
    assert yesterday(local_ms(5, 0, 30)) == "2026-12-04"
    assert due_day(local_ms(5, 0, 30), config) is None  # before 01:00: not yet
    assert due_day(local_ms(5, 1, 0), config) == "2026-12-04"
    assert seconds_until_next_run(local_ms(5, 0, 30), 60) == 30 * 60
    assert seconds_until_next_run(local_ms(5, 1, 0), 60) == 24 * 3600
    assert seconds_until_next_run(local_ms(5, 23, 0), 60) == 2 * 3600
