"""Cameras for the wall and operators::

GET /api/v1/cameras                           latest numbers and health of every camera
GET /api/v1/cameras/{id}/snapshots/{name}     latest.jpg (overlays) or an evidence frame
"""

from __future__ import annotations

from aiohttp import web

from ioc import appkeys


def add_camera_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/cameras", list_cameras)
    app.router.add_get("/api/v1/cameras/{id}/snapshots/{name}", snapshot)


async def list_cameras(request: web.Request) -> web.Response:
    feed = request.app[appkeys.CAMERAS]
    return web.json_response({"cameras": [w.state() for w in feed.workers.values()]})


async def snapshot(request: web.Request) -> web.StreamResponse:
    path = request.app[appkeys.SNAPSHOTS].path(request.match_info["id"], request.match_info["name"])
    if path is None or not path.exists():
        raise web.HTTPNotFound(
            text='{"error": "no such snapshot"}', content_type="application/json"
        )
    headers = {"Cache-Control": "no-cache"} if path.name == "latest.jpg" else {}
    return web.FileResponse(path, headers=headers)
