"""The wall's optional tone for a new critical alert (issue #14 item 8) in a real headless
Chromium, against the real service: the page's OscillatorNode.start is wrapped to count the
tones started. A critical alert opening while the wall is watched gives exactly one tone; a
warning, a later event of the alert, or an alert already there at page load none; with the 🔔
toggle off, none; before any click on the page, the "click to enable sound" hint instead."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from ioc.accounts import Role
from ioc.config import IocConfig
from tests.factories import payload
from tests.integration.conftest import ARTIFACTS, RunningService, logged_in_context, run_service
from tests.integration.test_end_to_end import publish

WAIT_MS = 10_000
COUNT_TONES = """
window.__tones = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones += 1;
  return start.apply(this, args);
};
"""

#: A browser that blocks audio until the page is clicked (as Chromium does on a real screen;
#: this headless one lets any page play): no user activation yet, and an AudioContext that
#: stays suspended, until the first pointerdown.
BLOCK_AUDIO = """
window.__blocked = true;
Object.defineProperty(navigator, 'userActivation', {
  get: () => ({ hasBeenActive: !window.__blocked, isActive: false }),
});
const RealContext = window.AudioContext;
window.AudioContext = class extends RealContext {
  get state() { return window.__blocked ? 'suspended' : super.state; }
  resume() { return window.__blocked ? new Promise(() => {}) : super.resume(); }
};
document.addEventListener('pointerdown', () => { window.__blocked = false; }, true);
"""


@pytest.fixture
async def sound_on(config: IocConfig) -> AsyncIterator[RunningService]:
    """The service with web.alert_sound: the walls' tone is on unless a browser turned it off."""
    web = config.web.model_copy(update={"alert_sound": True})
    async with run_service(config.model_copy(update={"web": web})) as running:
        yield running


async def open_wall(
    browser: Browser, service: RunningService, *, block_audio: bool = False
) -> Page:
    context = await logged_in_context(browser, service, Role.OPERATOR, 1600, 900)
    await context.add_init_script(COUNT_TONES)
    if block_audio:
        await context.add_init_script(BLOCK_AUDIO)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{service.url}/wall")
    await page.wait_for_selector("body[data-connected='true']", timeout=15_000)
    assert errors == []
    return page


async def tones(page: Page) -> int:
    count: int = await page.evaluate("window.__tones")
    return count


async def test_a_critical_alert_opening_gives_one_tone_a_warning_and_an_update_none(
    service: RunningService, browser: Browser
) -> None:
    page = await open_wall(browser, service)
    toggle = page.get_by_test_id("alert-sound-toggle")
    await expect(toggle).to_have_attribute("data-sound", "off")  # web.alert_sound: false
    await expect(toggle).to_have_attribute("title", re.compile("^Âm báo .*: đang tắt"))
    await toggle.click()  # on; the click lets the page play sound
    await expect(toggle).to_have_attribute("data-sound", "on")
    await expect(toggle).to_have_attribute("aria-pressed", "true")

    await publish(service, "STK-1", payload({"dust": 333.3}))  # a warning: no tone
    critical = page.locator("[data-testid='alert-row'][data-station-id='AIR-1']")
    warning = page.locator("[data-testid='alert-row'][data-station-id='STK-1']")
    await expect(warning).to_have_count(1, timeout=WAIT_MS)
    assert await tones(page) == 0

    await publish(service, "AIR-1", payload({"pm25": 150.0}))  # critical (pm25_instant)
    await expect(critical).to_have_attribute("data-severity", "critical", timeout=WAIT_MS)
    await expect(page.locator("body")).to_have_attribute("data-tones", "1", timeout=WAIT_MS)
    assert await tones(page) == 1  # the oscillators started, as the page counts them
    await expect(page.get_by_test_id("alert-sound-hint")).to_be_hidden()

    # its next events (here an acknowledgement) do not sound again
    await critical.get_by_test_id("ack-button").click()
    await expect(critical.get_by_test_id("alert-acked")).to_be_visible(timeout=WAIT_MS)
    assert await tones(page) == 1

    # an alert already open at page load never sounds
    again = await open_wall(browser, service)
    await again.get_by_test_id("alert-sound-toggle").click()
    await expect(again.locator("[data-testid='alert-row']")).to_have_count(2)
    assert await tones(again) == 0

    await page.get_by_test_id("lang-en").click()
    await expect(toggle).to_have_attribute("title", re.compile("^Sound for critical alerts: on"))


async def test_with_the_toggle_off_a_critical_alert_gives_no_tone_and_the_choice_is_kept(
    sound_on: RunningService, browser: Browser
) -> None:
    page = await open_wall(browser, sound_on)
    toggle = page.get_by_test_id("alert-sound-toggle")
    await expect(toggle).to_have_attribute("data-sound", "on")  # the server's default
    await toggle.click()
    await expect(toggle).to_have_attribute("data-sound", "off")
    await publish(sound_on, "AIR-1", payload({"pm25": 150.0}))
    critical = page.locator("[data-testid='alert-row'][data-station-id='AIR-1']")
    await expect(critical).to_have_count(1, timeout=WAIT_MS)
    await publish(sound_on, "STK-1", payload({"dust": 333.3}))  # a later event: all applied
    await expect(page.locator("[data-testid='alert-row']")).to_have_count(2, timeout=WAIT_MS)
    assert await tones(page) == 0
    await page.reload()  # remembered in this browser over the server's default
    await page.wait_for_selector("body[data-connected='true']", timeout=15_000)
    await expect(page.get_by_test_id("alert-sound-toggle")).to_have_attribute("data-sound", "off")


async def test_before_any_click_a_due_tone_shows_the_hint_to_enable_sound(
    sound_on: RunningService, browser: Browser
) -> None:
    page = await open_wall(browser, sound_on, block_audio=True)
    hint = page.get_by_test_id("alert-sound-hint")
    await expect(hint).to_be_hidden()
    await publish(sound_on, "AIR-1", payload({"pm25": 150.0}))
    await expect(hint).to_be_visible(timeout=WAIT_MS)
    await expect(hint).to_have_text("Bấm để bật âm thanh")
    assert await tones(page) == 0  # the browser would not play it: not started
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "wall-alert-sound-blocked.png"))
    await hint.click()  # a user gesture: sound may play from now on
    await expect(hint).to_be_hidden()
    await publish(sound_on, "AIR-2", payload({"pm25": 150.0}))  # the next critical sounds
    await expect(page.locator("body")).to_have_attribute("data-tones", "1", timeout=WAIT_MS)
    assert await tones(page) == 1
    await expect(page.get_by_test_id("alert-sound-toggle")).to_have_attribute(
        "data-sound-blocked", "false"
    )
