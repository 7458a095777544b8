from pathlib import Path

import pytest

from analytics.limits import HOUR_MS, LimitEngine
from ioc.config import RuleConfig
from ioc.messages import InstrumentStatus, Reading
from tests.factories import TEST_RULES, registry

T0 = 1_795_000_000_000 // HOUR_MS * HOUR_MS  # an hour boundary


@pytest.fixture
def engine(tmp_path: Path) -> LimitEngine:
    return LimitEngine([RuleConfig.model_validate(r) for r in TEST_RULES], registry(tmp_path))


def reading(station: str, ts_ms: int, **values: float) -> Reading:
    return Reading(station_id=station, ts_ms=ts_ms, values=values, received_ms=ts_ms)


def test_instant_rule_fires_and_clears_with_hysteresis(engine: LimitEngine) -> None:
    seen = []
    for i, value in enumerate([50, 120, 130, 90, 79, 85]):
        for t in engine.evaluate([reading("AIR-1", T0 + i * 1000, pm25=value)]):
            if t.rule_id == "pm25_instant":
                seen.append((value, t.firing))
    assert seen == [(120, True), (79, False)]  # 90 is above clear_at=80: still firing


def test_rules_apply_only_to_their_station_kind(engine: LimitEngine) -> None:
    assert engine.evaluate([reading("STK-1", T0, dust=500)])[0].rule_id == "dust"
    assert engine.evaluate([reading("AIR-1", T0, pm10=5000)]) == []


def test_24h_mean_needs_coverage_then_compares_the_mean_of_hourly_means(
    engine: LimitEngine,
) -> None:
    # 17 hours at 60 µg/m³: coverage 17/24 < 0.75, no decision yet.
    for h in range(17):
        assert not [
            t
            for t in engine.evaluate([reading("AIR-2", T0 + h * HOUR_MS, pm25=60)])
            if t.rule_id == "pm25_24h"
        ]
    fired = [
        t
        for t in engine.evaluate([reading("AIR-2", T0 + 17 * HOUR_MS, pm25=60)])
        if t.rule_id == "pm25_24h"
    ]
    assert fired and fired[0].firing and fired[0].value == pytest.approx(60)


def test_a_late_reading_updates_the_hour_it_belongs_to(engine: LimitEngine) -> None:
    for h in range(19):
        engine.evaluate([reading("AIR-1", T0 + h * HOUR_MS, pm25=44)])
    assert not engine.is_firing("pm25_24h", "AIR-1")
    # Hour 18 is already in; a late reading for hour 17 raises that hour's mean to 97.
    late = engine.evaluate([reading("AIR-1", T0 + 17 * HOUR_MS + 60_000, pm25=150)])
    late = [t for t in late if t.rule_id == "pm25_24h"]
    assert [t.firing for t in late] == [True]
    assert late[0].value == pytest.approx((44 * 17 + 97) / 18, abs=1e-3)


def test_calibrating_values_never_feed_pollution_rules(engine: LimitEngine) -> None:
    calibrating = Reading(
        station_id="AIR-1",
        ts_ms=T0,
        values={"pm25": 900.0},
        received_ms=T0,
        status={"pm25": InstrumentStatus.CALIBRATING},
    )
    assert engine.evaluate([calibrating]) == []


def test_below_rules(tmp_path: Path) -> None:
    rule = RuleConfig(id="low", name="low", parameter="pm10", below=5, clear_at=10)
    engine = LimitEngine([rule], registry(tmp_path))
    states = [
        t.firing for v in (20, 4, 8, 11) for t in engine.evaluate([reading("AIR-1", T0, pm10=v)])
    ]
    assert states == [True, False]
