"""Simulated vehicle fleet of the demo province (transport journey monitoring, issue #13).

- :class:`FleetSimulator` ``(config, seed).run(start_ms, duration_s)`` yields one columnar
  :class:`FixBatch` per tick (``moving_interval_s``), in sending order; ``run_all`` concatenates
  them. ``.vehicles`` (plates, types, companies, licences, routes) and ``.zones`` are fixed by
  the seed and vehicle count; ``.ground_truth`` lists the :class:`GroundTruth` episodes that
  happened once the run is over. Same seed, start and duration: same fixes and truth.
- Cadence (REFERENCE §6): a fix every tick while moving, every ``stopped_interval_s`` while
  stopped, one at each stop; stops are either short (< 6 min: taxi pick-ups, the no-break
  driver's terminus turns) or breaks (>= 20 min), never near the 15 min threshold.
- Episodes are armed from 09:00 local (or 10 min after a start between 09:00 and 14:00) and
  start at the first tick where they can run whole (speeding: on a stretch of constant limit
  long enough); driving-time, zone intrusion and zone crossing happen every day by the scripted
  vehicles' schedules. Truth is recorded from what was actually emitted.
- :func:`publish_fleet` publishes the same fixes over MQTT to
  ``{topic_prefix}/vehicles/{plate}/positions`` (a JSON object per fix, a JSON array per
  backlog), never before a fix's own timestamp.
- ``python -m simulators.fleet config/fleet.yaml [--vehicles N] [--seed S]`` writes the
  registry (companies, vehicles, drivers, zones, roads, limits).
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
