"""The transport registry in the versioned configuration: seeded from the fleet file once,
items checked with ioc.fleet's models (a plate normalised, the key its normalised plate) and
across (companies, drivers, speed limits), history and rollback as for stations."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from analytics.journeys import JourneyConfig
from ioc.config_store import (
    COMPANY,
    DRIVER,
    SPEED_LIMIT,
    VEHICLE,
    ZONE,
    ConfigStore,
    SettingRejected,
)
from ioc.fleet import FleetFile, read_fleet_file
from ioc.registry import read_registry_document
from tests.factories import write_registry

FLEET: dict[str, Any] = {
    "companies": [{"id": "VT-01", "name": "Vận tải Một", "types": ["truck", "bus"]}],
    "drivers": [{"licence": "123456789012", "company": "VT-01", "name": "Lan"}],
    "vehicles": [
        {"id": "49C-123.45", "type": "truck", "company": "VT-01", "driver": "123456789012"}
    ],
    "zones": [
        {
            "id": "Z-1",
            "shape": "circle",
            "centre": [11.94, 108.44],
            "radius_m": 500,
            "vehicle_types": ["truck"],
            "forbidden_hours": [[6, 20]],
        }
    ],
    "speed_limits": {"rural": {"truck": 60, "bus": 60}},
    "towns": {"Đà Lạt": {"lat": 11.94, "lon": 108.44, "urban_radius_m": 5000}},
}


@pytest.fixture
def fleet_file(tmp_path: Path) -> FleetFile:
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(FLEET, allow_unicode=True), encoding="utf-8")
    return read_fleet_file(path)


@pytest.fixture
def store(tmp_path: Path, fleet_file: FleetFile) -> ConfigStore:
    settings = ConfigStore(sqlite3.connect(":memory:"), fleet_file, JourneyConfig())
    settings.seed(read_registry_document(write_registry(tmp_path / "stations.yaml")), [])
    settings.seed_fleet(fleet_file)
    return settings


def test_the_fleet_is_seeded_once_keyed_by_normalised_plate(
    store: ConfigStore, fleet_file: FleetFile
) -> None:
    assert list(store.items(VEHICLE)) == ["49C12345"]
    assert store.items(VEHICLE)["49C12345"].body["id"] == "49C12345"
    assert list(store.items(DRIVER)) == ["123456789012"]
    assert list(store.items(SPEED_LIMIT)) == ["rural"]
    fleet = store.current().fleet
    assert set(fleet.vehicles) == {"49C12345"} and set(fleet.zones) == {"Z-1"}
    assert list(fleet.document.towns) == ["Đà Lạt"]  # the road data is the file's
    store.delete(ZONE, "Z-1", "lan")
    assert store.seed_fleet(fleet_file) == 0  # never again, even with an item gone
    assert store.item(ZONE, "Z-1") is None


def test_a_vehicle_is_added_with_its_plate_normalised(store: ConfigStore) -> None:
    body = {"id": "49B-678.90", "type": "bus", "company": "VT-01"}
    change = store.put(VEHICLE, "49B67890", body, "lan", 0)
    assert change.new == body | {"id": "49B67890"}
    assert "49B67890" in store.current().fleet.vehicles
    store.put(VEHICLE, "49B67891", {"type": "bus", "company": "VT-01"}, "lan")  # id: the key


def test_a_bad_plate_or_a_key_not_its_plate_is_refused_on_its_field(store: ConfigStore) -> None:
    with pytest.raises(SettingRejected) as bad:
        store.check(VEHICLE, "XYZ", {"id": "XYZ", "type": "bus", "company": "VT-01"})
    assert [f for f, _ in bad.value.problems] == ["id"]
    with pytest.raises(SettingRejected) as other:
        store.put(VEHICLE, "49B-678.90", {"type": "bus", "company": "VT-01"}, "lan")
    assert other.value.problems[0][0] == "id" and "49B67890" in other.value.problems[0][1]


def test_cross_checks_name_the_field(store: ConfigStore) -> None:
    cases = [
        (VEHICLE, "49B67890", {"type": "bus", "company": "VT-09"}, "company"),
        (VEHICLE, "49B67890", {"type": "bus", "company": "VT-01", "driver": "999999"}, "driver"),
        (VEHICLE, "49B67890", {"type": "coach", "company": "VT-01"}, "type"),  # no limit
        (DRIVER, "555555", {"company": "VT-09"}, "company"),
        (ZONE, "Z-2", {"shape": "polygon", "polygon": [[11.9, 108.4]]}, "polygon"),
        (ZONE, "Z-2", {"shape": "circle", "vehicle_types": ["taxi"]}, "vehicle_types.0"),
    ]
    for kind, key, body, field in cases:
        with pytest.raises(SettingRejected) as refused:
            store.put(kind, key, body, "lan")
        assert field in [f for f, _ in refused.value.problems], (body, refused.value.problems)


def test_a_company_in_use_cannot_go_and_a_rollback_puts_back(store: ConfigStore) -> None:
    with pytest.raises(SettingRejected) as refused:
        store.delete(COMPANY, "VT-01", "lan")
    assert "no company 'VT-01'" in refused.value.problems[0][1]
    zone = store.item(ZONE, "Z-1")
    assert zone is not None
    change = store.put(ZONE, "Z-1", zone.body | {"forbidden_hours": [[0, 23.99]]}, "lan")
    assert store.current().fleet.zones["Z-1"].forbidden_hours == [(0, 23.99)]
    store.rollback(change.id, "minh")
    assert store.current().fleet.zones["Z-1"].forbidden_hours == [(6, 20)]


def test_a_speed_limit_table_is_keyed_by_road_class(store: ConfigStore) -> None:
    store.put(SPEED_LIMIT, "urban", {"truck": 40, "bus": 50}, "lan")
    assert store.current().fleet.document.speed_limits["urban"] == {"truck": 40, "bus": 50}
    with pytest.raises(SettingRejected):
        store.put(SPEED_LIMIT, "downtown", {"truck": 40}, "lan")
    with pytest.raises(SettingRejected) as refused:
        store.put(SPEED_LIMIT, "urban", {"truck": 400}, "lan")
    assert refused.value.problems[0][0] == "truck"


def test_forbidden_hours_must_make_a_span(store: ConfigStore) -> None:
    zone = store.item(ZONE, "Z-1")
    assert zone is not None
    with pytest.raises(SettingRejected) as refused:
        store.put(ZONE, "Z-1", zone.body | {"forbidden_hours": [[0, 24]]}, "lan")
    assert refused.value.problems[0][0] == "forbidden_hours.0"
