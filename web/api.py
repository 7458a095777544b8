"""Typed routes: every REST handler says with pydantic models what it takes and what it
answers; this module reads, validates and answers for it. Those declarations are the one
source of validation and of the OpenAPI document (web/openapi.py)::

    api = ApiRoutes()

    @api.get("/api/v1/alerts", tag="alerts")
    async def list_alerts(request: web.Request, query: AlertQuery) -> AlertList:
        '''Query alerts

        Newest first.'''

Where each input comes from is the handler's parameter name: ``query`` is a :class:`Query`
model of the query string, ``body`` a model of the JSON body (an empty body is ``{}``), and
any other name the route's path parameter of that name, with its type. The return annotation
is the answer, encoded as JSON with the route's ``status``. A handler that builds its own
response (a cookie, a file, a websocket, 204) returns a ``web.StreamResponse`` and names its
JSON answer with ``answer=``. The docstring's first line is the summary, the rest the
description.

Why not aiohttp-pydantic: it wants class-based views, writes OpenAPI 3.0 and its own error
shape; this is one decorator over aiohttp's own route table, OpenAPI 3.1 from pydantic's JSON
schemas, and the ``{"error", "problems"}`` answers the console already shows next to fields.

A bad request answers 400 ``{"error": "`limit` must be ...", "problems": [{"field",
"message"}, ...]}`` with every problem: ``field`` is a query or path parameter, or a dotted
path in the body.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar, get_type_hints

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from ingest.decode import loads

JSON = "application/json"
#: Where the document keeps the schemas of models (web/openapi.py).
SCHEMA_REF = "#/components/schemas/{model}"
SCHEMA_OF = "x-schema-of"
Handler = Callable[..., Awaitable[Any]]
H = TypeVar("H", bound=Handler)
#: A route's ``{name:regex}`` parameter.
ROUTE_PATTERN = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
#: How many problems the one-line ``error`` repeats (``problems`` has them all).
ERROR_LINE_PROBLEMS = 3


class Body(BaseModel):
    """A body people write: strict types (``"5"`` is not a number), unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Query(BaseModel):
    """A query string: text converted to each field's type; other parameters are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)

    @classmethod
    def of(cls, source: object, **fields: Any) -> Self:
        """The answer for ``source`` (a record of the domain): its attributes of the same
        names, and ``fields`` for the others (times as ISO text ...)."""
        taken = {name: getattr(source, name) for name in cls.model_fields if hasattr(source, name)}
        return cls.model_validate(taken | fields)


class Problem(Answer):
    field: str = Field(description="A query or path parameter, or a dotted path in the body.")
    message: str


class ErrorAnswer(Answer):
    """Every error answer; some carry more details than these."""

    model_config = ConfigDict(extra="allow")
    error: str = Field(description="Why the request failed.")
    problems: list[Problem] | None = Field(None, description="400: every problem.")
    expired: bool | None = Field(None, description="401: the login has expired.")
    retry_after_s: int | None = Field(None, description="429: seconds until a login may retry.")
    current_version: int | None = Field(None, description="409: the item's version now.")


@dataclass(frozen=True, slots=True)
class SchemaOf:
    """Marks a field that is validated later, in context, by ``model`` (a configuration item
    is checked with the whole configuration): the document shows ``model``'s schema."""

    model: type[BaseModel]

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return {SCHEMA_OF: self.model.__name__}  # a reference, once the document is built


def models_documented_later(model: type[BaseModel] | None) -> list[type[BaseModel]]:
    """The :class:`SchemaOf` models of ``model``'s fields."""
    fields = model.model_fields.values() if model is not None else ()
    return [m.model for f in fields for m in f.metadata if isinstance(m, SchemaOf)]


@dataclass(frozen=True, slots=True)
class Operation:
    """What one route takes and answers, read from its handler."""

    method: str
    path: str
    tag: str
    summary: str
    description: str
    status: int
    errors: frozenset[int]
    path_params: Mapping[str, Any]  # name → type
    query: type[Query] | None
    body: type[BaseModel] | None
    answer: Any  # a type, or None: no JSON answer
    #: Documentation only, for what the handler reads or writes itself (files, SenML, JPEG):
    #: media type → a type (its schema) or a JSON schema.
    request_media: Mapping[str, Any] = field(default_factory=dict)
    answer_media: Mapping[str, Any] = field(default_factory=dict)


class ApiRoutes:
    """A route table whose handlers are typed: ``add_to(app)`` puts them on the router, each
    carrying its :class:`Operation` as ``handler.operation``."""

    def __init__(self) -> None:
        self.routes: list[web.RouteDef] = []

    def get(self, path: str, **options: Any) -> Callable[[H], H]:
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[H], H]:
        return self.route("POST", path, **options)

    def put(self, path: str, **options: Any) -> Callable[[H], H]:
        return self.route("PUT", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[H], H]:
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[H], H]:
        return self.route("DELETE", path, **options)

    def route(
        self,
        method: str,
        path: str,
        *,
        tag: str,
        status: int = 200,
        errors: tuple[int, ...] = (),
        answer: Any = None,
        summary: str = "",
        description: str = "",
        request_media: Mapping[str, Any] | None = None,
        answer_media: Mapping[str, Any] | None = None,
        models: Mapping[str, Any] | None = None,
    ) -> Callable[[H], H]:
        """``models``: types of parameters by name, instead of the handler's annotations
        (one handler serving routes of several types)."""

        def register(handler: H) -> H:
            read = _read_handler(handler, models or {})
            operation = Operation(
                method=method,
                path=ROUTE_PATTERN.sub(r"{\1}", path),  # as OpenAPI and the router name it
                tag=tag,
                summary=summary or read.summary,
                description=description or read.description,
                status=status,
                errors=frozenset(errors) | ({400} if read.takes_input else set()),
                path_params=read.path_params,
                query=read.query,
                body=read.body,
                answer=read.answer if read.answer is not None else answer,
                request_media=request_media or {},
                answer_media=answer_media or {},
            )
            self.routes.append(web.route(method, path, typed_handler(handler, operation)))
            return handler

        return register

    def add_to(self, app: web.Application) -> None:
        app.router.add_routes(self.routes)


def operation_of(handler: object) -> Operation | None:
    operation = getattr(handler, "operation", None)
    return operation if isinstance(operation, Operation) else None


def respond(value: Any, status: int = 200, kind: Any = None) -> web.Response:
    """``value`` (a model, or a value of type ``kind``) as a JSON answer."""
    adapter = TypeAdapter(kind if kind is not None else type(value))
    return web.Response(body=adapter.dump_json(value), status=status, content_type=JSON)


def error_answer(kind: type[web.HTTPException], reason: str, **details: Any) -> web.HTTPException:
    """An HTTP error whose body is ``{"error": reason, **details}``."""
    return kind(
        text=json.dumps({"error": reason, **details}, ensure_ascii=False), content_type=JSON
    )


def invalid(problems: list[Problem], reason: str = "") -> web.HTTPException:
    """400 listing every problem; ``error`` repeats the first few on one line."""
    line = "; ".join(f"`{p.field}` {p.message}" for p in problems[:ERROR_LINE_PROBLEMS])
    if len(problems) > ERROR_LINE_PROBLEMS:
        line += f" (and {len(problems) - ERROR_LINE_PROBLEMS} more)"
    return error_answer(
        web.HTTPBadRequest,
        f"{reason}: {line}" if reason else line,
        problems=[p.model_dump() for p in problems],
    )


def problems_of(
    error: ValidationError, prefix: tuple[str | int, ...] = (), model: Any = None
) -> list[Problem]:
    """One :class:`Problem` per pydantic error, worded for people."""
    return [
        Problem(field=".".join(str(p) for p in (*prefix, *e["loc"])), message=_wording(e, model))
        for e in error.errors(include_url=False)
    ]


#: Wording of pydantic's error types for people; the others keep pydantic's message.
_TYPE_WORDS = {
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "model_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a list",
    "missing": "is required",
    "string_too_long": "is longer than {max_length} characters",
    "string_too_short": "is shorter than {min_length} characters",
    "less_than_equal": "must be at most {le}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be below {lt}",
    "greater_than": "must be above {gt}",
}


def _wording(error: ErrorDetails, model: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        known = sorted(model.model_fields) if len(error["loc"]) == 1 and model else []
        return "is not a known field" + (f" (expected {', '.join(known)})" if known else "")
    if kind in _TYPE_WORDS:
        context = {
            k: f"{v:g}" if isinstance(v, float) else v for k, v in error.get("ctx", {}).items()
        }
        return _TYPE_WORDS[kind].format(**context)
    message = error["msg"].removeprefix("Value error, ").replace("Input should", "must")
    return message[:1].lower() + message[1:]


# --- reading a request ---------------------------------------------------------------------


def typed_handler(handler: Handler, operation: Operation) -> Handler:
    """The aiohttp handler of ``handler``: reads and validates its inputs, encodes its answer."""
    path_adapters = {name: TypeAdapter(kind) for name, kind in operation.path_params.items()}
    answer = None if operation.answer is None else TypeAdapter(operation.answer)

    async def handle(request: web.Request) -> web.StreamResponse:
        problems: list[Problem] = []
        inputs: dict[str, Any] = {}
        for name, adapter in path_adapters.items():
            inputs[name] = _validated(adapter, request.match_info[name], (name,), problems)
        if operation.query is not None:
            query = dict(request.query)
            inputs["query"] = _validated(operation.query, query, (), problems)
        if operation.body is not None:
            inputs["body"] = _validated(operation.body, await read_json(request), (), problems)
        if problems:
            raise invalid(problems)
        result = await handler(request, **inputs)
        if isinstance(result, web.StreamResponse) or answer is None:
            return result  # type: ignore[no-any-return]
        return web.Response(
            body=answer.dump_json(result), status=operation.status, content_type=JSON
        )

    handle.operation = operation  # type: ignore[attr-defined]
    handle.__name__ = handler.__name__
    handle.__doc__ = handler.__doc__
    return handle


def _validated(
    kind: Any, value: object, prefix: tuple[str | int, ...], problems: list[Problem]
) -> Any:
    try:
        if isinstance(kind, TypeAdapter):
            return kind.validate_python(value)
        return kind.model_validate(value)
    except ValidationError as exc:
        problems.extend(problems_of(exc, prefix, None if isinstance(kind, TypeAdapter) else kind))
        return None


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object of the request; an empty body is ``{}``."""
    raw = await request.read()
    try:
        body = loads(raw) if raw.strip() else {}
    except UnicodeDecodeError:  # before ValueError: it is one
        raise error_answer(web.HTTPBadRequest, "the body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise error_answer(web.HTTPBadRequest, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise error_answer(web.HTTPBadRequest, "the body must be a JSON object")
    return body


# --- reading a handler ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _HandlerInputs:
    summary: str
    description: str
    path_params: dict[str, Any]
    query: type[Query] | None
    body: type[BaseModel] | None
    answer: Any  # None when the handler answers itself (a web.StreamResponse)

    @property
    def takes_input(self) -> bool:
        return bool(self.path_params) or self.query is not None or self.body is not None


def _read_handler(handler: Handler, models: Mapping[str, Any]) -> _HandlerInputs:
    hints = get_type_hints(handler, include_extras=True) | dict(models)
    names = list(inspect.signature(handler).parameters)[1:]  # after the request
    returned = hints.get("return")
    answers_itself = isinstance(returned, type) and issubclass(returned, web.StreamResponse)
    first, _, rest = inspect.cleandoc(handler.__doc__ or "").partition("\n\n")
    return _HandlerInputs(
        summary=" ".join(first.split()),
        description=rest.strip(),
        path_params={name: hints[name] for name in names if name not in ("query", "body")},
        query=hints["query"] if "query" in names else None,
        body=hints["body"] if "body" in names else None,
        answer=None if answers_itself else returned,
    )
