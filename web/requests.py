"""Reading JSON request bodies the same way in every API module."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


async def json_body(
    request: web.Request, allowed: set[str], required: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The JSON object of the request (an empty body is ``{}``), with only ``allowed`` keys
    and every ``required`` one."""
    raw = await request.text()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise bad_request("the body is not JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_request(
            f"unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(allowed))}"
        )
    missing = sorted(required - body.keys())
    if missing:
        raise bad_request(f"missing field(s) {', '.join(missing)}")
    return body


def text_field(body: dict[str, Any], key: str, default: str = "", max_length: int = 2_000) -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise bad_request(f"`{key}` must be a string")
    if len(value) > max_length:
        raise bad_request(f"`{key}` is longer than {max_length} characters")
    return value


def bad_request(reason: str, **details: object) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=json.dumps({"error": reason, **details}, ensure_ascii=False),
        content_type="application/json",
    )
