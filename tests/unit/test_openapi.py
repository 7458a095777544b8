"""The OpenAPI document matches the router of the real app (built, never started)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ioc.config import IocConfig
from ioc.registry import StationRegistry
from ioc.service import create_app
from tests.factories import TEST_RULES, write_registry
from web.access import ROUTE_ACCESS, Can
from web.openapi import openapi_document, openapi_for, typed_operations

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
#: The page that shows the document (web/api_docs.py): under /api/ but no API operation.
API_PAGE = ("GET", "/api/docs")


@pytest.fixture
def app(tmp_path: Path) -> web.Application:
    config = IocConfig.model_validate(
        {
            "registry": str(write_registry(tmp_path / "stations.yaml")),
            "access": {"database": str(tmp_path / "ioc.sqlite3")},
            "alerts": {"database": str(tmp_path / "alerts.sqlite3")},
            "analytics": {"rules": TEST_RULES},
        }
    )
    return create_app(config, StationRegistry.from_file(config.registry))


@pytest.fixture
def document(app: web.Application) -> dict[str, Any]:
    return openapi_for(app)


def router_api_routes(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path) of the API routes and the websocket, straight from the router."""
    found = set()
    for route in app.router.routes():
        assert route.resource is not None
        path = route.resource.canonical
        if route.method != "HEAD" and (path.startswith("/api/") or path == "/ws"):
            found.add((route.method, path))
    found.discard(API_PAGE)
    return found


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def test_the_document_has_exactly_the_routes_of_the_router(
    app: web.Application, document: dict[str, Any]
) -> None:
    routes = router_api_routes(app)
    documented = {(method, path) for method, path, _ in operations(document)}
    assert routes - documented == set(), "routes missing from the document"
    assert documented - routes == set(), "documented operations the router does not have"
    assert ("GET", "/ws") in documented
    assert "/api/docs" not in document["paths"]  # the page that shows it, no operation
    assert not any(path in ("/", "/wall", "/login", "/static") for _, path in documented)


def test_every_api_route_is_typed(app: web.Application) -> None:
    """No hand-read route: each one declares its inputs and answer (web.api)."""
    typed = {(op.method, op.path) for op in typed_operations(app)}
    assert router_api_routes(app) - typed == set(), "routes without typed models"


def test_every_operation_has_a_summary_responses_and_its_access_rule(
    document: dict[str, Any],
) -> None:
    operation_ids = []
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        assert operation["summary"].strip(), where
        assert "not documented" not in operation["summary"], where
        assert operation["responses"], where
        assert any(code.startswith(("1", "2")) for code in operation["responses"]), where
        operation_ids.append(operation["operationId"])
        need = ROUTE_ACCESS[(method, path)]
        assert operation["x-capability"] == need.value, where
        assert f"`{need.value}`" in operation["description"] or need == Can.PUBLIC, where
        if need == Can.PUBLIC:
            assert operation["security"] == [], where
        else:
            assert operation["security"] == [{"bearerAuth": []}, {"cookieAuth": []}], where
            assert {"401", "403"} <= operation["responses"].keys(), where
        for code, response in operation["responses"].items():
            if code[0] in "45":
                assert response["$ref"].startswith("#/components/responses/"), where
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


def test_path_parameters_are_declared_with_types(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        names = re.findall(r"\{(\w+)\}", path)
        declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "path"}
        assert sorted(declared) == sorted(names), f"{method} {path}"
        for param in operation.get("parameters", []):
            assert param["schema"].get("type"), f"{method} {path} {param['name']}"
    action = document["paths"]["/api/v1/alerts/{id}/{action}"]["post"]["parameters"]
    assert {"name": "action", "in": "path"}.items() <= action[1].items()
    assert action[1]["schema"]["enum"] == ["ack", "resolve", "close"]
    readings = document["paths"]["/api/v1/readings"]["get"]["parameters"]
    assert [p["name"] for p in readings] == ["station", "since", "limit"]
    assert readings[0]["required"] is True


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    def walk(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    refs = set(walk(document))
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        node: Any = document
        for part in ref[2:].split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]
    assert "x-placeholder" not in json.dumps(document)


def test_rules_and_backtests_use_the_pydantic_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert {"RuleConfig", "BacktestRequest", "Error"} <= schemas.keys()
    backtest = document["paths"]["/api/v1/rules/backtest"]["post"]["requestBody"]
    assert backtest["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BacktestRequest"
    }
    for path, model in (("rules", "RuleConfig"), ("stations", "StationEntry")):
        put = document["paths"][f"/api/v1/config/{path}/{{key}}"]["put"]["requestBody"]
        body = put["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        item = schemas[body]["properties"]["item"]
        assert item == {"$ref": f"#/components/schemas/{model}"}
    assert "rule" in schemas["BacktestRequest"]["properties"]


def test_security_schemes_and_info(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["cookieAuth"]["type"] == "apiKey"
    assert schemes["cookieAuth"]["in"] == "cookie"
    assert schemes["cookieAuth"]["name"] == "ioc_session"
    info = document["info"]
    assert info["title"] and info["description"]
    try:
        expected = metadata.version("ioc-backend")
    except metadata.PackageNotFoundError:
        expected = "0.1.0"
    assert info["version"] == expected
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]


async def test_the_route_serves_the_document_and_caches_it(app: web.Application) -> None:
    first = await openapi_document(make_mocked_request("GET", "/api/v1/openapi.json", app=app))
    second = await openapi_document(make_mocked_request("GET", "/api/v1/openapi.json", app=app))
    assert first.status == 200
    assert first.content_type == "application/json"
    assert first.text == second.text
    assert first.text is not None
    served = json.loads(first.text)
    assert served == openapi_for(app)
    assert openapi_for(app) is openapi_for(app)
    assert "/api/v1/openapi.json" in served["paths"]


def test_unknown_users_are_documented_as_404(document: dict[str, Any]) -> None:
    """The handlers answer UnknownUser with 404 (web/auth_api.py _account_change)."""
    user = document["paths"]["/api/v1/users/{username}"]
    password = document["paths"]["/api/v1/users/{username}/password"]["post"]
    for operation in (user["patch"], user["delete"], password):
        assert "404" in operation["responses"], operation["operationId"]
        assert "unknown user is a 404" in operation["description"], operation["operationId"]
    # every field of a change is optional: an empty body changes nothing (json_body: {})
    assert user["patch"]["requestBody"]["required"] is False


def test_a_config_change_matches_exactly_one_answer_of_a_put(document: dict[str, Any]) -> None:
    """oneOf: a recorded change must not also pass for the dry run's `{"valid": true}`."""
    registry = Registry().with_resource("urn:doc", Resource.from_contents(document, DRAFT202012))
    answer = (
        "urn:doc#/paths/~1api~1v1~1config~1enterprises~1{key}/put"
        "/responses/200/content/application~1json/schema"
    )
    validator = Draft202012Validator({"$ref": answer}, registry=registry)
    change = {
        "id": 11,
        "time": "2026-12-04T23:00:00Z",
        "actor": "test-admin",
        "kind": "enterprise",
        "key": "E",
        "action": "create",
        "old": None,
        "new": {"id": "E", "name": "E"},
        "rollback_of": None,
    }
    assert list(validator.iter_errors(change)) == []
    assert list(validator.iter_errors({"valid": True})) == []
    assert list(validator.iter_errors({})) != []


def test_the_websocket_route_answers_plain_text_400_without_an_upgrade(
    document: dict[str, Any],
) -> None:
    """aiohttp's own answer to a GET /ws that is no websocket upgrade is text/plain."""
    answer = document["paths"]["/ws"]["get"]["responses"]["400"]
    assert answer["$ref"] == "#/components/responses/NotAWebsocket"
    plain = document["components"]["responses"]["NotAWebsocket"]
    assert list(plain["content"]) == ["text/plain"]
