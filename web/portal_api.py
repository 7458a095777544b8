"""REST API of the enterprise portal (filled in by the portal work)."""

from __future__ import annotations

from aiohttp import web


def add_portal_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/portal/stations", portal_stations)


async def portal_stations(request: web.Request) -> web.Response:
    return web.json_response({"stations": []})
