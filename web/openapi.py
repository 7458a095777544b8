"""The OpenAPI 3.1 description of the REST API: ``GET /api/v1/openapi.json`` (public).

Generated from the application's router when first asked for, so it lists exactly the routes
that exist: every typed route (web.api) with its parameters, body and answers as the pydantic
models declare them (schemas in ``components``), and the access rule of
:data:`web.access.ROUTE_ACCESS`: every non-public operation needs ``bearerAuth`` (a login
token, or an API key) or ``cookieAuth`` (the pages' session cookie), and says the capability
it needs in ``x-capability`` and its description. Errors share one answer model. Built once
per application, then served from a cache.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from importlib import metadata
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from web.access import API_KEY_CAPABILITIES, ROLE_CAPABILITIES, ROUTE_ACCESS, SESSION_COOKIE, Can
from web.api import (
    JSON,
    SCHEMA_OF,
    SCHEMA_REF,
    ApiRoutes,
    ErrorAnswer,
    Operation,
    models_documented_later,
    operation_of,
)

JsonObject = dict[str, Any]
OPENAPI_PATH = "/api/v1/openapi.json"
PACKAGE = "ioc-backend"
FALLBACK_VERSION = "0.1.0"
#: The built document of each application: {"document": dict, "text": its JSON}.
OPENAPI_CACHE: web.AppKey[dict[str, Any]] = web.AppKey("openapi_cache")

CAPABILITY_NOTES = {
    Can.OWN_DATA: "Enterprise users see their own enterprise's stations only.",
    Can.PORTAL: "Enterprise users act for their own enterprise; admins for any.",
    Can.INGEST: "An enterprise (user or key) writes its own stations only (others: "
    "`not_owner`); a state gateway key writes every station.",
    Can.SIGNED_IN: "API keys cannot: they only send data.",
}

INFO_DESCRIPTION = """\
REST API of the IOC monitoring backend: stations and their readings, alerts and their
lifecycle, silences, analytics (VN_AQI, forest-fire danger, rule backtests), cameras, HTTP
ingest of readings and station files, the versioned configuration, accounts and the audit log.

**Authentication.** `POST /api/v1/auth/token` with `{"username", "password"}` gives a bearer
token; send it as `Authorization: Bearer <token>`. Enterprises and state gateways send data
with an API key in the same header. The pages use the `ioc_session` cookie of
`POST /api/v1/auth/login` instead. Each operation states the capability it needs
(`x-capability`): 401 means no or a bad credential (an expired login says so), 403 a caller
that may not do this. Refusals are in the audit log.

**Errors** answer `{"error": reason, ...}`, sometimes with `problems` (every problem of a bad
body) or other details. Times are ISO 8601 with an offset; answers use UTC (`Z`).

**Websocket.** `GET /ws` is the wall's live feed (JSON text frames), documented here for its
access rule and query; the frames are described in docs/protocol.md.
"""

TAGS = {
    "auth": "Logging in and out, one's own account.",
    "users": "User accounts (admins).",
    "audit": "The audit log (admins).",
    "apikeys": "API keys of enterprises and state gateways.",
    "stations": "Stations, readings and refused data.",
    "alerts": "The alert lifecycle.",
    "silences": "Maintenance windows that silence alerts.",
    "analytics": "VN_AQI, forest-fire danger and rule backtests.",
    "cameras": "Camera numbers and snapshots.",
    "ingest": "Readings and station files sent over HTTP.",
    "config": "The versioned configuration in force: rules, stations, enterprises, parameter sets.",
    "portal": "The enterprise portal.",
    "vehicles": "Transport vehicles: positions (OsmAnd protocol), states and tracks.",
    "reports": "The regulator's monthly reports: data completeness and exceedances.",
    "system": "Health, this document and the wall's websocket.",
    "undocumented": "Routes without a description yet.",
}

ERROR_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    413: "TooLarge",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}
_ERROR_TEXT = {
    400: "Bad query or body: `error` says what, `problems` may list every problem.",
    401: "No credential, or a bad one (unknown, revoked or expired: `expired` is true then).",
    403: "Logged in (or an API key) but not allowed; or a cross-site cookie request.",
    404: "No such item.",
    409: "Conflict with the current state (details in the body).",
    413: "The body is larger than the service takes.",
    429: "Too many failed logins: `retry_after_s` says when to try again.",
    503: "A backing service (InfluxDB) is unavailable.",
}


api = ApiRoutes()


@api.get(OPENAPI_PATH, tag="system", answer=dict[str, Any])
async def openapi_document(request: web.Request) -> web.StreamResponse:
    """This OpenAPI document"""
    openapi_for(request.app)
    return web.Response(text=request.app[OPENAPI_CACHE]["text"], content_type=JSON)


def add_openapi_routes(app: web.Application) -> None:
    app[OPENAPI_CACHE] = {}
    api.add_to(app)


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


def typed_operations(app: web.Application) -> list[Operation]:
    """The operation of every typed route, in router order (HEAD twins left out)."""
    found = []
    for route in app.router.routes():
        operation = operation_of(route.handler)
        if operation is not None and route.method == operation.method:
            found.append(operation)
    return found


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON schemas without a title on every field."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def build_document(app: web.Application) -> JsonObject:
    operations = typed_operations(app)
    inputs = []
    for n, op in enumerate(operations):
        for place, kind in _types_of(op):
            mode: JsonSchemaMode = "serialization" if place.startswith("answer") else "validation"
            inputs.append(((n, place), mode, TypeAdapter(kind).core_schema))
    inputs.append(((-1, "error"), "serialization", TypeAdapter(ErrorAnswer).core_schema))
    refs, definitions = _Schemas(ref_template=SCHEMA_REF).generate_definitions(inputs)
    schemas: JsonObject = {str(name): definition for name, definition in definitions.items()}
    by_place: dict[int, JsonObject] = {}
    for ((n, place), _), ref in refs.items():
        by_place.setdefault(n, {})[place] = ref
    paths: dict[str, JsonObject] = {}
    for n, op in enumerate(operations):
        operation = _operation(op, by_place.get(n, {}), schemas)
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    for places in by_place.values():  # the query models are parameters now, not schemas
        if "query" in places:
            schemas.pop(_name(places["query"]), None)
    schemas["Error"] = schemas.pop(_name(by_place[-1]["error"]))
    schemas = _with_references(schemas)
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
            "securitySchemes": SECURITY_SCHEMES,
            "schemas": dict(sorted(schemas.items())),
            "responses": ERROR_RESPONSES,
        },
    }


def _types_of(op: Operation) -> list[tuple[str, Any]]:
    """(place, type) of every model the operation names: where its schema goes."""
    out: list[tuple[str, Any]] = [(f"path:{n}", kind) for n, kind in op.path_params.items()]
    if op.query is not None:
        out.append(("query", op.query))
    if op.body is not None:
        out.append(("body", op.body))
        out.extend((f"later:{m.__name__}", m) for m in models_documented_later(op.body))
    if op.answer is not None:
        out.append(("answer", op.answer))
    for place, media in (("request", op.request_media), ("answer", op.answer_media)):
        out.extend(
            (f"{place}:{m}", kind) for m, kind in media.items() if not isinstance(kind, dict)
        )
    return out


def _operation(op: Operation, schema: JsonObject, schemas: JsonObject) -> JsonObject:
    need = ROUTE_ACCESS.get((op.method, op.path))
    operation: JsonObject = {
        "tags": [op.tag],
        "summary": op.summary,
        "operationId": _operation_id(op),
        "description": "\n\n".join(filter(None, [op.description, _access_text(need)])),
        "x-capability": need.value if need is not None else "none",
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": schema[f"path:{name}"]}
        for name in op.path_params
    ]
    if op.query is not None:
        parameters.extend(_query_parameters(schemas[_name(schema["query"])], schemas))
    if parameters:
        operation["parameters"] = parameters
    content = _content(op.request_media, schema, "request")
    if op.body is not None:
        body_schema = schemas[_name(schema["body"])]
        content = {JSON: {"schema": schema["body"]}, **content}
        operation["requestBody"] = {
            "required": bool(body_schema.get("required")),
            "content": content,
        }
    elif content:
        operation["requestBody"] = {"required": True, "content": content}
    ok: JsonObject = {"description": HTTPStatus(op.status).phrase}
    answers = _content(op.answer_media, schema, "answer")
    if op.answer is not None:
        answers = {JSON: {"schema": schema["answer"]}, **answers}
    if answers:
        ok["content"] = answers
    responses: JsonObject = {str(op.status): ok}
    codes = set(op.errors) | (set() if need == Can.PUBLIC else {401, 403})
    for code in sorted(codes):
        name = "NotAWebsocket" if op.status == 101 and code == 400 else ERROR_NAMES[code]
        responses[str(code)] = {"$ref": f"#/components/responses/{name}"}
    operation["responses"] = responses
    public = need == Can.PUBLIC
    operation["security"] = [] if public else [{"bearerAuth": []}, {"cookieAuth": []}]
    return operation


def _with_references(node: Any) -> Any:
    """``{"x-schema-of": name, ...}`` (web.api.SchemaOf) → a reference to that schema."""
    if isinstance(node, dict):
        if SCHEMA_OF in node:
            return {"$ref": SCHEMA_REF.format(model=node[SCHEMA_OF])}
        return {key: _with_references(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_references(value) for value in node]
    return node


def _name(ref: JsonObject) -> str:
    """The component's name in a ``{"$ref": ...}``."""
    return str(ref["$ref"]).rsplit("/", 1)[1]


def _query_parameters(model: JsonObject, schemas: JsonObject) -> list[JsonObject]:
    required = set(model.get("required", ()))
    out = []
    for name, field in model.get("properties", {}).items():
        prop = _plain(field, schemas)
        description = prop.pop("description", None)
        param: JsonObject = {"name": name, "in": "query", "schema": prop}
        if description:
            param["description"] = description
        if name in required:
            param["required"] = True
        out.append(param)
    return out


def _plain(field: JsonObject, schemas: JsonObject) -> JsonObject:
    """A query parameter's schema: no null (a query string cannot send one), no default of
    None, and an enum inlined rather than referenced."""
    out = {k: v for k, v in field.items() if k != "anyOf" and not (k == "default" and v is None)}
    choices = [c for c in field.get("anyOf", [field]) if c.get("type") != "null"]
    if len(choices) == 1:
        choice = choices[0]
        out |= schemas[_name(choice)] if "$ref" in choice else choice
        out.pop("$ref", None)
        out.pop("title", None)
    else:
        out["anyOf"] = choices
    return out


def _content(media: Any, schema: JsonObject, place: str) -> JsonObject:
    return {
        m: {"schema": kind if isinstance(kind, dict) else schema[f"{place}:{m}"]}
        for m, kind in media.items()
    }


def _operation_id(op: Operation) -> str:
    words = re.findall(r"[A-Za-z0-9]+", op.path.removeprefix("/api/v1"))
    return "_".join([op.method.lower(), *(w.lower() for w in words)])


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


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return FALLBACK_VERSION


ERROR_RESPONSES: JsonObject = {
    name: {
        "description": _ERROR_TEXT[code],
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for code, name in ERROR_NAMES.items()
}
#: aiohttp's own answer to a GET /ws that is not a websocket upgrade.
ERROR_RESPONSES["NotAWebsocket"] = {
    "description": "Not a websocket upgrade (aiohttp's answer, plain text).",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}
SECURITY_SCHEMES = {
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
}
