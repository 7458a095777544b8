"""The wall as a TV in kiosk mode (issue #14 item 5: "readable at 5 m on 1920×1080"), in a real
headless Chromium against the real service: the minimum sizes (alert titles ≥ 28 px, KPI
figures ≥ 48 px, other card and table text ≥ 18 px, station names on the map ≥ 16 px), a
layout that still fits the screen, station names on the map that never overlap, and no raw
key on screen in either language. A screenshot of each language is kept in ARTIFACTS.

The service here has a cluster of alerting air stations with long names a few hundred metres
apart, so their names on the map would collide."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, Page, expect

from analytics.cameras.alarms import RULES as CAMERA_RULES
from analytics.config import RuleConfig
from analytics.detectors import ANOMALY_RULES
from ioc.accounts import Role
from ioc.config import IocConfig
from tests.factories import REGISTRY_DOC, payload
from tests.integration.conftest import ARTIFACTS, RunningService, logged_in_context
from tests.integration.test_end_to_end import publish

CLUSTER = [f"AIR-{n}" for n in range(20, 30)]
NAMES = {s["id"]: s["name"] for s in REGISTRY_DOC["stations"]} | {
    station: f"Quan trắc không khí cụm Phường {n + 1}" for n, station in enumerate(CLUSTER)
}
RULES: list[dict[str, Any]] = [
    {"id": "pm25_instant", "name": "PM2.5 instant", "parameter": "pm25", "kinds": ["air"],
     "above": 100, "severity": "critical"},
    {"id": "pm10_warn", "name": "PM10 warning", "parameter": "pm10", "kinds": ["air"],
     "above": 150, "severity": "warning"},
    {"id": "dust", "name": "Dust", "parameter": "dust", "kinds": ["stack"], "above": 200},
]  # fmt: skip
WAIT_MS = 10_000

#: Raw keys that must never show: snake_case (occupancy_pct, aqi_day, smoke_area_pct), dotted
#: (traffic.congestion), an i18n key (camelCase: kpiOnline), or a placeholder left unfilled.
RAW_KEY = re.compile(
    r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b"
    r"|\b[a-z]+\.[a-z_]+\b"
    r"|\b[a-z]+[A-Z][A-Za-z]*\b"
    r"|\b(?:undefined|null|NaN)\b"
    r"|\$\{"
)
#: What must never be cut short (an ellipsis or a clipped second line).
TRUNCATION_CHECKED = [
    ".kpis .kpi-label",
    ".kpis .sev-label",
    ".kpis .kpi-value",
    ".kpis .sev-count",
    ".kpis .veh-count",
    ".kpis .kpi-sub:not(.kpi-station)",
    "[data-testid='alert-row'] .alert-sev",
    "[data-testid='alert-row'] .alert-clock",
    ".station-table th",
    ".station-table td:nth-child(4)",
]
#: Parameters the wall may show without the registry naming them (derived ones, the cameras').
DERIVED = ["aqi", "aqi_day", "fire_level", "nesterov", "fwi", "volume_day"]
CAMERA = sorted({rule.parameter for rule in CAMERA_RULES.values()})
#: Rules the service names in one language only: the wall names them in both.
SERVICE_RULES = sorted([*ANOMALY_RULES, *CAMERA_RULES])


@pytest.fixture
def config(config: IocConfig, tmp_path: Path) -> IocConfig:
    """The shared test service with ten more air stations in a tight cluster near AIR-1."""
    doc = copy.deepcopy(REGISTRY_DOC)
    labels = {"pm25": "Bụi PM2.5|PM2.5", "pm10": "Bụi PM10|PM10", "no2": "NO2|NO2"}
    for key, both in labels.items():
        vi, en = both.split("|")
        doc["parameter_sets"]["air"][key].update(label_vi=vi, label_en=en)
    for n, station in enumerate(CLUSTER):
        doc["stations"].append(
            {
                "id": station,
                "name": NAMES[station],
                "kind": "air",
                "lat": 11.9 + 0.004 * (n % 4),
                "lon": 108.4 + 0.005 * (n // 4),
                "parameters": "air",
                "interval_s": 60,
            }
        )
    registry = tmp_path / "stations-kiosk.yaml"
    registry.write_text(yaml.safe_dump(doc, allow_unicode=True))
    rules = [RuleConfig.model_validate(rule) for rule in RULES]
    analytics = config.analytics.model_copy(update={"rules": rules})
    return config.model_copy(update={"registry": registry, "analytics": analytics})


async def open_kiosk(browser: Browser, service: RunningService, lang: str) -> Page:
    """The wall in kiosk mode at 1920×1080, its feed live."""
    context = await logged_in_context(browser, service, Role.VIEWER, 1920, 1080)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{service.url}/wall?kiosk=1&lang={lang}")
    await page.wait_for_selector("body[data-connected='true']", timeout=15_000)
    await expect(page.get_by_test_id("station-row")).to_have_count(3 + len(CLUSTER))
    assert errors == []
    return page


async def font_sizes(page: Page, selector: str) -> list[float]:
    """The computed font size, in px, of every visible element matching ``selector``."""
    sizes: list[float] = await page.locator(selector).evaluate_all(
        """els => els
            .filter((e) => e.getClientRects().length && e.textContent.trim()
                && getComputedStyle(e).visibility !== 'hidden')
            .map((e) => parseFloat(getComputedStyle(e).fontSize))"""
    )
    return sizes


async def label_boxes(page: Page) -> dict[str, Any]:
    """The map's station names: every label with text, and the boxes of the shown ones."""
    result: dict[str, Any] = await page.evaluate(
        """() => {
            const labels = [...document.querySelectorAll('[data-testid=marker-label]')]
                .filter((l) => l.textContent.trim());
            const shown = labels.filter((l) => l.getClientRects().length
                && l.getBoundingClientRect().width > 0);
            return {
                labelled: labels.length,
                placements: labels.map((l) => l.dataset.placement || ''),
                boxes: shown.map((l) => {
                    const r = l.getBoundingClientRect();
                    return [l.textContent, r.left, r.top, r.right, r.bottom];
                }),
            };
        }"""
    )
    return result


async def visible_text(page: Page) -> str:
    """What a person sees: the page's rendered text, the map's SVG text and the placeholders."""
    text: str = await page.evaluate(
        """() => [
            document.body.innerText,
            ...[...document.querySelectorAll('svg text')]
                .filter((t) => t.getClientRects().length).map((t) => t.textContent),
        ].join('\\n')"""
    )
    return text


async def check_readable(page: Page, lang: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"wall-kiosk-1920x1080-{lang}.png"))
    # Alert titles, KPI figures, card and table text, station names on the map.
    titles = await font_sizes(page, "[data-testid='alert-row'] .alert-station")
    assert titles and min(titles) >= 28, titles
    kpis = await font_sizes(page, ".kpis .kpi-value, .kpis .sev-count, .kpis .veh-count")
    assert len(kpis) >= 8 and min(kpis) >= 48, kpis
    card_text = ", ".join(
        f"[data-testid='alert-row'] {part}"
        for part in (
            ".alert-sev",
            ".alert-station-id",
            ".alert-param",
            ".alert-value",
            ".alert-unit",
            ".alert-limit",
            ".alert-rule",
            ".alert-clock",
            ".alert-rel",
        )
    )
    small = await font_sizes(page, card_text)
    assert small and min(small) >= 18, small
    table = await font_sizes(page, ".station-table th, .station-table td, .station-table td *")
    assert table and min(table) >= 18, table
    kpi_text = await font_sizes(page, ".kpis .kpi-label, .kpis .kpi-sub, .kpis .sev-label")
    assert kpi_text and min(kpi_text) >= 18, kpi_text
    names = await font_sizes(page, "[data-testid='marker-label']")
    assert names and min(names) >= 16, names

    # The layout fits the screen: nothing scrolls or spills out of the main grid.
    fit = await page.evaluate(
        """() => {
            const box = (s) => document.querySelector(s).getBoundingClientRect();
            const kpis = document.querySelector('.kpis');
            return {
                scrollW: document.documentElement.scrollWidth,
                scrollH: document.documentElement.scrollHeight,
                layoutBottom: box('.layout').bottom,
                sideBottom: box('.side').bottom,
                mapBottom: box('.map-panel').bottom,
                kpisOverflow: kpis.scrollWidth - kpis.clientWidth,
                tiles: [...kpis.children].filter((k) => k.getClientRects().length)
                    .map((k) => k.scrollWidth - k.clientWidth),
            };
        }"""
    )
    assert fit["scrollW"] <= 1920 and fit["scrollH"] <= 1080, fit
    assert max(fit["layoutBottom"], fit["sideBottom"], fit["mapBottom"]) <= 1080, fit
    assert fit["kpisOverflow"] <= 0 and max(fit["tiles"]) <= 1, fit
    # Nothing cut short: the KPI labels and figures, the severity badges, the table's heads.
    cut: list[str] = await page.evaluate(
        """(selectors) => [...document.querySelectorAll(selectors)]
            .filter((e) => e.getClientRects().length && getComputedStyle(e).display !== 'inline')
            .filter((e) => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 4)
            .map((e) => `${e.className}: ${e.textContent.trim()}`)""",
        ", ".join(TRUNCATION_CHECKED),
    )
    assert cut == [], cut

    # No two station names on the map overlap; the cluster made some move or hide.
    labels = await label_boxes(page)
    boxes = labels["boxes"]
    assert len(boxes) >= 3, labels
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap = a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]
            assert not overlap, (a, b)
    assert labels["labelled"] == 2 + len(CLUSTER), labels
    assert set(labels["placements"]) - {"above"}, labels  # collisions were resolved

    # No raw key anywhere on screen.
    text = await visible_text(page)
    raw = sorted({m.group(0) for m in RAW_KEY.finditer(text)})
    assert raw == [], (lang, raw)


async def test_the_kiosk_wall_is_readable_at_5_m_in_both_languages(
    service: RunningService, browser: Browser
) -> None:
    page = await open_kiosk(browser, service, "vi")
    await publish(service, "AIR-1", payload({"pm25": 150.0, "pm10": 40.0, "no2": 20.0}))
    await publish(service, "STK-1", payload({"dust": 333.3}))
    for station in CLUSTER:
        await publish(service, station, payload({"pm25": 30.0, "pm10": 200.0, "no2": 20.0}))
    rows = page.get_by_test_id("alert-row")
    await expect(rows).to_have_count(2 + len(CLUSTER), timeout=WAIT_MS)
    alerting = page.locator("[data-testid='station-marker'][data-status='alert']")
    await expect(alerting).to_have_count(2 + len(CLUSTER), timeout=WAIT_MS)
    await page.wait_for_timeout(300)  # a frame for the label layout
    await check_readable(page, "vi")
    # A name hidden for lack of room is still in the station's tooltip.
    hidden = page.locator("[data-testid='marker-label'][data-placement='hidden']")
    if await hidden.count():
        marker = hidden.first.locator("xpath=..")
        station = await marker.get_attribute("data-station-id")
        assert station is not None
        await marker.focus()
        tooltip = page.get_by_test_id("station-tooltip")
        await expect(tooltip).to_be_visible()
        await expect(tooltip).to_contain_text(NAMES[station])

    english = await open_kiosk(browser, service, "en")
    await expect(english.get_by_test_id("alert-row")).to_have_count(2 + len(CLUSTER))
    await english.wait_for_timeout(300)
    await check_readable(english, "en")


async def test_every_label_of_the_wall_is_translated_both_ways(
    service: RunningService, browser: Browser
) -> None:
    """Every key of the wall's tables in both languages, a name in each for the parameters the
    registry does not name (derived ones, the cameras') and for the rules the service names in
    one language only (the anomaly detectors', the cameras')."""
    page = await open_kiosk(browser, service, "vi")
    missing: dict[str, Any] = await page.evaluate(
        """async ([keys, rules]) => {
            const tables = [
                (await import('/static/wall/i18n.js')).WALL_I18N,
                (await import('/static/wall/alert-list.js')).ALERT_LIST_I18N,
            ];
            const out = { onlyVi: [], onlyEn: [], params: [], rules: [] };
            for (const table of tables) {
                out.onlyVi.push(...Object.keys(table.vi).filter((k) => !(k in table.en)));
                out.onlyEn.push(...Object.keys(table.en).filter((k) => !(k in table.vi)));
            }
            const wall = tables[0];
            for (const key of keys) {
                for (const lang of ['vi', 'en']) {
                    if (!wall[lang][`param_${key}`]) out.params.push(`${lang}:${key}`);
                }
            }
            for (const rule of rules) {
                for (const lang of ['vi', 'en']) {
                    if (!wall[lang][`rule_${rule}`]) out.rules.push(`${lang}:${rule}`);
                }
            }
            return out;
        }""",
        [DERIVED + CAMERA, SERVICE_RULES],
    )
    assert missing == {"onlyVi": [], "onlyEn": [], "params": [], "rules": []}, missing
