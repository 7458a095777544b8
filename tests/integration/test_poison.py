"""Hostile input against the real service: poison messages among valid ones over MQTT and
HTTP, floods of refusals (each its own dead-letter row), station files that would amplify,
and the bodies and queries a fuzzer found answering 500. Counts go to tests/reliability.py."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import aiomqtt
import pytest

from ioc import appkeys
from ioc.accounts import Role
from tests.factories import fresh_ts
from tests.integration.conftest import TEST_USERS, RunningService, eventually
from tests.reliability import Outcome, record, scale

pytestmark = pytest.mark.adversarial

BIG = "9" * 400
DEEP = b"[" * 100_000 + b"]" * 100_000


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def count(service: RunningService, influxql: str) -> int:
    rows = await service.app[appkeys.STORE].query(influxql)
    return int(rows[0]["count"]) if rows else 0


async def reaches(service: RunningService, influxql: str, expected: int) -> int:
    """The count once it reaches ``expected`` (fails after the timeout); never more."""

    async def probe() -> int | None:
        found = await count(service, influxql)
        assert found <= expected, f"{found} > {expected}: {influxql}"
        return found if found == expected else None

    await eventually(probe, within_s=60)
    return expected


def local_stamp(ts_s: float) -> str:
    from datetime import datetime

    from ioc.clock import LOCAL_TZ

    return datetime.fromtimestamp(ts_s, LOCAL_TZ).strftime("%Y%m%d%H%M%S")


async def test_poison_over_mqtt_sinks_no_batch_mate(service: RunningService) -> None:
    valid = scale(2_000, 12_000)
    prefix = service.config.mqtt.topic_prefix
    start = time.time() - 3_600
    readings, senml = f"{prefix}/stations/AIR-2/readings", f"{prefix}/stations/AIR-2/senml"
    poison: list[tuple[str, bytes]] = [
        (readings, DEEP),
        (readings, b'{"ts": 1e308, "values": {"pm25": 1}}'),
        (readings, f'{{"ts": {BIG}, "values": {{"pm25": 1}}}}'.encode()),
        (readings, f'{{"ts": {int(start)}, "values": {{"pm25": {BIG}}}}}'.encode()),
        (senml, b'[{"bt": 1e308, "t": 1e308, "n": "pm25", "v": 1}]'),
    ] * 4
    every = valid // len(poison)
    async with aiomqtt.Client("127.0.0.1", service.config.mqtt.port) as client:
        for n in range(valid):
            body: dict[str, Any] = {"ts": start + n / 1000, "values": {"pm25": 10 + n % 30}}
            if n == 7:
                body["status"] = {"pm25": "²"}  # not a status: the value is kept
            await client.publish(service.topic("AIR-1"), json.dumps(body), qos=1)
            if n % every == 0 and poison:
                await client.publish(*poison.pop(), qos=1)
    refused = 20
    stored = await reaches(
        service, "SELECT count(pm25) FROM reading WHERE station = 'AIR-1'", valid
    )
    letters = await reaches(service, "SELECT count(detail) FROM rejected", refused)
    reasons = service.app[appkeys.REJECTIONS].by_reason
    assert dict(reasons) == {"malformed": 4, "bad_timestamp": 12, "out_of_range": 4}
    outcome = record(
        Outcome(
            "none",
            "MQTT JSON + poison",
            valid + refused,
            stored,
            letters,
            valid + refused - stored - letters,
            0,
            "20 poison messages among valid ones",
        )
    )
    assert outcome.lost == 0


async def dead_letters(service: RunningService, station: str) -> list[dict[str, Any]]:
    async with (
        service.http() as http,
        http.get(
            f"{service.url}/api/v1/rejected", params={"station": station, "limit": "10000"}
        ) as response,
    ):
        assert response.status == 200
        return list((await response.json())["rejected"])


async def test_poison_over_http_json_is_refused_item_by_item(
    service: RunningService, api_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.http_api

    real = ingest.http_api.decode_reading

    def buggy(validator, origin, station_id, body, rejections):  # type: ignore[no-untyped-def]
        if body.get("bug"):
            raise KeyError("a bug in one item")
        return real(validator, origin, station_id, body, rejections)

    monkeypatch.setattr(ingest.http_api, "decode_reading", buggy)
    start = time.time() - 600
    good = [
        {"station_id": "AIR-1", "ts": start + n / 1000, "values": {"pm25": 20}} for n in range(50)
    ]
    good[0]["status"] = {"pm25": "²"}
    out_of_range = [  # 100 refusals of one source, reason and station in one millisecond
        {"station_id": "AIR-2", "ts": start + n / 1000, "values": {"pm25": -1}} for n in range(100)
    ]
    poison = [
        {"station_id": "AIR-2", "ts": 1e308, "values": {"pm25": 1}},
        {"station_id": "AIR-2", "ts": int(BIG), "values": {"pm25": 1}},
        {"station_id": "AIR-2", "ts": start, "values": {"pm10": int(BIG)}},
        {"station_id": "AIR-2", "ts": start, "values": {"no2": 1}, "bug": True},
        {"station_id": "\udcff", "ts": start, "values": {"pm25": 1}},  # a lone surrogate
        {"station_id": "AIR-2", "ts": start, "values": {"\ud800": 1}},
    ]
    items = [*good[:25], *poison, *out_of_range, *good[25:]]
    async with aiohttp.ClientSession(headers=auth(api_keys["ioc-publisher"])) as http:
        async with http.post(f"{service.url}/api/v1/ingest", json={"readings": items}) as response:
            assert response.status == 200, await response.text()
            answer = await response.json()
        async with http.post(f"{service.url}/api/v1/ingest", data=DEEP) as response:
            assert response.status == 400
            assert "not JSON" in (await response.json())["error"]
    reasons = [r["reason"] for r in answer["rejected"]]
    assert (
        reasons
        == [
            "bad_timestamp",
            "bad_timestamp",
            "out_of_range",
            "internal_error",
            "unknown_station",
            "unknown_parameter",
        ]
        + ["out_of_range"] * 100
    )
    assert answer["accepted"] == 50
    stored = await reaches(service, "SELECT count(pm25) FROM reading WHERE station = 'AIR-1'", 50)
    letters = await reaches(service, "SELECT count(detail) FROM rejected", 106)
    assert len(await dead_letters(service, "AIR-2")) == 105
    sent = len(items)
    record(
        Outcome(
            "none",
            "HTTP JSON + poison",
            sent,
            stored,
            letters,
            sent - stored - letters,
            0,
            "one batch: 50 valid, 100 out of range, 5 poison items and one that meets a bug",
        )
    )
    assert sent - stored - letters == 0


async def test_poison_in_an_http_senml_pack(
    service: RunningService, api_keys: dict[str, str]
) -> None:
    bt = fresh_ts()
    pack = [
        {"bn": "AIR-1:", "bt": bt, "n": "pm25", "v": 12},
        {"bn": "AIR-1:", "bt": 1e308, "t": 1e308, "n": "pm10", "v": 1},
        {"bn": "AIR-1:", "bt": int(BIG), "n": "pm10", "v": 1},
        {"bn": "AIR-1:", "bt": bt, "n": "no2", "v": int(BIG)},
        {"bn": "AIR-1:", "bt": bt, "n": "pm10", "v": 30},
    ]
    async with (
        aiohttp.ClientSession(headers=auth(api_keys["ioc-publisher"])) as http,
        http.post(f"{service.url}/api/v1/ingest", json=pack) as response,
    ):
        assert response.status == 200, await response.text()
        answer = await response.json()
    assert [r["reason"] for r in answer["rejected"]] == [
        "bad_timestamp",
        "bad_timestamp",
        "out_of_range",
    ]
    assert answer["accepted"] == 2
    stored = await reaches(service, "SELECT count(pm25) FROM reading", 1)
    stored += await reaches(service, "SELECT count(pm10) FROM reading", 1)
    letters = await reaches(service, "SELECT count(detail) FROM rejected", 3)
    record(
        Outcome("none", "HTTP SenML", 5, stored, letters, 5 - stored - letters, 0, "poison records")
    )


async def test_station_files_refuse_line_by_line_without_amplifying(
    service: RunningService, api_keys: dict[str, str]
) -> None:
    now = time.time()
    stamp = local_stamp(now - 300)
    bad = "".join(f"PM10 high{n:06} ug/m3 {local_stamp(now - n)} 00\n" for n in range(3_000))
    repeated = "".join(f"PM10 {n % 500} ug/m3 {stamp} 00\n" for n in range(3_000))
    form = aiohttp.FormData()
    form.add_field("file", bad, filename=f"AIR-1_{stamp}.txt")
    form.add_field("file", repeated, filename=f"AIR-2_{stamp}.txt")
    async with (
        aiohttp.ClientSession(headers=auth(api_keys["ioc-publisher"])) as http,
        http.post(f"{service.url}/api/v1/ingest/files", data=form) as response,
    ):
        assert response.status == 200, await response.text()
        answer_bytes = len(await response.read())
        files = (await response.json())["files"]
    assert [(f["accepted"], f["rejected"], len(f["lines"])) for f in files] == [
        (0, 3_000, 3_000),
        (1, 2_999, 3_000),
    ]
    assert {line["reason"] for line in files[0]["lines"]} == {"not_numeric"}
    assert {line["reason"] for line in files[1]["lines"][1:]} == {"duplicate"}
    assert answer_bytes < 2 * 1_000_000
    stored = await reaches(service, "SELECT count(pm10) FROM reading", 1)
    letters = await reaches(service, "SELECT count(detail) FROM rejected", 5_999)
    kept = await dead_letters(service, "AIR-1")
    assert {row["payload"] for row in kept} == set(bad.splitlines())
    assert sum(len(row["payload"]) for row in kept) < len(bad)  # was 3,000 x 4 KB
    assert sum(len(json.dumps(row)) for row in kept) < 10 * len(bad)
    record(
        Outcome(
            "none",
            "station file",
            6_000,
            stored,
            letters,
            6_000 - stored - letters,
            0,
            "3,000 bad lines (100 KB) and 3,000 repeats of one parameter and time",
        )
    )


JSON_ROUTES = [
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/password"),
    ("POST", "/api/v1/users"),
    ("PATCH", f"/api/v1/users/{TEST_USERS[Role.VIEWER]}"),
    ("POST", "/api/v1/apikeys"),
    ("POST", "/api/v1/silences"),
    ("POST", "/api/v1/alerts/some-alert/comment"),
    ("POST", "/api/v1/alerts/some-alert/ack"),
    ("PUT", "/api/v1/config/stations/AIR-1"),
]


async def test_what_a_fuzzer_found_answers_400_with_a_reason(service: RunningService) -> None:
    async def bad_request(response: aiohttp.ClientResponse) -> str:
        text = await response.text()
        assert response.status == 400, f"{response.method} {response.url}: {response.status} {text}"
        return str(json.loads(text)["error"])

    not_utf8 = b'{"username": "\xff\xfe"}'
    async with service.http(Role.ADMIN) as http:
        for method, path in JSON_ROUTES:
            async with http.request(
                method,
                service.url + path,
                data=not_utf8,
                headers={"Content-Type": "application/json"},
            ) as response:
                assert "UTF-8" in await bad_request(response)
        for path in ("/api/v1/readings", "/api/v1/rejected"):
            for since in (
                "0937-01-01T00:00:00Z",
                "5830-01-01T00:00:00+07:00",
                "0001-01-01T00:00:00+07:00",
            ):
                params = {"station": "AIR-1", "since": since}
                async with http.get(service.url + path, params=params) as response:
                    assert "since" in await bad_request(response)
        multipart = {"Content-Type": "multipart/form-data; boundary=xyz"}
        for body in (
            b"",
            b"--xyz--\r\n",
            b'--xyz\r\nContent-Disposition: form-data; name="\xff\xfe"; filename="A_1.txt"\r\n\r\n'
            b"x\r\n--xyz--\r\n",
            b'--xyz\r\nContent-Disposition: form-data; name="f"; filename="AIR-1\x00_2.txt"\r\n'
            b"\r\nx\r\n--xyz--\r\n",
        ):
            async with http.post(
                f"{service.url}/api/v1/ingest/files", data=body, headers=multipart
            ) as response:
                assert await bad_request(response)


async def test_control_characters_in_names_reach_the_dead_letter_store(
    service: RunningService, api_keys: dict[str, str]
) -> None:
    stamp = local_stamp(time.time() - 60)
    names = [f"AIR\x00{n}\n\t\\_{stamp}.txt" for n in range(3)]
    async with aiohttp.ClientSession(headers=auth(api_keys["ioc-publisher"])) as http:
        for name in names:
            async with http.post(
                f"{service.url}/api/v1/ingest/files",
                params={"filename": name},
                data=f"PM10 5 ug/m3 {stamp} 00\n",
            ) as response:
                assert response.status == 200, await response.text()
                [result] = (await response.json())["files"]
                assert result["lines"][0]["reason"] == "unknown_station"
    await reaches(service, "SELECT count(detail) FROM rejected", 3)
