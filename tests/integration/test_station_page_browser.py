"""The station page in Chromium against the real service: reached from the wall's station
table; the PM2.5 chart with its limit lines (QCVN rules of the test configuration), the
hourly VN_AQI over its six colour bands and the daily AQI, the station's alert, the CSV of
the period (downloaded and read), another period picked in local time, English; and the
printable daily report. Screenshots go to ARTIFACTS."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path

from playwright.async_api import Browser, expect

from ioc.accounts import Role
from tests.integration.conftest import ARTIFACTS, RunningService, logged_in_context

HOUR_S = 3600
STEP_S = 1200  # a reading every 20 minutes
SPIKE_AGO_S = 3 * HOUR_S


async def send_readings(service: RunningService) -> list[float]:
    """PM2.5 at AIR-1 over the last 26 hours, one value above the instant rule's 100."""
    now = time.time()
    times = [now - k * STEP_S for k in range(26 * HOUR_S // STEP_S, 0, -1)]
    readings = [
        {
            "station_id": "AIR-1",
            "ts": ts,
            "values": {"pm25": 150.0 if abs(now - ts - SPIKE_AGO_S) < STEP_S / 2 else 30.0},
        }
        for ts in times
    ]
    async with (
        service.http(Role.ADMIN) as http,
        http.post(f"{service.url}/api/v1/ingest", json={"readings": readings}) as response,
    ):
        assert response.status == 200, await response.text()
    return times


async def test_the_station_page(service: RunningService, browser: Browser, tmp_path: Path) -> None:
    times = await send_readings(service)
    context = await logged_in_context(browser, service, Role.VIEWER, 1400, 1000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # From the wall's station table.
    await page.goto(f"{service.url}/wall")
    link = page.locator("[data-station-id='AIR-1'] [data-testid='station-page-link']")
    await expect(link).to_have_attribute("href", "/stations/AIR-1", timeout=15_000)
    await link.click()
    await page.wait_for_url("**/stations/AIR-1")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)
    await expect(page.locator("[data-testid='station-title']")).to_have_text("Air one (AIR-1)")

    # The PM2.5 chart and its limits: the 24 h mean's 45 and the instant 100.
    chart = page.locator("[data-testid='chart-pm25']")
    await expect(chart).to_have_count(1)
    limits = chart.locator("[data-testid='limit-line']")
    await expect(limits).to_have_count(2)
    assert sorted([await x.get_attribute("data-value") for x in await limits.all()]) == [
        "100",
        "45",
    ]
    assert int(await chart.get_attribute("data-points") or 0) > 60

    # The hourly VN_AQI over the colour bands it reaches (the scale goes to at least 100),
    # and the daily AQI (today so far, or yesterday).
    bands = page.locator("[data-testid='aqi-band']")
    assert await bands.count() >= 2
    await expect(bands.first).to_have_attribute("fill", "#00e400")
    await expect(bands.nth(1)).to_have_attribute("fill", "#ffff00")
    assert await page.locator("[data-testid='aqi-point']").count() >= 20
    assert await page.locator("[data-testid='aqi-day']").count() >= 1

    # The alert of the spike (the existing alerts API, filtered by the station).
    # (the spike may also be flagged by an anomaly rule)
    alert = page.locator("[data-testid='station-alert']").filter(has_text="PM2.5 instant")
    await expect(alert).to_have_count(1, timeout=10_000)
    await expect(alert).to_contain_text("Nghiêm trọng")  # Vietnamese by default

    # The CSV of the period: every reading of the last 24 hours.
    csv_link = page.locator("[data-testid='station-csv']")
    href = await csv_link.get_attribute("href") or ""
    assert href.startswith("/api/v1/stations/AIR-1/export?start=") and href.endswith("&lang=vi")
    async with page.expect_download() as download_info:
        await csv_link.click()
    download = await download_info.value
    assert download.suggested_filename.startswith("AIR-1-")
    saved = tmp_path / "export.csv"
    await download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    # the readings 20 min, 40 min ... 24 h before the test's now, less the oldest when the
    # page's now (the range's end) is later than the test's
    per_day = 24 * HOUR_S // STEP_S
    assert len(rows) - 1 in (per_day - 1, per_day) and len(times) > per_day
    pm25 = rows[0].index("pm25 trạng thái") - 1
    assert sorted({float(row[pm25]) for row in rows[1:]}) == [30.0, 150.0]

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "station-page.png"), full_page=True)

    # Another period, in local time: the five hours around the spike.
    await page.locator("[data-testid='lang-en']").click()
    await expect(page.locator("h3").nth(2)).to_have_text("Alert history")
    end = await page.locator("[data-testid='range-end']").input_value()
    hour = int(end[11:13])
    start = f"{end[:11]}{max(hour - 5, 0):02d}:00"
    await page.locator("[data-testid='range-start']").fill(start)
    await page.locator("[data-testid='range-load']").click()
    await expect(page).to_have_url(re.compile(re.escape(f"start={start.replace(':', '%3A')}")))
    await expect(page.locator("[data-testid='station-period']")).to_contain_text("Vietnam time")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await page.screenshot(path=str(ARTIFACTS / "station-page-range-en.png"), full_page=True)
    assert errors == []


async def test_the_printable_daily_report(service: RunningService, browser: Browser) -> None:
    context = await logged_in_context(browser, service, Role.OFFICER, 1400, 1000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{service.url}/reports/daily")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)
    await expect(page.locator("[data-testid='daily-station']")).to_have_count(3)
    day = await page.locator("[data-testid='daily-date']").input_value()
    await expect(page.locator("[data-testid='daily-xlsx']")).to_have_attribute(
        "href", f"/api/v1/reports/daily?format=xlsx&day={day}&lang=vi"
    )
    async with page.expect_download() as download_info:
        await page.locator("[data-testid='daily-csv']").click()
    assert (await download_info.value).suggested_filename == f"bao-cao-ngay-{day}.csv"
    await page.locator("[data-testid='lang-en']").click()
    await expect(page.locator("h1")).to_have_text("Daily provincial report")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "daily-report.png"), full_page=True)
    assert errors == []
