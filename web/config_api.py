"""REST API of the configuration in force (ioc.config_store), versioned::

    GET    /api/v1/config/{kind}              every item with its version
    GET    /api/v1/config/{kind}/{key}        one item and its history
    PUT    /api/v1/config/{kind}/{key}        {"item": {...}, "version": N}; ?dry_run=1 only
                                              validates (the console's inline errors)
    DELETE /api/v1/config/{kind}/{key}        ?version=N
    GET    /api/v1/config/history             ?kind=&key=&limit=
    POST   /api/v1/config/history/{id}/rollback   put back what change {id} replaced

``{kind}`` is ``rules`` (officers and admins change them), ``stations``, ``enterprises`` or
``parameter-sets`` (admins). ``version`` is optional; when given and the item changed since,
the answer is 409 with the current version (``version: 0``: the item must not exist yet).
A change that would leave the configuration invalid is a 400 listing ``problems`` as
``{"field", "message"}``; a valid one is in force at once (ioc.live_config) and answers the
recorded change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from ioc import appkeys
from ioc.audit import OK
from ioc.clock import iso_utc
from ioc.config_store import (
    ENTERPRISE,
    PARAMETER_SET,
    RULE,
    STATION,
    ConfigChange,
    ConfigStore,
    SettingRejected,
    StaleSetting,
)
from web.access import CONFIG_WRITERS, audit, principal_of
from web.requests import bad_request, json_body, json_error, whole_number

KIND_OF_PATH = {
    "rules": RULE,
    "stations": STATION,
    "enterprises": ENTERPRISE,
    "parameter-sets": PARAMETER_SET,
}
MAX_HISTORY = 1_000


def add_config_routes(app: web.Application) -> None:
    for path in KIND_OF_PATH:
        app.router.add_get(f"/api/v1/config/{path}", list_items)
        app.router.add_get(f"/api/v1/config/{path}/{{key}}", show_item)
        app.router.add_put(f"/api/v1/config/{path}/{{key}}", put_item)
        app.router.add_delete(f"/api/v1/config/{path}/{{key}}", delete_item)
    app.router.add_get("/api/v1/config/history", history)
    app.router.add_post("/api/v1/config/history/{id}/rollback", rollback)


def _kind(request: web.Request) -> str:
    return KIND_OF_PATH[request.path.split("/")[4]]


def _settings(request: web.Request) -> ConfigStore:
    return request.app[appkeys.SETTINGS]


async def list_items(request: web.Request) -> web.Response:
    items = _settings(request).items(_kind(request))
    return web.json_response(
        {"items": [{"key": k, "version": i.version, "item": i.body} for k, i in items.items()]}
    )


async def show_item(request: web.Request) -> web.Response:
    kind, key = _kind(request), request.match_info["key"]
    settings = _settings(request)
    item = settings.item(kind, key)
    if item is None:
        raise json_error(web.HTTPNotFound, f"no {kind} {key!r}")
    changes = settings.history(kind, key, limit=50)
    return web.json_response(
        {
            "key": key,
            "version": item.version,
            "item": item.body,
            "history": [change_json(c) for c in changes],
        }
    )


async def put_item(request: web.Request) -> web.Response:
    kind, key = _kind(request), request.match_info["key"]
    body = await json_body(request, {"item", "version"}, frozenset({"item"}))
    item, version = body["item"], _version(body.get("version"))
    if not isinstance(item, dict):
        raise bad_request("`item` must be a JSON object")
    settings = _settings(request)
    with _answering_rejections():
        if request.query.get("dry_run") in ("1", "true"):
            settings.check(kind, key, item)
            return web.json_response({"valid": True})
        change = settings.put(kind, key, item, principal_of(request).name, version)
    _audit_change(request, change)
    return web.json_response(change_json(change))


async def delete_item(request: web.Request) -> web.Response:
    kind, key = _kind(request), request.match_info["key"]
    version = _version(request.query.get("version"))
    with _answering_rejections():
        change = _settings(request).delete(kind, key, principal_of(request).name, version)
    _audit_change(request, change)
    return web.json_response(change_json(change))


async def history(request: web.Request) -> web.Response:
    query = request.query
    kind = query.get("kind")
    if kind is not None and kind not in CONFIG_WRITERS:
        raise bad_request(f"`kind` must be one of {', '.join(CONFIG_WRITERS)}")
    limit = whole_number(query.get("limit", "100"))
    if limit is None or not 1 <= limit <= MAX_HISTORY:
        raise bad_request(f"`limit` must be 1..{MAX_HISTORY}")
    changes = _settings(request).history(kind, query.get("key"), limit)
    return web.json_response({"changes": [change_json(c) for c in changes]})


async def rollback(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    settings = _settings(request)
    change_id = whole_number(raw)
    target = None if change_id is None else settings.change(change_id)
    if target is None:
        raise json_error(web.HTTPNotFound, f"no configuration change {raw}")
    principal = principal_of(request)
    if not principal.may(CONFIG_WRITERS[target.kind]):
        raise json_error(web.HTTPForbidden, f"role {principal.role} may not change {target.kind}s")
    with _answering_rejections():
        change = settings.rollback(target.id, principal.name)
    _audit_change(request, change)
    return web.json_response(change_json(change))


@contextlib.contextmanager
def _answering_rejections() -> Iterator[None]:
    """SettingRejected → 400 with problems; StaleSetting → 409 with the current version."""
    try:
        yield
    except StaleSetting as exc:
        raise json_error(
            web.HTTPConflict, str(exc), current_version=exc.current, problems=_problems(exc)
        ) from None
    except SettingRejected as exc:
        raise json_error(web.HTTPBadRequest, str(exc), problems=_problems(exc)) from None


def _problems(exc: SettingRejected) -> list[dict[str, str]]:
    return [{"field": field, "message": message} for field, message in exc.problems]


def _version(raw: object) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    number = whole_number(raw) if isinstance(raw, str) else None
    if number is None:
        raise bad_request("`version` must be an integer")
    return number


def _audit_change(request: web.Request, change: ConfigChange) -> None:
    audit(
        request,
        change.actor,
        f"{change.kind}.{change.action}",
        OK,
        key=change.key,
        change_id=change.id,
        old=change.old,
        new=change.new,
    )


def change_json(change: ConfigChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "time": iso_utc(change.ts_ms),
        "actor": change.actor,
        "kind": change.kind,
        "key": change.key,
        "action": change.action,
        "old": change.old,
        "new": change.new,
        "rollback_of": change.rollback_of,
    }
