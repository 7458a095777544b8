"""The OpenAPI description of the REST API (filled in by the OpenAPI work)."""

from __future__ import annotations

from aiohttp import web


def add_openapi_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/openapi.json", openapi_document)


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response({"openapi": "3.1.0", "paths": {}})
