"""Cameras for the wall and operators::

GET /api/v1/cameras                           latest numbers and health of every camera
GET /api/v1/cameras/{id}/snapshots/{name}     latest.jpg (overlays) or an evidence frame
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ConfigDict

from ioc import appkeys
from web.api import Answer, ApiRoutes, error_answer

api = ApiRoutes()


class CameraAnswer(Answer):
    """A camera's latest numbers and health (and, by kind, ``traffic`` or ``smoke``)."""

    model_config = ConfigDict(extra="allow")
    camera: str
    name: str
    kind: str
    frames: int
    fps: float | None
    health: dict[str, Any]


class CameraList(Answer):
    cameras: list[CameraAnswer]


def add_camera_routes(app: web.Application) -> None:
    api.add_to(app)


@api.get("/api/v1/cameras", tag="cameras")
async def list_cameras(request: web.Request) -> CameraList:
    """Cameras: latest numbers and health"""
    feed = request.app[appkeys.CAMERAS]
    return CameraList.model_validate({"cameras": [w.state() for w in feed.workers.values()]})


@api.get(
    "/api/v1/cameras/{id}/snapshots/{name}",
    tag="cameras",
    errors=(404,),
    answer_media={"image/jpeg": {"type": "string", "contentMediaType": "image/jpeg"}},
)
async def snapshot(request: web.Request, id: str, name: str) -> web.StreamResponse:
    """A camera snapshot

    `latest.jpg` (with overlays) or an evidence frame `<ms>.jpg` of an alert."""
    path = request.app[appkeys.SNAPSHOTS].path(id, name)
    if path is None or not path.exists():
        raise error_answer(web.HTTPNotFound, "no such snapshot")
    headers = {"Cache-Control": "no-cache"} if path.name == "latest.jpg" else {}
    return web.FileResponse(path, headers=headers)
