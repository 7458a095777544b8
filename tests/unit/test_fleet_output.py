"""What the fleet simulator hands to others: MQTT payloads (a JSON object per fix, a JSON array
per backlog) and the registry file (companies, vehicles, drivers, zones)."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import yaml

from simulators.fleet import (
    FleetConfig,
    FleetSimulator,
    build_vehicles,
    fix_payloads,
    positions_topic,
    write_registry,
)
from simulators.fleet.publisher import IMAGE_TYPES, DriverCameras

ICT = timezone(timedelta(hours=7))
START = int(datetime(2026, 12, 1, 9, tzinfo=ICT).timestamp() * 1000)
KEYS = {
    "ts",
    "lat",
    "lon",
    "speed",
    "heading",
    "accuracy",
    "ignition",
    "door",
    "driver",
    "odometer",
}
TOPIC = re.compile(r"^ioc/v1/vehicles/(49[ABC]\d{5})/positions$")


def check_fix(obj: dict[str, object], driver: str) -> None:
    assert set(obj) == KEYS
    assert isinstance(obj["ts"], int) and obj["ts"] > 1_700_000_000_000
    assert isinstance(obj["lat"], float) and 11.0 < obj["lat"] < 12.5
    assert isinstance(obj["lon"], float) and 107.0 < obj["lon"] < 109.0
    assert isinstance(obj["speed"], int) and 0 <= obj["speed"] <= 150
    assert isinstance(obj["heading"], int) and 0 <= obj["heading"] < 360
    assert isinstance(obj["accuracy"], float) and 0 < obj["accuracy"] < 50
    assert isinstance(obj["ignition"], bool) and isinstance(obj["door"], bool)
    assert obj["driver"] == driver and re.fullmatch(r"\d{12}", driver)
    assert isinstance(obj["odometer"], float) and obj["odometer"] > 0


def test_payloads_are_one_object_per_fix_and_one_array_per_backlog() -> None:
    sim = FleetSimulator(FleetConfig(vehicles=30), seed=5)
    drivers = {v.id: v.driver for v in sim.vehicles}
    objects = arrays = 0
    for batch in sim.run(START, 3 * 3600):
        for topic, payload in fix_payloads(batch, sim.vehicles):
            match = TOPIC.match(topic)
            assert match, topic
            body = json.loads(payload)
            if isinstance(body, list):
                arrays += 1
                assert len(body) >= 10
                assert [f["ts"] for f in body] == sorted(f["ts"] for f in body)
                for fix in body:
                    check_fix(fix, drivers[match[1]])
            else:
                objects += 1
                check_fix(body, drivers[match[1]])
    (backlog,) = [g for g in sim.ground_truth if g.kind == "backlog"]
    assert arrays == 1 and backlog.count is not None and objects > 1000


def test_topic_prefix_is_configurable() -> None:
    assert (
        positions_topic("test/x/ioc/v1", "49B01234") == "test/x/ioc/v1/vehicles/49B01234/positions"
    )


def test_plates_licences_and_types() -> None:
    vehicles = build_vehicles(2000, seed=11)
    assert len({v.id for v in vehicles}) == 2000
    assert len({v.driver for v in vehicles}) == 2000
    series = {"taxi": "A", "bus": "B", "coach": "B", "truck": "C", "container": "C", "tractor": "C"}
    for v in vehicles:
        assert re.fullmatch(r"49[ABC]\d{5}", v.id) and v.id[2] == series[v.type]
        assert re.fullmatch(r"[1-9]\d{11}", v.driver)
    counts = {t: sum(v.type == t for v in vehicles) for t in series}
    assert all(c > 50 for c in counts.values()), counts
    assert build_vehicles(50, seed=11) == vehicles[:50]


def test_registry_file_round_trips(tmp_path: Path) -> None:
    target = write_registry(tmp_path / "fleet.yaml", FleetConfig(vehicles=120, seed=9))
    data = yaml.safe_load(target.read_text(encoding="utf-8"))
    sim = FleetSimulator(FleetConfig(vehicles=120), seed=9)
    assert [v["id"] for v in data["vehicles"]] == [v.id for v in sim.vehicles]
    companies = {c["id"] for c in data["companies"]}
    assert {v["company"] for v in data["vehicles"]} <= companies
    assert [d["licence"] for d in data["drivers"]] == [v.driver for v in sim.vehicles]
    zones = {z["id"]: z for z in data["zones"]}
    assert set(zones) == {z.id for z in sim.zones}
    circle = next(z for z in data["zones"] if z["shape"] == "circle")
    assert circle["radius_m"] > 0 and len(circle["centre"]) == 2
    assert all(len(z["polygon"]) >= 3 for z in data["zones"] if z["shape"] == "polygon")
    assert data["speed_limits"]["urban"]["truck"] == 50
    assert set(data["roads"]) >= {"QL20", "QL27", "QL28", "QL55", "DT725", "LACDUONG"}


def test_committed_registry_is_the_default_generation() -> None:
    committed = Path(__file__).parents[2] / "config" / "fleet.yaml"
    data = yaml.safe_load(committed.read_text(encoding="utf-8"))
    default = FleetSimulator()
    assert [v["id"] for v in data["vehicles"]] == [v.id for v in default.vehicles]
    assert committed.stat().st_size < 300_000


def test_scripted_vehicles_can_be_switched_off() -> None:
    sim = FleetSimulator(FleetConfig(vehicles=60, episodes=False), seed=2)
    fixes = sim.run_all(START, 4 * 3600)
    assert not sim.roles and not fixes.jump.any() and (fixes.batch < 0).all()
    assert not [g for g in sim.ground_truth if g.kind not in ("zone_intrusion", "zone_crossing")]
    assert not sim.ground_truth
    assert np.all(fixes.speed <= fixes.limit_kmh + 4)


def test_buses_coaches_and_tractors_send_a_driver_image_every_few_minutes() -> None:
    simulator = FleetSimulator(FleetConfig(vehicles=40, seed=7))
    cameras = DriverCameras(240)
    start = 1_796_450_000_000  # mid-morning in Vietnam
    sent: dict[str, list[int]] = {}
    for batch in simulator.run(start, 1800):
        for topic, payload in cameras.images(batch, simulator.vehicles, "ioc/v1"):
            body = json.loads(payload)
            sent.setdefault(topic.split("/")[3], []).append(body["ts"])
            assert body["jpeg"] and body["driver"]
    types = {v.id: v.type for v in simulator.vehicles}
    assert sent and {types[plate] for plate in sent} <= IMAGE_TYPES
    for times in sent.values():
        assert all(b - a >= 240_000 for a, b in itertools.pairwise(times))
