"""Reading requests and answering errors the same way in every API module: JSON bodies,
text fields, ISO 8601 times, InfluxDB queries, and ``{"error": reason, ...}`` answers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from ingest.decode import loads
from ioc import appkeys
from ioc.errors import StoreError

MAX_DIGITS = 18  # below 2**63: a whole number fits SQLite's INTEGER and InfluxDB's int64


def whole_number(raw: str | None) -> int | None:
    """``raw`` as a number when it is 1 to 18 ASCII digits, else None. (``str.isdigit`` also
    takes "²", which ``int`` refuses; longer numbers overflow SQLite.)"""
    if raw and len(raw) <= MAX_DIGITS and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def count_param(query: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    """A positive count such as ``limit`` from the query: 400 naming the bounds otherwise."""
    number = whole_number(query.get(name, str(default)))
    if number is None or not 1 <= number <= maximum:
        raise bad_request(f"`{name}` must be 1..{maximum}")
    return number


def json_error(kind: type[web.HTTPException], reason: str, **details: object) -> web.HTTPException:
    """An HTTP error whose body is ``{"error": reason, **details}``."""
    return kind(
        text=json.dumps({"error": reason, **details}, ensure_ascii=False),
        content_type="application/json",
    )


def bad_request(reason: str, **details: object) -> web.HTTPException:
    return json_error(web.HTTPBadRequest, reason, **details)


async def json_body(
    request: web.Request, allowed: set[str], required: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The JSON object of the request (an empty body is ``{}``), with only ``allowed`` keys
    and every ``required`` one."""
    raw = await request.read()
    try:
        body = loads(raw) if raw.strip() else {}
    except UnicodeDecodeError:  # before ValueError: it is one
        raise bad_request("the body is not UTF-8") from None
    except (ValueError, RecursionError):
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


def time_value(raw: object, name: str) -> int:
    """An ISO 8601 time with a UTC offset, in years 1678..2261 (what InfluxDB can store) →
    epoch ms; a clear 400 otherwise."""
    if not isinstance(raw, str):
        raise bad_request(f"`{name}` must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_request(f"`{name}` {raw!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        raise bad_request(f"`{name}` needs a UTC offset (Z or +07:00)")
    if not 1678 <= parsed.year <= 2261:
        raise bad_request(f"`{name}` {raw!r} is outside the years 1678 to 2261")
    return int(parsed.timestamp() * 1000)


def time_param(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    return None if raw is None else time_value(raw, name)


async def query_store(request: web.Request, influxql: str) -> list[dict[str, Any]]:
    """Rows of an InfluxQL query; InfluxDB away or failing is a 503 saying so."""
    try:
        return await request.app[appkeys.STORE].query(influxql)
    except StoreError as exc:
        raise json_error(
            web.HTTPServiceUnavailable, "database unavailable", detail=str(exc)
        ) from exc
