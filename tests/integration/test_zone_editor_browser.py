"""The console's zone drawing editor (issue #13) in a real headless Chromium against the real
service: an officer draws a polygon zone with mouse clicks and a circle zone with a typed
radius, applies each to the zone form, saves it, and the configuration API holds the shape."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, Page, expect

from ioc.accounts import Role
from ioc.config import IocConfig
from tests.integration.conftest import RunningService, logged_in_context
from tests.integration.test_console_browser import WAIT_MS, open_console, watch_errors

#: Polygon corners as fractions of the drawing plane (x, y); the last is clicked twice (once
#: undone with Backspace) before the first is clicked to close the polygon.
CORNERS = [(0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.3, 0.7)]
CIRCLE_AT = (0.35, 0.4)
RADIUS_M = 1234
#: Tolerance on a clicked point, in plane pixels (the plane is ~900 px wide).
TOLERANCE_PX = 3


@pytest.fixture
def config(config: IocConfig, tmp_path: Path) -> IocConfig:
    fleet = {
        "companies": [{"id": "VT-01", "name": "Vận tải Một", "types": ["truck"]}],
        "vehicles": [{"id": "49C12345", "type": "truck", "company": "VT-01"}],
        "zones": [
            {
                "id": "Z-1",
                "name": "Trung tâm",
                "shape": "circle",
                "centre": [11.94, 108.44],
                "radius_m": 400,
                "vehicle_types": ["truck"],
            }
        ],
        "towns": {"Da Lat": {"lat": 11.94, "lon": 108.44, "urban_radius_m": 3000}},
        "roads": {
            "QL20": {
                "name": "Quốc lộ 20",
                "waypoints": [[11.90, 108.40, "rural"], [11.94, 108.44, "rural"], [11.98, 108.50]],
            }
        },
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet, allow_unicode=True), encoding="utf-8")
    vehicles = {
        "fleet": str(path),
        "images": {"directory": str(tmp_path / "images")},
        "journeys_database": str(tmp_path / "journeys.sqlite3"),
    }
    return config.model_copy(update={"vehicles": config.vehicles.model_validate(vehicles)})


async def open_small_console(browser: Browser, service: RunningService) -> Page:
    """The console of an officer at 1280×800, the smallest desk screen it is made for."""
    context = await logged_in_context(browser, service, Role.OFFICER, 1280, 800)
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto(f"{service.url}/console")
    await page.wait_for_selector("body[data-ready='true']")
    return page


async def stored_zone(service: RunningService, key: str) -> dict[str, Any]:
    async with (
        service.http(Role.ADMIN) as http,
        http.get(f"{service.url}/api/v1/config/zones/{key}") as response,
    ):
        assert response.status == 200, await response.text()
        return dict((await response.json())["item"])


async def new_zone(page: Page, zone_id: str, draw: str = "Vẽ trên bản đồ") -> None:
    await page.get_by_test_id("tab-fleet").click()
    await page.get_by_test_id("fleet-kind").select_option("zone")
    await expect(page.locator("[data-testid='fleet-row'][data-key='Z-1']")).to_be_visible()
    await page.get_by_test_id("fleet-new").click()
    await page.get_by_test_id("fleet-field-id").fill(zone_id)
    await page.get_by_test_id("fleet-field-name").fill(f"Vùng {zone_id}")
    await expect(page.get_by_test_id("zone-draw")).to_have_text(draw)
    await page.get_by_test_id("zone-draw").click()
    await expect(page.get_by_test_id("zone-editor-backdrop")).to_have_attribute(
        "data-ready", "true"
    )


async def plane_point(page: Page, fx: float, fy: float) -> tuple[float, float]:
    """The page position at fractions (fx, fy) of the drawing plane."""
    box = await page.get_by_test_id("zone-editor-plane").bounding_box()
    assert box is not None
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


async def lat_lon_at(page: Page, x: float, y: float) -> tuple[float, float]:
    """The (lat, lon) under page position (x, y): the plane's viewBox mapping and its
    equirectangular view (data-view: centre lat/lon, k px per degree, lat0 of the scale)."""
    lat, lon = await page.get_by_test_id("zone-editor-plane").evaluate(
        """(svg, [x, y]) => {
            const p = new DOMPoint(x, y).matrixTransform(svg.getScreenCTM().inverse());
            const v = JSON.parse(svg.dataset.view);
            const [w, h] = [svg.viewBox.baseVal.width, svg.viewBox.baseVal.height];
            const cos = Math.cos(v.lat0 * Math.PI / 180);
            return [v.lat - (p.y - h / 2) / v.k, v.lon + (p.x - w / 2) / (cos * v.k)];
        }""",
        [x, y],
    )
    return float(lat), float(lon)


async def degrees_per_px(page: Page) -> float:
    view = json.loads(
        await page.get_by_test_id("zone-editor-plane").get_attribute("data-view") or "{}"
    )
    plane = page.get_by_test_id("zone-editor-plane")
    box = await plane.bounding_box()
    width = float(await plane.evaluate("(svg) => svg.viewBox.baseVal.width"))
    assert box is not None
    # a page pixel is at most this many degrees, north-south or east-west (cos < 1)
    return float(width / box["width"] / view["k"] / 0.9)


async def test_an_officer_draws_a_polygon_zone_and_saves_it(
    service: RunningService, browser: Browser
) -> None:
    page = await open_small_console(browser, service)
    errors = watch_errors(page)
    await new_zone(page, "Z-DRAW")
    editor = page.get_by_test_id("zone-editor")
    box = await editor.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= 1280 and box["y"] + box["height"] <= 800
    await expect(page.get_by_test_id("zone-editor-apply")).to_be_in_viewport()
    # the other zone is drawn for orientation, not the one edited
    await expect(editor.locator("[data-zone-id='Z-1']")).to_have_count(1)
    await page.get_by_test_id("zone-editor-mode-polygon").click()
    await expect(page.get_by_test_id("zone-editor-vertex")).to_have_count(0)

    points = [await plane_point(page, fx, fy) for fx, fy in CORNERS]
    corners = [await lat_lon_at(page, x, y) for x, y in points]
    slack = TOLERANCE_PX * await degrees_per_px(page)
    count = page.get_by_test_id("zone-editor-count")
    for n, (x, y) in enumerate(points, start=1):
        await page.mouse.click(x, y)
        await expect(count).to_have_text(str(n))
    await page.keyboard.press("Backspace")  # undo the last vertex, then click it again
    await expect(count).to_have_text("3")
    await page.mouse.click(*points[3])
    await expect(count).to_have_text("4")
    await expect(page.get_by_test_id("zone-editor-stats")).to_have_attribute("data-closed", "false")
    await page.get_by_test_id("zone-editor-vertex").first.click()  # the first vertex closes it
    await expect(page.get_by_test_id("zone-editor-stats")).to_have_attribute("data-closed", "true")
    await expect(page.get_by_test_id("zone-editor-area")).to_contain_text("km²")
    await page.get_by_test_id("zone-editor-apply").click()
    await expect(editor).to_have_count(0)

    await expect(page.get_by_test_id("fleet-field-shape")).to_have_value("polygon")
    await expect(page.get_by_test_id("fleet-field-centre")).to_have_value("")
    await expect(page.get_by_test_id("fleet-field-radius_m")).to_have_value("")
    in_form = json.loads(await page.get_by_test_id("fleet-field-polygon").input_value())
    assert len(in_form) == 4
    await page.get_by_test_id("fleet-save").click()
    await expect(page.get_by_test_id("fleet-status")).to_have_attribute("data-state", "ok")
    await expect(page.locator("[data-testid='fleet-row'][data-key='Z-DRAW']")).to_be_visible()

    zone = await stored_zone(service, "Z-DRAW")
    assert zone["shape"] == "polygon"
    assert zone.get("centre") is None and zone.get("radius_m") is None
    polygon = zone["polygon"]
    assert len(polygon) == 4
    lats, lons = [c[0] for c in corners], [c[1] for c in corners]
    for (lat, lon), (want_lat, want_lon) in zip(polygon, corners, strict=True):
        assert min(lats) - slack <= lat <= max(lats) + slack
        assert min(lons) - slack <= lon <= max(lons) + slack
        assert abs(lat - want_lat) <= slack and abs(lon - want_lon) <= slack
        assert round(lat, 6) == lat and round(lon, 6) == lon
    assert errors == []


async def test_an_officer_draws_a_circle_with_a_typed_radius_in_english(
    service: RunningService, browser: Browser
) -> None:
    page = await open_console(browser, service, Role.OFFICER)
    errors = watch_errors(page)
    await page.get_by_role("button", name="EN").click()
    await new_zone(page, "Z-CIRCLE", "Draw on map")
    await expect(page.get_by_test_id("zone-editor-apply")).to_have_text("Apply")
    await page.get_by_test_id("zone-editor-mode-circle").click()
    await page.get_by_test_id("zone-editor-clear").click()
    await expect(page.get_by_test_id("zone-editor-centre")).to_have_count(0)
    # nothing drawn: "Fit" shows the registry's stations and the other zones
    await page.get_by_test_id("zone-editor-fit").click()
    plane = page.get_by_test_id("zone-editor-plane")
    await expect(plane.locator("[data-station-id='AIR-1']")).to_have_count(1)
    await expect(plane.locator("[data-zone-id='Z-1']")).to_have_count(1)
    await expect(plane.locator("[data-road-id='QL20']")).to_have_count(1)  # GET /api/v1/fleet/map
    await expect(plane.locator("[data-town-id='Da Lat']")).to_have_count(1)

    x, y = await plane_point(page, *CIRCLE_AT)
    centre = await lat_lon_at(page, x, y)
    slack = TOLERANCE_PX * await degrees_per_px(page)
    await page.mouse.click(x, y)
    await expect(page.get_by_test_id("zone-editor-centre")).to_have_count(1)
    await page.get_by_test_id("zone-editor-radius").fill(str(RADIUS_M))
    circle = page.get_by_test_id("zone-editor-circle")
    await expect(circle).to_have_count(1)
    # true to scale: the ellipse's north-south radius is RADIUS_M at the plane's scale
    view = json.loads(
        await page.get_by_test_id("zone-editor-plane").get_attribute("data-view") or "{}"
    )
    ry = float(await circle.get_attribute("ry") or 0)
    assert abs(ry - RADIUS_M / 111_320 * view["k"]) < 0.01
    await page.get_by_test_id("zone-editor-apply").click()
    await expect(page.get_by_test_id("zone-editor")).to_have_count(0)

    await expect(page.get_by_test_id("fleet-field-shape")).to_have_value("circle")
    await expect(page.get_by_test_id("fleet-field-radius_m")).to_have_value(str(RADIUS_M))
    await page.get_by_test_id("fleet-save").click()
    await expect(page.get_by_test_id("fleet-status")).to_have_attribute("data-state", "ok")

    zone = await stored_zone(service, "Z-CIRCLE")
    assert zone["shape"] == "circle" and zone["radius_m"] == RADIUS_M
    assert zone.get("polygon") is None
    assert abs(zone["centre"][0] - centre[0]) <= slack
    assert abs(zone["centre"][1] - centre[1]) <= slack
    assert errors == []


async def test_vertices_drag_and_delete_enter_closes_and_escape_leaves_the_form_as_it_was(
    service: RunningService, browser: Browser
) -> None:
    page = await open_small_console(browser, service)
    errors = watch_errors(page)
    await new_zone(page, "Z-KEYS")
    await page.get_by_test_id("zone-editor-mode-polygon").click()
    count = page.get_by_test_id("zone-editor-count")
    for n, (fx, fy) in enumerate([*CORNERS, (0.5, 0.15)], start=1):
        await page.mouse.click(*await plane_point(page, fx, fy))
        await expect(count).to_have_text(str(n))

    # the fifth vertex, deleted with its button in the list
    await page.get_by_test_id("zone-editor-vertex-delete").nth(4).click()
    await expect(count).to_have_text("4")
    # the second vertex, dragged 40 px right: its longitude grows, its latitude stays
    items = page.get_by_test_id("zone-editor-vertices").locator("li")
    before = [float(v) for v in (await items.nth(1).locator("span").inner_text()).split(",")]
    x, y = await plane_point(page, *CORNERS[1])
    await page.mouse.move(x, y)
    await page.mouse.down()
    await page.mouse.move(x + 20, y, steps=4)
    await page.mouse.move(x + 40, y, steps=4)
    await page.mouse.up()
    await expect(items.nth(1)).not_to_have_text(re.compile(re.escape(f"{before[1]:.6f}")))
    after = [float(v) for v in (await items.nth(1).locator("span").inner_text()).split(",")]
    assert after[1] > before[1] and abs(after[0] - before[0]) < 1e-4
    await expect(count).to_have_text("4")  # a drag adds no vertex

    await page.get_by_test_id("zone-editor-plane").focus()
    await page.keyboard.press("Enter")
    stats = page.get_by_test_id("zone-editor-stats")
    await expect(stats).to_have_attribute("data-closed", "true")
    await page.keyboard.press("Backspace")  # opens it again
    await expect(stats).to_have_attribute("data-closed", "false")
    await expect(count).to_have_text("4")

    # the circle's edge handle drags the radius
    await page.get_by_test_id("zone-editor-mode-circle").click()
    radius = page.get_by_test_id("zone-editor-radius")
    await expect(radius).to_have_value("500")  # the new zone's default
    await expect(page.get_by_test_id("zone-editor-radius-handle")).to_be_visible()
    handle = await page.get_by_test_id("zone-editor-radius-handle").bounding_box()
    assert handle is not None
    hx, hy = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    await page.mouse.move(hx, hy)
    await page.mouse.down()
    await page.mouse.move(hx + 30, hy, steps=5)
    await page.mouse.up()
    assert int(await radius.input_value()) > 500

    # Escape: nothing written back
    await page.keyboard.press("Escape")
    await expect(page.get_by_test_id("zone-editor")).to_have_count(0)
    await expect(page.get_by_test_id("fleet-field-shape")).to_have_value("circle")
    await expect(page.get_by_test_id("fleet-field-radius_m")).to_have_value("500")
    await expect(page.get_by_test_id("fleet-field-polygon")).to_have_value("")
    assert errors == []
