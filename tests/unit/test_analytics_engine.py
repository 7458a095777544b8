"""AnalyticsEngine end to end: VN_AQI from readings, derived values in rules, hour closing.

Also home of :func:`analytics_registry`, the registry the other analytics tests use."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from analytics.aqi import hourly_aqi
from analytics.config import AnalyticsConfig
from analytics.engine import AnalyticsEngine, AnalyticsOutput
from analytics.series import HOUR_MS
from ioc.messages import InstrumentStatus, Reading
from ioc.registry import StationRegistry
from tests.factories import REGISTRY_DOC

UTC_OFFSET_H = 7
#: An hour boundary that is local midnight (UTC+7).
DAY0 = (1_795_000_000_000 // (24 * HOUR_MS)) * 24 * HOUR_MS - UTC_OFFSET_H * HOUR_MS
MINUTE = 60_000


def station(id: str, kind: str, lat: float, lon: float, parameters: str) -> dict[str, Any]:
    return {
        "id": id,
        "name": id,
        "kind": kind,
        "lat": lat,
        "lon": lon,
        "parameters": parameters,
        "interval_s": 300,
    }


def analytics_registry(tmp_path: Path) -> StationRegistry:
    """The factories' registry plus O3/SO2/CO, two more air stations (AIR-3 near AIR-1 and
    AIR-2, AIR-FAR 100 km away) and a forest weather station FWS-1."""
    doc = copy.deepcopy(REGISTRY_DOC)
    for key in ("so2", "co", "o3"):
        doc["parameter_sets"]["air"][key] = {"unit": "ug/m3", "min": 0, "max": 200_000}
    doc["parameter_sets"]["weather"] = {
        "temp": {"unit": "C", "min": -10, "max": 55},
        "rh": {"unit": "%", "min": 0, "max": 100},
        "wind": {"unit": "m/s", "min": 0, "max": 75},
        "rain": {"unit": "mm", "min": 0, "max": 300},
    }
    doc["stations"] += [
        station("AIR-3", "air", 11.92, 108.47, "air"),
        station("AIR-FAR", "air", 12.8, 108.4, "air"),
        station("FWS-1", "weather", 11.95, 108.38, "weather"),
    ]
    path = tmp_path / "stations.yaml"
    path.write_text(yaml.safe_dump(doc))
    return StationRegistry.from_file(path)


def engine_for(tmp_path: Path, **config: Any) -> AnalyticsEngine:
    base: dict[str, Any] = {"rules": [], "anomaly": {"enabled": False}}
    return AnalyticsEngine(
        AnalyticsConfig.model_validate(base | config), analytics_registry(tmp_path)
    )


def hourly(station_id: str, hour: int, minutes: int = 60, **values: float) -> list[Reading]:
    """Readings every 5 minutes through local hour ``hour`` after DAY0 (first ``minutes``)."""
    start = DAY0 + hour * HOUR_MS
    return [
        Reading(station_id, start + m * MINUTE, dict(values), start + m * MINUTE)
        for m in range(0, minutes, 5)
    ]


def lines_of(outputs: list[AnalyticsOutput], prefix: str) -> list[str]:
    return [line for out in outputs for line in out.lines if line.startswith(prefix)]


def fields(line: str) -> dict[str, str]:
    return dict(kv.split("=") for kv in line.split(" ")[1].split(","))


@pytest.fixture
def engine(tmp_path: Path) -> AnalyticsEngine:
    return engine_for(tmp_path)


def test_hourly_aqi_with_nowcast_end_to_end(engine: AnalyticsEngine) -> None:
    outs = [engine.evaluate(hourly("AIR-1", h, pm25=35, pm10=60, no2=40)) for h in range(3)]
    hours = lines_of(outs, "aqi,period=hour,station=AIR-1")
    # Hour 0 closes when hour 1 starts, but the NowCast needs 2 of the latest 3 hours.
    assert hours == [
        f"aqi,period=hour,station=AIR-1 aqi=70.0,band=1i,pm25=70.0,pm10=55.0,no2=20.0 "
        f"{DAY0 + 2 * HOUR_MS}"
    ]
    assert outs[2].station_metrics["AIR-1"] == {"aqi": 70.0, "aqi_band": 1.0, "aqi_day": 70.0}
    now = engine.aqi_now()["AIR-1"]
    assert (now.aqi, now.band, now.hour_end_ms) == (70.0, 1, DAY0 + 2 * HOUR_MS)


def test_hourly_aqi_matches_the_kernel_on_gappy_data(engine: AnalyticsEngine) -> None:
    rng = np.random.default_rng(5)
    pm25 = rng.uniform(5, 300, 16)
    present = np.ones(16, dtype=bool)
    present[[4, 5, 9]] = False  # hours 4, 5 and 9 send nothing
    outs = []
    for h in range(16):
        if present[h]:
            outs.append(engine.evaluate(hourly("AIR-2", h, pm25=float(pm25[h]))))
    got = {
        int(line.rsplit(" ", 1)[1]) // HOUR_MS - DAY0 // HOUR_MS - 1: float(fields(line)["aqi"])
        for line in lines_of(outs, "aqi,period=hour,station=AIR-2")
    }
    means = np.where(present, pm25, np.nan)
    expected = {}
    for h in range(15):  # hour 15 is still open
        last12 = means[max(0, h - 11) : h + 1][::-1]
        last12 = np.concatenate([last12, np.full(12 - len(last12), np.nan)])
        aqi = float(hourly_aqi({"pm25": last12}))
        if np.isfinite(aqi):
            expected[h] = aqi
    assert got == expected
    assert 4 in got and 5 not in got  # hour 4: c2, c3 present; hour 5: only c3


def test_values_of_a_calibrating_instrument_do_not_count(engine: AnalyticsEngine) -> None:
    def readings(h: int) -> list[Reading]:
        return [
            Reading(
                r.station_id,
                r.ts_ms,
                {"pm25": 900.0, "pm10": 60.0},
                r.received_ms,
                {"pm25": InstrumentStatus.CALIBRATING},
            )
            for r in hourly("AIR-1", h)
        ]

    outs = [engine.evaluate(readings(h)) for h in range(3)]
    assert [fields(line)["aqi"] for line in lines_of(outs, "aqi,period=hour")] == ["55.0"]


def test_daily_aqi_of_a_complete_local_day(engine: AnalyticsEngine) -> None:
    outs = [engine.evaluate(hourly("AIR-1", h, pm25=35, pm10=60, no2=40)) for h in range(25)]
    daily = lines_of(outs, "aqi,period=day,station=AIR-1")
    assert daily[-1] == f"aqi,period=day,station=AIR-1 aqi=70.0,band=1i,complete=true {DAY0}"
    assert all("complete=false" in line for line in daily[:-1])


def test_a_rule_on_the_derived_aqi(tmp_path: Path) -> None:
    rule = {"id": "aqi_high", "name": "AQI", "parameter": "aqi", "kinds": ["air"], "above": 60}
    engine = engine_for(tmp_path, rules=[rule])
    transitions = [
        t for h in range(3) for t in engine.evaluate(hourly("AIR-1", h, pm25=35)).transitions
    ]
    assert [(t.rule_id, t.value, t.ts_ms) for t in transitions] == [
        ("aqi_high", 70.0, DAY0 + 2 * HOUR_MS)
    ]


def test_late_data_recomputes_a_closed_hour(engine: AnalyticsEngine) -> None:
    for h in range(3):
        engine.evaluate(hourly("AIR-1", h, pm25=35))
    late = Reading("AIR-1", DAY0 + HOUR_MS + 30 * MINUTE, {"pm25": 300.0}, DAY0 + 3 * HOUR_MS)
    out = engine.evaluate([late])
    hour_1 = [line for line in out.lines if line.endswith(f" {DAY0 + 2 * HOUR_MS}")]
    assert len(hour_1) == 1 and float(fields(hour_1[0])["aqi"]) > 70


def test_tick_closes_hours_of_a_silent_station(engine: AnalyticsEngine) -> None:
    for h in range(2):
        engine.evaluate(hourly("AIR-1", h, pm25=35))
    assert engine.aqi_now()["AIR-1"].hour_end_ms == DAY0 + HOUR_MS  # hour 1 still open
    out = engine.tick(DAY0 + 2 * HOUR_MS + 10 * MINUTE)  # hour 1 ended 10 min ago
    assert lines_of([out], "aqi,period=hour,station=AIR-1")
    assert engine.aqi_now()["AIR-1"].hour_end_ms == DAY0 + 2 * HOUR_MS
