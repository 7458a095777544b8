"""web.api: typed routes read, validate and answer as their models say, and the OpenAPI
document describes exactly that (a tiny application of its own, no service)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field

from web.access import ROUTE_ACCESS, Can
from web.api import Answer, ApiRoutes, Body, Query, SchemaOf
from web.fields import IsoTime, Text, UtcTime, WholeNumber, count
from web.openapi import add_openapi_routes, openapi_for

api = ApiRoutes()


class Place(Body):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Thing(BaseModel):
    name: str


class NewSpot(Body):
    name: Text = Field(max_length=20)
    place: Place
    tags: list[str] = Field(default_factory=list, max_length=3)
    later: Annotated[dict[str, Any], SchemaOf(Thing)] = Field(default_factory=dict)


class SpotQuery(Query):
    since: IsoTime | None = None
    limit: WholeNumber = count(10, 100)
    kind: Literal["a", "b"] = "a"


class Spot(Answer):
    id: int
    name: str
    kind: Literal["a", "b"]
    since: UtcTime | None
    limit: int


@api.post("/api/v1/spots/{group}", tag="system", status=201)
async def add_spot(
    request: web.Request, group: WholeNumber, query: SpotQuery, body: NewSpot
) -> Spot:
    """Add a spot

    Longer words."""
    since = None if query.since is None else "2026-01-01T00:00:00Z"
    return Spot(id=group, name=body.name, kind=query.kind, since=since, limit=query.limit)


def make_app() -> web.Application:
    app = web.Application()
    api.add_to(app)
    add_openapi_routes(app)
    return app


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any]) -> TestClient:
    client: TestClient = await aiohttp_client(make_app())
    return client


async def test_a_valid_request_is_answered_with_its_model(client: TestClient) -> None:
    response = await client.post(
        "/api/v1/spots/7?limit=5&kind=b&since=2026-01-01T07:00:00%2B07:00",
        json={"name": "dam", "place": {"lat": 11.9, "lon": 108.4}},
    )
    assert response.status == 201
    assert await response.json() == {
        "id": 7,
        "name": "dam",
        "kind": "b",
        "since": "2026-01-01T00:00:00Z",
        "limit": 5,
    }


async def test_every_problem_is_answered_with_its_field(client: TestClient) -> None:
    response = await client.post(
        "/api/v1/spots/x?limit=0&since=yesterday&kind=c",
        json={"name": " ", "place": {"lat": 91, "lon": "1"}, "tags": ["a"] * 4, "extra": 1},
    )
    assert response.status == 400
    body = await response.json()
    fields = {p["field"]: p["message"] for p in body["problems"]}
    assert fields == {
        "group": "'x' is not a whole number",
        "limit": "must be at least 1",
        "since": "'yesterday' is not ISO 8601",
        "kind": "must be 'a' or 'b'",
        "name": "is required (it is blank)",
        "place.lat": "must be at most 90",
        "place.lon": "must be a number",
        "tags": "list should have at most 3 items after validation, not 4",
        "extra": "is not a known field (expected later, name, place, tags)",
    }
    assert body["error"].startswith("`group` 'x' is not a whole number; `since` 'yesterday'")
    assert body["error"].endswith("(and 6 more)")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"{", "the body is not JSON"),
        (b"[1]", "the body must be a JSON object"),
        (b'{"name": "\xff"}', "the body is not UTF-8"),
        (b"", "`name` is required; `place` is required"),
    ],
)
async def test_bodies_that_are_no_objects_are_refused(
    client: TestClient, data: bytes, error: str
) -> None:
    response = await client.post("/api/v1/spots/1", data=data)
    assert (response.status, (await response.json())["error"]) == (400, error)


def test_the_document_describes_the_route_from_its_models() -> None:
    ROUTE_ACCESS.setdefault(("POST", "/api/v1/spots/{group}"), Can.PUBLIC)
    document = openapi_for(make_app())
    operation = document["paths"]["/api/v1/spots/{group}"]["post"]
    assert (operation["summary"], operation["description"].split("\n\n")[0]) == (
        "Add a spot",
        "Longer words.",
    )
    params = {p["name"]: p for p in operation["parameters"]}
    assert params["group"] == {
        "name": "group",
        "in": "path",
        "required": True,
        "schema": {"type": "integer"},
    }
    assert params["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 10,
    }
    assert params["kind"]["schema"]["enum"] == ["a", "b"]
    assert params["since"]["schema"]["format"] == "date-time"
    assert "required" not in params["since"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/NewSpot"}
    schemas = document["components"]["schemas"]
    assert schemas["NewSpot"]["properties"]["later"] == {"$ref": "#/components/schemas/Thing"}
    assert schemas["NewSpot"]["additionalProperties"] is False
    assert "SpotQuery" not in schemas  # a query is parameters, not a schema
    assert set(operation["responses"]) == {"201", "400"}
    assert operation["responses"]["400"] == {"$ref": "#/components/responses/BadRequest"}


@dataclass(frozen=True, slots=True)
class Record:
    id: int
    name: str
    created_ms: int


class RecordAnswer(Answer):
    id: int
    name: str
    created_at: UtcTime


def test_an_answer_is_made_of_a_record_and_the_fields_it_names() -> None:
    answer = RecordAnswer.of(Record(1, "a", 5), created_at="1970-01-01T00:00:00.005Z")
    assert answer.model_dump() == {"id": 1, "name": "a", "created_at": "1970-01-01T00:00:00.005Z"}


QUERY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    group=QUERY_TEXT,
    query=st.dictionaries(st.sampled_from(["limit", "since", "kind", "x"]), QUERY_TEXT, max_size=4),
    body=st.dictionaries(st.sampled_from(["name", "place", "tags", "later", "y"]), JSON_VALUES),
)
def test_any_input_is_answered_by_the_model_or_refused_with_problems(
    group: str, query: dict[str, str], body: dict[str, Any]
) -> None:
    """Whatever is sent: 201 with an answer the document's schema takes, or 400 naming each
    problem's field; never an error of the service."""
    ROUTE_ACCESS.setdefault(("POST", "/api/v1/spots/{group}"), Can.PUBLIC)
    app = make_app()
    document = openapi_for(app)
    answer_schema = {"$ref": "#/components/schemas/Spot", "components": document["components"]}

    async def call() -> tuple[int, Any]:
        async with TestClient(TestServer(app)) as client:
            # the router's own 404s: "." and ".." are no segment, aiohttp takes no { } in one
            segment = quote(group.replace("{", "").replace("}", ""), safe="")
            path = "/api/v1/spots/" + (segment if segment.strip(".") else "0")
            response = await client.post(path, params=query, data=json.dumps(body))
            text = await response.text()
            assert text.startswith("{"), (path, query, response.status, text)
            return response.status, json.loads(text)

    status, answer = asyncio.run(call())
    assert status in (201, 400), answer
    if status == 201:
        Draft202012Validator(answer_schema).validate(answer)
    else:
        assert answer["problems"] and all(p["field"] and p["message"] for p in answer["problems"])
