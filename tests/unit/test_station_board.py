"""The wall's station snapshot names each station's parameters as its own parameter set does
(a weather station's ``temp`` is the air temperature, a stack's the flue gas's)."""

from __future__ import annotations

from pathlib import Path

from ioc.registry import StationRegistry
from web.station_board import StationBoard
from web.wire import parameters_json

PROVINCE = Path(__file__).resolve().parents[2] / "config" / "stations.yaml"


def test_every_station_shows_its_own_parameter_labels() -> None:
    registry = StationRegistry.from_file(PROVINCE)
    common = parameters_json(registry)
    snapshot = {s["id"]: s for s in StationBoard(registry, 3).snapshot(0)}
    kinds_checked = set()
    for station in registry:
        shown = snapshot[station.id]
        for key, spec in station.parameters.items():
            label = shown["labels"].get(key, common[key])
            assert (label["label_vi"], label["label_en"]) == (spec.label_vi, spec.label_en)
        kinds_checked.add(station.kind)
    assert {"weather", "stack"} <= kinds_checked
    labels_of = {s.kind: snapshot[s.id]["labels"].get("temp", common["temp"]) for s in registry}
    assert labels_of["weather"]["label_vi"] == "Nhiệt độ"
    assert labels_of["stack"]["label_vi"] == "Nhiệt độ khí thải"
