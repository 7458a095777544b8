"""The wall's map settings (``web.basemap``)::

GET /api/v1/basemap            the tile server and where the outlines are
GET /api/v1/basemap/outlines   the province's and districts' outlines (GeoJSON)
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from ioc import appkeys
from web.api import Answer, ApiRoutes, error_answer

api = ApiRoutes()
OUTLINES = "/api/v1/basemap/outlines"


class BasemapTiles(Answer):
    url: str = Field(description="Tile URL template ({z}, {x}, {y} or {-y}, {s}).")
    attribution: str = Field(description="Plain text for the map's corner.")
    subdomains: str = Field(description="Letters {s} takes.")
    min_zoom: int = Field(description="Lowest zoom level the server has.")
    max_zoom: int = Field(description="Highest zoom level the server has.")
    appearance: Literal["dark", "dim", "natural"]


class Basemap(Answer):
    tiles: BasemapTiles | None = Field(description="None: no tile server, the offline map.")
    outlines: str | None = Field(description="Where the outlines are; None: none configured.")


def add_basemap_routes(app: web.Application) -> None:
    api.add_to(app)


@api.get("/api/v1/basemap", tag="system")
async def basemap(request: web.Request) -> Basemap:
    """The wall's map settings

    The tile server of `web.basemap` (none: the wall draws its offline map) and the URL of the
    outlines."""
    config = request.app[appkeys.CONFIG].web.basemap
    tiles = None
    if config.tile_url is not None:
        tiles = BasemapTiles(
            url=config.tile_url,
            attribution=config.attribution,
            subdomains=config.subdomains,
            min_zoom=config.min_zoom,
            max_zoom=config.max_zoom,
            appearance=config.appearance,
        )
    return Basemap(tiles=tiles, outlines=OUTLINES if config.outlines is not None else None)


@api.get(
    OUTLINES,
    tag="system",
    errors=(404,),
    answer_media={"application/geo+json": {"type": "object"}},
)
async def outlines(request: web.Request) -> web.StreamResponse:
    """The province's and districts' outlines

    The GeoJSON FeatureCollection of `web.basemap.outlines`, as the file has it."""
    path = request.app[appkeys.CONFIG].web.basemap.outlines
    if path is None or not path.is_file():
        raise error_answer(web.HTTPNotFound, "no outlines configured")
    return web.FileResponse(path, headers={"Content-Type": "application/geo+json"})
