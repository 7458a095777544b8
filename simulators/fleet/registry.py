"""Companies, vehicles, drivers and zones of the simulated fleet (deterministic per seed)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from simulators.fleet.roads import ROUTES, VEHICLE_TYPES

COMPANIES = (
    ("VT-01", "Công ty CP Vận tải Hành khách Lâm Đồng", ("bus", "coach")),
    ("VT-02", "HTX Vận tải Đà Lạt", ("bus", "coach", "taxi")),
    ("VT-03", "Công ty TNHH Taxi Cao Nguyên", ("taxi",)),
    ("VT-04", "Công ty CP Logistics Cao Nguyên", ("truck", "container", "tractor")),
    ("VT-05", "Công ty TNHH Vận tải Hàng hóa Bảo Lộc", ("truck", "container", "tractor")),
    ("VT-06", "Công ty CP Xe khách Langbiang", ("coach",)),
)
#: Share of each type in the fleet.
TYPE_SHARE = dict(bus=0.15, coach=0.2, truck=0.2, container=0.1, tractor=0.05, taxi=0.3)
#: Plate series letter by type (normalised plates: province 49 + series + 5 digits).
SERIES = dict(bus="B", coach="B", truck="C", container="C", tractor="C", taxi="A")


@dataclass(frozen=True, slots=True)
class Company:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Vehicle:
    id: str  # normalised plate, e.g. 49B01234
    type: str
    company: str
    driver: str  # 12-digit driving-licence number
    route: str


@dataclass(frozen=True, slots=True)
class Zone:
    """A restricted zone: vehicles of ``vehicle_types`` may not be inside it during
    ``forbidden_hours`` (local time, [start, end) in hours). ``shape`` says which of
    ``polygon`` ((lat, lon) vertices) or ``centre`` + ``radius_m`` is used."""

    id: str
    name: str
    kind: Literal["restricted", "speed_limit"]
    shape: Literal["polygon", "circle"]
    vehicle_types: tuple[str, ...]
    forbidden_hours: tuple[tuple[float, float], ...] = ()
    limit_kmh: int | None = None
    polygon: tuple[tuple[float, float], ...] = ()
    centre: tuple[float, float] | None = None
    radius_m: float | None = None

    def forbidden_at(self, local_hour: float) -> bool:
        return any(a <= local_hour < b for a, b in self.forbidden_hours)


HEAVY = ("truck", "container", "tractor")
ZONES: tuple[Zone, ...] = (
    Zone(
        "Z-DL-CENTRE",
        "Đà Lạt: trung tâm (chợ Đà Lạt, Hòa Bình) — cấm xe tải 06:00–20:00",
        "restricted",
        "polygon",
        HEAVY,
        ((6.0, 20.0),),
        polygon=(
            (11.9460, 108.4330),
            (11.9460, 108.4410),
            (11.9395, 108.4410),
            (11.9395, 108.4330),
        ),
    ),
    Zone(
        "Z-BL-CENTRE",
        "Bảo Lộc: trung tâm (chợ Bảo Lộc) — cấm xe tải 06:00–20:00",
        "restricted",
        "polygon",
        HEAVY,
        ((6.0, 20.0),),
        polygon=(
            (11.5600, 107.8000),
            (11.5600, 107.8100),
            (11.5540, 107.8100),
            (11.5540, 107.8000),
        ),
    ),
    Zone(
        "Z-LD-SCHOOL",
        "Lạc Dương: cổng trường (bán kính 25 m) — cấm xe tải 06:00–18:00",
        "restricted",
        "circle",
        HEAVY,
        ((6.0, 18.0),),
        centre=(12.0275, 108.4310),
        radius_m=25.0,
    ),
)

#: Vehicles with scripted episodes take the first slots of the registry, by role.
EPISODE_ROLES: tuple[tuple[str, str, str], ...] = (  # role, type, route
    ("speed-5", "coach", "C01"),
    ("speed-10", "truck", "T01"),
    ("speed-20", "coach", "C01"),
    ("speed-35", "truck", "T03"),
    ("continuous", "coach", "C01"),
    ("daily", "bus", "B02"),
    ("gap-moving", "coach", "C02"),
    ("gap-stopped", "bus", "B01"),
    ("intrusion", "truck", "E01"),
    ("crossing", "truck", "E02"),
    ("jump", "bus", "B04"),
    ("backlog", "coach", "C01"),
)


def build_vehicles(count: int, seed: int, episodes: bool = True) -> list[Vehicle]:
    """``count`` vehicles: the episode roles first (if ``episodes``), then the fleet."""
    rng = random.Random(seed)
    plates: set[str] = set()
    licences: set[str] = set()
    routes_for = {t: [r.id for r in ROUTES if t in r.types] for t in VEHICLE_TYPES}
    companies_for = {t: [c[0] for c in COMPANIES if t in c[2]] for t in VEHICLE_TYPES}
    cumulative = []
    acc = 0.0
    for t in VEHICLE_TYPES:
        acc += TYPE_SHARE[t]
        cumulative.append(acc)

    def unique(prefix: str, low: int, high: int, width: int, seen: set[str]) -> str:
        while True:
            value = f"{prefix}{rng.randrange(low, high):0{width}d}"
            if value not in seen:
                seen.add(value)
                return value

    vehicles: list[Vehicle] = []
    for i in range(count):
        if episodes and i < len(EPISODE_ROLES):
            _, vtype, route = EPISODE_ROLES[i]
        else:
            u = rng.random() * acc
            vtype = next(t for t, c in zip(VEHICLE_TYPES, cumulative, strict=True) if u < c)
            route = rng.choice(routes_for[vtype])
        plate = unique(f"49{SERIES[vtype]}", 0, 100_000, 5, plates)
        licence = unique("", 10**11, 10**12, 12, licences)
        vehicles.append(Vehicle(plate, vtype, rng.choice(companies_for[vtype]), licence, route))
    return vehicles
