"""Enterprise A writes enterprise B's station over every door a logger has: HTTP JSON, HTTP
SenML, a file upload and its drop-folder subfolder. Each attempt is refused as ``not_owner``
with a reason, recorded in the dead-letter store, and nothing of it is stored. (MQTT is the
broker's job: tests/integration/test_broker_security.py; logins and the websocket:
test_web_security.py.)"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ioc import appkeys
from tests.integration.conftest import RunningService, eventually
from tests.integration.test_access_bad_input import ENT_B_STATION, add_ent_b_station
from tests.integration.test_ingest_inputs import auth, local_stamp, stored
from tests.reliability import Outcome, record

pytestmark = pytest.mark.adversarial
ATTACK = "attack: enterprise A writes B's station"


async def post(service: RunningService, key: str, **request: Any) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(headers=auth(key)) as http,
        http.post(f"{service.url}{request.pop('path')}", **request) as response,
    ):
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def refusals_kept(service: RunningService, count: int) -> bool:
    query = f"SELECT * FROM rejected WHERE station = '{ENT_B_STATION}' AND reason = 'not_owner'"
    return len(await service.app[appkeys.STORE].query(query)) >= count


async def test_enterprise_a_cannot_write_b_through_any_door(
    service: RunningService, api_keys: dict[str, str], tmp_path: Path
) -> None:
    await add_ent_b_station(service)
    key = api_keys["ENT-A"]
    stamp = local_stamp(time.time() - 120)
    line = f"PM\t12,5\tmg/Nm3\t{stamp}\t00\n"

    as_json = await post(
        service,
        key,
        path="/api/v1/ingest",
        json={"station_id": ENT_B_STATION, "ts": time.time(), "values": {"dust": 12.5}},
    )
    as_senml = await post(
        service,
        key,
        path="/api/v1/ingest",
        data=json.dumps([{"n": f"{ENT_B_STATION}:dust", "v": 12.5, "t": time.time()}]),
        headers={"Content-Type": "application/senml+json"},
    )
    form = aiohttp.FormData()
    form.add_field("file", line, filename=f"{ENT_B_STATION}_{stamp}.txt")
    as_file = await post(service, key, path="/api/v1/ingest/files", data=form)
    dropped = tmp_path / "drop" / "ENT-A" / f"{ENT_B_STATION}_{stamp}.txt"
    dropped.parent.mkdir(parents=True, exist_ok=True)
    dropped.write_text(line)
    os.utime(dropped, (time.time() - 10, time.time() - 10))  # complete: not growing

    async def drop_result() -> dict[str, Any] | None:
        found = list(dropped.parent.parent.rglob("*.result.json"))
        return json.loads(found[0].read_text()) if found else None

    from_drop: Any = await eventually(drop_result, 10)
    reasons = {
        "HTTP JSON": [r["reason"] for r in as_json["rejected"]],
        "HTTP SenML": [r["reason"] for r in as_senml["rejected"]],
        "station file upload": [x["reason"] for x in as_file["files"][0]["lines"]],
        "drop folder (enterprise subfolder)": [x["reason"] for x in from_drop["lines"]],
    }
    assert await eventually(lambda: refusals_kept(service, 4), 10)
    assert await stored(service, ENT_B_STATION) == []
    for door, refused in reasons.items():
        assert refused == ["not_owner"], (door, refused)
        record(Outcome(ATTACK, door, 1, 0, 1, 0, 0, "not_owner, kept in `rejected`"))
