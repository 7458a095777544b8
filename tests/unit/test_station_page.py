"""The station page's API over a fake store: the range's bounds (default, order, 31 days),
the chart step and its local-midnight alignment, the limit lines of the rules that apply to
the station (levels, ranges, licences, replaced rules), the AQI points, the CSV export, and
an enterprise user kept to its own stations."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ioc import appkeys
from ioc.accounts import Role
from ioc.config import RuleConfig
from tests.factories import TEST_RULES, acting_as, memory_audit, registry
from web.access import AUDIT
from web.station_page import (
    MAX_POINTS,
    StationHistory,
    add_station_page_routes,
    chart_step_s,
    limit_lines,
    step_offset_s,
)

HOUR_MS = 3_600_000
START = 1_764_522_000_000  # 2025-11-30T17:00Z, local midnight of 2025-12-01
RULES = {r["id"]: RuleConfig.model_validate(r) for r in TEST_RULES}


class FakeStore:
    def __init__(self) -> None:
        self.queries: list[str] = []

    async def query(self, influxql: str) -> list[dict[str, Any]]:
        self.queries.append(influxql)
        if "mean(" in influxql:
            return [
                {"time": START, "pm25": 12.5, "pm10": None, "no2": 20.0},
                {"time": START + 3600_000, "pm25": 60.25, "pm10": 70.0, "no2": None},
            ]
        if "'hour'" in influxql:
            return [{"time": START + HOUR_MS, "aqi": 120.0, "band": 2}]
        if "'day'" in influxql:
            return [{"time": START, "aqi": 61.0, "band": 1, "complete": False}]
        return [
            {"time": START, "pm25": 12.5, "pm10": 30.0, "no2": 20.0},
            {"time": START + 60_000, "pm25": 13.0, "pm25_status": 1, "pm10": None, "no2": 21.0},
        ]


def make_app(tmp_path: Path, role: Role, enterprise: str | None = None) -> web.Application:
    app = web.Application(middlewares=[acting_as("someone", role, enterprise)])
    app[AUDIT] = memory_audit()
    app[appkeys.REGISTRY] = registry(tmp_path)
    app[appkeys.RULES] = dict(RULES)
    app[appkeys.STORE] = FakeStore()  # type: ignore[assignment]
    add_station_page_routes(app)
    return app


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: Callable[..., Any]) -> TestClient:
    return await aiohttp_client(make_app(tmp_path, Role.VIEWER))  # type: ignore[no-any-return]


RANGE = "start=2025-12-01T00:00:00%2B07:00&end=2025-12-01T02:00:00%2B07:00"


async def test_history_answers_series_limits_and_aqi(client: TestClient) -> None:
    response = await client.get(f"/api/v1/stations/AIR-1/history?{RANGE}")
    assert response.status == 200, await response.text()
    history = StationHistory.model_validate(await response.json())
    assert (history.id, history.step_s) == ("AIR-1", 60)
    assert history.times == ["2025-11-30T17:00:00.000Z", "2025-11-30T18:00:00.000Z"]
    pm25 = next(p for p in history.parameters if p.key == "pm25")
    assert pm25.values == [12.5, 60.25]
    assert sorted((line.rule_id, line.value, line.window) for line in pm25.limits) == [
        ("pm25_24h", 45.0, "24h"),
        ("pm25_instant", 100.0, "instant"),
    ]
    assert next(p for p in history.parameters if p.key == "pm10").values == [None, 70.0]
    assert [(p.aqi, p.band, p.color) for p in history.aqi_hourly] == [(120.0, 2, "#ff7e00")]
    assert [(d.date, d.aqi, d.complete) for d in history.aqi_daily] == [("2025-12-01", 61.0, False)]
    assert [b.high for b in history.aqi_bands] == [50, 100, 150, 200, 300, 500]
    queries = client.app[appkeys.STORE].queries  # type: ignore[attr-defined]
    assert "GROUP BY time(60s, 0s) fill(null)" in queries[0]
    assert f"time >= {START}ms AND time < {START + 2 * HOUR_MS}ms" in queries[0]


async def test_bad_ranges_and_unknown_stations(client: TestClient) -> None:
    late_first = "start=2025-12-02T00:00:00Z&end=2025-12-01T00:00:00Z"
    response = await client.get(f"/api/v1/stations/AIR-1/history?{late_first}")
    assert response.status == 400 and (await response.json())["problems"][0]["field"] == "start"
    too_long = "start=2025-10-01T00:00:00Z&end=2025-12-01T00:00:00Z"
    assert (await client.get(f"/api/v1/stations/AIR-1/export?{too_long}")).status == 400
    assert (await client.get("/api/v1/stations/AIR-1/history?start=yesterday")).status == 400
    assert (await client.get("/api/v1/stations/NOPE/history")).status == 404
    assert (await client.get("/api/v1/stations/x'y/export")).status == 404
    assert (await client.get("/api/v1/stations/AIR-1/history")).status == 200  # last 24 h


async def test_the_range_exported_as_csv(client: TestClient) -> None:
    response = await client.get(f"/api/v1/stations/AIR-1/export?{RANGE}&lang=en")
    assert response.status == 200 and response.content_type == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert 'filename="AIR-1-202512010000-202512010200.csv"' in disposition
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    heads = rows[0]
    assert heads[0] == "Time (Vietnam time)" and len(heads) == 7  # time, 3 values, 3 statuses
    pm25, pm10 = heads.index("pm25 status"), heads.index("pm10 status")
    assert rows[1][0] == "2025-12-01 00:00:00" and rows[1][pm25 - 1 : pm25 + 1] == ["12.5", "00"]
    assert rows[2][0] == "2025-12-01 00:01:00" and rows[2][pm25 - 1 : pm25 + 1] == ["13.0", "01"]
    assert rows[2][pm10 - 1 : pm10 + 1] == ["", ""]  # pm10 missing


async def test_an_enterprise_user_sees_only_its_own_stations(
    tmp_path: Path, aiohttp_client: Callable[..., Any]
) -> None:
    client = await aiohttp_client(make_app(tmp_path, Role.ENTERPRISE, "ENT-A"))
    assert (await client.get(f"/api/v1/stations/AIR-1/history?{RANGE}")).status == 403
    assert (await client.get(f"/api/v1/stations/NOPE/history?{RANGE}")).status == 403
    assert (await client.get(f"/api/v1/stations/STK-1/export?{RANGE}")).status == 200


def test_the_chart_step_keeps_the_points_few_and_aligned_on_local_midnight() -> None:
    day = 86_400_000
    assert chart_step_s(0, day) == 60
    assert chart_step_s(0, 7 * day) == 900
    assert chart_step_s(0, 31 * day) == 1800
    assert 31 * day / 1000 / chart_step_s(0, 31 * day) <= MAX_POINTS
    assert step_offset_s(300) == 0
    assert step_offset_s(3600) == 0
    assert step_offset_s(3 * 3600) == 2 * 3600  # 17:00Z = 5·3h + 2h
    assert step_offset_s(86_400) == 17 * 3600


def test_limit_lines_of_levels_ranges_licences_and_replacements(tmp_path: Path) -> None:
    stations = registry(tmp_path)
    air = stations.get("AIR-1")
    assert air is not None
    rules = [
        RuleConfig.model_validate(r)
        for r in (
            {"id": "no2_1h", "name": "NO2 1h", "parameter": "no2", "window": "1h", "above": 200},
            {
                "id": "no2_levels",
                "name": "NO2 levels",
                "parameter": "no2",
                "thresholds": [
                    {"above": 150, "severity": "warning"},
                    {"above": 300, "severity": "critical"},
                ],
            },
            {"id": "no2_band", "name": "NO2 band", "parameter": "no2", "below": 1, "above": 400},
            {
                "id": "no2_stk",
                "name": "NO2 other",
                "parameter": "no2",
                "kinds": ["stack"],
                "above": 1,
            },
            {
                "id": "no2_air1",
                "name": "NO2 permit",
                "parameter": "no2",
                "stations": ["AIR-1"],
                "above": 180,
                "replaces": "no2_1h",
            },
        )
    ]
    lines = [(x.rule_id, x.value, x.direction, x.severity) for x in limit_lines(rules, air, "no2")]
    assert lines == [
        ("no2_levels", 150.0, "above", "warning"),
        ("no2_levels", 300.0, "above", "critical"),
        ("no2_band", 400.0, "above", "warning"),
        ("no2_band", 1.0, "below", "warning"),
        ("no2_air1", 180.0, "above", "warning"),
    ]
    assert limit_lines(rules, air, "pm25") == []
