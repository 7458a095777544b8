"""The officer console in a real headless Chromium (Debian's), against the real service: an
officer logs in, tunes a rule's threshold with live validation, previews it on stored
history, saves it, and the wall shows the alert the new threshold raises. A screenshot of the
preview is kept in conftest.ARTIFACTS (outside the checkout)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, expect

from ioc.accounts import Role
from tests.factories import payload
from tests.integration.conftest import (
    ARTIFACTS,
    TEST_PASSWORD,
    TEST_USERS,
    RunningService,
    eventually,
    logged_in_context,
)
from tests.integration.test_end_to_end import publish

RULE = "pm25_instant"  # tests.factories.TEST_RULES: pm25 above 100, clear_at 80, critical
WAIT_MS = 15_000
#: History of AIR-1 between 6 and 2 days ago, every 4 hours: pm25 55 and 20 in turn. The
#: test rule (above 100) never fires on it; above 40 it fires at every 55. Sparse enough
#: that the 24 h rule (which needs 75 % of a day's hours) never fires either.
HISTORY_POINTS = 24
HISTORY_HIGHS = HISTORY_POINTS // 2


async def new_context(browser: Browser) -> BrowserContext:
    context = await browser.new_context(viewport={"width": 1600, "height": 1100})
    context.set_default_timeout(WAIT_MS)
    return context


def watch_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


async def log_in_through_the_form(page: Page, role: Role = Role.OFFICER) -> None:
    await page.get_by_test_id("login-username").fill(TEST_USERS[role])
    await page.get_by_test_id("login-password").fill(TEST_PASSWORD)
    await page.get_by_test_id("login-submit").click()


async def open_console(browser: Browser, service: RunningService, role: Role) -> Page:
    """The console, logged in with the session cookie of the test user of ``role``."""
    context = await logged_in_context(browser, service, role, 1600, 1100)
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto(f"{service.url}/console")
    await page.wait_for_selector("body[data-ready='true']")
    return page


async def open_rule(page: Page, rule_id: str) -> None:
    row = page.locator(f"[data-testid='rule-row'][data-rule-id='{rule_id}']")
    await row.get_by_test_id("rule-edit").click()
    await expect(page.get_by_test_id("rule-editor")).to_have_attribute("data-rule-id", rule_id)
    await expect(page.get_by_test_id("rule-validity")).to_have_attribute("data-state", "valid")


async def seed_history(service: RunningService) -> None:
    """AIR-1 (and a quiet AIR-2) over the past days, through HTTP ingest, until stored."""
    start = datetime.now(UTC) - timedelta(days=6)
    readings = []
    for i in range(HISTORY_POINTS):
        ts = (start + timedelta(hours=4 * i)).isoformat()
        pm25 = 55 if i % 2 == 0 else 20
        readings.append({"station_id": "AIR-1", "ts": ts, "values": {"pm25": pm25, "pm10": 20}})
        readings.append({"station_id": "AIR-2", "ts": ts, "values": {"pm25": 12, "pm10": 20}})
    async with service.http(Role.ADMIN) as http:
        async with http.post(
            f"{service.url}/api/v1/ingest", json={"readings": readings}
        ) as response:
            answer = await response.json()
        assert response.status == 200, answer
        assert answer["rejected"] == [] and answer["accepted_readings"] == len(readings)
        since = (start - timedelta(minutes=1)).isoformat()

        async def stored() -> bool:
            for station in ("AIR-1", "AIR-2"):
                async with http.get(
                    f"{service.url}/api/v1/readings",
                    params={"station": station, "since": since, "limit": "1000"},
                ) as response:
                    if len((await response.json())["readings"]) < HISTORY_POINTS:
                        return False
            return True

        await eventually(stored, within_s=15)


async def rule_in_force(service: RunningService, rule_id: str) -> dict[str, Any]:
    async with (
        service.http(Role.ADMIN) as http,
        http.get(f"{service.url}/api/v1/config/rules/{rule_id}") as response,
    ):
        assert response.status == 200
        return dict(await response.json())


async def test_an_officer_tunes_a_threshold_previews_it_and_the_wall_alerts(
    service: RunningService, browser: Browser
) -> None:
    await seed_history(service)
    before = await rule_in_force(service, RULE)

    context = await new_context(browser)
    page = await context.new_page()
    errors = watch_errors(page)
    await page.goto(f"{service.url}/console")
    assert re.search(r"/login\?next=(%2F|/)console$", page.url), page.url
    await log_in_through_the_form(page)
    await page.wait_for_url(re.compile(r"/console"))
    await page.wait_for_selector("body[data-ready='true']")
    await expect(page.get_by_test_id("current-user")).to_contain_text(TEST_USERS[Role.OFFICER])
    await expect(page.get_by_test_id("tab-audit")).to_be_hidden()  # officers: no audit log

    row = page.locator(f"[data-testid='rule-row'][data-rule-id='{RULE}']")
    await expect(row).to_contain_text("pm25")
    await open_rule(page, RULE)
    above = page.get_by_test_id("rule-field-above")
    await expect(above).to_have_value("100")

    # 40 alone is invalid (clear_at is still 80): the problem shows at clear_at, no saving.
    await above.fill("40")
    clear_error = page.locator("[data-testid='field-error'][data-field='clear_at']")
    await expect(clear_error).to_contain_text("80")
    await expect(page.get_by_test_id("rule-save")).to_be_disabled()
    await page.get_by_test_id("rule-field-clear_at").fill("35")
    await expect(clear_error).to_have_count(0)
    await expect(page.get_by_test_id("rule-validity")).to_have_attribute("data-state", "valid")
    await expect(page.get_by_test_id("rule-save")).to_be_enabled()

    await page.get_by_test_id("preview-days").select_option("7")
    await page.get_by_test_id("preview-run").click()
    count = page.get_by_test_id("preview-count")
    await expect(count).to_have_attribute("data-count", re.compile(r"^\d+$"))
    assert int(await count.inner_text()) == HISTORY_HIGHS
    air1 = page.locator("[data-testid='preview-station-row'][data-station-id='AIR-1']")
    await expect(air1.get_by_test_id("preview-station-count")).to_have_text(str(HISTORY_HIGHS))
    air2 = page.locator("[data-testid='preview-station-row'][data-station-id='AIR-2']")
    await expect(air2.get_by_test_id("preview-station-count")).to_have_text("0")
    chart = page.get_by_test_id("preview-chart")
    await expect(chart).to_have_attribute("data-station", "AIR-1")
    await expect(chart).to_have_attribute("data-points", str(HISTORY_POINTS))
    await expect(chart.get_by_test_id("preview-threshold")).to_have_attribute("data-value", "40")
    await expect(chart.get_by_test_id("preview-event")).to_have_count(HISTORY_HIGHS)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "console-preview.png"), full_page=True)

    # Nothing is in force until saved.
    assert (await rule_in_force(service, RULE))["item"]["above"] == 100
    await page.get_by_test_id("rule-save").click()
    await expect(page.get_by_test_id("save-status")).to_have_attribute("data-state", "ok")
    saved = await rule_in_force(service, RULE)
    assert (saved["item"]["above"], saved["item"]["clear_at"]) == (40, 35)
    assert saved["version"] > before["version"]
    await expect(page.get_by_test_id("rule-version")).to_contain_text(str(saved["version"]))
    await expect(row.get_by_test_id("rule-levels")).to_contain_text("40")
    history = page.locator("[data-testid='rule-history'] [data-testid='history-row']")
    await expect(history.first.get_by_test_id("history-diff")).to_contain_text("100 → 40")

    # A reading above the new threshold (and below the old one) alerts on the wall.
    wall = await context.new_page()
    wall_errors = watch_errors(wall)
    await wall.goto(f"{service.url}/wall")
    await wall.wait_for_selector("body[data-connected='true']")
    alert = wall.locator("[data-testid='alert-row'][data-station-id='AIR-1']").filter(
        has_text="PM2.5 instant"
    )
    await expect(alert).to_have_count(0)
    await publish(service, "AIR-1", payload({"pm25": 55, "pm10": 20}))
    await expect(alert).to_be_visible()
    await expect(alert).to_have_attribute("data-severity", "critical")
    await expect(alert).to_contain_text("55")
    assert errors == [] and wall_errors == []
    await context.close()


async def test_an_invalid_edit_is_shown_at_its_field_and_not_saved(
    service: RunningService, browser: Browser
) -> None:
    page = await open_console(browser, service, Role.OFFICER)
    errors = watch_errors(page)
    await open_rule(page, RULE)
    await page.get_by_test_id("rule-field-clear_at").fill("150")  # above the threshold, 100
    problem = page.locator("[data-testid='field-error'][data-field='clear_at']")
    await expect(problem).to_contain_text("must be <= above 100")
    save = page.get_by_test_id("rule-save")
    await expect(save).to_be_disabled()
    await expect(page.get_by_test_id("rule-validity")).to_have_attribute("data-state", "invalid")

    # A field the server checks alone: its own path.
    await page.get_by_test_id("rule-field-clear_at").fill("80")
    await page.get_by_test_id("rule-field-min_duration_s").fill("-5")
    duration = page.locator("[data-testid='field-error'][data-field='min_duration_s']")
    await expect(duration).to_contain_text("greater than or equal to 0")
    await expect(problem).to_have_count(0)
    await expect(save).to_be_disabled()
    # Forcing the click anyway is refused before anything is sent.
    await save.dispatch_event("click")
    await expect(page.get_by_test_id("save-status")).to_have_attribute("data-state", "invalid")
    in_force = await rule_in_force(service, RULE)
    assert "min_duration_s" not in in_force["item"]
    assert [c["action"] for c in in_force["history"]] == ["seed"]
    assert errors == []


async def test_a_rule_changed_meanwhile_is_a_conflict_not_an_overwrite(
    service: RunningService, browser: Browser
) -> None:
    page = await open_console(browser, service, Role.OFFICER)
    await open_rule(page, RULE)
    await page.get_by_test_id("rule-field-name").fill("PM2.5 tức thời")

    current = await rule_in_force(service, RULE)
    async with (
        service.http(Role.ADMIN) as http,
        http.put(
            f"{service.url}/api/v1/config/rules/{RULE}",
            json={"item": {**current["item"], "above": 90}, "version": current["version"]},
        ) as response,
    ):
        assert response.status == 200

    await expect(page.get_by_test_id("rule-validity")).to_have_attribute("data-state", "valid")
    await page.get_by_test_id("rule-save").click()
    status = page.get_by_test_id("save-status")
    await expect(status).to_have_attribute("data-state", "conflict")
    assert (await rule_in_force(service, RULE))["item"]["name"] == "PM2.5 instant"
    await status.get_by_test_id("conflict-reload").click()
    await expect(page.get_by_test_id("rule-field-above")).to_have_value("90")


async def test_a_viewer_is_refused_the_console(service: RunningService, browser: Browser) -> None:
    context = await logged_in_context(browser, service, Role.VIEWER, 1600, 1100)
    page = await context.new_page()
    response = await page.goto(f"{service.url}/console")
    assert response is not None and response.status == 403
    assert "403" in await page.locator("body").inner_text()
    await context.close()


async def test_the_login_page_explains_a_wrong_password_and_ignores_a_foreign_next(
    service: RunningService, browser: Browser
) -> None:
    context = await new_context(browser)
    page = await context.new_page()
    errors = watch_errors(page)
    await page.goto(f"{service.url}/login?next=//evil.example/console&lang=en")
    await expect(page.get_by_test_id("login-submit")).to_have_text("Log in")
    await page.get_by_test_id("login-username").fill(TEST_USERS[Role.OPERATOR])
    await page.get_by_test_id("login-password").fill("not the password")
    await page.get_by_test_id("login-submit").click()
    await expect(page.get_by_test_id("login-error")).to_have_text("Wrong user name or password.")
    await page.get_by_test_id("lang-vi").click()
    await expect(page.get_by_test_id("login-error")).to_contain_text("Sai tên đăng nhập")

    await log_in_through_the_form(page, Role.OPERATOR)
    # "/" (the operator's home, the wall), not evil.example
    await page.wait_for_url(re.compile(re.escape(service.url) + r"/wall"))
    assert errors == []
    await context.close()


async def test_an_admin_edits_a_station_and_reads_the_audit_log(
    service: RunningService, browser: Browser
) -> None:
    page = await open_console(browser, service, Role.ADMIN)
    errors = watch_errors(page)
    await page.get_by_test_id("tab-stations").click()
    await expect(page.get_by_test_id("station-readonly")).to_be_hidden()
    row = page.locator("[data-testid='station-row'][data-station-id='AIR-2']")
    await row.get_by_test_id("station-edit").click()
    lat = page.get_by_test_id("station-field-lat")
    await expect(lat).to_be_enabled()
    await lat.fill("100")
    problem = page.locator("[data-testid='field-error'][data-field='lat']")
    await expect(problem).to_contain_text("less than or equal to 90")
    await expect(page.get_by_test_id("station-save")).to_be_disabled()
    await lat.fill("11.96")
    await expect(problem).to_have_count(0)
    await page.get_by_test_id("station-field-name").fill("Trạm Đà Lạt 2")
    await page.get_by_test_id("station-save").click()
    await expect(page.get_by_test_id("station-status")).to_have_attribute("data-state", "ok")
    await expect(row).to_contain_text("Trạm Đà Lạt 2")
    async with (
        service.http(Role.ADMIN) as http,
        http.get(f"{service.url}/api/v1/config/stations/AIR-2") as response,
    ):
        item = (await response.json())["item"]
    assert (item["name"], item["lat"]) == ("Trạm Đà Lạt 2", 11.96)

    await page.get_by_test_id("tab-audit").click()
    await page.get_by_test_id("audit-action").fill("station.update")
    await page.get_by_test_id("audit-refresh").click()
    entries = page.get_by_test_id("audit-row")
    await expect(entries).to_have_count(1)
    await expect(entries.first).to_contain_text(TEST_USERS[Role.ADMIN])
    assert errors == []


async def test_an_officer_reads_stations_manages_silences_and_rolls_back(
    service: RunningService, browser: Browser
) -> None:
    page = await open_console(browser, service, Role.OFFICER)
    errors = watch_errors(page)
    await page.get_by_test_id("tab-stations").click()
    await expect(page.get_by_test_id("station-readonly")).to_be_visible()
    await page.locator("[data-testid='station-row'][data-station-id='AIR-1']").click()
    await expect(page.get_by_test_id("station-field-name")).to_have_value("Air one")
    await expect(page.get_by_test_id("station-field-name")).to_be_disabled()
    await expect(page.get_by_test_id("station-save")).to_be_hidden()

    await page.get_by_test_id("tab-silences").click()
    await page.get_by_test_id("silence-station").select_option("AIR-1")
    await page.get_by_test_id("silence-rule").select_option(RULE)
    await page.get_by_test_id("silence-reason").fill("hiệu chuẩn thiết bị")
    await page.get_by_test_id("silence-add").click()
    silence = page.locator("[data-testid='silence-row'][data-station-id='AIR-1']")
    await expect(silence).to_contain_text("hiệu chuẩn thiết bị")
    await expect(silence).to_contain_text(TEST_USERS[Role.OFFICER])
    remove = silence.get_by_test_id("silence-remove")
    await remove.click()
    await remove.click()  # the second click confirms
    await expect(silence).to_have_count(0)

    # A change made elsewhere, rolled back from the History tab.
    current = await rule_in_force(service, RULE)
    async with (
        service.http(Role.ADMIN) as http,
        http.put(
            f"{service.url}/api/v1/config/rules/{RULE}",
            json={"item": {**current["item"], "above": 120}},
        ) as response,
    ):
        change_id = (await response.json())["id"]
    await page.get_by_test_id("tab-history").click()
    change = page.locator(f"[data-testid='history-row'][data-change-id='{change_id}']")
    await expect(change.get_by_test_id("history-diff")).to_contain_text("100 → 120")
    rollback = change.get_by_test_id("history-rollback")
    await rollback.click()
    await rollback.click()
    rolled = page.locator("[data-testid='history-row']").first
    await expect(rolled.get_by_test_id("history-diff")).to_contain_text("120 → 100")
    assert (await rule_in_force(service, RULE))["item"]["above"] == 100
    assert errors == []


async def test_the_login_page_shows_a_lockout_with_its_retry_time(
    service: RunningService, browser: Browser
) -> None:
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(f"{service.url}/login?next=/console")
    error = page.get_by_test_id("login-error")
    attempts = service.config.access.max_login_failures + 1
    for _ in range(attempts):
        await page.get_by_test_id("login-username").fill(TEST_USERS[Role.OFFICER])
        await page.get_by_test_id("login-password").fill("not the password")
        await page.get_by_test_id("login-submit").click()
        await expect(error).to_have_attribute("data-kind", re.compile("wrong|locked"))
        if await error.get_attribute("data-kind") == "locked":
            break
    await expect(error).to_have_attribute("data-kind", "locked")
    await expect(error).to_contain_text(re.compile(r"Thử lại sau \d+ giây"))
    retry = int(await error.get_attribute("data-retry-after") or 0)
    assert 0 < retry <= service.config.access.lockout_s
    await expect(page.get_by_test_id("login-submit")).to_be_disabled()
    await context.close()


async def test_an_officer_creates_a_rule_and_deletes_it(
    service: RunningService, browser: Browser
) -> None:
    page = await open_console(browser, service, Role.OFFICER)
    errors = watch_errors(page)
    await page.get_by_test_id("rule-new").click()
    await page.get_by_test_id("rule-field-id").fill("pm25_instant")
    taken = page.locator("[data-testid='field-error'][data-field='id']")
    await expect(taken).to_be_visible()  # an existing id: not overwritten
    await page.get_by_test_id("rule-field-id").fill("pm10_instant")
    await page.get_by_test_id("rule-field-name").fill("PM10 tức thời")
    await page.get_by_test_id("rule-field-parameter").fill("pm10")
    await page.get_by_test_id("rule-field-above").fill("150")
    await expect(page.get_by_test_id("rule-validity")).to_have_attribute("data-state", "valid")
    await page.get_by_test_id("rule-save").click()
    await expect(page.get_by_test_id("save-status")).to_have_attribute("data-state", "ok")
    row = page.locator("[data-testid='rule-row'][data-rule-id='pm10_instant']")
    await expect(row).to_contain_text("> 150")
    assert (await rule_in_force(service, "pm10_instant"))["item"]["above"] == 150

    delete = page.get_by_test_id("rule-delete")
    await delete.click()
    await delete.click()  # the second click confirms
    await expect(row).to_have_count(0)
    await expect(page.get_by_test_id("rule-editor")).to_be_hidden()
    async with (
        service.http(Role.ADMIN) as http,
        http.get(f"{service.url}/api/v1/config/rules/pm10_instant") as response,
    ):
        assert response.status == 404
    assert errors == []


async def test_an_officer_tunes_an_anomaly_rule_and_silences_it(
    service: RunningService, browser: Browser
) -> None:
    """Issue #14: the built-in anomaly and camera rules are listed with the limit rules, an
    edit is refused at its field or saved as a new version, and they can be silenced."""
    page = await open_console(browser, service, Role.OFFICER)
    errors = watch_errors(page)
    spike = page.locator("[data-testid='detector-row'][data-rule-id='anomaly.spike']")
    await expect(spike).to_contain_text("Giá trị đột biến")
    for rule_id in ("anomaly.sensor_fault", "anomaly.pollution_event", "camera.smoke"):
        await expect(
            page.locator(f"[data-testid='detector-row'][data-rule-id='{rule_id}']")
        ).to_be_visible()

    await spike.click()
    editor = page.get_by_test_id("detector-editor")
    await expect(editor).to_have_attribute("data-rule-id", "anomaly.spike")
    threshold = page.get_by_test_id("detector-field-zscore_threshold")
    await expect(threshold).to_have_value("8")
    await threshold.fill("-3")
    await threshold.dispatch_event("change")
    await page.get_by_test_id("detector-save").click()
    problem = page.locator("[data-testid='detector-problem'][data-field='zscore_threshold']")
    await expect(problem).to_be_visible()
    assert await spike.get_attribute("data-version") == "0"  # nothing saved

    threshold = page.get_by_test_id("detector-field-zscore_threshold")
    await threshold.fill("12")
    await threshold.dispatch_event("change")
    await page.get_by_test_id("detector-backtest-run").click()  # what 12 would have raised
    await expect(page.get_by_test_id("detector-backtest")).to_contain_text(
        "Với các giá trị trên, 7 ngày qua:", timeout=15_000
    )
    await expect(page.locator("[data-testid='detector-problem']")).to_have_count(0)
    threshold = page.get_by_test_id("detector-field-zscore_threshold")
    await threshold.fill("12")
    await threshold.dispatch_event("change")
    await page.get_by_test_id("detector-field-severity").select_option("warning")
    await page.get_by_test_id("detector-save").click()
    await expect(spike).not_to_have_attribute("data-version", "0")
    await expect(page.get_by_test_id("detector-version")).not_to_contain_text("mặc định")
    async with (
        service.http(Role.OFFICER) as http,
        http.get(f"{service.url}/api/v1/config/detector-rules/anomaly.spike") as response,
    ):
        stored = await response.json()
    assert stored["item"] == {"zscore_threshold": 12, "severity": "warning"}
    assert stored["history"][0]["actor"] == TEST_USERS[Role.OFFICER]

    await page.get_by_test_id("tab-history").click()
    await page.get_by_test_id("history-kind").select_option("detector")
    change = page.locator("[data-testid='history-row']").first
    await expect(change).to_contain_text("anomaly.spike")
    await page.get_by_test_id("tab-rules").click()

    await page.locator("[data-testid='detector-row'][data-rule-id='camera.smoke']").click()
    await expect(page.get_by_test_id("detector-backtest-run")).to_be_hidden()
    await expect(page.get_by_test_id("detector-backtest")).to_contain_text("không chạy thử được")

    await page.get_by_test_id("lang-en").click()
    await expect(spike).to_contain_text("Spike")
    await page.get_by_test_id("tab-silences").click()
    await page.get_by_test_id("silence-rule").select_option("anomaly.sensor_fault")
    option = page.locator("[data-testid='silence-rule'] option[value='anomaly.sensor_fault']")
    await expect(option).to_contain_text("Suspected sensor fault")
    await page.get_by_test_id("silence-reason").fill("PM2.5 sensor being replaced")
    await page.get_by_test_id("silence-add").click()
    await expect(page.locator("[data-testid='silence-row']")).to_contain_text(
        "anomaly.sensor_fault"
    )
    assert errors == []
