"""Transport journey monitoring (issue #13, "giám sát hành trình"): the analytics kernel.

Fixes of many vehicles arrive as columnar numpy batches (:class:`JourneyKernel.process`);
per-vehicle state carries across batches. Modules, one concern each:

* :mod:`.config` — the pydantic configuration (defaults from REFERENCE §6);
* :mod:`.events` — the output dataclasses and the vehicle table row;
* :mod:`.track` — a batch laid out next to each vehicle's previous fix; vectorised helpers;
* :mod:`.trips` — trips and stops; :mod:`.speeding`; :mod:`.driving` — driving time;
  :mod:`.signal` — lost signal; :mod:`.zones` — geofences and restricted hours;
* :mod:`.kernel` — the orchestration and the input contract; :mod:`.kpi` — company KPI.
"""

from analytics.journeys.config import JourneyConfig
from analytics.journeys.events import (
    DrivingTimeViolation,
    JourneyOutput,
    SignalLost,
    SpeedingViolation,
    Stop,
    Trip,
    Vehicle,
    ZoneEvent,
    ZoneViolation,
)
from analytics.journeys.kernel import JourneyKernel
from analytics.journeys.kpi import CompanyKpi, monthly_speeding_kpi, speeding_rate

__all__ = [
    "CompanyKpi",
    "DrivingTimeViolation",
    "JourneyConfig",
    "JourneyKernel",
    "JourneyOutput",
    "SignalLost",
    "SpeedingViolation",
    "Stop",
    "Trip",
    "Vehicle",
    "ZoneEvent",
    "ZoneViolation",
    "monthly_speeding_kpi",
    "speeding_rate",
]
