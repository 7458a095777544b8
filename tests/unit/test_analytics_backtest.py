"""The analytics API with a real aiohttp test client: backtests against a fake store, rule
validation, current AQI and fire danger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from analytics.config import AnalyticsConfig
from analytics.engine import AnalyticsEngine
from analytics.fire_danger import saturation_deficit_hpa
from analytics.series import HOUR_MS
from ioc import appkeys
from ioc.clock import iso_utc
from ioc.errors import StoreUnavailable
from ioc.messages import Reading
from tests.unit.test_analytics_engine import DAY0, MINUTE, analytics_registry, hourly
from tests.unit.test_analytics_fire import weather_day
from web.analytics_api import ANALYTICS, add_analytics_routes

Client = TestClient[web.Request, web.Application]
STEP = 5 * MINUTE
RULE = {
    "id": "pm25_1h",
    "name": "PM2.5 1h",
    "parameter": "pm25",
    "kinds": ["air"],
    "window": "1h",
    "above": 60,
    "clear_at": 50,
}


def iso(ms: int) -> str:
    text = iso_utc(ms)
    assert text is not None
    return text


def history() -> list[Reading]:
    """Two days of AIR-1 and AIR-2 every 5 minutes: AIR-1 is at 30 but for three episodes at
    120 (hours 5-6, hour 30, and 31:20 to 33:00); AIR-2 stays clean, one of its values was
    taken while calibrating."""
    rng = np.random.default_rng(3)
    out = []
    for i in range(2 * 24 * 12):
        ts = DAY0 + i * STEP
        episode = 60 <= i < 84 or 360 <= i < 372 or 376 <= i < 396
        out.append(Reading("AIR-1", ts, {"pm25": 120.0 if episode else 30.0}, ts))
        out.append(Reading("AIR-2", ts, {"pm25": 30 + rng.normal(0, 3)}, ts))
    bad = out[101]
    out[101] = Reading(bad.station_id, bad.ts_ms, {"pm25": 999.0}, bad.ts_ms, {"pm25": 1})
    return out


def rows_of(readings: list[Reading]) -> list[dict[str, Any]]:
    """The rows InfluxStore.query returns for them (GROUP BY station)."""
    rows = []
    for r in sorted(readings, key=lambda r: (r.station_id, r.ts_ms)):
        row: dict[str, Any] = {"time": r.ts_ms, "tags": {"station": r.station_id}}
        for p, v in r.values.items():
            row[p] = v
            row[f"{p}_status"] = int(r.status[p]) if p in r.status else None
        rows.append(row)
    return rows


class FakeStore:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.queries: list[str] = []

    async def query(self, influxql: str) -> list[dict[str, Any]]:
        self.queries.append(influxql)
        if not self.rows:
            raise StoreUnavailable("connection refused")
        return self.rows


@pytest.fixture
def engine(tmp_path: Path) -> AnalyticsEngine:
    return AnalyticsEngine(AnalyticsConfig(), analytics_registry(tmp_path))


@pytest.fixture
def store() -> FakeStore:
    return FakeStore(rows_of(history()))


@pytest.fixture
async def client(
    engine: AnalyticsEngine,
    store: FakeStore,
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> Client:
    app = web.Application()
    app[ANALYTICS] = lambda: engine
    app[appkeys.STORE] = store  # type: ignore[assignment]
    add_analytics_routes(app)
    return await aiohttp_client(app)


async def post(client: Client, body: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post("/api/v1/rules/backtest", json=body)
    return response.status, await response.json()


async def test_backtest_round_trip(client: Client, store: FakeStore) -> None:
    start, end = DAY0 + 2 * HOUR_MS, DAY0 + 48 * HOUR_MS
    status, body = await post(client, {"rule": RULE, "start": iso(start), "end": iso(end)})
    assert status == 200, body
    assert store.queries == [
        'SELECT "pm25", "pm25_status", "pm25_status_missing" FROM "reading" '
        f"WHERE time >= {start - HOUR_MS}ms AND time < {end}ms "
        "AND (\"station\" = 'AIR-1' OR \"station\" = 'AIR-2' OR \"station\" = 'AIR-3' "
        'OR "station" = \'AIR-FAR\') GROUP BY "station"'
    ]
    events = [(e["station_id"], e["firing"], e["time"]) for e in body["events"]]
    assert events == [
        ("AIR-1", True, iso(DAY0 + 6 * HOUR_MS)),  # a 1 h mean is judged as its hour ends
        ("AIR-1", False, iso(DAY0 + 8 * HOUR_MS)),
        ("AIR-1", True, iso(DAY0 + 31 * HOUR_MS)),  # hours 30-32: 120, 90, 120
        ("AIR-1", False, iso(DAY0 + 34 * HOUR_MS)),
    ]
    quiet = {"alerts": 0, "flaps": 0, "firing_s": 0.0}
    assert body["stations"] == {
        "AIR-1": {"alerts": 2, "flaps": 0, "firing_s": 5 * 3600},
        "AIR-2": quiet,  # every selected station is listed, quiet ones too
        "AIR-3": quiet,
        "AIR-FAR": quiet,
    }
    assert body["summary"] | {"values": 0} == {
        "stations": 4,
        "values": 0,
        "events": 4,
        "alerts": 2,
        "flaps": 0,
        "firing_s": 5 * 3600,
        "stations_alerted": 1,
    }
    assert body["summary"]["values"] == 2 * 24 * 12 * 2 - 1  # the calibrating value is out


async def test_backtest_runs_the_live_engine_code(client: Client, tmp_path: Path) -> None:
    live = AnalyticsEngine(
        AnalyticsConfig.model_validate({"rules": [RULE], "anomaly": {"enabled": False}}),
        analytics_registry(tmp_path),
    )
    readings = history()
    expected = [
        t
        for i in range(0, len(readings), 24)
        for t in live.evaluate(readings[i : i + 24]).transitions
    ]
    status, body = await post(
        client, {"rule": RULE, "start": iso(DAY0), "end": iso(DAY0 + 48 * HOUR_MS)}
    )
    assert status == 200
    got = [(e["station_id"], e["firing"], e["value"], e["time"]) for e in body["events"]]
    assert got == [(t.station_id, t.firing, t.value, iso(t.ts_ms)) for t in expected]


async def test_backtest_of_a_multi_level_rule_on_some_stations(client: Client) -> None:
    rule = {k: v for k, v in RULE.items() if k not in ("above", "clear_at")} | {
        "thresholds": [{"above": 40, "clear_at": 35}, {"above": 100, "severity": "critical"}]
    }
    start, end = DAY0 + 30 * HOUR_MS, DAY0 + 34 * HOUR_MS
    body = {"rule": rule, "start": iso(start), "end": iso(end), "stations": ["AIR-1"]}
    status, out = await post(client, body)
    assert status == 200, out
    assert [(e["severity"], e["firing"], e["time"]) for e in out["events"]] == [
        ("critical", True, iso(DAY0 + 31 * HOUR_MS)),  # hour 30: 120
        ("warning", True, iso(DAY0 + 32 * HOUR_MS)),  # hour 31 mean: 90
        ("critical", True, iso(DAY0 + 33 * HOUR_MS)),  # hour 32: 120 (33 is judged at 34)
    ]
    assert out["summary"]["stations"] == 1


async def test_backtest_of_the_derived_aqi(client: Client, store: FakeStore) -> None:
    rule = {"id": "aqi", "name": "AQI", "parameter": "aqi", "above": 100}
    status, out = await post(
        client, {"rule": rule, "start": iso(DAY0), "end": iso(DAY0 + 48 * HOUR_MS)}
    )
    assert status == 200, out
    assert '"pm25", "pm25_status", "pm25_status_missing", "pm10"' in store.queries[0]
    assert [e["firing"] for e in out["events"]][:2] == [True, False]  # the first episode


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"rule": RULE | {"parameter": "pm1"}}, "unknown parameter 'pm1'"),
        ({"rule": RULE | {"window": "2h"}}, "rule.window: must be"),
        (
            {
                "rule": {k: v for k, v in RULE.items() if k not in ("above", "clear_at")}
                | {"thresholds": [{"above": 90, "severity": "critical"}, {"above": 60}]}
            },
            "increasing severity",
        ),
        ({"rule": RULE | {"above": 40}}, "clear_at 50.0 must be <= above 40.0"),
        ({"end": iso(DAY0 - HOUR_MS)}, "`end` must be after `start`"),
        ({"start": "2026-11-20T00:00:00"}, "start: must have timezone info"),
        ({"stations": ["AIR-404"]}, "unknown station 'AIR-404'"),
        ({"rule": RULE | {"kinds": ["stack"]}}, "no selected station measures 'pm25'"),
        ({"surprise": 1}, "surprise: is not a known field"),
    ],
)
async def test_bad_backtests_are_a_400_with_the_problem(
    client: Client, store: FakeStore, change: dict[str, Any], problem: str
) -> None:
    body = {"rule": RULE, "start": iso(DAY0), "end": iso(DAY0 + HOUR_MS)} | change
    status, out = await post(client, body)
    assert status == 400
    problems = [f"{p['field']}: {p['message']}" for p in out["problems"]]
    assert any(problem in p for p in problems), problems
    assert problem.split(": ")[-1] in out["error"]
    assert store.queries == []


async def test_a_body_that_is_not_json(client: Client) -> None:
    response = await client.post("/api/v1/rules/backtest", data=b"{rule")
    assert (response.status, await response.json()) == (400, {"error": "the body is not JSON"})


async def test_database_down_is_a_503(client: Client, store: FakeStore) -> None:
    store.rows = []
    status, out = await post(client, {"rule": RULE, "start": iso(DAY0), "end": iso(DAY0 + HOUR_MS)})
    assert status == 503 and out["error"] == "database unavailable"


async def test_current_aqi_and_fire_danger(client: Client, engine: AnalyticsEngine) -> None:
    for h in range(3):
        engine.evaluate(hourly("AIR-1", h, pm25=35, pm10=60))
    for batch in weather_day(0)[:15]:
        engine.evaluate(batch)
    local_date = (datetime.fromtimestamp(DAY0 / 1000, UTC) + timedelta(hours=7)).date()
    response = await client.get("/api/v1/aqi?station=AIR-1")
    assert (await response.json())["aqi"] == [
        {
            "station_id": "AIR-1",
            "time": iso(DAY0 + 2 * HOUR_MS),
            "aqi": 70.0,
            "band": 1,
            "label_vi": "Trung bình",
            "label_en": "Moderate",
            "color": "#ffff00",
            "sub_indices": {"pm25": 70.0, "pm10": 55.0},
            "day": {"date": local_date.isoformat(), "aqi": 70.0, "complete": False},
        }
    ]
    assert (await client.get("/api/v1/aqi?station=AIR-404")).status == 404
    fire = (await (await client.get("/api/v1/fire-danger")).json())["fire_danger"]
    assert [(f["station_id"], f["level"], f["label_en"], f["complete"]) for f in fire] == [
        ("FWS-1", 1, "fire unlikely", False)
    ]
    assert fire[0]["nesterov"] == pytest.approx(30 * saturation_deficit_hpa(30, 30), abs=0.01)


async def post_detector(client: Client, rule_id: str, body: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post(f"/api/v1/detector-rules/{rule_id}/backtest", json=body)
    return response.status, await response.json()


async def test_an_anomaly_rule_is_backtested_with_the_settings_to_try(
    client: Client, store: FakeStore
) -> None:
    """AIR-1 jumps from 30 to 120 three times: a z-score threshold of 8 (as it runs) flags
    the jumps; one of 1,000 flags nothing. Only the rule's own events are listed (no other
    anomaly kind, no limit rule)."""
    start, end = DAY0 + 2 * HOUR_MS, DAY0 + 48 * HOUR_MS
    period = {"start": iso(start), "end": iso(end)}
    status, body = await post_detector(client, "anomaly.spike", period)
    assert status == 200, body
    assert body["summary"]["alerts"] >= 1
    assert {e["station_id"] for e in body["events"]} == {"AIR-1"}
    assert '"pm25", "pm25_status"' in store.queries[-1]  # every measured parameter
    assert f"time >= {start - 24 * HOUR_MS}ms" in store.queries[-1]  # a day to learn the level
    status, body = await post_detector(
        client, "anomaly.spike", period | {"override": {"zscore_threshold": 1000}}
    )
    assert status == 200, body
    assert body["summary"]["events"] == 0
    assert body["rule"] == {"id": "anomaly.spike", "zscore_threshold": 1000}


@pytest.mark.parametrize(
    ("rule_id", "override", "status", "field"),
    [
        ("anomaly.nothing", {}, 404, None),
        ("camera.smoke", {}, 400, "id"),  # live frames are not stored
        ("anomaly.offline", {}, 400, "id"),  # decided by the clock
        ("anomaly.spike", {"zscore_threshold": -1}, 400, "override.zscore_threshold"),
        ("anomaly.spike", {"no_such_setting": 1}, 400, "override.no_such_setting"),
    ],
)
async def test_detector_backtests_that_cannot_run_say_why(
    client: Client, rule_id: str, override: dict[str, Any], status: int, field: str | None
) -> None:
    period = {"start": iso(DAY0 + 2 * HOUR_MS), "end": iso(DAY0 + 48 * HOUR_MS)}
    got, body = await post_detector(client, rule_id, period | {"override": override})
    assert got == status, body
    if field is not None:
        assert field in [p["field"] for p in body["problems"]], body
