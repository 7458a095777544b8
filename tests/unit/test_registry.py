from pathlib import Path

import pytest
import yaml

from ioc.errors import ConfigError
from ioc.registry import StationRegistry, normalize_unit
from tests.factories import REGISTRY_DOC, registry


def test_stations_get_their_parameter_set(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    station = reg.get("STK-1")
    assert station is not None and station.owner == "ENT-A"
    assert station.parameters["dust"].unit_display == "mg/Nm³"
    assert reg.get("nope") is None


def _load(tmp_path: Path, **changes: object) -> StationRegistry:
    doc = {**REGISTRY_DOC, **changes}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(doc))
    return StationRegistry.from_file(path)


def test_problems_are_listed_with_the_station(tmp_path: Path) -> None:
    bad = [
        {"id": "S1", "name": "a", "kind": "air", "lat": 1, "lon": 1, "parameters": "nope"},
        {
            "id": "S2",
            "name": "b",
            "kind": "air",
            "owner": "ENT-Z",
            "lat": 1,
            "lon": 1,
            "parameters": "air",
        },
        {"id": "S2", "name": "c", "kind": "air", "lat": 1, "lon": 1, "parameters": "air"},
    ]
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, stations=bad)
    assert caught.value.problems == [
        "stations.0 (S1): unknown parameter set 'nope'",
        "stations.1 (S2): owner 'ENT-Z' is not an enterprise",
        "stations.2 (S2): duplicate station id",
    ]


def test_parameter_keys_must_be_plain_identifiers(tmp_path: Path) -> None:
    sets = {"air": {"pm 2,5": {"unit": "ug/m3", "min": 0, "max": 1}}}
    with pytest.raises(ConfigError, match="parameter key"):
        _load(tmp_path, parameter_sets=sets)


def test_units_compare_loosely() -> None:
    assert normalize_unit("µg/m³") == normalize_unit("ug/m3") == normalize_unit(" UG/M3 ")
    assert normalize_unit("mg/Nm3") != normalize_unit("ug/m3")


def test_shipped_registry_has_the_demo_network() -> None:
    reg = StationRegistry.from_file(Path("config/stations.yaml"))
    kinds = [s.kind for s in reg]
    assert (kinds.count("air"), kinds.count("weather")) == (100, 10)
    assert kinds.count("stack") + kinds.count("wastewater") == 10
