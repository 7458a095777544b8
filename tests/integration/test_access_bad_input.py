"""Refusals of the real service, each with a clear reason and a trace in the audit log: wrong
passwords and the lock-out after too many, an expired login, an enterprise reaching another
enterprise's station (by its login or its API key), and a cross-site cookie request."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import aiohttp

from ioc.accounts import Role
from tests.integration.conftest import TEST_PASSWORD, TEST_USERS, RunningService

ENT_B_STATION = "STK-B"
VIEWER = TEST_USERS[Role.VIEWER]


async def answer(response: aiohttp.ClientResponse, status: int) -> Any:
    text = await response.text()
    assert response.status == status, f"{response.status} (expected {status}): {text}"
    return await response.json(content_type=None)


async def audit_entries(service: RunningService, **query: str) -> list[dict[str, Any]]:
    async with (
        service.http(Role.ADMIN) as http,
        http.get(f"{service.url}/api/v1/audit", params=query) as response,
    ):
        entries: list[dict[str, Any]] = (await answer(response, 200))["entries"]
        return entries


async def log_in(
    http: aiohttp.ClientSession, service: RunningService, username: str, password: str
) -> aiohttp.ClientResponse:
    return await http.post(
        f"{service.url}/api/v1/auth/token", json={"username": username, "password": password}
    )


async def add_ent_b_station(service: RunningService) -> None:
    """The test registry has no station of ENT-B: an admin adds one (in force at once)."""
    item = {
        "id": ENT_B_STATION,
        "name": "Stack of B",
        "kind": "stack",
        "owner": "ENT-B",
        "lat": 11.7,
        "lon": 108.2,
        "parameters": "stack",
        "interval_s": 60,
    }
    async with (
        service.http(Role.ADMIN) as http,
        http.put(
            f"{service.url}/api/v1/config/stations/{ENT_B_STATION}", json={"item": item}
        ) as response,
    ):
        await answer(response, 200)


async def test_a_wrong_password_is_a_401_and_audited(service: RunningService) -> None:
    async with aiohttp.ClientSession() as http:
        body = await answer(await log_in(http, service, VIEWER, "not the password"), 401)
    assert body["error"] == "wrong user name or password"
    entries = await audit_entries(service, actor=VIEWER, action="login")
    assert [e["outcome"] for e in entries] == ["failed"]
    assert entries[0]["detail"]["reason"] == "wrong user name or password"


async def test_too_many_wrong_passwords_lock_the_user_out(service: RunningService) -> None:
    tries = service.config.access.max_login_failures
    async with aiohttp.ClientSession() as http:
        for _ in range(tries):
            await answer(await log_in(http, service, VIEWER, "guessing"), 401)
        locked = await answer(await log_in(http, service, VIEWER, TEST_PASSWORD), 429)
    assert "too many failed logins" in locked["error"]
    assert isinstance(locked["retry_after_s"], int)
    assert 0 < locked["retry_after_s"] <= service.config.access.lockout_s + 1
    entries = await audit_entries(service, actor=VIEWER, action="login")
    outcomes = [e["outcome"] for e in reversed(entries)]  # oldest first
    assert outcomes == ["failed"] * tries + ["denied"]
    assert "too many failed logins" in entries[0]["detail"]["reason"]
    # Logins issued before the lock-out keep working.
    async with (
        service.http(Role.VIEWER) as http,
        http.get(f"{service.url}/api/v1/auth/me") as response,
    ):
        assert (await answer(response, 200))["username"] == VIEWER


async def test_an_expired_login_is_a_401_that_says_so(service: RunningService) -> None:
    db = sqlite3.connect(service.config.access.database)
    try:
        with db:
            changed = db.execute(
                "UPDATE logins SET expires_ms = ? WHERE username = ?",
                (int(time.time() * 1000) - 1000, VIEWER),
            ).rowcount
    finally:
        db.close()
    assert changed >= 1
    async with (
        service.http(Role.VIEWER) as http,
        http.get(f"{service.url}/api/v1/auth/me") as response,
    ):
        body = await answer(response, 401)
    assert "expired" in body["error"]
    assert body.get("expired") is True
    entries = await audit_entries(service, action="access", outcome="denied")
    assert any(
        e["target"] == "GET /api/v1/auth/me" and "expired" in e["detail"].get("reason", "")
        for e in entries
    ), entries
    # Pages send an expired login to the login page instead.
    async with (
        service.http(Role.VIEWER) as http,
        http.get(f"{service.url}/wall", allow_redirects=False) as response,
    ):
        assert response.status == 302
        assert response.headers["Location"].startswith("/login")


async def test_an_enterprise_cannot_read_another_enterprises_station(
    service: RunningService,
) -> None:
    await add_ent_b_station(service)
    user = TEST_USERS[Role.ENTERPRISE]
    async with service.http(Role.ENTERPRISE) as http:
        for route in ("readings", "rejected"):
            async with http.get(
                f"{service.url}/api/v1/{route}", params={"station": ENT_B_STATION}
            ) as response:
                body = await answer(response, 403)
            assert ENT_B_STATION in body["error"] and "ENT-A" in body["error"], body
            assert body["station_id"] == ENT_B_STATION
        async with http.get(f"{service.url}/api/v1/stations") as response:
            seen = {s["id"] for s in (await answer(response, 200))["stations"]}
        assert seen == {"STK-1"}, "an enterprise lists its own stations only"
    entries = await audit_entries(service, actor=user, action="access", outcome="denied")
    targets = {e["target"] for e in entries if e["detail"].get("station") == ENT_B_STATION}
    assert targets == {"GET /api/v1/readings", "GET /api/v1/rejected"}, entries


async def test_an_api_key_cannot_write_another_enterprises_station(
    service: RunningService, api_keys: dict[str, str]
) -> None:
    await add_ent_b_station(service)
    headers = {"Authorization": f"Bearer {api_keys['ENT-A']}"}
    readings = [
        {"station_id": ENT_B_STATION, "ts": time.time(), "values": {"dust": 12.5}},
        {"station_id": "AIR-1", "ts": time.time(), "values": {"pm25": 20.0}},
        {"station_id": "STK-1", "ts": time.time(), "values": {"dust": 30.0}},
    ]
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{service.url}/api/v1/ingest", json={"readings": readings}) as response,
    ):
        body = await answer(response, 200)
    assert body["accepted_readings"] == 1, body  # its own STK-1 only
    refused = {r["station_id"]: r for r in body["rejected"]}
    assert set(refused) == {ENT_B_STATION, "AIR-1"}, body
    for station, rejection in refused.items():
        assert rejection["reason"] == "not_owner", rejection
        assert "ENT-A" in rejection["detail"] and station in rejection["detail"], rejection


async def test_a_cross_site_cookie_request_is_refused(service: RunningService) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{service.url}/api/v1/auth/login",
            json={"username": TEST_USERS[Role.ADMIN], "password": TEST_PASSWORD},
        ) as response:
            await answer(response, 200)
            cookie = response.cookies["ioc_session"].value
        session = {"Cookie": f"ioc_session={cookie}"}
        url = f"{service.url}/api/v1/apikeys"
        body = {"label": "made from another site"}
        async with http.post(
            url, json=body, headers={**session, "Origin": "http://evil.example"}
        ) as response:
            refused = await answer(response, 403)
        assert "cross-site" in refused["error"] and "evil.example" in refused["error"]
        # The same request from the service's own page goes through.
        own = service.url.removeprefix("http://")
        async with http.post(
            url,
            json={"label": "made on the portal"},
            headers={**session, "Origin": f"http://{own}"},
        ) as response:
            await answer(response, 201)
        # A page's GET carries no risk and is not checked.
        async with http.get(url, headers={**session, "Origin": "http://evil.example"}) as response:
            keys = (await answer(response, 200))["api_keys"]
    labels = [k["label"] for k in keys]
    assert "made on the portal" in labels
    assert "made from another site" not in labels
