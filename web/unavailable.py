"""Input refused while the spool is full (ioc.errors.StorageFull): ``503 Service Unavailable``
with ``Retry-After`` and a JSON error, for HTTP ingest and anything else that meets a full
spool. An ingest request is refused before its body is read when the spool is already full;
one that fills it on the way gets the same answer, its readings not kept."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from ioc import appkeys
from ioc.errors import StorageFull

RETRY_AFTER_S = 5
INGEST_PATH = "/api/v1/ingest"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def refuse_while_storage_full(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        full = request.app[appkeys.STORE].spool.full
        if full is not None and request.method == "POST" and request.path.startswith(INGEST_PATH):
            raise StorageFull(full.reason)
        return await handler(request)
    except StorageFull as exc:
        body = {
            "error": f"storage full ({exc.reason}): input cannot be kept now; send it again "
            f"after {RETRY_AFTER_S} s (values already stored are then answered as duplicates)",
            "storage": "full",
            "reason": exc.reason,
            "retry_after_s": RETRY_AFTER_S,
        }
        raise web.HTTPServiceUnavailable(
            text=json.dumps(body, ensure_ascii=False),
            content_type="application/json",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from None
