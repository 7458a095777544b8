"""The monthly report (web/monthly_report.py) as files: CSV and XLSX, headings in Vietnamese
(default) or English, times in Asia/Ho_Chi_Minh (the report's JSON keeps UTC).

Both have four tables: stations (the month's totals), days (per station and local day),
exceedances and data gaps. The XLSX has one sheet each; the CSV has them one after the other,
each introduced by a ``# title`` row and its heading row, separated by an empty row. The CSV
starts with a byte-order mark, so spreadsheet programs read it as UTF-8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Literal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from ioc.clock import LOCAL_TZ
from web.monthly_report import CountsAnswer, MonthlyReport

Lang = Literal["vi", "en"]
Cell = str | int | float | bool | datetime | None
CSV_MEDIA = "text/csv"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
XLSX_TIME_FORMAT = "dd/mm/yyyy hh:mm:ss"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_COUNTS = ("expected", "received", "valid", "calibrating", "device_error", "missing")
HEADINGS: dict[Lang, dict[str, str]] = {
    "vi": {
        "stations": "Trạm",
        "days": "Theo ngày",
        "exceedances": "Vượt ngưỡng",
        "gaps": "Mất dữ liệu",
        "station": "Mã trạm",
        "name": "Tên trạm",
        "owner": "Chủ quản",
        "interval_s": "Chu kỳ (giây)",
        "day": "Ngày",
        "expected": "Số bản ghi theo chu kỳ",
        "received": "Số bản ghi nhận được",
        "valid": "Hợp lệ (00)",
        "calibrating": "Hiệu chuẩn (01)",
        "device_error": "Lỗi thiết bị (02)",
        "missing": "Số chu kỳ thiếu",
        "ratio": "Tỷ lệ đầy đủ (%)",
        "valid_ratio": "Tỷ lệ hợp lệ (%)",
        "over_frequent": "Gửi dày hơn đăng ký",
        "gap_count": "Số đợt mất dữ liệu",
        "parameter": "Thông số",
        "rule": "Quy tắc",
        "severity": "Mức độ",
        "start": "Bắt đầu (giờ Việt Nam)",
        "end": "Kết thúc (giờ Việt Nam)",
        "duration_min": "Thời gian (phút)",
        "peak": "Giá trị cực trị",
        "limit": "Ngưỡng",
        "unit": "Đơn vị",
        "ongoing": "Đang tiếp diễn",
        "intervals": "Số chu kỳ",
    },
    "en": {
        "stations": "Stations",
        "days": "Days",
        "exceedances": "Exceedances",
        "gaps": "Data gaps",
        "station": "Station",
        "name": "Name",
        "owner": "Owner",
        "interval_s": "Interval (s)",
        "day": "Day",
        "expected": "Records expected",
        "received": "Records received",
        "valid": "Valid (00)",
        "calibrating": "Calibrating (01)",
        "device_error": "Device error (02)",
        "missing": "Intervals missing",
        "ratio": "Completeness (%)",
        "valid_ratio": "Valid (%)",
        "over_frequent": "More often than registered",
        "gap_count": "Gaps",
        "parameter": "Parameter",
        "rule": "Rule",
        "severity": "Severity",
        "start": "Start (Vietnam time)",
        "end": "End (Vietnam time)",
        "duration_min": "Duration (min)",
        "peak": "Peak",
        "limit": "Limit",
        "unit": "Unit",
        "ongoing": "Ongoing",
        "intervals": "Intervals",
    },
}

EXCEEDANCE_HEADS = [
    *("parameter", "station", "rule", "severity", "start", "end", "duration_min"),
    *("peak", "limit", "unit", "ongoing"),
]
Table = tuple[str, list[str], list[list[Cell]]]  # title key, heading keys, rows


def tables(report: MonthlyReport) -> list[Table]:
    """The report's four tables, times as local datetimes."""
    counts = [*_COUNTS, "ratio", "valid_ratio", "over_frequent"]
    stations = [
        [s.id, s.name, s.owner_name, s.interval_s, *_counts(s), s.gap_count]
        for s in report.stations
    ]
    days = [[s.id, d.day, *_counts(d)] for s in report.stations for d in s.days]
    exceedances = [
        [
            group.parameter,
            e.station_id,
            e.rule_name,
            e.severity,
            local_time(e.start),
            local_time(e.end),
            round(e.duration_s / 60, 1),
            e.peak,
            e.limit,
            group.unit,
            e.ongoing,
        ]
        for group in report.exceedances
        for e in group.events
    ]
    gaps: list[list[Cell]] = [
        [s.id, local_time(g.start), local_time(g.end), g.intervals]
        for s in report.stations
        for g in s.gaps
    ]
    return [
        ("stations", ["station", "name", "owner", "interval_s", *counts, "gap_count"], stations),
        ("days", ["station", "day", *counts], days),
        (
            "exceedances",
            EXCEEDANCE_HEADS,
            exceedances,
        ),
        ("gaps", ["station", "start", "end", "intervals"], gaps),
    ]


def tables_csv(tables: list[Table], words: dict[str, str]) -> bytes:
    """Tables one after the other in one CSV (UTF-8 with BOM, for spreadsheets), each under
    a ``# title`` line and its heading row; ``words`` names titles and columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for number, (title, heads, rows) in enumerate(tables):
        if number:
            writer.writerow([])
        writer.writerow([f"# {words[title]}"])
        writer.writerow([words[h] for h in heads])
        writer.writerows([[_csv_cell(v) for v in row] for row in rows])
    return ("\ufeff" + out.getvalue()).encode()


def tables_xlsx(tables: list[Table], words: dict[str, str]) -> bytes:
    """Tables as the sheets of one workbook: bold heading row, frozen, local times."""
    book = Workbook()
    book.remove(book.active)
    for title, heads, rows in tables:
        sheet = book.create_sheet(words[title])
        sheet.append([words[h] for h in heads])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_xlsx_cell(v) for v in row])
        for column in sheet.iter_cols(min_row=2):
            for cell in column:
                if isinstance(cell.value, datetime):
                    cell.number_format = XLSX_TIME_FORMAT
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def report_csv(report: MonthlyReport, lang: Lang) -> bytes:
    return tables_csv(tables(report), HEADINGS[lang])


def report_xlsx(report: MonthlyReport, lang: Lang) -> bytes:
    return tables_xlsx(tables(report), HEADINGS[lang])


def _counts(row: CountsAnswer) -> Iterator[Cell]:
    yield from (getattr(row, name) for name in _COUNTS)
    yield from (_percent(row.ratio), _percent(row.valid_ratio), row.over_frequent)


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else round(ratio * 100, 2)


def local_time(iso: str | None) -> datetime | None:
    """A UTC time of the report as a local (UTC+7) time without zone, as spreadsheets want."""
    if iso is None:
        return None
    return datetime.fromisoformat(iso).astimezone(LOCAL_TZ).replace(tzinfo=None)


def _csv_cell(value: Cell) -> Cell:
    if isinstance(value, datetime):
        return value.strftime(LOCAL_TIME_FORMAT)
    if isinstance(value, bool):
        return int(value)
    return text_safe(value)


def _xlsx_cell(value: Cell) -> Cell:
    """Control characters, which XLSX cannot hold, become U+FFFD."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return text_safe(value)


def text_safe(value: Cell) -> Cell:
    """Text a spreadsheet would run as a formula (a station or rule named ``=...``) is
    quoted: shown as it was written, never evaluated."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


RENDERERS: dict[str, tuple[str, Callable[[MonthlyReport, Lang], bytes]]] = {
    "csv": (CSV_MEDIA, report_csv),
    "xlsx": (XLSX_MEDIA, report_xlsx),
}
