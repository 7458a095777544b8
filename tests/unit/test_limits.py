"""Limit rules through analytics.limits: windows, levels, duration, hysteresis, selectors,
late data."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics.config import AnalyticsConfig, RuleConfig
from analytics.engine import AnalyticsEngine
from analytics.series import HOUR_MS
from ioc import config as ioc_config
from ioc.messages import InstrumentStatus, Reading, RuleTransition, Severity
from ioc.registry import StationRegistry
from tests.factories import TEST_RULES, registry

T0 = 1_795_000_000_000 // HOUR_MS * HOUR_MS  # an hour boundary
MINUTE = 60_000


class Limits:
    """The limit rules through the engine the pipeline runs, AQI, fire danger and anomalies off."""

    def __init__(self, rules: list[RuleConfig], reg: StationRegistry) -> None:
        config = AnalyticsConfig(
            rules=rules, aqi={"enabled": False}, fire={"enabled": False},
            anomaly={"enabled": False},
        )  # fmt: skip
        self.engine = AnalyticsEngine(config, reg)
        self.rules = self.engine.limits

    def evaluate(self, readings: list[Reading]) -> list[RuleTransition]:
        return self.engine.evaluate(readings).transitions


def engine_with(tmp_path: Path, *rules: dict[str, Any]) -> Limits:
    defaults = {"name": "rule", "parameter": "pm25"}
    return Limits(
        [RuleConfig.model_validate(defaults | {"id": f"r{i}"} | r) for i, r in enumerate(rules)],
        registry(tmp_path),
    )


@pytest.fixture
def engine(tmp_path: Path) -> Limits:
    return Limits([RuleConfig.model_validate(r) for r in TEST_RULES], registry(tmp_path))


def reading(station: str, ts_ms: int, received_ms: int | None = None, **values: float) -> Reading:
    return Reading(station, ts_ms, values, ts_ms if received_ms is None else received_ms)


def feed(engine: Limits, station: str, values: list[float], step_ms: int = MINUTE) -> list:
    """(value, firing, severity) of each transition while ``values`` come one per step."""
    seen = []
    for i, value in enumerate(values):
        for t in engine.evaluate([reading(station, T0 + i * step_ms, pm25=value)]):
            seen.append((value, t.firing, t.severity.value))
    return seen


def test_instant_rule_fires_and_clears_with_hysteresis(engine: Limits) -> None:
    seen = []
    for i, value in enumerate([50, 120, 130, 90, 79, 85]):
        for t in engine.evaluate([reading("AIR-1", T0 + i * 1000, pm25=value)]):
            if t.rule_id == "pm25_instant":
                seen.append((value, t.firing))
    assert seen == [(120, True), (79, False)]  # 90 is above clear_at=80: still firing


def test_rules_apply_only_to_their_station_kind(engine: Limits) -> None:
    assert engine.evaluate([reading("STK-1", T0, dust=500)])[0].rule_id == "dust"
    assert engine.evaluate([reading("AIR-1", T0, pm10=5000)]) == []


def test_the_pipeline_rule_type_still_works(tmp_path: Path) -> None:
    rules = [ioc_config.RuleConfig.model_validate(r) for r in TEST_RULES]
    engine = Limits(rules, registry(tmp_path))
    assert [t.rule_id for t in engine.evaluate([reading("STK-1", T0, dust=500)])] == ["dust"]


def test_24h_mean_needs_coverage_then_compares_the_mean_of_hourly_means(
    engine: Limits,
) -> None:
    # 17 complete hours at 60 µg/m³ by hour 17: coverage 17/24 < 0.75, no decision yet.
    for h in range(18):
        out = engine.evaluate([reading("AIR-2", T0 + h * HOUR_MS, pm25=60)])
        assert not [t for t in out if t.rule_id == "pm25_24h"]
    engine.evaluate([reading("AIR-2", T0 + 17 * HOUR_MS + MINUTE, pm25=0)])  # hour 17: 30
    # hour 17 ends: 18 complete hours, the mean of their means (a mean of the values: 56.8)
    out = engine.evaluate([reading("AIR-2", T0 + 18 * HOUR_MS, pm25=60)])
    fired = [t for t in out if t.rule_id == "pm25_24h"]
    assert [(t.firing, t.value) for t in fired] == [(True, 58.333)]  # (17 * 60 + 30) / 18


def test_a_late_reading_updates_its_hour_and_the_decision_is_retroactive(
    engine: Limits,
) -> None:
    for h in range(19):
        engine.evaluate([reading("AIR-1", T0 + h * HOUR_MS, pm25=44)])
    assert engine.rules.level("pm25_24h", "AIR-1", "pm25") == 0  # hours 0-17 complete: 44
    # Hour 18 is already in; a late reading for hour 17 raises that hour's mean to 97.
    late = engine.evaluate([reading("AIR-1", T0 + 17 * HOUR_MS + MINUTE, pm25=150)])
    assert late == [
        RuleTransition(
            rule_id="pm25_24h",
            station_id="AIR-1",
            parameter="pm25",
            firing=True,
            value=round((44 * 17 + 97) / 18, 3),
            limit=45.0,
            ts_ms=T0 + 18 * HOUR_MS,  # decided as of the series' newest time
            severity=Severity.WARNING,
            retroactive=True,
        )
    ]  # the instant rule is not fired by a value older than the newest one
    assert engine.rules.level("pm25_24h", "AIR-1", "pm25") == 1


def test_a_value_received_after_its_hour_ended_is_retroactive(engine: Limits) -> None:
    on_time = engine.evaluate([reading("AIR-1", T0, T0 + 5 * MINUTE, pm25=150)])
    assert [t.retroactive for t in on_time] == [False]
    engine.evaluate([reading("AIR-1", T0 + MINUTE, pm25=50)])
    backlog = engine.evaluate([reading("AIR-1", T0 + 2 * MINUTE, T0 + 2 * HOUR_MS, pm25=150)])
    assert [(t.firing, t.retroactive) for t in backlog] == [(True, True)]


def test_calibrating_values_never_feed_pollution_rules(engine: Limits) -> None:
    calibrating = Reading(
        station_id="AIR-1",
        ts_ms=T0,
        values={"pm25": 900.0, "pm10": 20.0},
        received_ms=T0,
        status={"pm25": InstrumentStatus.CALIBRATING},
    )
    assert engine.evaluate([calibrating]) == []


def test_below_rules(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, {"parameter": "pm10", "below": 5, "clear_at": 10})
    states = [
        t.firing
        for i, v in enumerate((20, 4, 8, 11))
        for t in engine.evaluate([reading("AIR-1", T0 + i * MINUTE, pm10=v)])
    ]
    assert states == [True, False]


def test_several_thresholds_escalate_and_de_escalate(tmp_path: Path) -> None:
    engine = engine_with(
        tmp_path,
        {
            "kinds": ["air"],
            "thresholds": [
                {"above": 50, "severity": "info"},
                {"above": 100, "clear_at": 90, "severity": "warning"},
                {"above": 200, "clear_at": 180, "severity": "critical"},
            ],
        },
    )
    seen = feed(engine, "AIR-1", [40, 60, 120, 250, 190, 170, 95, 85, 45, 30])
    assert seen == [
        (60, True, "info"),
        (120, True, "warning"),
        (250, True, "critical"),
        # 190 stays critical: above that level's clear_at 180
        (170, True, "warning"),
        # 95 stays warning: above clear_at 90
        (85, True, "info"),
        (45, False, "info"),
    ]


def test_jumping_straight_to_the_top_level(tmp_path: Path) -> None:
    engine = engine_with(
        tmp_path,
        {
            "thresholds": [
                {"below": 50, "severity": "warning"},
                {"below": 20, "severity": "critical"},
            ]
        },
    )
    assert feed(engine, "AIR-1", [80, 10, 90]) == [(10, True, "critical"), (90, False, "critical")]


def test_min_duration_needs_a_long_enough_excursion(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, {"above": 100, "clear_at": 90, "min_duration_s": 600})
    # 5 minutes above, back below clear_at: no alert. Then 12 minutes of excursion, which
    # dips between clear_at and the limit without ending: it fires 10 minutes after its start.
    values = [120] * 5 + [80] + [120] * 4 + [95] + [120] * 7 + [80]
    seen = []
    for i, value in enumerate(values):
        for t in engine.evaluate([reading("AIR-1", T0 + i * MINUTE, pm25=value)]):
            seen.append((i, t.firing))
    assert seen == [(16, True), (18, False)]  # the excursion started at minute 6


def test_min_duration_per_level(tmp_path: Path) -> None:
    engine = engine_with(
        tmp_path,
        {
            "min_duration_s": 120,
            "thresholds": [
                {"above": 50, "severity": "warning"},
                {"above": 100, "severity": "critical"},
            ],
        },
    )
    seen = feed(engine, "AIR-1", [60, 150, 150, 150, 60, 60, 10])
    assert seen == [
        (150, True, "warning"),
        (150, True, "critical"),
        (60, True, "warning"),
        (10, False, "warning"),
    ]


def test_max_over_the_last_hour(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, {"window": "1h", "aggregate": "max", "above": 50})
    times = [0, 10, 20, 70, 90]  # minutes: hour 0, then hour 1
    values = [10, 80, 20, 30, 20]
    seen = [
        (m, t.firing, t.value)
        for m, v in zip(times, values, strict=True)
        for t in engine.evaluate([reading("AIR-1", T0 + m * MINUTE, pm25=v)])
    ]
    assert seen == [(10, True, 80.0), (70, False, 30.0)]


def test_8h_mean_with_gaps_uses_the_hours_that_have_data(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, {"window": "8h", "above": 100, "min_coverage": 0.5})
    out = []
    for h, v in [(0, 90), (2, 90), (3, 90), (5, 150)]:
        out += engine.evaluate([reading("AIR-1", T0 + h * HOUR_MS, pm25=v)])
    assert out == []  # hours 0-4: 3 of 8 complete hours have data
    out = engine.evaluate([reading("AIR-1", T0 + 6 * HOUR_MS, pm25=0)])
    assert [(t.firing, t.value) for t in out] == [(True, 105.0)]  # hours 0-5: 4 of 8


def test_station_selectors(tmp_path: Path) -> None:
    engine = engine_with(
        tmp_path,
        {"stations": ["AIR-2"], "above": 1},
        {"owners": ["ENT-A"], "parameter": "dust", "above": 1},
        {"area": {"lat": 11.9, "lon": 108.4, "radius_km": 3}, "above": 1},
        {"area": {"min_lat": 11.92, "max_lat": 12, "min_lon": 108.4, "max_lon": 108.5}, "above": 1},
        {"owners": ["state"], "parameter": "dust", "above": 1},
    )
    out = engine.evaluate(
        [reading(s, T0, pm25=5) for s in ("AIR-1", "AIR-2")] + [reading("STK-1", T0, dust=5)]
    )
    assert sorted((t.rule_id, t.station_id) for t in out) == [
        ("r0", "AIR-2"),
        ("r1", "STK-1"),
        ("r2", "AIR-1"),
        ("r3", "AIR-2"),
    ]


def random_readings(seed: int, n: int) -> list[Reading]:
    rng = np.random.default_rng(seed)
    times = T0 + np.cumsum(rng.integers(1, 20, n)) * MINUTE
    stations = rng.choice(["AIR-1", "AIR-2"], n)
    pm = rng.lognormal(3.7, 0.6, n)
    return [
        reading(str(s), int(t), pm25=float(v), pm10=float(2 * v))
        for s, t, v in zip(stations, times, pm, strict=True)
    ]


def test_one_batch_decides_like_one_reading_at_a_time(tmp_path: Path) -> None:
    rules = [
        {"window": "1h", "above": 60, "clear_at": 50, "min_duration_s": 900},
        {"window": "8h", "above": 45},
        {"window": "24h", "aggregate": "max", "above": 150, "clear_at": 120},
        {
            "parameter": "pm10",
            "thresholds": [{"above": 80}, {"above": 150, "severity": "critical"}],
        },
    ]
    readings = random_readings(7, 600)
    one_by_one = engine_with(tmp_path, *rules)
    expected = [t for r in readings for t in one_by_one.evaluate([r])]
    together = engine_with(tmp_path, *rules).evaluate(readings)
    assert len(expected) > 20

    def key(t: RuleTransition) -> tuple[str, str, int]:
        return (t.rule_id, t.station_id, t.ts_ms)

    assert sorted(together, key=key) == sorted(expected, key=key)


def test_nan_duplicates_and_disorder_do_not_break_it(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, {"window": "1h", "above": 60})
    readings = random_readings(3, 200)
    messy = [reading("AIR-1", T0, pm25=float("nan")), *readings[::-1], *readings[:50]]
    messy.append(reading("AIR-9", T0, pm25=1000))  # unknown station
    out = engine.evaluate(messy)
    assert all(np.isfinite(t.value) for t in out)
    assert engine.evaluate([reading("AIR-1", T0 + 10 * HOUR_MS, pm25=float("inf"))]) == []


def changed(rule: dict[str, Any], **update: Any) -> list[RuleConfig]:
    return [RuleConfig.model_validate(rule | update)]


def test_a_new_threshold_applies_to_the_next_value_without_losing_other_rules_state(
    tmp_path: Path,
) -> None:
    engine = engine_with(tmp_path, {"id": "a", "above": 100}, {"id": "b", "above": 50})
    fired = engine.evaluate([reading("AIR-1", T0, pm25=70)])
    assert [(t.rule_id, t.firing) for t in fired] == [("b", True)]
    rules = engine.engine.limits.rules
    engine.engine.set_rules([rules[0].model_copy(update={"above": 60.0}), rules[1]])
    fired = engine.evaluate([reading("AIR-1", T0 + MINUTE, pm25=65)])
    # a fires at once under its new threshold; b, unchanged, is still firing: no new event
    assert [(t.rule_id, t.firing, t.limit) for t in fired] == [("a", True, 60.0)]


def test_a_changed_rule_clears_what_its_old_version_raised(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, {"id": "a", "above": 50})
    assert [t.firing for t in engine.evaluate([reading("AIR-1", T0, pm25=70)])] == [True]
    engine.engine.set_rules(changed({"id": "a", "name": "rule", "parameter": "pm25"}, above=90))
    cleared = engine.evaluate([reading("AIR-1", T0 + MINUTE, pm25=70)])
    assert [(t.rule_id, t.firing, t.limit) for t in cleared] == [("a", False, 90.0)]
    assert engine.evaluate([reading("AIR-1", T0 + 2 * MINUTE, pm25=70)]) == []


def test_a_removed_rule_stops_and_an_added_rule_starts(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, {"id": "a", "above": 50})
    engine.evaluate([reading("AIR-1", T0, pm25=70)])
    engine.engine.set_rules(changed({"id": "new", "name": "n", "parameter": "pm10"}, above=5))
    fired = engine.evaluate([reading("AIR-1", T0 + MINUTE, pm25=200, pm10=9)])
    assert [(t.rule_id, t.firing) for t in fired] == [("new", True)]


def test_a_partial_hour_does_not_make_the_24h_mean_fire(engine: Limits) -> None:
    """QCVN means are of complete clock hours (issue #14): the hour in progress does not
    count, so one high value at the start of an hour cannot tip a 24 h mean over its limit;
    the mean is judged once its last hour has ended (at the next value)."""
    for h in range(24):
        for m in (0, 30):
            engine.evaluate([reading("AIR-1", T0 + h * HOUR_MS + m * MINUTE, pm25=44)])
    assert engine.rules.level("pm25_24h", "AIR-1", "pm25") == 0
    # hour 24 starts with a 200: with the open hour counted, (23 * 44 + 200) / 24 = 50.5
    out = engine.evaluate([reading("AIR-1", T0 + 24 * HOUR_MS, pm25=200)])
    assert not [t for t in out if t.rule_id == "pm25_24h"]
    out = engine.evaluate([reading("AIR-1", T0 + 24 * HOUR_MS + 30 * MINUTE, pm25=200)])
    assert not [t for t in out if t.rule_id == "pm25_24h"]
    # hour 24 closed at 200: hours 1..24 are (23 * 44 + 200) / 24, judged at hour 25
    out = engine.evaluate([reading("AIR-1", T0 + 25 * HOUR_MS, pm25=44)])
    fired = [(t.firing, t.value, t.ts_ms) for t in out if t.rule_id == "pm25_24h"]
    assert fired == [(True, 50.5, T0 + 25 * HOUR_MS)]


def test_an_open_hour_rule_counts_the_hour_in_progress(tmp_path: Path) -> None:
    engine = engine_with(tmp_path, {"window": "1h", "above": 60, "open_hour": True})
    assert [t.firing for t in engine.evaluate([reading("AIR-1", T0, pm25=80)])] == [True]
    closed = engine_with(tmp_path, {"window": "1h", "above": 60})
    assert closed.evaluate([reading("AIR-1", T0, pm25=80)]) == []
    assert [t.value for t in closed.evaluate([reading("AIR-1", T0 + HOUR_MS, pm25=1)])] == [80.0]
