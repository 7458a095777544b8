"""The wall in a real headless Chromium (Debian's), against the real service: an alert
appears after an MQTT publish, is acknowledged from the wall, and a screenshot is kept in
the artifacts directory (tests.integration.conftest.ARTIFACTS)."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Browser, Page, expect

from ioc import appkeys
from ioc.accounts import Role
from ioc.messages import RuleTransition, Severity
from tests.factories import now_ms, payload
from tests.integration.conftest import ARTIFACTS, TEST_USERS, RunningService, logged_in_context
from tests.integration.test_end_to_end import publish


async def open_wall(
    browser: Browser, service: RunningService, path: str, role: Role = Role.OPERATOR
) -> Page:
    """The page at ``path``, logged in (session cookie) as the test user of ``role``."""
    context = await logged_in_context(browser, service, role, 1600, 900)
    page = await context.new_page()
    url = f"{service.url}{path}"
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(url)
    await page.wait_for_selector("body[data-connected='true']", timeout=15_000)
    assert errors == []
    return page


async def test_an_alert_appears_live_and_is_acknowledged_from_the_wall(
    service: RunningService, browser: Browser
) -> None:
    page = await open_wall(browser, service, "/wall")
    assert await page.locator("[data-testid='station-marker']").count() == 3
    assert await page.title() != ""

    await publish(service, "STK-1", payload({"dust": 333.3}))
    row = page.locator("[data-testid='alert-row'][data-station-id='STK-1']")
    await row.wait_for(timeout=10_000)
    assert await row.get_attribute("data-severity") == "warning"
    assert "333" in await row.inner_text()
    marker = "[data-testid='station-marker'][data-station-id='STK-1'][data-status='alert']"
    await page.wait_for_selector(marker, timeout=10_000)

    await row.locator("[data-testid='ack-button']").click()
    acked = row.locator("[data-testid='alert-acked']")
    await acked.wait_for(timeout=10_000)
    assert TEST_USERS[Role.OPERATOR] in await acked.inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "wall-alert-acknowledged.png"))


async def test_the_wall_speaks_english_on_request(
    service: RunningService, browser: Browser
) -> None:
    page = await open_wall(browser, service, "/wall?lang=en", Role.VIEWER)
    header = await page.locator("header").inner_text()
    assert "Operations" in header or "Monitoring" in header
    page_vi = await open_wall(browser, service, "/wall?lang=vi", Role.VIEWER)
    assert "Giám sát" in await page_vi.locator("header").inner_text()


async def test_the_camera_button_shows_every_camera(
    service: RunningService, browser: Browser
) -> None:
    page = await open_wall(browser, service, "/wall")
    await page.locator("[data-testid='camera-toggle']").click()
    await page.wait_for_selector("[data-testid='camera-grid']:not([hidden])")
    cards = page.locator("[data-testid='camera-card']")
    await cards.nth(len(service.config.cameras.cameras) - 1).wait_for(timeout=10_000)
    ids = {await c.get_attribute("data-camera-id") for c in await cards.all()}
    assert ids == {c.id for c in service.config.cameras.cameras}


async def test_a_viewer_sees_alerts_but_no_acknowledge_button(
    service: RunningService, browser: Browser
) -> None:
    page = await open_wall(browser, service, "/wall", Role.VIEWER)
    await page.wait_for_selector("[data-testid='user-badge']:not([hidden])")
    assert TEST_USERS[Role.VIEWER] in await page.locator("[data-testid='user-badge']").inner_text()
    await publish(service, "STK-1", payload({"dust": 333.3}))
    row = page.locator("[data-testid='alert-row'][data-station-id='STK-1']")
    await row.wait_for(timeout=10_000)
    assert await row.locator("[data-testid='ack-button']").count() == 0


async def test_without_a_login_the_wall_sends_to_the_login_page(
    service: RunningService, browser: Browser
) -> None:
    page = await browser.new_page()
    await page.goto(f"{service.url}/wall?lang=en")
    url = urlsplit(page.url)
    assert url.path == "/login" and parse_qs(url.query)["next"] == ["/wall?lang=en"]


async def test_a_large_skew_of_the_walls_clock_is_shown_and_the_feed_stays_live(
    service: RunningService, browser: Browser
) -> None:
    """This computer's clock 10 minutes behind the server's: the wall says so by its clock.
    Liveness does not depend on either clock (the page's monotonic clock), so it stays live."""
    context = await logged_in_context(browser, service, Role.VIEWER, 1600, 900)
    await context.clock.set_fixed_time(time.time() - 600)
    page = await context.new_page()
    await page.goto(f"{service.url}/wall")
    skew = page.get_by_test_id("clock-skew")
    await expect(skew).to_be_visible(timeout=10_000)
    await expect(skew).to_contain_text("lệch +6")  # +599 … +601 s
    await expect(page.locator("body")).to_have_attribute("data-feed", "live")
    await page.get_by_test_id("lang-en").click()
    await expect(skew).to_contain_text("Server clock +6")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "wall-clock-skew.png"))


async def test_an_anomaly_alert_shows_its_baseline_never_a_limit(
    service: RunningService, browser: Browser
) -> None:
    """A spike of pm10 to 132 on a level of 8 (limit: the z-score threshold 8): the card reads
    "132 µg/m³ · nền 8 µg/m³", the trend draws a dashed baseline line, and "ngưỡng"/"limit"
    appear nowhere for it, in Vietnamese and in English."""
    page = await open_wall(browser, service, "/wall")
    await publish(service, "AIR-1", payload({"pm10": 132.0}))  # the trend has a point
    spike = RuleTransition(
        "anomaly.spike", "AIR-1", "pm10", True, 132.0, 8.0, now_ms(), Severity.INFO, baseline=8.0
    )
    service.app[appkeys.ALERTS].apply([spike])  # as the analytics stage raises it
    row = page.locator("[data-testid='alert-row'][data-station-id='AIR-1']")
    baseline = row.get_by_test_id("alert-baseline")
    await expect(baseline).to_have_text(re.compile(r"^· nền 8 \S+$"), timeout=10_000)
    await expect(row.locator(".alert-value")).to_have_text("132")
    assert await row.locator(".alert-limit").count() == 0
    assert "ngưỡng" not in await row.inner_text()

    await row.click()  # the station's trend: the baseline as a dashed line, no limit line
    line = page.get_by_test_id("trend-baseline")
    await expect(line).to_have_attribute("data-value", "8", timeout=10_000)
    await expect(page.get_by_test_id("trend-baseline-label")).to_have_text(re.compile("^nền 8"))
    assert await page.get_by_test_id("trend-limit").count() == 0
    assert "ngưỡng" not in await page.locator("#trend").inner_text()
    assert "ngưỡng" not in await page.locator("#trend-svg").text_content() or ""

    await page.get_by_test_id("lang-en").click()
    await expect(baseline).to_have_text(re.compile(r"^· baseline 8 \S+$"))
    await expect(page.get_by_test_id("trend-baseline-label")).to_have_text(
        re.compile("^baseline 8")
    )
    assert "limit" not in (await row.inner_text()).lower()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "wall-anomaly-baseline.png"))
