"""REST round trips of the alert API against a small app holding only what it needs."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from alerts.lifecycle import AlertBook
from ioc import appkeys
from ioc.accounts import Role
from ioc.clock import iso_utc
from ioc.config import RuleConfig
from ioc.messages import Alert, Severity
from tests.factories import TEST_RULES, acting_as, memory_audit, registry
from tests.unit.test_alerts import MINUTE, T0, Clock, config, fire
from web.access import AUDIT
from web.alerts_api import add_alert_routes

RULES = {r["id"]: RuleConfig.model_validate(r) for r in TEST_RULES}
DAY = 86_400_000


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[web.Application]:
    app = web.Application(middlewares=[acting_as("lan", Role.OPERATOR)])
    app[AUDIT] = memory_audit()
    app[appkeys.ALERTS] = AlertBook(RULES, config(), clock=Clock())
    app[appkeys.RULES] = RULES
    app[appkeys.REGISTRY] = registry(tmp_path)
    add_alert_routes(app)
    yield app
    app[appkeys.ALERTS].shutdown()


@pytest.fixture
async def client(app: web.Application, aiohttp_client: Callable[..., Any]) -> TestClient:
    client: TestClient = await aiohttp_client(app)
    return client


def raise_alert(app: web.Application, station: str = "AIR-1", ts: int = T0, **kw: Any) -> Alert:
    [(_, alert)] = app[appkeys.ALERTS].apply(
        [fire(station=station, rule="pm25_instant", ts=ts, **kw)]
    )
    return alert


async def answer(response: Any, status: int) -> Any:
    assert response.status == status, await response.text()
    return await response.json()


async def test_an_alert_is_acknowledged_resolved_and_closed(
    app: web.Application, client: TestClient
) -> None:
    alert = raise_alert(app)
    body = await answer(
        await client.post(f"/api/v1/alerts/{alert.id}/ack", json={"comment": "ok"}),
        200,
    )
    assert body["alert"]["state"] == "acknowledged" and body["alert"]["acknowledged_by"] == "lan"
    assert body["alert"]["station_name"] == "Air one" and body["alert"]["rule_name"]
    body = await answer(await client.post(f"/api/v1/alerts/{alert.id}/resolve"), 200)
    assert body["alert"]["state"] == "resolved" and body["alert"]["resolved_by"] == "lan"
    await answer(await client.post(f"/api/v1/alerts/{alert.id}/close", json={}), 200)
    await answer(
        await client.post(f"/api/v1/alerts/{alert.id}/comment", json={"text": "bag filter"}), 200
    )

    body = await answer(await client.get(f"/api/v1/alerts/{alert.id}"), 200)
    assert body["alert"]["state"] == "closed"
    assert [(h["action"], h["user"], h["comment"]) for h in body["history"]] == [
        ("opened", None, ""),
        ("acknowledged", "lan", "ok"),
        ("resolved", "lan", ""),
        ("closed", "lan", ""),
        ("commented", "lan", "bag filter"),
    ]
    assert body["history"][0]["at"] == iso_utc(T0) and body["history"][1]["from_state"] == "open"


async def test_a_transition_the_state_does_not_allow_is_a_conflict(
    app: web.Application, client: TestClient
) -> None:
    alert = raise_alert(app)
    body = await answer(await client.post(f"/api/v1/alerts/{alert.id}/close"), 409)
    assert body == {
        "error": f"cannot close alert {alert.id}: it is open; "
        "close needs an alert that is resolved",
        "alert_id": alert.id,
        "state": "open",
    }
    assert app[appkeys.ALERTS].get(alert.id).state == "open"


async def test_unknown_alerts_are_not_found(client: TestClient) -> None:
    for response in (
        await client.get("/api/v1/alerts/404"),
        await client.post("/api/v1/alerts/404/ack"),
        await client.post("/api/v1/alerts/nope/comment", json={"text": "x"}),
    ):
        body = await answer(response, 404)
        assert body["error"].startswith("no alert has id")


@pytest.mark.parametrize(
    ("path", "data", "error"),
    [
        ("ack", "not json", "the body is not JSON"),
        ("ack", "[1]", "the body must be a JSON object"),
        ("ack", '{"user": "lan"}', "`user` is not a known field (expected comment)"),
        ("ack", '{"comment": 7}', "`comment` must be a string"),
        (
            "resolve",
            '{"comment": "' + "x" * 2001 + '"}',
            "`comment` is longer than 2000 characters",
        ),
        ("comment", '{"text": " "}', "`text` is required (it is blank)"),
    ],
)
async def test_bad_bodies_are_refused_clearly(
    app: web.Application, client: TestClient, path: str, data: str, error: str
) -> None:
    alert = raise_alert(app)
    response = await client.post(f"/api/v1/alerts/{alert.id}/{path}", data=data)
    assert (await answer(response, 400))["error"].startswith(error)
    assert len(app[appkeys.ALERTS].history(alert.id)) == 1


async def test_alerts_are_listed_with_filters(app: web.Application, client: TestClient) -> None:
    first = raise_alert(app)
    second = raise_alert(app, station="AIR-2", ts=T0 + MINUTE, severity=Severity.WARNING)
    app[appkeys.ALERTS].acknowledge(second.id, "lan")

    async def ids(query: str) -> list[str]:
        body = await answer(await client.get(f"/api/v1/alerts{query}"), 200)
        return [a["id"] for a in body["alerts"]]

    assert await ids("") == [second.id, first.id]
    assert await ids("?state=acknowledged") == [second.id]
    assert await ids("?state=active&limit=1") == [second.id]
    assert await ids("?state=open,resolved") == [first.id]
    assert await ids("?severity=critical") == [first.id]
    assert await ids("?station=AIR-2") == [second.id]
    since = iso_utc(T0 + MINUTE)
    assert await ids(f"?since={since}") == [second.id]
    assert await ids("?until=" + (since or "").replace("Z", "%2B00:00")) == [first.id]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("state=gone", "`state` 'gone' unknown"),
        ("severity=huge", "`severity` must be 'info', 'warning' or 'critical'"),
        ("since=yesterday", "`since` 'yesterday' is not ISO 8601"),
        ("until=2026-11-23T15:05:00", "`until` needs a UTC offset"),
        ("limit=0", "`limit` must be at least 1"),
    ],
)
async def test_bad_queries_are_refused_clearly(client: TestClient, query: str, error: str) -> None:
    body = await answer(await client.get(f"/api/v1/alerts?{query}"), 400)
    assert body["error"].startswith(error)


async def test_silences_are_added_listed_and_removed(
    app: web.Application, client: TestClient
) -> None:
    start, end = iso_utc(T0), iso_utc(T0 + DAY)
    request = {"station_id": "AIR-1", "start": start, "end": end, "reason": "calibration"}
    body = await answer(await client.post("/api/v1/silences", json=request), 201)
    silence = body["silence"]
    assert silence | {"id": "?"} == {
        "id": "?",
        "station_id": "AIR-1",
        "rule_id": None,
        "start": start,
        "end": end,
        "reason": "calibration",
        "created_by": "lan",
        "created_at": iso_utc(T0),
    }
    assert raise_alert(app).silenced
    assert (await answer(await client.get("/api/v1/silences"), 200))["silences"] == [silence]
    response = await client.delete(f"/api/v1/silences/{silence['id']}")
    assert response.status == 204
    assert (await answer(await client.get("/api/v1/silences"), 200))["silences"] == []
    body = await answer(await client.delete(f"/api/v1/silences/{silence['id']}"), 404)
    assert body == {"error": f"no silence has id {silence['id']!r}", "silence_id": silence["id"]}


@pytest.mark.parametrize(
    ("request_body", "error"),
    [
        ({"station_id": "AIR-1", "end": "2027-01-01T00:00:00Z"}, "`reason` is required"),
        ({"station_id": "AIR-1", "reason": "m"}, "`end` is required"),
        (
            {"station_id": "AIR-9", "reason": "m", "end": "2027-01-01T00:00Z"},
            "unknown station 'AIR-9'",
        ),
        ({"rule_id": "nope", "reason": "m", "end": "2027-01-01T00:00Z"}, "unknown rule 'nope'"),
        ({"reason": "m", "end": "2027-01-01T00:00:00Z"}, "a silence needs a station, a rule"),
        ({"rule_id": "dust", "reason": "m", "end": 5}, "`end` must be an ISO 8601 string"),
        (
            {
                "rule_id": "dust",
                "reason": "m",
                "start": "2027-01-02T00:00:00Z",
                "end": "2027-01-01",
            },
            "`end` needs a UTC offset",
        ),
        (
            {
                "rule_id": "dust",
                "reason": "m",
                "start": "2027-01-02T00:00:00Z",
                "end": "2027-01-01T00:00:00Z",
            },
            "a silence must end after it starts",
        ),
    ],
)
async def test_bad_silences_are_refused_clearly(
    app: web.Application, client: TestClient, request_body: dict[str, Any], error: str
) -> None:
    body = await answer(await client.post("/api/v1/silences", json=request_body), 400)
    assert body["error"].startswith(error)
    assert app[appkeys.ALERTS].silences() == []
