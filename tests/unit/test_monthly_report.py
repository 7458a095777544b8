"""The monthly report from fabricated InfluxDB rows and a real (in-memory) alert book: which
stations and alerts it takes, exceedances with start, duration and peak, and the same report
as CSV (parsed back) and XLSX (opened with openpyxl)."""

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
from ioc.clock import LOCAL_TZ
from ioc.config import RuleConfig
from ioc.messages import RuleTransition, Severity
from tests.factories import TEST_RULES, registry
from web.monthly_report import MonthlyReport, build_report
from web.report_files import report_csv, report_xlsx

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


def local_ms(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ).timestamp() * 1000)


NOW = local_ms(12, 5, 9)
NOV_1 = local_ms(11, 1)


class FakeStore:
    """Rows of measurement ``reading`` per station; remembers the queries."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.rows = rows
        self.queries: list[str] = []

    async def query(self, influxql: str) -> list[dict[str, Any]]:
        self.queries.append(influxql)
        return next((r for sid, r in self.rows.items() if f"'{sid}'" in influxql), [])


def transition(
    station: str, rule: str, parameter: str, firing: bool, value: float, ts: int
) -> RuleTransition:
    return RuleTransition(
        rule_id=rule,
        station_id=station,
        parameter=parameter,
        firing=firing,
        value=value,
        limit=200.0 if parameter == "dust" else 100.0,
        ts_ms=ts,
        severity=Severity.CRITICAL,
    )


@pytest.fixture
def book() -> Iterator[AlertBook]:
    rules = {r["id"]: RuleConfig.model_validate(r) for r in TEST_RULES}
    book = AlertBook(rules, clock=lambda: NOW)
    stack = "STK-1"
    book.apply([transition(stack, "dust", "dust", True, 250, local_ms(10, 20, 8))])
    book.apply([transition(stack, "dust", "dust", False, 150, local_ms(10, 20, 9))])  # October
    book.apply([transition(stack, "dust", "dust", True, 240, local_ms(10, 31, 22))])
    book.apply([transition(stack, "dust", "dust", False, 150, local_ms(11, 1, 2))])  # spans
    book.apply([transition(stack, "dust", "dust", True, 260, local_ms(11, 10, 10))])
    book.apply([transition(stack, "dust", "dust", True, 310, local_ms(11, 10, 11))])  # ongoing
    book.apply([transition(stack, "zscore_dust", "dust", True, 999, local_ms(11, 12))])
    book.apply([transition("AIR-1", "pm25_instant", "pm25", True, 150, local_ms(11, 3))])
    yield book
    book.shutdown()


async def report_of(tmp_path: Path, book: AlertBook, enterprise: str | None) -> MonthlyReport:
    rows = {
        "STK-1": [
            {"time": NOV_1 + 30_000, "dust": 50.0},
            {"time": NOV_1 + 90_000, "dust": 51.0, "dust_status": 1},
            {"time": NOV_1 + 150_000, "dust": 52.0, "dust_status": 2},
        ]
    }
    rules = {r["id"]: RuleConfig.model_validate(r) for r in TEST_RULES}
    return await build_report(
        month="2026-11",
        enterprise=enterprise,
        registry=registry(tmp_path),
        store=FakeStore(rows),
        alerts=book,
        rules=rules,
        now_ms=NOW,
    )


async def test_an_enterprise_s_report_counts_its_stations_and_exceedances(
    tmp_path: Path, book: AlertBook
) -> None:
    report = await report_of(tmp_path, book, "ENT-A")
    assert (report.scope, report.enterprise, report.enterprise_name) == (
        "enterprise",
        "ENT-A",
        "Enterprise A",
    )
    assert (report.start, report.end) == ("2026-10-31T17:00:00.000Z", "2026-11-30T17:00:00.000Z")
    assert report.partial is False and report.timezone == "Asia/Ho_Chi_Minh"
    (stack,) = report.stations
    assert stack.id == "STK-1" and len(stack.days) == 30
    assert (stack.expected, stack.received) == (30 * 1440, 3)
    assert (stack.valid, stack.calibrating, stack.device_error) == (1, 1, 1)
    assert stack.missing == 30 * 1440 - 3
    assert stack.gap_count == 1 and stack.gaps[0].start == "2026-10-31T17:03:00.000Z"
    assert stack.gaps[0].end == "2026-11-30T17:00:00.000Z"
    assert [o.id for o in report.owners] == ["ENT-A"] and report.owners[0].exceedances == 2
    assert report.total.received == 3

    # Only the dust rule's alerts overlapping November: not October's, not the anomaly's,
    # not the state station's.
    (dust,) = report.exceedances
    assert (dust.parameter, dust.count) == ("dust", 2)
    spanning, ongoing = dust.events
    assert spanning.start == "2026-10-31T15:00:00.000Z" and not spanning.ongoing
    assert spanning.duration_s == 4 * 3600 and spanning.peak == 240
    assert ongoing.end is None and ongoing.ongoing
    assert ongoing.peak == 310
    assert ongoing.duration_s == (NOW - local_ms(11, 10, 10)) // 1000
    assert dust.duration_s == spanning.duration_s + ongoing.duration_s


async def test_the_province_report_has_every_station_by_owner(
    tmp_path: Path, book: AlertBook
) -> None:
    report = await report_of(tmp_path, book, None)
    assert report.scope == "province" and report.enterprise is None
    assert {s.id for s in report.stations} == {"AIR-1", "AIR-2", "STK-1"}
    owners = {o.id: o for o in report.owners}
    assert set(owners) == {"ENT-A", "state"}
    assert (owners["state"].stations, owners["state"].exceedances) == (2, 1)
    assert {e.parameter: e.count for e in report.exceedances} == {"dust": 2, "pm25": 1}


async def test_the_report_as_csv_and_xlsx(tmp_path: Path, book: AlertBook) -> None:
    report = await report_of(tmp_path, book, "ENT-A")
    raw = report_csv(report, "vi")
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    sections = [i for i, row in enumerate(rows) if row and row[0].startswith("# ")]
    assert [rows[i][0] for i in sections] == [
        "# Trạm",
        "# Theo ngày",
        "# Vượt ngưỡng",
        "# Mất dữ liệu",
    ]
    heads, station = rows[sections[0] + 1], rows[sections[0] + 2]
    line = dict(zip(heads, station, strict=True))
    assert line["Mã trạm"] == "STK-1" and line["Số bản ghi nhận được"] == "3"
    assert line["Hợp lệ (00)"] == line["Hiệu chuẩn (01)"] == line["Lỗi thiết bị (02)"] == "1"
    days = rows[sections[1] + 2 : sections[2] - 1]
    assert len(days) == 30 and days[0][1] == "2026-11-01"
    exceedance = dict(zip(rows[sections[2] + 1], rows[sections[2] + 2], strict=True))
    assert exceedance["Bắt đầu (giờ Việt Nam)"] == "2026-10-31 22:00:00"  # local time
    assert exceedance["Thời gian (phút)"] == "240.0"
    english = report_csv(report, "en").decode("utf-8-sig")
    assert "Records received" in english and "# Data gaps" in english

    book_ = openpyxl.load_workbook(io.BytesIO(report_xlsx(report, "en")))
    assert book_.sheetnames == ["Stations", "Days", "Exceedances", "Data gaps"]
    stations = list(book_["Stations"].iter_rows(values_only=True))
    assert stations[0][:2] == ("Station", "Name") and stations[1][0] == "STK-1"
    assert stations[1][stations[0].index("Records received")] == 3
    exceedances = list(book_["Exceedances"].iter_rows(values_only=True))
    start = exceedances[1][exceedances[0].index("Start (Vietnam time)")]
    assert start == datetime(2026, 10, 31, 22, 0)
    assert exceedances[2][exceedances[0].index("Ongoing")] is True
    gaps = list(book_["Data gaps"].iter_rows(values_only=True))
    assert gaps[1] == ("STK-1", datetime(2026, 11, 1, 0, 3), datetime(2026, 12, 1, 0, 0), 43197)


async def test_text_that_looks_like_a_formula_is_quoted(tmp_path: Path, book: AlertBook) -> None:
    report = await report_of(tmp_path, book, "ENT-A")
    named = report.model_copy(
        update={"stations": [report.stations[0].model_copy(update={"name": "=HYPERLINK(1)"})]}
    )
    assert "'=HYPERLINK(1)" in report_csv(named, "en").decode("utf-8-sig")
    sheet = openpyxl.load_workbook(io.BytesIO(report_xlsx(named, "en")))["Stations"]
    assert sheet["B2"].value == "'=HYPERLINK(1)" and sheet["B2"].data_type == "s"


async def test_control_characters_do_not_break_the_xlsx(tmp_path: Path, book: AlertBook) -> None:
    report = await report_of(tmp_path, book, "ENT-A")
    named = report.model_copy(
        update={"stations": [report.stations[0].model_copy(update={"name": "a\x01b\x1fc"})]}
    )
    sheet = openpyxl.load_workbook(io.BytesIO(report_xlsx(named, "en")))["Stations"]
    assert sheet["B2"].value == "a\ufffdb\ufffdc"
