"""``ioc dev`` says when the configuration database in force lacks the simulated stations
(a database seeded from another registry: the demo would refuse every reading)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ioc.config import IocConfig, RuleConfig
from ioc.config_store import ConfigStore
from ioc.database import open_database
from ioc.devstack import _warn_if_simulated_stations_unknown, _warn_if_simulated_vehicles_unknown
from ioc.fleet import read_fleet_file
from ioc.registry import StationRegistry, read_registry_document
from tests.factories import TEST_RULES, registry, write_registry

PROVINCE = Path(__file__).resolve().parents[2] / "config" / "stations.yaml"


def config_with_database_seeded_from(path: Path, tmp_path: Path) -> IocConfig:
    config = IocConfig.model_validate({"access": {"database": str(tmp_path / "ioc.sqlite3")}})
    db = open_database(config.access.database)
    try:
        rules = [RuleConfig.model_validate(r) for r in TEST_RULES]
        ConfigStore(db).seed(read_registry_document(path), rules)
    finally:
        db.close()
    return config


def test_a_database_of_another_registry_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with_database_seeded_from(write_registry(tmp_path / "s.yaml"), tmp_path)
    _warn_if_simulated_stations_unknown(config, StationRegistry.from_file(PROVINCE))
    said = capsys.readouterr().out
    assert "simulated stations" in said and str(tmp_path / "ioc.sqlite3") in said


def test_a_database_that_knows_every_simulated_station_says_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with_database_seeded_from(write_registry(tmp_path / "s.yaml"), tmp_path)
    _warn_if_simulated_stations_unknown(config, registry(tmp_path))
    assert capsys.readouterr().out == ""


def test_a_database_of_another_fleet_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_with_database_seeded_from(write_registry(tmp_path / "s.yaml"), tmp_path)
    fleet = {"companies": [{"id": "VT-01", "name": "A"}], "speed_limits": {"rural": {"bus": 60}}}
    small = tmp_path / "small.yaml"
    small.write_text(
        yaml.safe_dump(
            fleet | {"vehicles": [{"id": "49B11111", "type": "bus", "company": "VT-01"}]}
        )
    )
    big = tmp_path / "big.yaml"
    big.write_text(
        yaml.safe_dump(
            fleet
            | {
                "vehicles": [
                    {"id": f"49B1111{n}", "type": "bus", "company": "VT-01"} for n in range(3)
                ]
            }
        )
    )
    db = open_database(config.access.database)
    try:
        ConfigStore(db).seed_fleet(read_fleet_file(small))
    finally:
        db.close()
    update = {"fleet": small}
    _warn_if_simulated_vehicles_unknown(
        config.model_copy(update={"vehicles": config.vehicles.model_copy(update=update)})
    )
    assert capsys.readouterr().out == ""
    update = {"fleet": big}
    _warn_if_simulated_vehicles_unknown(
        config.model_copy(update={"vehicles": config.vehicles.model_copy(update=update)})
    )
    said = capsys.readouterr().out
    assert "2 simulated vehicles" in said and "unknown_vehicle" in said
