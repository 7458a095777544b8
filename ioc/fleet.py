"""The transport registry (issue #13): companies, vehicles, drivers and zones, read from
``vehicles.fleet`` (config/fleet.yaml; ``python -m simulators.fleet`` writes the demo's).

Speed limits follow the road: ``speed_limits`` gives km/h per road class (urban, rural,
highway, pass) and vehicle type. The journey kernel (analytics.journeys) knows a limit per
vehicle class, lowered inside zones; so the highest limit of each type is its class limit,
every typed road segment becomes a corridor zone carrying its class's limits, and every town
a circle carrying the urban ones. A fix inside several takes the lowest, as a driver must.
Restricted zones (a truck ban in a town centre at given hours) are zones of their own.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, RootModel, ValidationError, field_validator

from analytics.journeys import JourneyConfig, Vehicle
from analytics.journeys.config import CircleConfig, ForbiddenHours, ZoneConfig
from ingest.plates import PlateError, normalise_plate
from ioc.config import friendly_errors
from ioc.errors import ConfigError
from ioc.section import Section
from ioc.yaml_text import safe_load

VehicleType = Literal["bus", "coach", "truck", "container", "tractor", "taxi"]
ROAD_CORRIDOR_M = 60.0  # half-width of a road's speed zone: lane, shoulder and GPS error
LatLon = tuple[float, float]


class CompanyEntry(Section):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Transport company id.")
    name: str
    types: list[VehicleType] = Field(default_factory=list, description="Types it runs.")


class VehicleEntry(Section):
    id: str = Field(description="Number plate; normalised on load (49A-123.45 → 49A12345).")
    type: VehicleType
    company: str
    driver: str | None = Field(None, description="Licence number of its usual driver.")
    route: str | None = Field(None, description="A bus or coach route of the simulator.")

    @field_validator("id")
    @classmethod
    def _plate(cls, value: str) -> str:
        try:
            return normalise_plate(value)
        except PlateError as exc:
            raise ValueError(str(exc)) from None


class DriverEntry(Section):
    licence: str = Field(pattern=r"^[0-9A-Za-z]{6,32}$", description="Driving-licence number.")
    company: str
    name: str = ""


class ZoneEntry(Section):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = ""
    kind: Literal["restricted", "speed", "depot", "border_gate"] = "restricted"
    shape: Literal["polygon", "circle"]
    polygon: list[LatLon] | None = None
    centre: LatLon | None = None
    radius_m: float | None = Field(None, gt=0, le=50_000)
    vehicle_types: list[VehicleType] = Field(default_factory=list)
    forbidden_hours: list[tuple[float, float]] = Field(
        default_factory=list, description="Local hours [from, to) the types must not be in."
    )
    speed_limit_kmh: float | None = Field(None, gt=0, le=200)


Kmh = Annotated[float, Field(gt=0, le=200)]
ROAD_CLASSES = ("urban", "rural", "highway", "pass")


class SpeedLimitTable(RootModel[dict[VehicleType, Kmh]]):
    """km/h by vehicle type on one road class (the key: urban, rural, highway or pass)."""


class TownEntry(Section):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    urban_radius_m: float = Field(gt=0, le=50_000)


class RoadEntry(Section):
    name: str
    waypoints: list[tuple[float, float] | tuple[float, float, str]] = Field(
        description="[lat, lon, class of the segment that starts here]; the last has no class."
    )


class FleetFile(Section):
    companies: list[CompanyEntry] = Field(default_factory=list)
    vehicles: list[VehicleEntry] = Field(default_factory=list)
    drivers: list[DriverEntry] = Field(default_factory=list)
    zones: list[ZoneEntry] = Field(default_factory=list)
    speed_limits: dict[str, dict[VehicleType, float]] = Field(
        default_factory=dict, description="km/h by road class and vehicle type."
    )
    towns: dict[str, TownEntry] = Field(default_factory=dict)
    roads: dict[str, RoadEntry] = Field(default_factory=dict)
    routes: dict[str, Any] = Field(default_factory=dict, description="The simulator's routes.")


class FleetRegistry:
    """Vehicles by plate, their companies, and the journey configuration their zones and
    limits make."""

    def __init__(self, document: FleetFile) -> None:
        self.document = document
        self.companies = {c.id: c for c in document.companies}
        self.vehicles = {v.id: v for v in document.vehicles}
        self.zones = {z.id: z for z in document.zones}

    @classmethod
    def from_file(cls, path: Path) -> FleetRegistry:
        return cls(read_fleet_file(path))

    @classmethod
    def empty(cls) -> FleetRegistry:
        return cls(FleetFile())

    def kernel_vehicles(self) -> list[Vehicle]:
        return [Vehicle(v.id, v.type, v.company) for v in self.vehicles.values()]

    def problems(self, base: JourneyConfig) -> list[tuple[str, str, str, str]]:
        """What makes this registry unusable as a whole: (kind, key, field, message) of the
        item concerned — a vehicle's company or driver not registered, a driver's company, a
        vehicle type or zone type without a speed limit (here or in ``base``)."""
        out: list[tuple[str, str, str, str]] = []
        drivers = {d.licence for d in self.document.drivers}
        limited = set(self._class_limits(base))
        for v in self.document.vehicles:
            if v.company not in self.companies:
                out.append(("vehicle", v.id, "company", f"no company {v.company!r}"))
            if v.driver is not None and v.driver not in drivers:
                out.append(("vehicle", v.id, "driver", f"no driver with licence {v.driver!r}"))
            if v.type not in limited:
                out.append(("vehicle", v.id, "type", f"no speed limit for {v.type}s"))
        for d in self.document.drivers:
            if d.company not in self.companies:
                out.append(("driver", d.licence, "company", f"no company {d.company!r}"))
        for z in self.document.zones:
            for n, kind in enumerate(z.vehicle_types):
                if kind not in limited:
                    message = f"{kind}: no speed limit for this type, so no such vehicles"
                    out.append(("zone", z.id, f"vehicle_types.{n}", message))
            if z.shape == "polygon" and len(z.polygon or []) < 3:
                out.append(("zone", z.id, "polygon", "a polygon needs at least 3 vertices"))
            if z.shape == "circle" and (z.centre is None or z.radius_m is None):
                out.append(("zone", z.id, "centre", "a circle needs centre and radius_m"))
            for n, (start, end) in enumerate(z.forbidden_hours):
                if _hhmm(start) == _hhmm(end) or not (0 <= start <= 24 and 0 <= end <= 24):
                    message = "from and to are hours 0-24 and differ (all day: 0 to 23.99)"
                    out.append(("zone", z.id, f"forbidden_hours.{n}", message))
            if not [p for p in out if p[:2] == ("zone", z.id)]:
                try:  # what the journey kernel makes of it
                    _kernel_zone(z)
                except ValidationError as exc:
                    out += [("zone", z.id, "", m) for m in friendly_errors(exc)]
        return out

    def journey_config(self, base: JourneyConfig) -> JourneyConfig:
        """``base`` with the class limits, road and town speed zones and restricted zones of
        this registry (those of ``base`` are kept; the registry's limits win)."""
        zones = [*base.zones, *self._road_zones(), *self._town_zones()]
        zones += [_kernel_zone(z) for z in self.document.zones]
        class_limits = self._class_limits(base)
        speeding = base.speeding.model_copy(update={"class_limits_kmh": class_limits})
        return base.model_copy(update={"speeding": speeding, "zones": zones})

    def _class_limits(self, base: JourneyConfig) -> dict[str, float]:
        """Each type's highest limit of the tables (those of ``base`` for the others)."""
        limits = self.document.speed_limits
        types = {v.type for v in self.vehicles.values()} | set(base.speeding.class_limits_kmh)
        types |= {kind for by_type in limits.values() for kind in by_type}
        class_limits = dict(base.speeding.class_limits_kmh)
        for kind in types:
            known = [by_type[kind] for by_type in limits.values() if kind in by_type]
            if known:
                class_limits[kind] = max(known)
        return class_limits

    def _road_zones(self) -> list[ZoneConfig]:
        out = []
        for road_id, road in self.document.roads.items():
            points = road.waypoints
            for n, (start, end) in enumerate(itertools.pairwise(points)):
                road_class = start[2] if len(start) == 3 else None
                limits = self.document.speed_limits.get(road_class or "")
                if limits:
                    out.append(
                        ZoneConfig(
                            id=f"road.{road_id}.{n}",
                            name=f"{road.name} ({road_class})",
                            polygon=_corridor(start[:2], end[:2], ROAD_CORRIDOR_M),
                            class_speed_limits_kmh=dict(limits),
                        )
                    )
        return out

    def _town_zones(self) -> list[ZoneConfig]:
        urban = self.document.speed_limits.get("urban")
        if not urban:
            return []
        return [
            ZoneConfig(
                id=f"town.{n}",
                name=name,
                circle=CircleConfig(lat=t.lat, lon=t.lon, radius_m=t.urban_radius_m),
                class_speed_limits_kmh=dict(urban),
            )
            for n, (name, t) in enumerate(self.document.towns.items())
        ]


def is_speed_zone(zone_id: str) -> bool:
    """Zones made from roads and towns: their enter and exit are no news for the wall."""
    return zone_id.startswith(("road.", "town."))


def _kernel_zone(zone: ZoneEntry) -> ZoneConfig:
    forbidden = [
        ForbiddenHours(classes=list(zone.vehicle_types), start=_hhmm(a), end=_hhmm(b))
        for a, b in zone.forbidden_hours
        if zone.vehicle_types
    ]
    circle = None
    if zone.shape == "circle" and zone.centre is not None and zone.radius_m is not None:
        circle = CircleConfig(lat=zone.centre[0], lon=zone.centre[1], radius_m=zone.radius_m)
    return ZoneConfig(
        id=zone.id,
        name=zone.name,
        polygon=zone.polygon if zone.shape == "polygon" else None,
        circle=circle,
        speed_limit_kmh=zone.speed_limit_kmh,
        forbidden=forbidden,
    )


def _hhmm(hours: float) -> str:
    minutes = round(hours * 60) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _corridor(a: tuple[float, ...], b: tuple[float, ...], half_width_m: float) -> list[LatLon]:
    """A rectangle ``half_width_m`` either side of the segment a→b, extended as far at both
    ends (planar metres around the segment: segments are a few km long)."""
    lat0 = math.radians((a[0] + b[0]) / 2)
    m_lat, m_lon = 111_320.0, 111_320.0 * math.cos(lat0)
    dx, dy = (b[1] - a[1]) * m_lon, (b[0] - a[0]) * m_lat
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length * half_width_m, dy / length * half_width_m  # along
    nx, ny = -uy, ux  # across
    corners = [
        (a[1] * m_lon - ux + nx, a[0] * m_lat - uy + ny),
        (b[1] * m_lon + ux + nx, b[0] * m_lat + uy + ny),
        (b[1] * m_lon + ux - nx, b[0] * m_lat + uy - ny),
        (a[1] * m_lon - ux - nx, a[0] * m_lat - uy - ny),
    ]
    return [(y / m_lat, x / m_lon) for x, y in corners]


def read_fleet_file(path: Path) -> FleetFile:
    """The fleet file, checked item by item (its cross-checks: :meth:`FleetRegistry.problems`)."""
    try:
        raw = safe_load(path.read_text(encoding="utf-8")) or {}
        return FleetFile.model_validate(raw)
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from exc
    except ValidationError as exc:
        raise ConfigError(str(path), friendly_errors(exc)) from exc
