"""The wall's alert list and station table (issue #14: "alerts an operator can trust, on a wall
readable across the room") in a real headless Chromium at 1920×1080, against the real service:
one card per incident (related alerts of a station), reclassified in place; criticals pinned
first, kiosk paging, a list that holds still under the pointer, an acknowledgement that acts
on the card clicked (each open alert of its incident), filter and search.

The service here has more rules (info, warning and critical ones on pm10, no2 and pm25) and
40 more air stations than the shared test registry, so the list and the table overflow."""

from __future__ import annotations

import copy
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, Locator, Page, expect

from analytics.config import RuleConfig
from ioc import appkeys
from ioc.accounts import Role
from ioc.config import IocConfig
from ioc.messages import RuleTransition, Severity
from tests.factories import REGISTRY_DOC, payload
from tests.integration.conftest import TEST_USERS, RunningService, logged_in_context
from tests.integration.test_end_to_end import publish

EXTRA_STATIONS = [f"AIR-{n}" for n in range(10, 50)]
RULES: list[dict[str, Any]] = [
    {"id": "pm25_instant", "name": "PM2.5 instant", "parameter": "pm25", "kinds": ["air"],
     "above": 100, "severity": "critical"},
    {"id": "pm10_info", "name": "PM10 info", "parameter": "pm10", "kinds": ["air"],
     "above": 50, "severity": "info"},
    {"id": "pm10_warn", "name": "PM10 warning", "parameter": "pm10", "kinds": ["air"],
     "above": 150, "severity": "warning"},
    {"id": "no2_info", "name": "NO2 info", "parameter": "no2", "kinds": ["air"],
     "above": 50, "severity": "info"},
    {"id": "no2_warn", "name": "NO2 warning", "parameter": "no2", "kinds": ["air"],
     "above": 150, "severity": "warning"},
    {"id": "dust", "name": "Dust", "parameter": "dust", "kinds": ["stack"], "above": 200},
]  # fmt: skip
WAIT_MS = 10_000


@pytest.fixture
def config(config: IocConfig, tmp_path: Path) -> IocConfig:
    """The shared test service with 43 stations and the rules above."""
    doc = copy.deepcopy(REGISTRY_DOC)
    for n, station in enumerate(EXTRA_STATIONS):
        doc["stations"].append(
            {
                "id": station,
                "name": f"Air {station}",
                "kind": "air",
                "lat": 11.7 + 0.01 * n,
                "lon": 108.2 + 0.01 * n,
                "parameters": "air",
                "interval_s": 60,
            }
        )
    registry = tmp_path / "stations-wall.yaml"
    registry.write_text(yaml.safe_dump(doc, allow_unicode=True))
    rules = [RuleConfig.model_validate(rule) for rule in RULES]
    analytics = config.analytics.model_copy(update={"rules": rules})
    return config.model_copy(update={"registry": registry, "analytics": analytics})


async def open_wall(browser: Browser, service: RunningService, path: str) -> Page:
    """The wall at 1920×1080, logged in as the operator, its feed live."""
    context = await logged_in_context(browser, service, Role.OPERATOR, 1920, 1080)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{service.url}{path}")
    await page.wait_for_selector("body[data-connected='true']", timeout=15_000)
    await expect(page.get_by_test_id("station-row")).to_have_count(3 + len(EXTRA_STATIONS))
    assert errors == []
    return page


def rows(page: Page) -> Locator:
    return page.get_by_test_id("alert-row")


async def open_alerts(page: Page, service: RunningService, stations: list[str]) -> None:
    """One critical first (AIR-1, the oldest), then at each of ``stations`` a reading with pm10
    above both its limits (an info and a warning alert: one warning incident, one card) and a
    later one with no2 above its info limit only (one info incident): 1 + 2 × len(stations)
    cards, the critical the oldest."""
    await publish(service, "AIR-1", payload({"pm25": 150.0}))
    await expect(rows(page)).to_have_count(1, timeout=WAIT_MS)
    for n, station in enumerate(stations, start=1):
        await publish(service, station, payload({"pm10": 200.0}))
        await expect(rows(page)).to_have_count(2 * n, timeout=WAIT_MS)
        await publish(service, station, payload({"no2": 100.0}))
        await expect(rows(page)).to_have_count(1 + 2 * n, timeout=WAIT_MS)


async def order(page: Page) -> list[tuple[str, str, str]]:
    """(id, severity, state) of every card, top to bottom."""
    return await rows(page).evaluate_all(
        "rows => rows.map(r => [r.dataset.alertId, r.dataset.severity, r.dataset.state])"
    )


def in_list_order(cards: list[tuple[str, str, str]]) -> bool:
    rank = {"critical": 0, "warning": 1, "info": 2}
    keys = [(rank[severity], state == "acknowledged") for _, severity, state in cards]
    return keys == sorted(keys)


async def alert(service: RunningService, alert_id: str) -> dict[str, Any]:
    async with (
        service.http() as http,
        http.get(f"{service.url}/api/v1/alerts/{alert_id}") as response,
    ):
        assert response.status == 200
        body: dict[str, Any] = await response.json()
    return body.get("alert", body)


async def test_the_critical_alert_is_pinned_first_and_visible_and_the_kpi_agrees(
    service: RunningService, browser: Browser, tmp_path: Path
) -> None:
    page = await open_wall(browser, service, "/wall")
    await open_alerts(page, service, ["AIR-2", "AIR-10", "AIR-11"])
    await publish(service, "STK-1", payload({"dust": 333.3}))
    await expect(rows(page)).to_have_count(8, timeout=WAIT_MS)

    cards = await order(page)
    assert cards[0][1] == "critical" and in_list_order(cards), cards
    first = rows(page).first
    await expect(first).to_have_attribute("data-station-id", "AIR-1")
    await expect(first).to_be_in_viewport()
    kpi = page.get_by_test_id("kpi-alerts")
    await expect(kpi).to_have_attribute("data-critical", "1")
    pinned = page.locator("[data-testid='alert-row'][data-severity='critical']:visible")
    await expect(pinned).to_have_count(1)
    # The station table counts every station and scrolls (not in kiosk mode: no pages).
    await expect(page.get_by_test_id("stations-meta")).to_contain_text("43 trạm")
    await expect(page.get_by_test_id("stations-page")).to_be_hidden()
    await page.screenshot(path=str(tmp_path / "wall-alerts-pinned.png"))

    # Filter: info only; the critical stays pinned on top.
    await page.get_by_test_id("alert-filter-info").click()
    visible = page.locator("[data-testid='alert-row']:visible")
    await expect(visible).to_have_count(1 + 3)
    assert {s for _, s, _ in await order_visible(page)} == {"critical", "info"}
    # Search by station, then by rule; with the English switch.
    await page.get_by_test_id("alert-filter-all").click()
    await page.get_by_test_id("alerts-search").fill("AIR-10")
    await expect(visible).to_have_count(1 + 2)
    # Every alert of an incident is searched: "PM10 warning" is the pm10 cards' second alert.
    await page.get_by_test_id("alerts-search").fill("pm10 warning")
    await expect(visible).to_have_count(1 + 3)
    await page.get_by_test_id("alerts-search").fill("nothing like this")
    await expect(visible).to_have_count(1)  # the pinned critical only
    await page.get_by_test_id("lang-en").click()
    await expect(page.get_by_test_id("alert-filter-all")).to_have_text("All")
    await expect(page.get_by_test_id("alerts-search")).to_have_attribute(
        "placeholder", re.compile("Search")
    )
    await expect(page.get_by_test_id("stations-meta")).to_contain_text("43 stations")


async def order_visible(page: Page) -> list[tuple[str, str, str]]:
    return await page.locator("[data-testid='alert-row']:visible").evaluate_all(
        "rows => rows.map(r => [r.dataset.alertId, r.dataset.severity, r.dataset.state])"
    )


async def kiosk_page(page: Page) -> dict[str, Any]:
    """The alert list's page number and its cards (id, severity), read at one instant."""
    result: dict[str, Any] = await page.evaluate(
        """() => ({
            page: document.getElementById('alerts-page').dataset.page,
            cards: [...document.querySelectorAll('[data-testid=alert-row]')]
                .filter((row) => !row.hidden)
                .map((row) => [row.dataset.alertId, row.dataset.severity]),
        })"""
    )
    return result


async def test_in_kiosk_mode_the_list_and_the_table_page_by_themselves(
    service: RunningService, browser: Browser, tmp_path: Path
) -> None:
    page = await open_wall(browser, service, "/wall?kiosk=1&page_s=1")
    await open_alerts(page, service, ["AIR-2", *EXTRA_STATIONS[:7]])  # 17 cards
    assert (await order(page))[0][1] == "critical"

    indicator = page.get_by_test_id("alerts-page")
    await expect(indicator).to_be_visible(timeout=WAIT_MS)
    await expect(indicator).to_have_text(re.compile(r"^\d+/[2-9]$"))
    critical = page.locator("[data-testid='alert-row'][data-severity='critical']")
    await expect(critical).to_be_in_viewport()
    pages: dict[str, list[str]] = {}
    for _ in range(2):  # two different pages, the critical first on both
        shown = await kiosk_page(page)
        cards = shown["cards"]
        assert cards[0][1] == "critical" and 1 < len(cards) < 17, shown
        pages[shown["page"]] = [i for i, _ in cards]
        await expect(indicator).not_to_have_attribute("data-page", shown["page"], timeout=5_000)
    assert len(pages) == 2 and len({tuple(ids) for ids in pages.values()}) == 2, pages
    await expect(page.get_by_test_id("alerts-tools")).to_be_hidden()  # no typing in kiosk

    table = page.get_by_test_id("stations-page")
    await expect(table).to_be_visible(timeout=WAIT_MS)
    await expect(table).to_have_text(re.compile(r"^\d+/\d+$"))
    first = await table.get_attribute("data-page")
    assert first is not None
    await expect(table).not_to_have_attribute("data-page", first, timeout=5_000)
    shown_rows = page.locator("[data-testid='station-row']:visible")
    assert 0 < await shown_rows.count() < 43
    await expect(page.get_by_test_id("stations-meta")).to_contain_text("43 trạm")
    await page.screenshot(path=str(tmp_path / "wall-kiosk-paging.png"))


async def test_the_list_holds_still_under_the_pointer_and_an_ack_acts_on_the_card_clicked(
    service: RunningService, browser: Browser, tmp_path: Path
) -> None:
    page = await open_wall(browser, service, "/wall")
    await open_alerts(page, service, ["AIR-2", "AIR-10"])
    before = await order(page)
    assert in_list_order(before)

    # The pointer rests on the third card (a warning incident: pm10's info and warning
    # alerts) and its acknowledge button.
    target_id = before[2][0]
    target = page.locator(f"[data-testid='alert-row'][data-alert-id='{target_id}']")
    members = (await target.get_attribute("data-alert-ids") or "").split()
    assert len(members) == 2 and members[0] == target_id, members
    await target.get_by_test_id("ack-button").hover()
    await expect(page.get_by_test_id("alert-list")).to_have_attribute("data-held", "true")

    # A new critical arrives: the KPI counts it, the list does not move, the badge says so.
    await publish(service, "AIR-11", payload({"pm25": 180.0}))
    badge = page.get_by_test_id("alerts-pending")
    await expect(badge).to_be_visible(timeout=WAIT_MS)
    await expect(badge).to_have_text("1 mới")
    await expect(badge).to_have_class(re.compile(r"\bhas-critical\b"))  # a critical is held
    await expect(page.get_by_test_id("kpi-alerts")).to_have_attribute("data-critical", "2")
    assert await order(page) == before

    # The click lands where the pointer is: on the card it rests on, by id.
    await page.mouse.down()
    await page.mouse.up()
    await expect(target.get_by_test_id("alert-acked")).to_be_visible(timeout=WAIT_MS)
    for member in members:  # every alert of the incident
        stored = await alert(service, member)
        assert stored["state"] == "acknowledged", stored
        assert stored["acknowledged_by"] == TEST_USERS[Role.OPERATOR]
    others = [i for i, _, _ in before if i != target_id]
    for other in others:
        assert (await alert(service, other))["state"] == "open"
    assert [i for i, _, _ in await order(page)] == [i for i, _, _ in before]  # still in place

    # The pointer leaves: the held updates apply; both criticals pinned on top, the
    # acknowledged warning after the open ones.
    await page.mouse.move(5, 5)
    await expect(badge).to_be_hidden()
    await expect(rows(page)).to_have_count(len(before) + 1)
    after = await order(page)
    assert [s for _, s, _ in after[:2]] == ["critical", "critical"] and in_list_order(after), after
    warnings = [(i, state) for i, s, state in after if s == "warning"]
    assert warnings[-1] == (target_id, "acknowledged"), warnings
    await expect(page.get_by_test_id("alert-list")).to_have_attribute("data-held", "false")
    await page.screenshot(path=str(tmp_path / "wall-alerts-held.png"))


async def test_a_focused_acknowledge_button_holds_the_list_and_the_badge_applies_it(
    service: RunningService, browser: Browser
) -> None:
    """Keyboard use: a focused button in the list holds it like the pointer does; clicking the
    badge applies what waits."""
    page = await open_wall(browser, service, "/wall?lang=en")
    await open_alerts(page, service, ["AIR-2"])
    before = await order(page)
    await page.mouse.move(5, 5)
    await rows(page).nth(2).get_by_test_id("ack-button").focus()
    await expect(page.get_by_test_id("alert-list")).to_have_attribute("data-held", "true")

    await publish(service, "AIR-10", payload({"pm10": 100.0}))  # one info alert
    badge = page.get_by_test_id("alerts-pending")
    await expect(badge).to_have_text("1 new", timeout=WAIT_MS)
    await expect(page.get_by_test_id("kpi-alerts")).to_have_attribute("data-info", "3")
    assert await order(page) == before

    await badge.click()
    await expect(badge).to_be_hidden()
    await expect(rows(page)).to_have_count(len(before) + 1)
    assert in_list_order(await order(page))


async def test_a_sensor_fault_then_a_pollution_event_are_one_card_reclassified_in_place(
    service: RunningService, browser: Browser, tmp_path: Path
) -> None:
    """The alert book receives the anomaly detector's two decisions on one station's pm25 (as
    analytics.detectors would send them): one incident, one card, whose classification
    changes in place under the pointer; its acknowledge button acknowledges both alerts."""
    page = await open_wall(browser, service, "/wall")
    book = service.app[appkeys.ALERTS]
    ts = int(time.time() * 1000)

    def anomaly(kind: str, at: int, severity: Severity) -> None:
        rule = f"anomaly.{kind}"
        book.apply([RuleTransition(rule, "AIR-2", "pm25", True, 95.0, 3.5, at, severity)])

    anomaly("sensor_fault", ts, Severity.WARNING)
    card = rows(page)
    await expect(card).to_have_count(1, timeout=WAIT_MS)
    await expect(card).to_have_attribute("data-kind", "sensor_fault")
    kind = card.get_by_test_id("incident-kind")
    await expect(kind).to_have_text("Nghi lỗi cảm biến")
    await expect(card.get_by_test_id("incident-related")).to_have_count(0)
    await card.evaluate("row => { row.sameCard = true; }")  # a mark on this very element
    await card.hover()
    await expect(page.get_by_test_id("alert-list")).to_have_attribute("data-held", "true")

    anomaly("pollution_event", ts + 60_000, Severity.INFO)
    await expect(card).to_have_attribute("data-kind", "pollution_event", timeout=WAIT_MS)
    await expect(kind).to_have_text("Nghi sự cố ô nhiễm")
    await expect(card.get_by_test_id("incident-related")).to_contain_text("+1 liên quan")
    await expect(card).to_have_attribute("data-severity", "warning")  # the worst of the two
    await expect(rows(page)).to_have_count(1)
    await expect(page.locator("#alerts-meta")).to_have_text("1 sự cố · 2 cảnh báo")
    assert await card.evaluate("row => row.sameCard === true")  # redrawn in place
    await expect(page.get_by_test_id("alerts-pending")).to_be_hidden()  # nothing held back
    members = (await card.get_attribute("data-alert-ids") or "").split()
    assert len(members) == 2 and await card.get_attribute("data-alert-id") == members[0]

    async with (
        service.http() as http,
        http.get(f"{service.url}/api/v1/incidents") as response,
    ):
        assert response.status == 200
        incidents = (await response.json())["incidents"]
    assert [(i["id"], i["kind"], i["alert_ids"]) for i in incidents] == [
        (members[0], "pollution_event", members)
    ]

    await card.get_by_test_id("ack-button").click()
    await expect(card.get_by_test_id("alert-acked")).to_be_visible(timeout=WAIT_MS)
    for member in members:
        assert (await alert(service, member))["state"] == "acknowledged"
    await page.mouse.move(5, 5)
    await page.get_by_test_id("lang-en").click()
    await expect(kind).to_have_text("Suspected pollution event")
    await expect(card.get_by_test_id("incident-related")).to_contain_text("+1 related")
    await expect(page.locator("#alerts-meta")).to_have_text("1 incident · 2 alerts")
    await page.screenshot(path=str(tmp_path / "wall-incident-card.png"))
