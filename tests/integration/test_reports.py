"""Monthly reports and the portal's alerts against the real service (Mosquitto, InfluxDB):
the JSON answer validated by its model, the CSV parsed, the XLSX opened with openpyxl, who may
ask for which report (another enterprise's: 403, audited), and in Chromium the portal showing
an enterprise its own open alert and not another enterprise's."""

from __future__ import annotations

import copy
import csv
import io
import json
import time
from datetime import datetime
from typing import Any

import openpyxl
import pytest
import yaml
from playwright.async_api import Browser, expect

from ioc.accounts import Role
from ioc.clock import LOCAL_TZ
from ioc.config import IocConfig
from tests.factories import REGISTRY_DOC
from tests.integration.conftest import (
    ARTIFACTS,
    TEST_USERS,
    RunningService,
    eventually,
    logged_in_context,
)
from web.monthly_report import MonthlyReport
from web.portal_api import PortalAlerts

REPORT = "/api/v1/reports/monthly"
PORTAL_REPORT = "/api/v1/portal/reports/monthly"
PORTAL_ALERTS = "/api/v1/portal/alerts"
STATION_OF_B = {
    "id": "STK-B",
    "name": "Stack of B",
    "kind": "stack",
    "owner": "ENT-B",
    "lat": 11.7,
    "lon": 108.2,
    "parameters": "stack",
    "interval_s": 60,
}


@pytest.fixture
def config(config: IocConfig) -> IocConfig:
    """The shared test configuration, with a station of enterprise ENT-B."""
    document = copy.deepcopy(REGISTRY_DOC)
    document["stations"].append(STATION_OF_B)
    config.registry.write_text(yaml.safe_dump(document, allow_unicode=True))
    return config


async def get(
    service: RunningService, path: str, role: Role = Role.ENTERPRISE
) -> tuple[int, Any, bytes]:
    async with service.http(role) as http, http.get(f"{service.url}{path}") as response:
        return response.status, response.headers, await response.read()


async def post_readings(service: RunningService, readings: list[dict[str, Any]]) -> Any:
    async with (
        service.http(Role.ADMIN) as http,
        http.post(f"{service.url}/api/v1/ingest", json={"readings": readings}) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


def local_month(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, LOCAL_TZ).strftime("%Y-%m")


async def test_the_enterprise_s_report_as_json_csv_and_xlsx(service: RunningService) -> None:
    now = time.time()
    times = [now - 300, now - 240, now - 180]
    month = local_month(times[0])
    readings = [
        {"station_id": "STK-1", "ts": times[0], "values": {"dust": 40.0}},
        {"station_id": "STK-1", "ts": times[1], "values": {"dust": 41.0}, "status": {"dust": 1}},
        {"station_id": "STK-1", "ts": times[2], "values": {"dust": 42.0}, "status": {"dust": "02"}},
    ]
    assert (await post_readings(service, readings))["accepted_readings"] == 3
    in_month = [local_month(ts) == month for ts in times]

    async def counted() -> MonthlyReport | None:
        status, _, body = await get(service, f"{PORTAL_REPORT}?month={month}")
        assert status == 200, body
        report = MonthlyReport.model_validate_json(body)
        return report if report.stations[0].received == sum(in_month) else None

    report: MonthlyReport = await eventually(counted)  # type: ignore[assignment]
    assert (report.scope, report.enterprise, report.month) == ("enterprise", "ENT-A", month)
    assert [s.id for s in report.stations] == ["STK-1"]  # its own station only
    stack = report.stations[0]
    assert (stack.valid, stack.calibrating, stack.device_error) == tuple(
        int(flag) for flag in in_month
    )
    assert stack.expected >= stack.received and stack.interval_s == 60

    status, headers, body = await get(service, f"{PORTAL_REPORT}?month={month}&format=csv")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert f'filename="bao-cao-{month}-ENT-A.csv"' in headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["# Trạm"] and rows[2][0] == "STK-1"
    assert rows[2][rows[1].index("Số bản ghi nhận được")] == str(stack.received)

    status, headers, body = await get(service, f"{PORTAL_REPORT}?month={month}&format=xlsx&lang=en")
    assert status == 200 and "spreadsheetml" in headers["Content-Type"]
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["Stations", "Days", "Exceedances", "Data gaps"]
    heads, first = list(book["Stations"].iter_rows(values_only=True))[:2]
    assert first[0] == "STK-1" and first[heads.index("Records received")] == stack.received

    assert (await get(service, f"{PORTAL_REPORT}?month=2026-13"))[0] == 400
    assert (await get(service, f"{PORTAL_REPORT}?format=pdf"))[0] == 400


async def test_who_may_have_which_report(service: RunningService) -> None:
    # Enterprise A asking for B's report: refused and audited.
    status, _, body = await get(service, f"{PORTAL_REPORT}?enterprise=ENT-B")
    assert status == 403 and b"ENT-B" in body
    assert (await get(service, f"{PORTAL_ALERTS}?enterprise=ENT-B"))[0] == 403
    # The officers' report is not the enterprise's, nor a wall viewer's.
    assert (await get(service, REPORT))[0] == 403
    assert (await get(service, REPORT, Role.VIEWER))[0] == 403
    assert (await get(service, f"{PORTAL_REPORT}", Role.OFFICER))[0] == 403

    status, _, body = await get(service, f"{PORTAL_REPORT}?enterprise=ENT-B", Role.ADMIN)
    assert status == 200 and MonthlyReport.model_validate_json(body).enterprise == "ENT-B"
    status, _, body = await get(service, REPORT, Role.OFFICER)
    province = MonthlyReport.model_validate_json(body)
    assert status == 200 and province.scope == "province"
    assert {s.id for s in province.stations} == {"AIR-1", "AIR-2", "STK-1", "STK-B"}
    assert {o.id for o in province.owners} == {"ENT-A", "ENT-B", "state"}
    status, _, body = await get(service, f"{REPORT}?enterprise=ENT-B&format=csv", Role.OFFICER)
    assert status == 200 and "STK-B" in body.decode("utf-8-sig")
    assert (await get(service, f"{REPORT}?enterprise=NOPE", Role.OFFICER))[0] == 400

    status, _, body = await get(service, "/api/v1/audit?action=access&outcome=denied", Role.ADMIN)
    denied = [e for e in json.loads(body)["entries"] if e["actor"] == TEST_USERS[Role.ENTERPRISE]]
    refused = next(e for e in denied if e["target"].startswith(f"GET {PORTAL_REPORT}"))
    assert refused["detail"]["enterprise"] == "ENT-B"


async def raise_dust_alerts(service: RunningService) -> None:
    """Dust above the `dust` rule's limit (200) at STK-1 (ENT-A) and STK-B (ENT-B)."""
    ts = time.time() - 30
    await post_readings(
        service,
        [
            {"station_id": "STK-1", "ts": ts, "values": {"dust": 250.0}},
            {"station_id": "STK-B", "ts": ts, "values": {"dust": 330.0}},
        ],
    )

    async def both_open() -> bool:
        status, _, body = await get(service, PORTAL_ALERTS, Role.ADMIN)
        assert status == 200
        return {a.station_id for a in PortalAlerts.model_validate_json(body).open} == {
            "STK-1",
            "STK-B",
        }

    await eventually(both_open)


async def test_the_portal_api_lists_only_the_enterprise_s_alerts(
    service: RunningService,
) -> None:
    await raise_dust_alerts(service)
    status, _, body = await get(service, PORTAL_ALERTS)
    answer = PortalAlerts.model_validate_json(body)
    assert status == 200 and answer.enterprise == "ENT-A"
    assert [(a.station_id, a.rule_id, a.state) for a in answer.open] == [("STK-1", "dust", "open")]
    assert [a.station_id for a in answer.history] == ["STK-1"]
    status, _, body = await get(service, f"{PORTAL_ALERTS}?enterprise=ENT-B", Role.ADMIN)
    assert [a.station_id for a in PortalAlerts.model_validate_json(body).open] == ["STK-B"]
    # The exceedance is in the month's report, with its peak.
    status, _, body = await get(service, PORTAL_REPORT)
    (dust,) = MonthlyReport.model_validate_json(body).exceedances
    assert dust.parameter == "dust" and dust.events[0].peak == 250.0 and dust.events[0].ongoing


async def test_the_portal_page_shows_the_enterprise_its_own_open_alert(
    service: RunningService, browser: Browser
) -> None:
    await raise_dust_alerts(service)
    context = await logged_in_context(browser, service, Role.ENTERPRISE, 1400, 1000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{service.url}/portal")

    mine = page.locator("[data-testid='portal-open-alert']")
    await expect(mine).to_have_count(1, timeout=15_000)
    await expect(mine).to_have_attribute("data-station-id", "STK-1")
    await expect(mine).to_contain_text("Dust")
    await expect(mine).to_contain_text("Đang mở")  # Vietnamese by default
    theirs = page.locator("[data-station-id='STK-B']")
    await expect(theirs).to_have_count(0)
    await expect(page.locator("body")).not_to_contain_text("STK-B")

    # The month's report: the station, the exceedance, and the download links.
    station = page.locator("[data-testid='report-station'][data-station-id='STK-1']")
    await expect(station).to_have_count(1, timeout=15_000)
    await expect(page.locator("[data-testid='report-exceedances']")).to_have_attribute(
        "data-parameter", "dust"
    )
    month = local_month(time.time())
    await expect(page.locator("[data-testid='report-csv']")).to_have_attribute(
        "href", f"{PORTAL_REPORT}?month={month}&format=csv&lang=vi"
    )
    await expect(page.locator("[data-testid='report-xlsx']")).to_have_attribute(
        "href", f"{PORTAL_REPORT}?month={month}&format=xlsx&lang=vi"
    )
    async with page.expect_download() as download_info:
        await page.locator("[data-testid='report-xlsx']").click()
    download = await download_info.value
    assert download.suggested_filename == f"bao-cao-{month}-ENT-A.xlsx"

    await page.locator("[data-testid='lang-en']").click()
    await expect(mine).to_contain_text("Open")
    await expect(page.locator("[data-testid='report-csv']")).to_contain_text("Download CSV")

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "portal-alerts-report.png"), full_page=True)
    assert errors == []


async def test_the_printable_report_page(service: RunningService, browser: Browser) -> None:
    await raise_dust_alerts(service)
    context = await logged_in_context(browser, service, Role.OFFICER, 1400, 1000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{service.url}/reports/monthly?lang=en")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=15_000)
    await expect(page.locator("[data-testid='report-scope']")).to_contain_text("Whole province")
    await expect(page.locator("[data-testid='report-station']")).to_have_count(4)
    events = page.locator("[data-testid='report-exceedances'][data-parameter='dust'] tbody tr")
    await expect(events).to_have_count(2)
    await page.locator("[data-testid='lang-vi']").click()
    await expect(page.locator("[data-testid='report-scope']")).to_contain_text("Toàn tỉnh")
    await page.screenshot(path=str(ARTIFACTS / "report-province.png"), full_page=True)

    # An enterprise's printable page is its own report; the officers' page is not for it.
    enterprise = await logged_in_context(browser, service, Role.ENTERPRISE, 1200, 900)
    own = await enterprise.new_page()
    await own.goto(f"{service.url}/portal/report")
    await expect(own.locator("[data-testid='report-scope']")).to_contain_text("ENT-A")
    await expect(own.locator("[data-testid='report-station']")).to_have_count(1)
    response = await own.goto(f"{service.url}/reports/monthly")
    assert response is not None and response.status == 403
    assert errors == []
