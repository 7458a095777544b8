"""Station files as a new user's loggers write them, over the real service (issue #12): units
as QCVN prints them, converted and stored with the unit they arrived in; size limit; drop-
folder confinement that follows the live registry and fails closed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import aiohttp

from ioc.accounts import Role
from tests.integration.conftest import RunningService, eventually
from tests.integration.test_access_bad_input import answer
from tests.integration.test_ingest_inputs import auth, local_stamp, stored

WASTEWATER_STATION = {
    "id": "WW-1",
    "name": "Outfall of A",
    "kind": "wastewater",
    "owner": "ENT-A",
    "lat": 11.8,
    "lon": 108.3,
    "parameters": {
        "ph": {"unit": "pH", "min": 0, "max": 14},
        "temp": {"unit": "C", "min": 0, "max": 80},
        "cod": {"unit": "mg/L", "min": 0, "max": 10000},
        "flow": {"unit": "m3/h", "min": 0, "max": 50000},
    },
    "interval_s": 300,
}


async def put_config(service: RunningService, kind: str, item: dict[str, Any]) -> None:
    async with (
        service.http(Role.ADMIN) as http,
        http.put(f"{service.url}/api/v1/config/{kind}/{item['id']}", json={"item": item}) as sent,
    ):
        await answer(sent, 200)


async def upload(
    service: RunningService, key: str, name: str, data: bytes
) -> aiohttp.ClientResponse:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{service.url}/api/v1/ingest/files",
            params={"filename": name},
            data=data,
            headers=auth(key),
        ) as response,
    ):
        await response.read()
        return response


async def upload_json(service: RunningService, key: str, name: str, data: bytes) -> Any:
    return await answer(await upload(service, key, name, data), 200)  # the body was read


async def test_an_air_file_in_ug_per_nm3_is_stored_with_the_right_values(
    service: RunningService, api_keys: dict[str, str]
) -> None:
    now = time.time()
    stamp = local_stamp(now - 300)
    text = (
        f"PM2,5\t35,2\tug/Nm3\t{stamp}\t00\r\n"
        f"PM10  0.051  mg/Nm3  {stamp}  01\r\n"
        f"NO2\t100\tppb\t{stamp}\r\n"
    )
    data = b"\xef\xbb\xbf" + text.encode()
    body = await upload_json(service, api_keys["ioc-publisher"], f"AIR-1_{stamp}.txt", data)
    [result] = body["files"]
    assert (result["accepted"], result["rejected"], result["status_missing"]) == (3, 0, 1)
    assert result["encoding"] == "utf-8 with BOM"
    assert result["lines"][2]["status_missing"] is True
    complete = ("pm25", "pm10", "pm10_unit", "pm10_status", "no2", "no2_unit")
    [row] = await eventually(lambda: stored(service, "AIR-1", complete))  # type: ignore[misc]
    assert row["pm25"] == 35.2 and row.get("pm25_unit") is None  # ug/Nm3 is the registry's unit
    assert (row["pm10"], row["pm10_unit"], row["pm10_status"]) == (51.0, "mg/Nm3", 1)
    assert round(row["no2"], 2) == 188.04 and row["no2_unit"] == "ppb"  # at 25 °C, 101.325 kPa
    assert row["no2_status_missing"] is True
    assert row["time"] == int(now - 300) * 1000


async def test_a_wastewater_file_with_ph_dash_and_temp_in_oc_is_stored(
    service: RunningService, api_keys: dict[str, str]
) -> None:
    await put_config(service, "stations", WASTEWATER_STATION)
    stamp = local_stamp(time.time() - 300)
    text = f"pH\t7,2\t-\t{stamp}\t00\nTemp\t28.5\toC\t{stamp}\t00\nFlow\t10\tL/s\t{stamp}\t00\n"
    body = await upload_json(
        service, api_keys["ioc-publisher"], f"LD_ENT-A_WW-1_{stamp}.txt", text.encode("cp1258")
    )
    [result] = body["files"]
    assert (result["accepted"], result["rejected"]) == (3, 0), result
    complete = ("ph", "temp", "flow", "flow_unit")
    [row] = await eventually(lambda: stored(service, "WW-1", complete))  # type: ignore[misc]
    assert (row["ph"], row["temp"], row["flow"], row["flow_unit"]) == (7.2, 28.5, 36.0, "L/s")
    assert row.get("ph_unit") is None and row.get("temp_unit") is None


async def test_a_file_above_the_size_limit_is_a_413_with_a_reason(
    service: RunningService, api_keys: dict[str, str]
) -> None:
    limit = service.config.ingest.max_file_bytes
    stamp = local_stamp(time.time() - 300)
    line = f"PM10 5 ug/m3 {stamp} 00\n".encode()
    data = line * (limit // len(line) + 1)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{service.url}/api/v1/ingest/files",
            params={"filename": f"AIR-2_{stamp}.txt"},
            data=data,
            headers=auth(api_keys["ioc-publisher"]),
        ) as response,
    ):
        body = await answer(response, 413)
    assert body["error"] == f"file 'AIR-2_{stamp}.txt' is larger than {limit} bytes " + (
        "(ingest.max_file_bytes)"
    )
    form = aiohttp.FormData()
    form.add_field("file", data, filename=f"AIR-2_{stamp}.txt")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{service.url}/api/v1/ingest/files",
            data=form,
            headers=auth(api_keys["ioc-publisher"]),
        ) as response,
    ):
        await answer(response, 413)
    assert await stored(service, "AIR-2") == []


def drop_file(drop: Path, folder: str, name: str, data: bytes) -> Path:
    (drop / folder).mkdir(parents=True, exist_ok=True)
    path = drop / folder / name
    path.write_bytes(data)
    os.utime(path, (time.time() - 10, time.time() - 10))  # complete: not growing
    return path


async def result_of(drop: Path, name: str) -> dict[str, Any]:
    async def found() -> list[Path]:
        return list((drop / "processed").rglob(f"{name}.result.json"))

    [path] = await eventually(found)  # type: ignore[misc]
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


async def test_a_drop_subfolder_naming_no_enterprise_is_refused_and_says_why(
    service: RunningService, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    stamp = local_stamp(time.time() - 120)
    name = f"AIR-1_{stamp}.txt"
    drop_file(drop, "ENT-Z", name, f"PM2,5 10 ug/m3 {stamp} 00\n".encode())
    result = await result_of(drop, name)
    assert [(line["line"], line["reason"]) for line in result["lines"]] == [(0, "not_owner")]
    assert result["lines"][0]["detail"] == (
        "'ENT-Z' is not an enterprise of the registry: its files are refused"
    )
    assert await stored(service, "AIR-1") == []


async def test_an_enterprise_added_later_is_confined_at_once(
    service: RunningService, tmp_path: Path
) -> None:
    await put_config(service, "enterprises", {"id": "ENT-C", "name": "Enterprise C"})
    drop = tmp_path / "drop"
    stamp = local_stamp(time.time() - 120)
    name = f"AIR-1_{stamp}.txt"
    drop_file(drop, "ENT-C", name, f"PM2,5 10 ug/m3 {stamp} 00\n".encode())
    result = await result_of(drop, name)
    assert [line["reason"] for line in result["lines"]] == ["not_owner"]
    assert "ENT-C may not write station AIR-1" in result["lines"][0]["detail"]
    assert await stored(service, "AIR-1") == []


async def test_an_oversize_drop_file_is_refused_unparsed(
    service: RunningService, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    stamp = local_stamp(time.time() - 120)
    name = f"AIR-2_{stamp}.txt"
    line = f"PM10 5 ug/m3 {stamp} 00\n".encode()
    drop_file(drop, ".", name, line * (service.config.ingest.max_file_bytes // len(line) + 1))
    result = await result_of(drop, name)
    assert [(line["line"], line["reason"]) for line in result["lines"]] == [(0, "too_large")]
    assert await stored(service, "AIR-2") == []
