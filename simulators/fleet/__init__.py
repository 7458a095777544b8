"""Simulated vehicle fleet of the demo province (transport journey monitoring, issue #13).

- :class:`FleetSimulator` — ``run(start_ms, duration_s)`` yields columnar :class:`FixBatch`es;
  ``.ground_truth``, ``.zones``, ``.vehicles`` after/before the run.
- :func:`publish_fleet` — the same fixes over MQTT (``ioc/v1/vehicles/{plate}/positions``).
- ``python -m simulators.fleet config/fleet.yaml`` — writes the fleet registry.
"""

from simulators.fleet.config import FleetConfig
from simulators.fleet.engine import FixBatch, FleetSimulator
from simulators.fleet.episodes import BANDS, GroundTruth, band_of
from simulators.fleet.publisher import fix_payloads, positions_topic, publish_fleet
from simulators.fleet.registry import COMPANIES, ZONES, Company, Vehicle, Zone, build_vehicles
from simulators.fleet.yaml_registry import build_registry, write_registry

__all__ = [
    "BANDS",
    "COMPANIES",
    "ZONES",
    "Company",
    "FixBatch",
    "FleetConfig",
    "FleetSimulator",
    "GroundTruth",
    "Vehicle",
    "Zone",
    "band_of",
    "build_registry",
    "build_vehicles",
    "fix_payloads",
    "positions_topic",
    "publish_fleet",
    "write_registry",
]
