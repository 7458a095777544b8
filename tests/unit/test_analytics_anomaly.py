"""Anomaly checks wired into the engine, on synthetic data with injected faults (known truth),
and the streaming z-score kernel they use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics.anomaly import drift, robust_zscore, window_zscore
from analytics.detectors import _reference_and_last_window
from analytics.engine import AnalyticsEngine
from analytics.series import HOUR_MS
from ioc.messages import Reading, RuleTransition
from tests.unit.test_analytics_engine import DAY0, MINUTE, engine_for

STEP = 5 * MINUTE
AIR = ("AIR-1", "AIR-2", "AIR-3", "AIR-FAR")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


def watch(tmp_path: Path, **anomaly: Any) -> AnalyticsEngine:
    return engine_for(tmp_path, anomaly={"enabled": True} | anomaly, aqi={"enabled": False})


def run(
    engine: AnalyticsEngine, pm25: dict[str, np.ndarray], step: int = STEP
) -> list[RuleTransition]:
    """One batch per time step, all stations together; pm25 (and a pm10 that follows it)."""
    n = len(next(iter(pm25.values())))
    out: list[RuleTransition] = []
    for i in range(n):
        ts = DAY0 + i * step
        batch = [
            Reading(s, ts, {"pm25": float(v[i]), "pm10": 2 * float(v[i]) + np.sin(i)}, ts)
            for s, v in pm25.items()
        ]
        out += engine.evaluate(batch).transitions
    return out


def summary(transitions: list[RuleTransition]) -> list[tuple[str, str, bool, int]]:
    """(rule, station, firing, step index) of each transition."""
    return [(t.rule_id, t.station_id, t.firing, (t.ts_ms - DAY0) // STEP) for t in transitions]


def test_window_zscore_scores_new_samples_like_robust_zscore(rng: np.random.Generator) -> None:
    x = 20 + rng.normal(0, 1, 300)
    x[[50, 120]] = np.nan
    x[200] += 30
    window = 40
    padded = np.concatenate([np.full(window, np.nan), x])
    windows = np.stack([padded[i : i + window] for i in range(len(x))])
    streaming = window_zscore(x, windows)
    np.testing.assert_array_equal(streaming, robust_zscore(x, window))
    # A floor relative to the median damps small absolute changes of a quiet series.
    damped = window_zscore(x, windows, mad_floor_ratio=0.5)
    assert abs(damped[200]) < abs(streaming[200]) / 5


def test_drift_of_the_last_hour_needs_only_the_reference_and_the_last_window(
    rng: np.random.Generator,
) -> None:
    hours = 40 + rng.normal(0, 2, (300, 14 * 24))
    hours[:, 200:] += rng.uniform(0, 20, (300, 1))
    hours[rng.random(hours.shape) < 0.5] = np.nan
    hours[:20, : rng.integers(0, 300)] = np.nan
    hours[20:30] = np.nan
    for window in (4, 24, 100):
        whole = drift(hours, window, 8.0, mad_floor=1.0)[:, -1]
        reduced = _reference_and_last_window(hours, window)
        assert window == 100 or reduced.shape[1] < hours.shape[1] // 2
        np.testing.assert_array_equal(drift(reduced, window, 8.0, mad_floor=1.0)[:, -1], whole)
    assert whole.any() and not whole.all()


def test_a_stuck_sensor_is_a_flatline(tmp_path: Path, rng: np.random.Generator) -> None:
    pm25 = 40 + rng.normal(0, 2, 120)
    pm25[60:80] = 42.0  # stuck for 20 samples
    transitions = run(watch(tmp_path), {"AIR-1": pm25})
    assert summary(transitions) == [
        ("anomaly.flatline", "AIR-1", True, 65),  # the 6th identical sample (30 min)
        ("anomaly.flatline", "AIR-1", False, 80),
    ]
    assert (transitions[0].parameter, transitions[0].limit) == ("pm25", 6.0)


def test_spikes_are_told_apart_by_the_neighbours(tmp_path: Path, rng: np.random.Generator) -> None:
    pm25 = {s: 40 + rng.normal(0, 2, 120) for s in AIR}
    pm25["AIR-1"][60] = 400  # alone: AIR-2 and AIR-3 are within 15 km and stay normal
    pm25["AIR-1"][90:93] = pm25["AIR-2"][90:93] = 300  # together, for 15 min: an event
    pm25["AIR-FAR"][100] = 400  # no neighbour: cannot tell
    transitions = run(watch(tmp_path), pm25)
    # The fault is decided at the next sample (back to its level) and reported at its own
    # time; the event kinds clear after 30 min of normal values (event_clear_after_s); the two
    # neighbours rising together are one regional incident.
    assert summary(transitions) == [
        ("anomaly.sensor_fault", "AIR-1", True, 60),
        ("anomaly.sensor_fault", "AIR-1", False, 66),
        ("anomaly.pollution_event", "AIR-1", True, 90),
        ("anomaly.pollution_event", "AIR-1", False, 98),
        ("anomaly.spike", "AIR-FAR", True, 100),
        ("anomaly.spike", "AIR-FAR", False, 106),
    ]
    assert {t.severity.value for t in transitions if "sensor" in t.rule_id} == {"warning"}


def test_a_step_faster_than_the_configured_rate(tmp_path: Path, rng: np.random.Generator) -> None:
    pm25 = 40 + rng.normal(0, 2, 40)
    pm25[30:] += 150  # 150 µg/m³ in one 5-minute step: 30 per minute
    engine = watch(tmp_path, checks={"pm25": {"max_rate_per_min": 20}}, zscore_threshold=1000)
    transitions = run(engine, {"AIR-1": pm25})
    # AIR-2 and AIR-3 are neighbours and did not rise (they sent nothing), but the new level
    # holds: not an isolated jump (a sensor fault) - after fault_decision_s a plain spike, at
    # the step's time, open while the level stays away from the one before.
    assert summary(transitions) == [("anomaly.spike", "AIR-1", True, 30)]


def test_drift_and_a_seasonal_outlier_in_hourly_means(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    hours = 8 * 24
    pm25 = 40 + rng.normal(0, 2, hours)
    pm25[6 * 24 :] += 30  # from day 6 on the sensor reads 30 too high, for good
    pm25[5 * 24 + 3] = 250  # one bad hour on day 5, at 03:00
    transitions = run(watch(tmp_path, zscore_threshold=1000), {"AIR-1": pm25}, HOUR_MS)
    seasonal = [t for t in transitions if t.rule_id == "anomaly.seasonal"]
    drift = [t for t in transitions if t.rule_id == "anomaly.drift" and t.firing]
    # The hour-of-day baseline needs 5 days: the day-5 outlier is the first to stand out.
    assert [(t.firing, t.ts_ms) for t in seasonal[:2]] == [
        (True, DAY0 + (5 * 24 + 4) * HOUR_MS),  # stamped at the end of its hour
        (False, DAY0 + (5 * 24 + 5) * HOUR_MS),
    ]
    # Drift is judged at the end of each local day: day 6 is the first shifted one.
    assert [t.ts_ms for t in drift] == [DAY0 + 7 * 24 * HOUR_MS]


def test_offline_station_and_a_silent_parameter(tmp_path: Path) -> None:
    engine = watch(tmp_path)
    engine.tick(DAY0)  # never-seen stations count from the first tick
    interval = 60_000  # AIR-1 reports every minute; offline after 3 missed intervals
    for i in range(10):  # pm10 stops after minute 3, pm25 goes on
        ts = DAY0 + i * interval
        values = {"pm25": 40.0 + i} | ({"pm10": 80.0 + i} if i <= 3 else {})
        engine.evaluate([Reading("AIR-1", ts, values, ts)])
    pm10_last, last = DAY0 + 3 * interval, DAY0 + 9 * interval

    def ticks(now: int) -> list[tuple[str, str, bool]]:
        out = engine.tick(now).transitions
        return [(t.rule_id, t.parameter, t.firing) for t in out if t.station_id == "AIR-1"]

    assert ticks(pm10_last + 3 * interval) == []  # 3 missed intervals are not more than 3
    assert ticks(last) == [("anomaly.no_data", "pm10", True)]
    assert ticks(last + 3 * interval + 1) == [
        ("anomaly.offline", "", True),
        ("anomaly.no_data", "pm10", False),  # the station's offline alert covers it
    ]
    ts = last + HOUR_MS
    engine.evaluate([Reading("AIR-1", ts, {"pm25": 40.0, "pm10": 80.0}, ts)])
    assert ticks(ts + 1000) == [("anomaly.offline", "", False)]


def test_out_of_the_physical_range(tmp_path: Path, rng: np.random.Generator) -> None:
    pm25 = 40 + rng.normal(0, 2, 30)
    pm25[20] = 600
    engine = watch(tmp_path, checks={"pm25": {"high": 500}}, zscore_threshold=1000)
    transitions = run(engine, {"AIR-1": pm25})
    assert [(t.rule_id, t.firing, t.limit) for t in transitions] == [
        ("anomaly.out_of_range", True, 500.0),
        ("anomaly.out_of_range", False, 500.0),
    ]


def regional_episode(rng: np.random.Generator, n: int = 120) -> dict[str, np.ndarray]:
    """A pollution episode as the scenario scripts it: AIR-1 rises 4x over three samples from
    step 60, AIR-2 and AIR-3 (within 15 km) rise by half of that a sample later; a noisy
    plateau for 20 samples, then back."""
    pm25 = {s: 40 + rng.normal(0, 2, n) for s in AIR}
    for station, share, lag in (("AIR-1", 1.0, 0), ("AIR-2", 0.5, 1), ("AIR-3", 0.55, 1)):
        k = np.arange(n) - 60 - lag
        rise = np.clip(np.minimum(k / 3 + 1 / 3, (24 - k) / 3 + 1 / 3), 0, 1)
        pm25[station] *= 1 + 3.0 * share * rise * rng.uniform(0.8, 1.2, n)
    return pm25


def test_a_regional_pollution_episode_is_one_alert(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    transitions = run(watch(tmp_path), regional_episode(rng))
    fired = [t for t in summary(transitions) if t[2]]
    # one alert, at the station where it started, opened while it ramps up; no sensor fault
    # on its first sample (the neighbours rise a sample later), no reopening on the plateau
    assert [(rule, station) for rule, station, _, _ in fired] == [
        ("anomaly.pollution_event", "AIR-1")
    ]
    assert 60 <= fired[0][3] <= 63
    cleared = [t for t in summary(transitions) if not t[2]]
    assert [(rule, station) for rule, station, _, _ in cleared] == [
        ("anomaly.pollution_event", "AIR-1")
    ]
    assert cleared[0][3] >= 84 + 6  # 30 min after the values are back


def test_without_hysteresis_and_grouping_the_same_episode_flaps(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    engine = watch(tmp_path, event_clear_after_s=0, group_pollution_events=False)
    transitions = run(engine, regional_episode(rng))
    fired = [t for t in summary(transitions) if t[2]]
    assert len(fired) > 1  # what the settings above are for


def test_an_isolated_jump_is_a_sensor_fault_a_sustained_regional_rise_is_not(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    pm25 = regional_episode(rng)
    pm25["AIR-1"][20] = 400  # one absurd value, back the next sample
    pm25["AIR-2"][30:32] = 450  # two in a row, neighbours quiet
    transitions = run(watch(tmp_path), pm25)
    fired = [t for t in summary(transitions) if t[2]]
    assert fired == [
        ("anomaly.sensor_fault", "AIR-1", True, 20),
        ("anomaly.sensor_fault", "AIR-2", True, 30),
        ("anomaly.pollution_event", "AIR-1", True, fired[2][3]),
    ]


def test_a_local_sustained_rise_with_quiet_neighbours_is_a_plain_spike(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    pm25 = {s: 40 + rng.normal(0, 2, 80) for s in AIR}
    pm25["AIR-1"][40:70] = 300 + rng.normal(0, 5, 30)  # high for 2.5 h, neighbours quiet
    fired = [t for t in summary(run(watch(tmp_path), pm25)) if t[2]]
    assert fired == [("anomaly.spike", "AIR-1", True, 40)]  # decided after fault_decision_s


def test_an_instant_limit_exceedance_raises_no_spike_for_the_same_readings(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    rule = {"id": "pm25_now", "name": "PM2.5 now", "parameter": "pm25", "above": 200.0}
    pm25 = 40 + rng.normal(0, 2, 80)
    pm25[40:43] = 400  # a station without neighbours: a spike if anything

    def fired(engine: AnalyticsEngine) -> list[tuple[str, int]]:
        out = []
        for i, v in enumerate(pm25):
            ts = DAY0 + i * STEP
            got = engine.evaluate([Reading("AIR-FAR", ts, {"pm25": float(v)}, ts)]).transitions
            out += [(t.rule_id, i) for t in got if t.firing]
        return out

    # the limit alert is the incident of these readings
    assert fired(_with_rules(tmp_path, [rule])) == [("pm25_now", 40)]
    (tmp_path / "b").mkdir()
    assert fired(watch(tmp_path / "b")) == [("anomaly.spike", 40)]
    (tmp_path / "c").mkdir()
    engine = _with_rules(tmp_path / "c", [rule], defer_to_limits=False)
    assert fired(engine) == [("pm25_now", 40), ("anomaly.spike", 40)]


def _with_rules(tmp_path: Path, rules: list[dict[str, Any]], **anomaly: Any) -> AnalyticsEngine:
    return engine_for(
        tmp_path, rules=rules, anomaly={"enabled": True} | anomaly, aqi={"enabled": False}
    )


def test_a_fault_and_its_recovery_in_one_batch_stay_one_open_alert(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    engine = watch(tmp_path)
    pm25 = 40 + rng.normal(0, 2, 60)
    pm25[40] = 400
    readings = [
        Reading("AIR-1", DAY0 + i * STEP, {"pm25": float(v)}, DAY0 + i * STEP)
        for i, v in enumerate(pm25)
    ]
    out = [t for r in readings[:40] for t in engine.evaluate([r]).transitions]
    out += engine.evaluate(readings[40:43]).transitions  # the fault, back, normal: one batch
    assert summary(out) == [("anomaly.sensor_fault", "AIR-1", True, 40)]
    for r in readings[43:]:
        out += engine.evaluate([r]).transitions
    assert summary(out)[1:] == [("anomaly.sensor_fault", "AIR-1", False, 46)]


def test_switching_off_a_held_event_kind_resolves_it_at_the_next_sample(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    engine = watch(tmp_path)
    pm25 = 40 + rng.normal(0, 2, 45)
    pm25[40] = 400
    out = []
    for i, v in enumerate(pm25):
        if i == 43:  # held open (event_clear_after_s), then switched off
            off = engine.config.anomaly.model_copy(update={"disabled_rules": ["sensor_fault"]})
            assert engine.set_anomaly(off)
        ts = DAY0 + i * STEP
        out += engine.evaluate([Reading("AIR-1", ts, {"pm25": float(v)}, ts)]).transitions
    assert summary(out) == [
        ("anomaly.sensor_fault", "AIR-1", True, 40),
        ("anomaly.sensor_fault", "AIR-1", False, 43),
    ]


def test_coincident_single_faults_at_neighbours_do_not_confirm_each_other(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    pm25 = {s: 40 + rng.normal(0, 2, 60) for s in AIR}
    pm25["AIR-1"][40:43] = 400  # three absurd values in a row
    pm25["AIR-2"][42] = 450  # and one at the neighbour, meanwhile
    fired = [t for t in summary(run(watch(tmp_path), pm25)) if t[2]]
    assert fired == [
        ("anomaly.sensor_fault", "AIR-1", True, 40),
        ("anomaly.sensor_fault", "AIR-2", True, 42),
    ]


def test_drift_within_a_day_on_a_gas_but_not_the_weather_of_pm(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Issue #14: a gas sensor drifting to 2.2x over a day stands out against its day before
    (SO2 has little day-to-day weather), so the default threshold sees it; PM shifting as much
    from one day to the next is weather (the simulated day's ordinary stations shift up to
    ~2x, drift scores up to 6), judged against PM's own, higher threshold. Each day has a
    diurnal cycle and noise."""
    hours = np.arange(48)
    cycle = 1 + 0.1 * np.sin(2 * np.pi * (hours % 24) / 24)
    ramp = np.where(hours >= 24, 1 + 1.2 * (hours - 24) / 23, 1.0)  # 1 → 2.2 over day 2
    so2 = 20 * cycle * ramp * rng.lognormal(0, 0.05, 48)
    pm25 = 40 * cycle * ramp * rng.lognormal(0, 0.05, 48)
    engine = watch(tmp_path, zscore_threshold=1000, seasonal_threshold=1000)
    out: list[RuleTransition] = []
    for h in hours:
        ts = DAY0 + int(h) * HOUR_MS
        values = {"so2": float(so2[h]), "pm25": float(pm25[h]), "pm10": float(2 * pm25[h])}
        out += engine.evaluate([Reading("AIR-1", ts, values, ts)]).transitions
    out += engine.tick(DAY0 + 48 * HOUR_MS + 5 * MINUTE).transitions  # the last hour closes
    drift = [(t.parameter, t.firing, t.ts_ms) for t in out if t.rule_id == "anomaly.drift"]
    assert drift == [("so2", True, DAY0 + 48 * HOUR_MS)]  # scores: SO2 6.2, PM2.5 5.3


def test_no_drift_check_on_a_wells_flow_and_level_by_default() -> None:
    """A well's pumping rate is its operator's and its level follows it (drawdown): a
    sustained change of either is the abstraction, which the licence rules watch, not a
    sensor drift (issue #14: overdrawn wells raised drift alerts)."""
    from analytics.config import AnomalyConfig

    checks = AnomalyConfig()
    assert not checks.for_parameter("flow").drift and not checks.for_parameter("level").drift
    assert checks.for_parameter("so2").drift and checks.for_parameter("pm25").drift


def test_a_pm25_sensor_drifting_away_from_its_pm10_is_drift(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """PM2.5 and PM10 move together with the weather (PM10 ≈ 1.6x PM2.5 in the simulated
    province), so a PM2.5 sensor drifting to 2.2x over a day while PM10 stays is seen in
    their ratio, though its own level shift (score ~5) is within the weather's; the drifting
    one of the two is the one whose level moved."""
    hours = np.arange(48)
    cycle = 1 + 0.1 * np.sin(2 * np.pi * (hours % 24) / 24)
    ramp = np.where(hours >= 24, 1 + 1.2 * (hours - 24) / 23, 1.0)  # 1 → 2.2 over day 2
    weather = 40 * cycle * rng.lognormal(0, 0.05, 48)
    pm25, pm10 = weather * ramp, weather * rng.uniform(1.45, 1.75, 48)
    engine = watch(tmp_path, zscore_threshold=1000, seasonal_threshold=1000)
    out: list[RuleTransition] = []
    for h in hours:
        ts = DAY0 + int(h) * HOUR_MS
        values = {"pm25": float(pm25[h]), "pm10": float(pm10[h])}
        out += engine.evaluate([Reading("AIR-1", ts, values, ts)]).transitions
    out += engine.tick(DAY0 + 48 * HOUR_MS + 5 * MINUTE).transitions
    drift = [(t.parameter, t.firing, t.ts_ms) for t in out if t.rule_id == "anomaly.drift"]
    assert drift == [("pm25", True, DAY0 + 48 * HOUR_MS)]
    steady = watch(tmp_path, zscore_threshold=1000, seasonal_threshold=1000, drift_pm_ratio=False)
    out = []
    for h in hours:
        ts = DAY0 + int(h) * HOUR_MS
        values = {"pm25": float(pm25[h]), "pm10": float(pm10[h])}
        out += steady.evaluate([Reading("AIR-1", ts, values, ts)]).transitions
    out += steady.tick(DAY0 + 48 * HOUR_MS + 5 * MINUTE).transitions
    assert not [t for t in out if t.rule_id == "anomaly.drift"]  # the level alone: weather
