"""REST round trips of the incidents API (GET /api/v1/incidents, /api/v1/incidents/{id})."""

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from ioc import appkeys
from ioc.clock import iso_utc
from ioc.messages import Severity
from tests.unit.test_alerts import MINUTE, T0
from tests.unit.test_alerts_api import answer, app, client  # noqa: F401 (fixtures)
from tests.unit.test_incidents import EVENT, FAULT, fire


def raise_all(app: web.Application, *transitions: Any) -> list[str]:  # noqa: F811 (fixture name)
    return [alert.id for _, alert in app[appkeys.ALERTS].apply(transitions)]


async def test_the_active_incidents_and_one_incident_with_its_alerts(
    app: web.Application,  # noqa: F811
    client: TestClient[web.Request, web.Application],  # noqa: F811
) -> None:
    [fault] = raise_all(app, fire(FAULT))
    [event] = raise_all(app, fire(EVENT, ts=T0 + MINUTE, severity=Severity.INFO))
    [other] = raise_all(app, fire(FAULT, station="AIR-2", ts=T0 + 2 * MINUTE))

    body = await answer(await client.get("/api/v1/incidents"), 200)
    assert [i["id"] for i in body["incidents"]] == [other, fault]
    first = body["incidents"][1]
    assert first == {
        "id": fault,
        "station_id": "AIR-1",
        "station_name": "Air one",
        "kind": "pollution_event",
        "severity": "warning",
        "state": "open",
        "opened_at": iso_utc(T0),
        "last_seen": iso_utc(T0 + MINUTE),
        "alert_ids": [fault, event],
    }

    body = await answer(await client.get(f"/api/v1/incidents/{fault}"), 200)
    assert body["incident"] == first
    assert [a["id"] for a in body["alerts"]] == [fault, event]
    assert {a["incident_id"] for a in body["alerts"]} == {fault}
    assert {a["incident_kind"] for a in body["alerts"]} == {"pollution_event"}
    alert = await answer(await client.get(f"/api/v1/alerts/{event}"), 200)
    assert (alert["alert"]["incident_id"], alert["alert"]["incident_kind"]) == (
        fault,
        "pollution_event",
    )


async def test_resolved_incidents_by_state_and_time_and_an_unknown_one(
    app: web.Application,  # noqa: F811
    client: TestClient[web.Request, web.Application],  # noqa: F811
) -> None:
    [fault] = raise_all(app, fire(FAULT))
    [later] = raise_all(app, fire(FAULT, station="AIR-2", ts=T0 + 10 * MINUTE))
    app[appkeys.ALERTS].resolve(fault, "lan")

    body = await answer(await client.get("/api/v1/incidents"), 200)
    assert [i["id"] for i in body["incidents"]] == [later]
    body = await answer(await client.get("/api/v1/incidents?state=resolved"), 200)
    assert [(i["id"], i["state"]) for i in body["incidents"]] == [(fault, "resolved")]
    body = await answer(await client.get("/api/v1/incidents?state=all"), 200)
    assert [i["id"] for i in body["incidents"]] == [later, fault]
    since = iso_utc(T0 + 5 * MINUTE) or ""
    body = await answer(
        await client.get("/api/v1/incidents", params={"state": "all", "since": since}), 200
    )
    assert [i["id"] for i in body["incidents"]] == [later]

    body = await answer(await client.get("/api/v1/incidents/999"), 404)
    assert body["incident_id"] == "999"
    for odd in ("%C2%B2", "9" * 40, "-1", "1.0"):
        await answer(await client.get(f"/api/v1/incidents/{odd}"), 404)
    await answer(await client.get("/api/v1/incidents?state=sleeping"), 400)
