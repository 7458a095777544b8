"""The versioned configuration: seed, validated changes, history, rollback, listeners."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from analytics.config import RuleConfig
from ioc.config_store import (
    RULE,
    STATION,
    ConfigChange,
    ConfigStore,
    Configuration,
    SettingRejected,
    StaleSetting,
)
from ioc.registry import read_registry_document
from tests.factories import TEST_RULES, write_registry


@pytest.fixture
def store(tmp_path: Path) -> ConfigStore:
    settings = ConfigStore(sqlite3.connect(":memory:"))
    document = read_registry_document(write_registry(tmp_path / "stations.yaml"))
    settings.seed(document, [RuleConfig.model_validate(r) for r in TEST_RULES])
    return settings


def test_seeding_fills_an_empty_store_from_the_files(store: ConfigStore) -> None:
    configuration = store.current()
    assert {r.id for r in configuration.rules} == {r["id"] for r in TEST_RULES}
    assert configuration.registry.get("AIR-1") is not None
    assert {c.action for c in store.history(limit=1000)} == {"seed"}


def test_a_rule_change_is_versioned_with_who_and_old_and_new(store: ConfigStore) -> None:
    before = store.item(RULE, "pm25_instant")
    assert before is not None
    change = store.put(
        RULE, "pm25_instant", before.body | {"above": 40, "clear_at": 35}, "lan", before.version
    )
    assert (change.actor, change.action, change.old, change.new) == (
        "lan",
        "update",
        before.body,
        before.body | {"above": 40, "clear_at": 35},
    )
    rule = next(r for r in store.current().rules if r.id == "pm25_instant")
    assert rule.above == 40
    with pytest.raises(StaleSetting) as stale:
        store.put(RULE, "pm25_instant", before.body, "minh", before.version)
    assert stale.value.current == change.id


def test_an_invalid_rule_is_refused_with_field_problems(store: ConfigStore) -> None:
    body = {"name": "x", "parameter": "pm25", "above": 50, "clear_at": 60}
    with pytest.raises(SettingRejected) as refused:
        store.put(RULE, "bad", body, "lan")
    assert refused.value.problems == [("clear_at", "clear_at 60.0 must be <= above 50.0")]
    with pytest.raises(SettingRejected) as refused:
        store.put(RULE, "bad", {"name": "x", "parameter": "pm25", "abov": 1}, "lan")
    assert ("abov", "unknown field") in refused.value.problems
    with pytest.raises(SettingRejected, match="measured by no station"):
        store.put(RULE, "bad", {"name": "x", "parameter": "nope", "above": 1}, "lan")
    assert store.item(RULE, "bad") is None


def test_a_station_change_that_breaks_a_rule_is_refused(store: ConfigStore) -> None:
    station = store.item(STATION, "STK-1")
    assert station is not None
    with pytest.raises(SettingRejected, match="dust"):
        store.delete(STATION, "STK-1", "admin")
    with pytest.raises(SettingRejected, match="lat"):
        store.put(STATION, "STK-1", station.body | {"lat": 123}, "admin")


def test_rollback_puts_back_what_a_change_replaced(store: ConfigStore) -> None:
    before = store.item(RULE, "dust")
    assert before is not None
    change = store.put(RULE, "dust", before.body | {"above": 300}, "lan")
    back = store.rollback(change.id, "minh")
    assert (back.action, back.rollback_of, back.new) == ("rollback", change.id, before.body)
    created = store.put(RULE, "dust_2", before.body | {"id": "dust_2"}, "lan")
    store.rollback(created.id, "minh")
    assert store.item(RULE, "dust_2") is None


def test_a_change_id_sqlite_cannot_hold_is_no_change(store: ConfigStore) -> None:
    assert store.change(2**63) is None
    assert store.change(-(2**63) - 1) is None


def test_listeners_get_each_change_with_the_configuration_it_leads_to(
    store: ConfigStore,
) -> None:
    seen: list[tuple[ConfigChange, Configuration]] = []
    store.subscribe(lambda change, configuration: seen.append((change, configuration)))
    before = store.item(RULE, "dust")
    assert before is not None
    store.put(RULE, "dust", before.body | {"above": 250}, "lan")
    [(change, configuration)] = seen
    assert change.key == "dust"
    assert next(r for r in configuration.rules if r.id == "dust").above == 250


def test_problems_name_the_field_an_editor_shows_them_at(store: ConfigStore) -> None:
    level = {"above": 50, "clear_at": 60, "severity": "warning"}
    rule = {"name": "x", "parameter": "pm25", "thresholds": [level]}
    with pytest.raises(SettingRejected) as refused:
        store.check(RULE, "x", rule)
    assert [f for f, _ in refused.value.problems] == ["thresholds.0.clear_at"]
    with pytest.raises(SettingRejected) as refused:
        store.check(RULE, "x", {"name": "x", "parameter": "pm25"})
    assert [f for f, _ in refused.value.problems] == ["above"]
    station = store.item(STATION, "AIR-2")
    assert station is not None
    with pytest.raises(SettingRejected) as refused:
        store.check(STATION, "AIR-2", station.body | {"owner": "ENT-Z", "lat": 91})
    assert {f for f, _ in refused.value.problems} == {"lat"}
    with pytest.raises(SettingRejected) as refused:
        store.check(STATION, "AIR-2", station.body | {"owner": "ENT-Z"})
    assert [f for f, _ in refused.value.problems] == ["owner"]  # a check on the whole registry


def test_version_0_creates_only_what_does_not_exist(store: ConfigStore) -> None:
    body = {"name": "x", "parameter": "pm25", "above": 10}
    store.put(RULE, "new_rule", body, "lan", expected_version=0)
    with pytest.raises(StaleSetting):
        store.put(RULE, "new_rule", body, "minh", expected_version=0)
