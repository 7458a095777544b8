"""``GET /api/docs``: the REST API to read and try, Swagger UI over ``/api/v1/openapi.json``.

Swagger UI's built files come from the PyPI package ``swagger-ui-bundle-v2`` (the
spec-first/swagger_ui_bundle layout, kept at current Swagger UI releases: 5.x reads OpenAPI
3.1), served as they are under :data:`ASSETS`; nothing is copied into this repository and no
CDN is used. The page and its initialiser are ours (``static/api-docs.html``,
``static/api-docs.js``, an ES module): the page runs under the same Content-Security-Policy as
the others, no inline script, no eval.

The page is public like the document it shows; trying an operation needs a login token
(``Authorize``), or the session cookie of a logged-in browser.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

PAGE = "/api/docs"
ASSETS = "/vendor/swagger-ui"
SWAGGER_UI_DIR = Path(str(swagger_ui_path))
STATIC_DIR = Path(__file__).parent / "static"


async def api_docs_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "api-docs.html")
