"""Anomaly transitions carry their baseline (issue #14: "anomaly alerts showing their baseline
rather than a 'limit'"): the level the value was judged against, while ``limit`` keeps the
detector's threshold (a score). Limit rules, a stuck sensor and the physical range carry none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analytics.anomaly import drift_reference
from analytics.series import HOUR_MS
from ioc.messages import Reading, RuleTransition
from tests.unit.test_analytics_anomaly import AIR, STEP, regional_episode, run, watch
from tests.unit.test_analytics_engine import DAY0, engine_for

LEVEL = {"pm25": 40, "pm10": 80}  # run() sends a pm10 twice the pm25


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(5)


def opened(transitions: list[RuleTransition], rule_id: str) -> list[RuleTransition]:
    return [t for t in transitions if t.rule_id == rule_id and t.firing]


def test_a_spike_on_a_level_of_8_has_the_baseline_8_not_the_threshold(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    pm25 = {s: 8 + rng.normal(0, 0.3, 60) for s in AIR}
    pm25["AIR-FAR"][40] = 132.0  # no neighbour: a plain spike
    engine, transitions = watch(tmp_path), []
    for i in range(60):
        ts = DAY0 + i * STEP
        readings = [Reading(s, ts, {"pm25": float(v[i])}, ts) for s, v in pm25.items()]
        transitions += engine.evaluate(readings).transitions
    [spike] = opened(transitions, "anomaly.spike")
    assert (spike.station_id, spike.parameter, spike.value) == ("AIR-FAR", "pm25", 132.0)
    assert spike.baseline is not None and abs(spike.baseline - 8) < 0.3
    assert spike.limit == 8.0  # the z-score threshold stays where it was


def test_a_sensor_fault_and_a_pollution_event_have_the_level_before_them(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    pm25 = regional_episode(rng)
    pm25["AIR-1"][20] = 400  # an isolated jump, back the next sample: a sensor fault
    transitions = run(watch(tmp_path), pm25)
    [fault] = opened(transitions, "anomaly.sensor_fault")
    events = opened(transitions, "anomaly.pollution_event")
    assert fault.station_id == "AIR-1" and fault.value > 390 and events
    for t in (fault, *events):
        level = LEVEL[t.parameter]
        assert t.baseline is not None and abs(t.baseline - level) < 0.1 * level, t
        assert t.value > 2 * t.baseline


def test_seasonal_and_drift_have_the_usual_level_of_the_hour_and_the_reference(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    pm25 = 40 + rng.normal(0, 2, 8 * 24)
    pm25[6 * 24 :] += 30  # drifts 30 up from day 6
    pm25[5 * 24 + 3] = 250  # one unusual hour on day 5
    transitions = run(watch(tmp_path, zscore_threshold=1000), {"AIR-1": pm25}, HOUR_MS)
    seasonal = opened(transitions, "anomaly.seasonal")[0]
    [drifted] = opened(transitions, "anomaly.drift")
    for t, shift in ((seasonal, 160), (drifted, 20)):
        level = LEVEL[t.parameter]
        assert t.baseline is not None and abs(t.baseline - level) < 0.1 * level, t
        assert t.value > level + shift


def test_a_stuck_sensor_the_physical_range_and_limit_rules_have_no_baseline(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    pm25 = 40 + rng.normal(0, 2, 120)
    pm25[60:80] = 42.0
    pm25[100] = 600
    engine = watch(tmp_path, checks={"pm25": {"high": 500}}, zscore_threshold=1000)
    transitions = run(engine, {"AIR-1": pm25})
    kinds = {t.rule_id for t in transitions}
    assert {"anomaly.flatline", "anomaly.out_of_range"} <= kinds
    assert all(t.baseline is None for t in transitions)

    rule = {"id": "pm25_instant", "name": "PM2.5", "parameter": "pm25", "above": 100}
    limits = engine_for(tmp_path, rules=[rule])
    ts = DAY0
    out = limits.evaluate([Reading("AIR-1", ts, {"pm25": 150.0}, ts)]).transitions
    assert [t.rule_id for t in out if t.firing] == ["pm25_instant"]
    assert out[0].baseline is None


def test_the_drift_reference_is_the_median_of_the_first_valid_samples() -> None:
    x = np.array([[np.nan, 1.0, 9.0, 2.0, 100.0, 100.0], [np.nan] * 6])
    np.testing.assert_array_equal(drift_reference(x, 3), [2.0, np.nan])
