"""The daily provincial report (web/daily_report.py) as files, and the task that writes the
previous day's files once a day.

CSV and XLSX have three tables: stations (AQI, worst hour, exceedances, fire danger),
exceedances (one row per event) and camera incidents; headings in Vietnamese (default) or
English, times in Asia/Ho_Chi_Minh, as the monthly report's files (web/report_files.py).

:func:`daily_report_context` (a cleanup context of the service) writes
``<reports.daily_folder>/bao-cao-ngay-<day>.xlsx`` and ``.csv`` for the previous local day at
``reports.daily_at_minute`` after local midnight, and ``reports.daily_start_delay_s`` after a
start when that time has passed and the files are missing (the service was down then). A
failure (InfluxDB away, disk full) is logged and tried again after ``reports.daily_retry_s``.
Files are written whole (a temporary file renamed), so a reader never sees half a report.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web

from ioc import appkeys
from ioc.clock import LOCAL_TZ, now_ms
from ioc.config import ReportsConfig
from web.daily_report import DailyReport, build_daily_report, yesterday
from web.report_files import Cell, Lang, Table, local_time, tables_csv, tables_xlsx

log = logging.getLogger(__name__)

HEADINGS: dict[Lang, dict[str, str]] = {
    "vi": {
        "stations": "Trạm",
        "exceedances": "Vượt ngưỡng",
        "cameras": "Sự cố camera",
        "station": "Mã trạm",
        "name": "Tên trạm",
        "kind": "Loại trạm",
        "owner": "Chủ quản",
        "aqi": "VN_AQI ngày",
        "aqi_label": "Mức chất lượng không khí",
        "aqi_complete": "Đủ 24 giờ",
        "worst_hour_aqi": "VN_AQI giờ cao nhất",
        "worst_hour": "Giờ kết thúc (giờ Việt Nam)",
        "exceedance_count": "Số lần vượt ngưỡng",
        "exceedance_detail": "Vượt ngưỡng theo thông số",
        "fire_level": "Cấp cháy rừng",
        "fire_label": "Mức nguy cơ cháy",
        "nesterov": "Chỉ số Nesterov",
        "fwi": "FWI",
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
        "camera": "Mã camera",
        "camera_name": "Tên camera",
        "state": "Trạng thái",
    },
    "en": {
        "stations": "Stations",
        "exceedances": "Exceedances",
        "cameras": "Camera incidents",
        "station": "Station",
        "name": "Name",
        "kind": "Kind",
        "owner": "Owner",
        "aqi": "Daily VN_AQI",
        "aqi_label": "Air quality",
        "aqi_complete": "All 24 hours",
        "worst_hour_aqi": "Worst hourly VN_AQI",
        "worst_hour": "Hour ending (Vietnam time)",
        "exceedance_count": "Exceedances",
        "exceedance_detail": "Exceedances per parameter",
        "fire_level": "Fire danger level",
        "fire_label": "Fire danger",
        "nesterov": "Nesterov index",
        "fwi": "FWI",
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
        "camera": "Camera",
        "camera_name": "Camera name",
        "state": "State",
    },
}
STATION_HEADS = [
    *("station", "name", "kind", "owner", "aqi", "aqi_label", "aqi_complete"),
    *("worst_hour_aqi", "worst_hour", "exceedance_count", "exceedance_detail"),
    *("fire_level", "fire_label", "nesterov", "fwi"),
]
EXCEEDANCE_HEADS = [
    *("parameter", "station", "rule", "severity", "start", "end", "duration_min"),
    *("peak", "limit", "unit", "ongoing"),
]
CAMERA_HEADS = ["camera", "camera_name", "rule", "severity", "state", "start", "end", "peak"]


def tables(report: DailyReport, lang: Lang) -> list[Table]:
    en = lang == "en"
    stations: list[list[Cell]] = [
        [
            s.id,
            s.name,
            s.kind,
            s.owner_name,
            s.aqi,
            s.aqi_label_en if en else s.aqi_label_vi,
            s.aqi_complete,
            s.worst_hour_aqi,
            local_time(s.worst_hour),
            s.exceedance_count,
            "; ".join(f"{p}: {n}" for p, n in s.exceedances.items()),
            s.fire_level,
            s.fire_label_en if en else s.fire_label_vi,
            s.nesterov,
            s.fwi,
        ]
        for s in report.stations
    ]
    events: list[list[Cell]] = [
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
    cameras: list[list[Cell]] = [
        [
            c.camera_id,
            c.camera_name,
            c.rule_name_en if en else c.rule_name_vi,
            c.severity,
            c.state,
            local_time(c.start),
            local_time(c.end),
            c.peak,
        ]
        for c in report.camera_incidents
    ]
    return [
        ("stations", STATION_HEADS, stations),
        ("exceedances", EXCEEDANCE_HEADS, events),
        ("cameras", CAMERA_HEADS, cameras),
    ]


def daily_csv(report: DailyReport, lang: Lang) -> bytes:
    return tables_csv(tables(report, lang), HEADINGS[lang])


def daily_xlsx(report: DailyReport, lang: Lang) -> bytes:
    return tables_xlsx(tables(report, lang), HEADINGS[lang])


DAILY_RENDERERS: dict[str, Callable[[DailyReport, Lang], bytes]] = {
    "csv": daily_csv,
    "xlsx": daily_xlsx,
}


def file_stem(day: str, lang: Lang) -> str:
    return f"{'bao-cao-ngay' if lang == 'vi' else 'report-day'}-{day}"


def report_paths(folder: Path, day: str, lang: Lang) -> list[Path]:
    return [folder / f"{file_stem(day, lang)}.{kind}" for kind in DAILY_RENDERERS]


def write_report_files(report: DailyReport, folder: Path, lang: Lang) -> list[Path]:
    """Write the report's XLSX and CSV into ``folder`` (made if missing), each whole."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path, render in zip(
        report_paths(folder, report.day, lang), DAILY_RENDERERS.values(), strict=True
    ):
        partial = path.with_name(f".{path.name}.tmp")
        partial.write_bytes(render(report, lang))
        os.replace(partial, path)
        written.append(path)
    return written


def seconds_until_next_run(now: int, at_minute: int) -> float:
    """Seconds from ``now`` (epoch ms) to the next local ``at_minute`` after midnight."""
    local = datetime.fromtimestamp(now / 1000, LOCAL_TZ)
    run = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(minutes=at_minute)
    if run <= local:
        run += timedelta(days=1)
    return (run - local).total_seconds()


def due_day(now: int, config: ReportsConfig) -> str | None:
    """The day whose files are due now: yesterday, once today's run time has passed."""
    local = datetime.fromtimestamp(now / 1000, LOCAL_TZ)
    minutes = local.hour * 60 + local.minute
    return yesterday(now) if minutes >= config.daily_at_minute else None


async def write_daily_report(app: web.Application, day: str) -> list[Path]:
    """Build the report of ``day`` from the running service and write its files."""
    config, rules = app[appkeys.CONFIG], app[appkeys.RULES]
    report = await build_daily_report(
        day=day,
        registry=app[appkeys.REGISTRY],
        store=app[appkeys.STORE],
        alerts=app[appkeys.ALERTS],
        rules=rules,
        cameras=config.cameras.cameras,
        now_ms=now_ms(),
    )
    lang = config.reports.daily_language
    return await asyncio.to_thread(write_report_files, report, config.reports.daily_folder, lang)


async def run_daily_reports(app: web.Application) -> None:
    """Forever: write the due day's files when they are missing, then sleep until the next
    run time (or the retry delay after a failure)."""
    config = app[appkeys.CONFIG].reports
    await asyncio.sleep(config.daily_start_delay_s)
    while True:
        day = due_day(now_ms(), config)
        wait = seconds_until_next_run(now_ms(), config.daily_at_minute)
        paths = report_paths(config.daily_folder, day, config.daily_language) if day else []
        if day and not all(p.exists() for p in paths):
            try:
                written = await write_daily_report(app, day)
                log.info("daily report of %s written: %s", day, ", ".join(map(str, written)))
            except Exception:  # logged and retried: the service keeps running
                log.exception("daily report of %s not written; retrying later", day)
                wait = min(wait, config.daily_retry_s)
        await asyncio.sleep(wait)


async def daily_report_context(app: web.Application) -> AsyncIterator[None]:
    """The daily report task for the life of the service (if ``reports.daily_enabled``)."""
    if not app[appkeys.CONFIG].reports.daily_enabled:
        yield
        return
    task = asyncio.create_task(run_daily_reports(app), name="daily-report")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait({task}, timeout=5)
