"""InfluxDB queries of the API: a store away or failing answers 503 saying so."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ioc import appkeys
from ioc.errors import StoreError
from web.api import error_answer


async def query_store(request: web.Request, influxql: str) -> list[dict[str, Any]]:
    """Rows of an InfluxQL query; InfluxDB away or failing is a 503 saying so."""
    try:
        return await request.app[appkeys.STORE].query(influxql)
    except StoreError as exc:
        raise error_answer(
            web.HTTPServiceUnavailable, "database unavailable", detail=str(exc)
        ) from exc
