"""The anomaly checks decide the same whatever the batches the readings come in: a live service
(about one sample per series a batch), a backlog worked off in batches of hundreds and the
worker layout (batches cut elsewhere) raise the same alerts on the same readings."""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.engine import AnalyticsEngine
from ioc.config import IocConfig
from ioc.messages import Reading
from ioc.registry import StationRegistry
from tests.integration.test_workers import RULES, STEPS, stream, twelve_stations
from tests.unit.test_analytics_anomaly import AIR, STEP, regional_episode
from tests.unit.test_analytics_engine import DAY0, engine_for

Transition = tuple[str, str, str, int, bool, float]
LIMIT = {"id": "pm25_now", "name": "PM2.5 now", "parameter": "pm25", "above": 200.0}


def scripted() -> list[Reading]:
    """Four air stations every 5 minutes, in time order, with one of each incident: an isolated
    jump (sensor fault), a two-sample exceedance of an instant limit (the limit's incident),
    a regional episode (pollution event), a local sustained rise (spike), a jump at the station
    without neighbours (spike), a stuck PM10 sensor (flatline) and a value out of range."""
    rng = np.random.default_rng(5)
    pm25 = regional_episode(rng, 150)
    pm25["AIR-1"][20] = 400
    pm25["AIR-2"][30:32] = 250
    pm25["AIR-3"][110:125] = 180 + rng.normal(0, 5, 15)
    pm25["AIR-FAR"][100] = 400
    pm25["AIR-FAR"][130] = 900
    readings = []
    for i in range(150):
        ts = DAY0 + i * STEP
        for s in AIR:
            pm10 = 90.0 if s == "AIR-2" and 40 <= i < 60 else 2 * float(pm25[s][i]) + np.sin(i)
            readings.append(Reading(s, ts, {"pm25": float(pm25[s][i]), "pm10": pm10}, ts))
    return readings


@cache
def workers_stream() -> tuple[Path, list[Reading]]:
    """The stream of the worker-layout integration test (12 stations, 2-sample PM2.5 spikes
    over an instant limit, every 7th message twice), as readings."""
    registry = twelve_stations(Path(tempfile.mkdtemp()) / "stations.yaml")
    start = DAY0 + 6 * 3_600_000
    readings, seen = [], set()
    for station, body in stream(start):
        doc = json.loads(body)
        ts = round(doc["ts"] * 1000)
        if (station, ts) not in seen:
            seen.add((station, ts))
            values = {k: float(v) for k, v in doc["values"].items()}
            readings.append(Reading(station, ts, values, ts + 1000))
    assert len(readings) == 12 * STEPS
    return registry, readings


def decided(engine: AnalyticsEngine, readings: list[Reading], cuts: list[int]) -> list[Transition]:
    """Every transition of the readings fed in consecutive batches ending at ``cuts``."""
    out: list[Transition] = []
    start = 0
    for end in [*sorted(set(cuts)), len(readings)]:
        for t in engine.evaluate(readings[start:end]).transitions:
            out.append((t.rule_id, t.station_id, t.parameter, t.ts_ms, t.firing, t.value))
        start = max(start, end)
    return sorted(out)


def scripted_engine(tmp_path: Path) -> AnalyticsEngine:
    return engine_for(
        tmp_path,
        rules=[LIMIT],
        anomaly={"enabled": True, "checks": {"pm25": {"high": 800}}},
        aqi={"enabled": False},
    )


def workers_engine() -> AnalyticsEngine:
    path, _ = workers_stream()
    config = IocConfig.model_validate({"analytics": {"rules": RULES}}).analytics
    return AnalyticsEngine(config, StationRegistry.from_file(path))


def every(size: int, n: int) -> list[int]:
    return list(range(size, n, size))


def test_the_scripted_incidents_are_decided_the_same_in_batches_of_1_7_100_and_all(
    tmp_path: Path,
) -> None:
    readings = scripted()
    runs = {}
    for size in (1, 7, 100, len(readings)):
        (tmp_path / str(size)).mkdir()
        runs[size] = decided(scripted_engine(tmp_path / str(size)), readings, every(size, 4 * 150))
    one = runs[1]
    kinds = {rule for rule, _, _, _, firing, _ in one if firing}
    assert {"pm25_now", "anomaly.sensor_fault", "anomaly.pollution_event"} <= kinds
    assert {"anomaly.spike", "anomaly.flatline", "anomaly.out_of_range"} <= kinds
    for size, transitions in runs.items():
        assert transitions == one, size


def test_the_worker_stream_is_decided_the_same_in_batches_of_1_7_12_100_and_all() -> None:
    _, readings = workers_stream()
    one = decided(workers_engine(), readings, every(1, len(readings)))
    # the 2-sample spikes exceed the instant limit: the limit alerts are their incidents
    assert [t for t in one if t[0].startswith("anomaly.")] == []
    assert sum(1 for t in one if t[0] == "pm25_instant" and t[4]) > 30
    for size in (7, 12, 100, 500, len(readings)):
        assert decided(workers_engine(), readings, every(size, len(readings))) == one, size


EVENT = "anomaly.pollution_event"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(min_value=1, max_value=4 * 150 - 1), max_size=12))
def test_any_cut_of_the_scripted_readings_decides_the_same(cuts: list[int]) -> None:
    readings = scripted()
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        expected = decided(scripted_engine(Path(a)), readings, every(4, len(readings)))
        got = decided(scripted_engine(Path(b)), readings, cuts)
        # what is decided, where and when, is the same whatever the cut
        assert [t[:2] + t[3:5] for t in got] == [t[:2] + t[3:5] for t in expected]
        # known imperfection: when two parameters of a station decide a pollution event at
        # the same instant in different batches, which of them names it (and its value) can
        # follow the cut (cuts=[249]: pm10 instead of pm25); every other transition is equal
        assert [t for t in got if t[0] != EVENT] == [t for t in expected if t[0] != EVENT]
