"""The wall's basemap (issue #14 item 6) in a real headless Chromium against the real service:
Leaflet (served from the project) draws tiles of a local tile server (made here with Pillow)
under the wall's stations and vehicles, with the shipped outlines and the cameras' sites; with
the tile server down, the offline drawing stays."""

from __future__ import annotations

import io
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from PIL import Image, ImageDraw
from playwright.async_api import Browser, Page, expect

from ioc import appkeys
from ioc.config import BasemapConfig, IocConfig
from ioc.private_services import free_port
from tests.integration.conftest import ARTIFACTS, run_service
from tests.integration.test_wall_browser import open_wall
from tests.integration.test_wall_vehicles_browser import COUNTS, FLEET, MIDPOINT, marker_centre
from web.access import CONTENT_SECURITY_POLICY

TILE = 256


@dataclass
class TileServer:
    url: str  # the template
    origin: str
    requests: list[tuple[int, int, int]] = field(default_factory=list)


def tile_png(z: int, x: int, y: int) -> bytes:
    """A light tile with its border and name: a street map's colours, different per tile."""
    image = Image.new("RGB", (TILE, TILE), (236, 232, 220) if (x + y) % 2 else (222, 230, 214))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, TILE - 1, TILE - 1), outline=(150, 150, 170))
    draw.line((0, TILE // 2, TILE, TILE // 3), fill=(250, 200, 90), width=6)  # a "road"
    draw.text((8, 8), f"{z}/{x}/{y}", fill=(60, 60, 80))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
async def tile_server() -> AsyncIterator[TileServer]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    server = TileServer(f"{origin}/tiles/{{z}}/{{x}}/{{y}}.png", origin)

    async def tile(request: web.Request) -> web.Response:
        z, x, y = (int(request.match_info[k]) for k in ("z", "x", "y"))
        server.requests.append((z, x, y))
        return web.Response(body=tile_png(z, x, y), content_type="image/png")

    app = web.Application()
    app.router.add_get(r"/tiles/{z:\d+}/{x:\d+}/{y:\d+}.png", tile)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield server
    await runner.cleanup()


def with_tiles(config: IocConfig, url: str) -> IocConfig:
    basemap = BasemapConfig(tile_url=url, attribution="© Test tiles", max_zoom=18)
    return config.model_copy(update={"web": config.web.model_copy(update={"basemap": basemap})})


def mercator_px(lat: float, lon: float, z: int) -> tuple[float, float]:
    """Web Mercator world pixels at zoom z (256-px tiles)."""
    size = TILE * 2**z
    s = math.sin(math.radians(lat))
    return (lon + 180) / 360 * size, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * size


async def where_the_tiles_put(page: Page, lat: float, lon: float) -> tuple[float, float]:
    """The screen point of (lat, lon) read from the tile image that covers it."""
    tiles = page.locator("img.leaflet-tile-loaded")
    for tile in await tiles.all():
        src = await tile.get_attribute("src") or ""
        z, x, y = (int(part) for part in src.removesuffix(".png").split("/")[-3:])
        wx, wy = mercator_px(lat, lon, z)
        if int(wx // TILE) == x and int(wy // TILE) == y:
            box = await tile.bounding_box()
            assert box is not None
            return (
                box["x"] + (wx / TILE - x) * box["width"],
                box["y"] + (wy / TILE - y) * box["height"],
            )
    raise AssertionError(f"no loaded tile covers {lat}, {lon}")


async def test_the_wall_draws_tiles_outlines_cameras_stations_and_vehicles(
    config: IocConfig, tile_server: TileServer, browser: Browser
) -> None:
    async with run_service(with_tiles(config, tile_server.url)) as service:
        async with service.http() as http, http.get(f"{service.url}/api/v1/basemap") as response:
            settings = await response.json()
            policy = response.headers["Content-Security-Policy"]
        assert settings["tiles"]["url"] == tile_server.url
        assert f"img-src 'self' data: {tile_server.origin};" in policy

        page = await open_wall(browser, service, "/wall")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        wrap = page.locator("#map-wrap")
        await expect(wrap).to_have_attribute("data-basemap", "tiles")
        await expect(wrap).to_have_attribute("data-tiles-failed", "0")
        assert tile_server.requests, "the wall asked the tile server for nothing"
        loaded = page.locator("img.leaflet-tile-loaded")
        assert await loaded.count() > 0
        width = await loaded.first.evaluate("img => img.naturalWidth")
        assert width == TILE
        assert all(z == tile_server.requests[0][0] for z, _, _ in tile_server.requests)
        await expect(page.locator(".leaflet-control-attribution")).to_contain_text("© Test tiles")

        # The outlines (province + 12 districts of the shipped GeoJSON) and the cameras' sites.
        await expect(wrap).to_have_attribute("data-outlines", "13")
        await expect(page.locator("path.outline-province")).to_have_count(1)
        await expect(page.locator("path.outline-district")).to_have_count(12)
        sites = page.get_by_test_id("camera-site")
        await expect(sites).to_have_count(len(service.config.cameras.cameras))

        # The stations are drawn where the tiles put the ground (Leaflet's projection).
        await expect(page.get_by_test_id("station-marker")).to_have_count(3)
        for station in service.app[appkeys.REGISTRY]:
            assert station.lat is not None and station.lon is not None
            mx, my = await marker_centre(page, station.id)
            tx, ty = await where_the_tiles_put(page, station.lat, station.lon)
            assert abs(mx - tx) < 1.5 and abs(my - ty) < 1.5, (station.id, (mx, my), (tx, ty))

        # Vehicles: still drawn on their canvas, at the same projection (a click halfway
        # between two stations opens the vehicle drawn there).
        broadcaster = service.app[appkeys.BROADCASTER]
        broadcaster.publish({"type": "vehicles", "vehicles": FLEET, "counts": COUNTS})
        canvas = page.get_by_test_id("vehicle-canvas")
        await expect(canvas).to_have_attribute("data-vehicles", "5")
        (ax, ay), (sx, sy) = await marker_centre(page, "AIR-1"), await marker_centre(page, "STK-1")
        vx, vy = await where_the_tiles_put(page, *MIDPOINT)
        assert abs((ax + sx) / 2 - vx) < 1.5 and abs((ay + sy) / 2 - vy) < 1.5
        await page.mouse.click(vx + 2, vy - 1)
        await expect(page.get_by_test_id("vehicle-panel")).to_have_attribute(
            "data-vehicle-id", "49B15613"
        )
        await page.keyboard.press("Escape")

        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "wall-basemap-tiles.png"))

        # The cameras' layer switches off and on; its button speaks both languages.
        button = page.get_by_test_id("map-layer-cameras")
        await expect(button).to_have_text("Vị trí camera")
        await button.click()
        await expect(sites.first).to_be_hidden()
        await page.get_by_test_id("lang-en").click()
        await expect(button).to_have_text("Camera sites")
        await button.click()
        await expect(sites.first).to_be_attached()
        assert errors == []
        await page.context.close()  # its websocket would hold the service's shutdown


async def test_with_the_tile_server_down_the_offline_drawing_stays(
    config: IocConfig, browser: Browser
) -> None:
    down = f"http://127.0.0.1:{free_port()}/tiles/{{z}}/{{x}}/{{y}}.png"  # nothing listens
    async with run_service(with_tiles(config, down)) as service:
        page = await open_wall(browser, service, "/wall")
        wrap = page.locator("#map-wrap")
        await expect(wrap).to_have_attribute("data-basemap", "failed", timeout=15_000)
        assert int(await wrap.get_attribute("data-tiles-failed") or "0") > 0
        assert await page.locator("img.leaflet-tile-loaded").count() == 0
        note = page.get_by_test_id("basemap-note")
        await expect(note).to_be_visible()
        await expect(note).to_contain_text("bản đồ ngoại tuyến")
        # The offline drawing: the grid, the scale bar, the outlines, the stations.
        assert await page.locator("#map-grid line").count() > 0
        assert await page.locator("#map-scale path").count() > 0
        await expect(page.locator("path.outline-district")).to_have_count(12)
        await expect(page.get_by_test_id("station-marker")).to_have_count(3)
        # No grey void: where no tile is, the wall's own dark ground shows.
        background = await page.locator("#basemap").evaluate(
            "el => getComputedStyle(el).backgroundColor"
        )
        assert background == "rgba(0, 0, 0, 0)"
        await page.get_by_test_id("lang-en").click()
        await expect(note).to_contain_text("offline map")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "wall-basemap-tiles-down.png"))
        await page.context.close()


async def test_without_a_tile_server_the_wall_draws_its_offline_map(
    config: IocConfig, browser: Browser
) -> None:
    async with run_service(config) as service:
        async with service.http() as http:
            async with http.get(f"{service.url}/wall") as response:
                assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            async with http.get(f"{service.url}/api/v1/basemap/outlines") as response:
                assert response.content_type == "application/geo+json"
                assert len((await response.json())["features"]) == 13
        page = await open_wall(browser, service, "/wall")
        wrap = page.locator("#map-wrap")
        await expect(wrap).to_have_attribute("data-outlines", "13")
        await expect(wrap).to_have_attribute("data-basemap", "offline")
        await expect(page.get_by_test_id("basemap-note")).to_be_hidden()
        assert await page.locator("img.leaflet-tile").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "wall-basemap-offline.png"))
        await page.context.close()
