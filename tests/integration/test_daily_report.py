"""The daily provincial report and the station page's API against the real service
(Mosquitto, InfluxDB): PM2.5 readings of a whole local day sent through the ingest API, the
analytics' hourly and daily VN_AQI of that day checked against the VN_AQI kernels run on
the same readings, the exceedance they raise, a camera incident and a fire-danger point of
the day; the CSV and XLSX; the files the daily task writes; the station's history and CSV.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest

from analytics.aqi import NOWCAST_HOURS, daily_aqi, hourly_aqi
from ioc import appkeys
from ioc.accounts import Role
from ioc.clock import LOCAL_TZ, iso_utc, now_ms
from ioc.config import IocConfig, ReportsConfig
from ioc.messages import RuleTransition, Severity
from tests.integration.conftest import RunningService, eventually
from web.daily_report import DailyReport, day_bounds, yesterday
from web.daily_report_files import write_daily_report
from web.station_page import StationHistory

HOUR_MS = 3_600_000
DAILY = "/api/v1/reports/daily"
SPIKE_HOUR = 14  # the hour 14:00-15:00 local: PM2.5 150, above the instant rule's 100


@pytest.fixture
def config(config: IocConfig, tmp_path: Path) -> IocConfig:
    """The daily files into the test's folder, due at once (yesterday's, written at start)."""
    reports = ReportsConfig(
        daily_folder=tmp_path / "reports", daily_at_minute=0, daily_start_delay_s=0
    )
    return config.model_copy(update={"reports": reports})


def pm25_of_hour(hour: int) -> float:
    return 150.0 if hour == SPIKE_HOUR else 20.0 + 2 * hour


async def get(service: RunningService, path: str, role: Role = Role.OFFICER) -> tuple[int, bytes]:
    async with service.http(role) as http, http.get(f"{service.url}{path}") as response:
        return response.status, await response.read()


async def send_yesterday(service: RunningService) -> tuple[str, int]:
    """One PM2.5 reading in the middle of each hour of yesterday (local), and one in today's
    first minutes to close its last hour. Returns the day and its start (UTC ms)."""
    day = yesterday(now_ms())
    start, end = day_bounds(day)
    readings = [
        {"station_id": "AIR-1", "ts": (start + h * HOUR_MS + HOUR_MS // 2) / 1000}
        | {"values": {"pm25": pm25_of_hour(h)}}
        for h in range(24)
    ]
    closing = min(end + 60_000, now_ms() - 1000)
    readings.append({"station_id": "AIR-1", "ts": closing / 1000, "values": {"pm25": 20.0}})
    async with (
        service.http(Role.ADMIN) as http,
        http.post(f"{service.url}/api/v1/ingest", json={"readings": readings}) as response,
    ):
        assert response.status == 200, await response.text()
    return day, start


def expected_aqi() -> tuple[float, int, float, int]:
    """Daily VN_AQI, the worst hour (0-based, local), its hourly VN_AQI and the hours with an
    hourly AQI (the first has none: the NowCast needs 2 of the last 3 hours), from the
    kernels."""
    means = [pm25_of_hour(h) for h in range(24)]
    day = float(daily_aqi(pm25_24h=np.array(sum(means) / 24)))
    hourly = []
    for h in range(24):
        last = [means[h - k] if h - k >= 0 else math.nan for k in range(NOWCAST_HOURS)]
        hourly.append(float(hourly_aqi({"pm25": np.array(last)})))
    ranked = [v if math.isfinite(v) else -math.inf for v in hourly]
    worst = max(range(24), key=lambda h: (ranked[h], -h))
    return day, worst, hourly[worst], sum(math.isfinite(v) for v in hourly)


async def test_the_daily_report_of_a_day_of_readings(
    service: RunningService, tmp_path: Path
) -> None:
    day, start = await send_yesterday(service)
    app = service.app
    # A camera incident during the day and one the day before (not counted).
    cameras = app[appkeys.CONFIG].cameras.cameras
    camera = cameras[-1].id
    for station, ts in ((camera, start + 10 * HOUR_MS), (cameras[0].id, start - HOUR_MS)):
        app[appkeys.ALERTS].apply(
            [
                RuleTransition(
                    rule_id="camera.smoke",
                    station_id=station,
                    parameter="smoke",
                    firing=True,
                    value=0.8,
                    limit=0.5,
                    ts_ms=ts,
                    severity=Severity.CRITICAL,
                )
            ]
        )
    # The day's fire danger as the analytics write it (stamped at local midnight).
    app[appkeys.STORE].append(
        [f"fire_danger,station=AIR-2 level=4i,nesterov=6200.5,fwi=20.5,complete=true {start}"]
    )
    aqi_day, worst_hour, worst_aqi, hours = expected_aqi()

    async def computed() -> DailyReport | None:
        status, body = await get(service, f"{DAILY}?day={day}")
        assert status == 200, body
        report = DailyReport.model_validate_json(body)
        air = report.stations[0]
        fire = report.stations[1].fire_level
        return report if air.aqi_complete and air.hours_with_aqi == hours and fire else None

    report: DailyReport = await eventually(computed, within_s=30)  # type: ignore[assignment]
    assert (report.day, report.partial) == (day, False)
    air = report.stations[0]
    assert air.id == "AIR-1"
    assert air.aqi == aqi_day
    assert air.worst_hour_aqi == worst_aqi
    assert air.worst_hour == iso_utc(start + (worst_hour + 1) * HOUR_MS)  # end of the hour
    assert worst_hour == SPIKE_HOUR
    # The spike is an exceedance of the instant rule, as the alert book has it.
    assert air.exceedances.get("pm25", 0) >= 1
    (pm25,) = [g for g in report.exceedances if g.parameter == "pm25"]
    instant = [e for e in pm25.events if e.rule_id == "pm25_instant"]
    assert [e.peak for e in instant] == [150.0]
    assert instant[0].start == iso_utc(start + SPIKE_HOUR * HOUR_MS + HOUR_MS // 2)
    assert air.exceedances["pm25"] == len(pm25.events)

    fire = report.stations[1]
    assert (fire.id, fire.fire_level, fire.nesterov, fire.fwi) == ("AIR-2", 4, 6200.5, 20.5)
    assert [(c.camera_id, c.rule_id) for c in report.camera_incidents] == [(camera, "camera.smoke")]

    # Default day: yesterday.
    status, body = await get(service, DAILY)
    assert status == 200 and DailyReport.model_validate_json(body).day == day

    status, body = await get(service, f"{DAILY}?day={day}&format=csv")
    assert status == 200
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[2][0] == "AIR-1" and rows[2][rows[1].index("VN_AQI ngày")] == str(aqi_day)

    status, body = await get(service, f"{DAILY}?day={day}&format=xlsx&lang=en")
    book = openpyxl.load_workbook(io.BytesIO(body))
    heads, first = list(book["Stations"].iter_rows(values_only=True))[:2]
    assert first[0] == "AIR-1" and first[heads.index("Daily VN_AQI")] == aqi_day
    hour_end = datetime.fromtimestamp(start / 1000, LOCAL_TZ).replace(tzinfo=None)
    assert first[heads.index("Hour ending (Vietnam time)")] == hour_end + timedelta(
        hours=worst_hour + 1
    )

    # On demand as files, as the daily task writes them.
    written = await write_daily_report(app, day)
    assert [p.name for p in written] == [f"bao-cao-ngay-{day}.csv", f"bao-cao-ngay-{day}.xlsx"]
    assert openpyxl.load_workbook(written[1])["Trạm"]["A2"].value == "AIR-1"

    # Bad days, and not for a wall viewer.
    assert (await get(service, f"{DAILY}?day=2026-02-30"))[0] == 400
    assert (await get(service, f"{DAILY}?day=yesterday"))[0] == 400
    assert (await get(service, DAILY, Role.VIEWER))[0] == 403

    # The station page's history of the day: hourly means, the limit lines, the AQI.
    end = start + 86_400_000
    query = f"start={iso_utc(start)}&end={iso_utc(end)}"
    status, body = await get(service, f"/api/v1/stations/AIR-1/history?{query}", Role.VIEWER)
    assert status == 200, body
    history = StationHistory.model_validate_json(body)
    pm25_series = next(p for p in history.parameters if p.key == "pm25")
    present = [v for v in pm25_series.values if v is not None]
    assert present == [pm25_of_hour(h) for h in range(24)]  # one reading a step
    assert {(x.rule_id, x.value) for x in pm25_series.limits} == {
        ("pm25_instant", 100.0),
        ("pm25_24h", 45.0),
    }
    assert len(history.aqi_hourly) == hours == 23
    assert max(p.aqi for p in history.aqi_hourly) == worst_aqi
    assert [(d.date, d.aqi, d.complete) for d in history.aqi_daily] == [(day, aqi_day, True)]

    status, body = await get(service, f"/api/v1/stations/AIR-1/export?{query}", Role.VIEWER)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    column = rows[0].index("pm25 trạng thái") - 1
    assert [float(r[column]) for r in rows[1:]] == [pm25_of_hour(h) for h in range(24)]


async def test_the_daily_task_writes_yesterday_s_files(service: RunningService) -> None:
    folder = service.config.reports.daily_folder
    day = yesterday(now_ms())

    async def written() -> list[str]:
        names = sorted(p.name for p in folder.glob("*")) if folder.exists() else []
        return names if len(names) == 2 else []

    names: Any = await eventually(written, within_s=20)
    assert names == [f"bao-cao-ngay-{day}.csv", f"bao-cao-ngay-{day}.xlsx"]
