"""The OpenAPI 3.1 description of the REST API: ``GET /api/v1/openapi.json`` (public).

The paths and methods come from the application's router when the document is first asked
for, so the document lists exactly the routes that exist: every ``/api/...`` route and the
wall's websocket ``/ws`` (pages and static files are left out). What each operation means —
summary, description, parameters, request body, answers — comes from the table
:data:`web.openapi_operations.OPERATIONS`, keyed by (method, route path); a route without an
entry there is still listed, marked undocumented. Who may call it comes from
:data:`web.access.ROUTE_ACCESS`: every non-public operation needs ``bearerAuth`` (a login
token, or an API key) or ``cookieAuth`` (the pages' session cookie), and says the capability
it needs in ``x-capability`` and its description.

Request bodies of rules and backtests are the pydantic models' own JSON schemas
(:class:`analytics.config.RuleConfig`, :class:`analytics.backtest.BacktestRequest`); the
rest are written after the handlers. Errors are ``{"error": reason, ...}``.

The document is built once per application and then served from a cache.
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from analytics.backtest import BacktestRequest
from analytics.config import RuleConfig
from web.access import API_KEY_CAPABILITIES, ROLE_CAPABILITIES, ROUTE_ACCESS, SESSION_COOKIE, Can
from web.openapi_operations import (
    _STRING,
    BACKTEST_PLACEHOLDER,
    CAPABILITY_NOTES,
    ERROR_NAMES,
    ERROR_RESPONSES,
    INFO_DESCRIPTION,
    OPENAPI_PATH,
    OPERATIONS,
    RULE_PLACEHOLDER,
    SCHEMAS,
    TAGS,
    Body,
    JsonObject,
    Op,
    Param,
    _ref,
)

PACKAGE = "ioc-backend"
FALLBACK_VERSION = "0.1.0"
#: The built document of each application: {"document": dict, "text": its JSON}.
OPENAPI_CACHE: web.AppKey[dict[str, Any]] = web.AppKey("openapi_cache")
_PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def add_openapi_routes(app: web.Application) -> None:
    app[OPENAPI_CACHE] = {}
    app.router.add_get(OPENAPI_PATH, openapi_document)


async def openapi_document(request: web.Request) -> web.Response:
    """The OpenAPI document of this service (built on the first call, then cached)."""
    openapi_for(request.app)
    return web.Response(text=request.app[OPENAPI_CACHE]["text"], content_type="application/json")


def openapi_for(app: web.Application) -> JsonObject:
    """The document of ``app``, cached in the app when it has the cache (add_openapi_routes)."""
    cache = app.get(OPENAPI_CACHE)
    if cache is not None and "document" in cache:
        document: JsonObject = cache["document"]
        return document
    document = build_document(app)
    if cache is not None:
        cache["document"] = document
        cache["text"] = json.dumps(document, ensure_ascii=False)
    return document


def documented_route(method: str, path: str) -> bool:
    """Whether a router route belongs in the document: the API and the websocket."""
    return method != "HEAD" and (path.startswith("/api/") or path == "/ws")


def router_operations(app: web.Application) -> list[tuple[str, str]]:
    """(method, route path) of every route the document describes, in router order."""
    seen: list[tuple[str, str]] = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None:
            continue
        key = (route.method.upper(), resource.canonical)
        if documented_route(*key) and key not in seen:
            seen.append(key)
    return seen


# --- building ------------------------------------------------------------------------------


def build_document(app: web.Application) -> JsonObject:
    schemas = dict(SCHEMAS)
    rule_ref = _pydantic_schema(RuleConfig, schemas)
    backtest_ref = _pydantic_schema(BacktestRequest, schemas)
    paths: dict[str, JsonObject] = {}
    for method, path in router_operations(app):
        spec = OPERATIONS.get((method, path)) or _undocumented(method, path)
        operation = _operation(method, path, spec, rule_ref, backtest_ref)
        paths.setdefault(_openapi_path(path), {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "IOC monitoring backend API",
            "version": package_version(),
            "summary": "Smart-city Intelligent Operations Center: stations, alerts, analytics.",
            "description": INFO_DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/", "description": "this service"}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A login token (POST /api/v1/auth/token) or an API key "
                    "(enterprise or state gateway; API keys may only send data: `ingest`).",
                },
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": SESSION_COOKIE,
                    "description": "The session cookie of the pages (POST /api/v1/auth/login). "
                    "Changes (POST, PUT, PATCH, DELETE) must come from the service's own "
                    "pages: a cross-site `Origin` is refused with 403.",
                },
            },
            "schemas": dict(sorted(schemas.items())),
            "responses": ERROR_RESPONSES,
        },
    }


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return FALLBACK_VERSION


def _pydantic_schema(model: type[BaseModel], schemas: dict[str, JsonObject]) -> JsonObject:
    """Put ``model``'s JSON schema (and the models it uses) in ``schemas``; its reference."""
    schema: JsonObject = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas[model.__name__] = schema
    return _ref(model.__name__)


def _openapi_path(path: str) -> str:
    """aiohttp's ``{name:regex}`` → OpenAPI's ``{name}`` (canonical paths already are)."""
    return _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _operation(
    method: str, path: str, spec: Op, rule_ref: JsonObject, backtest_ref: JsonObject
) -> JsonObject:
    need = ROUTE_ACCESS.get((method, path))
    operation: JsonObject = {
        "tags": [spec.tag],
        "summary": spec.summary,
        "operationId": _operation_id(method, path),
    }
    description = [spec.description.strip()] if spec.description else []
    description.append(_access_text(need))
    operation["description"] = "\n\n".join(description)
    operation["x-capability"] = need.value if need is not None else "none"
    parameters = _parameters(path, spec)
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = _request_body(spec.body, rule_ref, backtest_ref)
    operation["responses"] = _responses(spec, need)
    if need == Can.PUBLIC:
        operation["security"] = []
    else:
        operation["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
    return operation


def _operation_id(method: str, path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", path.removeprefix("/api/v1"))
    return "_".join([method.lower(), *(w.lower() for w in words)]) or method.lower()


def _access_text(need: Can | None) -> str:
    if need is None:
        return "**Access:** this route has no access policy: every call is refused (403)."
    if need == Can.PUBLIC:
        return "**Access:** public, no login needed."
    roles = [role.value for role, caps in ROLE_CAPABILITIES.items() if need in caps]
    callers = [f"roles {', '.join(roles)}" if roles else "no role"]
    if need in API_KEY_CAPABILITIES:
        callers.append("API keys")
    note = CAPABILITY_NOTES.get(need, "")
    return (
        f"**Access:** needs capability `{need.value}` ({' and '.join(callers)})."
        + (f" {note}" if note else "")
        + " Without a valid credential: 401; logged in but not allowed: 403."
    )


def _parameters(path: str, spec: Op) -> list[JsonObject]:
    given = {p.name: p for p in spec.params}
    out = []
    for name in _PATH_PARAM.findall(path):
        param = given.get(name) or Param(name, f"The `{name}` of the route.", _STRING, "path")
        out.append(param.json(required=True))
    out.extend(p.json(required=p.required) for p in spec.params if p.where == "query")
    return out


def _request_body(body: Body, rule_ref: JsonObject, backtest_ref: JsonObject) -> JsonObject:
    content: JsonObject = {}
    for media, schema in body.content.items():
        resolved = _resolve(schema, rule_ref, backtest_ref)
        content[media] = {"schema": resolved}
    out: JsonObject = {"required": body.required, "content": content}
    if body.description:
        out["description"] = body.description
    return out


def _resolve(schema: JsonObject, rule_ref: JsonObject, backtest_ref: JsonObject) -> JsonObject:
    """Replace the placeholders of the pydantic schemas with their references."""
    if schema is RULE_PLACEHOLDER:
        return rule_ref
    if schema is BACKTEST_PLACEHOLDER:
        return backtest_ref
    return {key: _resolve_any(value, rule_ref, backtest_ref) for key, value in schema.items()}


def _resolve_any(value: object, rule_ref: JsonObject, backtest_ref: JsonObject) -> object:
    if isinstance(value, dict):
        return _resolve(value, rule_ref, backtest_ref)
    if isinstance(value, list):
        return [_resolve_any(v, rule_ref, backtest_ref) for v in value]
    return value


def _responses(spec: Op, need: Can | None) -> JsonObject:
    responses: JsonObject = {}
    ok: JsonObject = {"description": spec.ok_description}
    if spec.ok_content:
        ok["content"] = {media: {"schema": s} for media, s in spec.ok_content.items()}
    responses[str(spec.ok)] = ok
    codes = set(spec.errors)
    if need is None or need != Can.PUBLIC:
        codes |= {401, 403}
    names = ERROR_NAMES | spec.own_errors
    for code in sorted(codes):
        responses[str(code)] = {"$ref": f"#/components/responses/{names[code]}"}
    return responses


def _undocumented(method: str, path: str) -> Op:
    return Op(f"{method} {path} (not documented yet)", "undocumented")
