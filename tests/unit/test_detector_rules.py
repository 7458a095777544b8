"""The built-in anomaly and camera rules as configuration (analytics.detector_rules, kind
``detector`` of ioc.config_store): overrides validated with their bounds, applied to the
anomaly and camera settings, and taken live by the running anomaly checks and camera alarms."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from analytics.cameras.alarms import Alarms, Condition
from analytics.config import RuleConfig
from analytics.detector_rules import DETECTOR_RULES, field_list
from analytics.engine import AnalyticsEngine
from ioc.config_store import DETECTOR, ConfigStore, SettingRejected
from ioc.messages import Reading, RuleTransition, Severity
from ioc.registry import read_registry_document
from tests.factories import TEST_RULES, write_registry
from tests.unit.test_analytics_anomaly import STEP, summary, watch
from tests.unit.test_analytics_engine import DAY0


@pytest.fixture
def store(tmp_path: Path) -> ConfigStore:
    settings = ConfigStore(sqlite3.connect(":memory:"))
    document = read_registry_document(write_registry(tmp_path / "stations.yaml"))
    settings.seed(document, [RuleConfig.model_validate(r) for r in TEST_RULES])
    return settings


def test_every_rule_has_names_and_bounded_fields() -> None:
    for rule_id, rule in DETECTOR_RULES.items():
        assert rule.name_vi and rule.name_en, rule_id
        fields = {f["key"]: f for f in field_list(rule)}
        assert list(fields)[:2] == ["enabled", "severity"]
        assert fields["severity"]["enum"] == ["info", "warning", "critical"]
        assert all(f["description"] for f in fields.values()), rule_id
    spike = {f["key"]: f for f in field_list(DETECTOR_RULES["anomaly.spike"])}
    assert (spike["zscore_window"]["minimum"], spike["zscore_window"]["maximum"]) == (8, 1000)


def test_an_override_changes_the_settings_in_force_and_rolls_back(store: ConfigStore) -> None:
    change = store.put(DETECTOR, "anomaly.spike", {"zscore_threshold": 12, "enabled": False}, "me")
    anomaly = store.current().anomaly
    assert (anomaly.zscore_threshold, anomaly.disabled_rules) == (12, ["spike"])
    store.put(
        DETECTOR, "traffic.congestion", {"congestion_after_s": 90, "severity": "warning"}, "me"
    )
    traffic = [c for c in store.current().cameras.cameras if c.kind == "traffic"]
    assert traffic and all(c.traffic.congestion_after_s == 90 for c in traffic)
    assert all(c.severities == {"traffic.congestion": Severity.WARNING} for c in traffic)
    store.rollback(change.id, "me")
    assert (
        store.current().anomaly.zscore_threshold == 8
        and store.current().anomaly.disabled_rules == []
    )


@pytest.mark.parametrize(
    ("rule_id", "body", "field"),
    [
        ("anomaly.spike", {"zscore_threshold": 0}, "zscore_threshold"),
        ("anomaly.spike", {"unknown": 1}, "unknown"),
        ("anomaly.drift", {"drift_window_hours": 24 * 30}, "drift_window_hours"),
        ("traffic.congestion", {"jam_occupancy": 0.01}, "jam_occupancy"),
        ("camera.nothing", {}, ""),
    ],
)
def test_invalid_overrides_are_refused_at_their_field(
    store: ConfigStore, rule_id: str, body: dict[str, object], field: str
) -> None:
    with pytest.raises(SettingRejected) as refused:
        store.put(DETECTOR, rule_id, body, "me")
    assert field in [f for f, _ in refused.value.problems]
    assert store.item(DETECTOR, rule_id) is None


def run(engine: AnalyticsEngine, pm25: dict[str, np.ndarray], start: int) -> list[RuleTransition]:
    """One batch per time step from step ``start`` on, every station together."""
    out: list[RuleTransition] = []
    for i in range(len(next(iter(pm25.values())))):
        ts = DAY0 + (start + i) * STEP
        batch = [
            Reading(s, ts, {"pm25": float(v[i]), "pm10": 2 * float(v[i]) + np.sin(i)}, ts)
            for s, v in pm25.items()
        ]
        out += engine.evaluate(batch).transitions
    return out


def test_the_running_checks_take_thresholds_switches_and_severities(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    engine = watch(tmp_path)
    pm25 = {s: 40 + rng.normal(0, 2, 80) for s in ("AIR-1", "AIR-2")}
    pm25["AIR-1"][40] = 150
    pm25["AIR-1"][60] = 150
    first = run(engine, {s: v[:50] for s, v in pm25.items()}, 0)
    assert [(r, f) for r, _, f, _ in summary(first)] == [
        ("anomaly.sensor_fault", True),
        ("anomaly.sensor_fault", False),
    ]
    config = engine.config.anomaly.model_copy(
        update={"severities": {"sensor_fault": Severity.CRITICAL}}
    )
    assert engine.set_anomaly(config)
    later = {s: v[50:] for s, v in pm25.items()}
    transitions = run(engine, later, 50)
    assert [t.severity for t in transitions if t.firing] == [Severity.CRITICAL]

    off = config.model_copy(update={"disabled_rules": ["sensor_fault"]})
    assert engine.set_anomaly(off)
    assert not [t for t in run(engine, later, 100) if t.firing]
    bigger = off.model_copy(update={"zscore_window": 64})
    assert not engine.set_anomaly(bigger)  # a new ring: the engine must be rebuilt
    assert engine.config.anomaly == off


def test_camera_alarms_take_switches_severities_and_delays_live() -> None:
    alarms = Alarms("CAM-1", {"camera.smoke": (0.0, 10.0)})
    smoke = Condition("camera.smoke", True, 5.0, 1.0)
    [fired] = alarms.update([smoke], 0)
    assert fired.firing and fired.severity == Severity.CRITICAL
    alarms.configure({"camera.smoke": (0.0, 0.0)}, {"camera.smoke"}, {})
    [cleared] = alarms.update([smoke], 1000)  # switched off: resolves (no clear delay now)
    assert not cleared.firing
    alarms.configure({"camera.smoke": (0.0, 0.0)}, (), {"camera.smoke": Severity.WARNING})
    [again] = alarms.update([smoke], 2000)
    assert again.firing and again.severity == Severity.WARNING
