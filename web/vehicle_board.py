"""Per-vehicle state for the wall: the latest fix, and a state — moving, stopped, offline
(no fix for ``offline_after_s``) or violating (a journey violation within ``violating_for_s``).
Like the station board, changes are collected and pushed as one ``vehicles`` frame a second,
so the wall's traffic follows the number of vehicles that moved, not the message rate.

Vehicles are numpy-free plain dicts here: a fix costs a dict update; building a frame costs
one small dict per changed vehicle."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ingest.plates import format_plate
from ioc.clock import LOCAL_TZ, iso_utc
from ioc.fleet import FleetRegistry
from ioc.messages import PositionFix

MOVING, STOPPED, OFFLINE, VIOLATING = "moving", "stopped", "offline", "violating"
DAY_MS = 86_400_000
LOCAL_OFFSET_MS = int(LOCAL_TZ.utcoffset(None).total_seconds() * 1000)


@dataclass(slots=True)
class _Latest:
    ts_ms: int
    lat: float
    lon: float
    speed: float
    heading: float | None
    state: str = STOPPED


class VehicleBoard:
    def __init__(
        self,
        fleet: FleetRegistry,
        moving_kmh: float = 3.0,
        offline_after_s: float = 900.0,
        violating_for_s: float = 300.0,
    ) -> None:
        self._fleet = fleet
        self._moving_kmh = moving_kmh
        self._offline_after_ms = int(offline_after_s * 1000)
        self._violating_ms = int(violating_for_s * 1000)
        self._latest: dict[str, _Latest] = {}
        self._violation_ms: dict[str, int] = {}
        self._violations_day = -1
        self._violations_today = 0
        self._dirty: set[str] = set()

    def use_fleet(self, fleet: FleetRegistry) -> None:
        """A changed registry: every vehicle's type and company are sent again."""
        self._fleet = fleet
        self._dirty.update(self._latest)

    def observe(self, fixes: Iterable[PositionFix]) -> None:
        for fix in fixes:
            latest = self._latest.get(fix.vehicle)
            if latest is not None and fix.ts_ms < latest.ts_ms:
                continue  # a backlog's older fix: the vehicle is where its newest one says
            self._latest[fix.vehicle] = _Latest(
                fix.ts_ms, fix.lat, fix.lon, fix.speed_kmh, fix.heading
            )
            self._dirty.add(fix.vehicle)

    def violation(self, vehicle: str, at_ms: int, now_ms: int) -> None:
        """A journey violation of ``vehicle`` (counted in today's, local time)."""
        day = (now_ms + LOCAL_OFFSET_MS) // DAY_MS
        if day != self._violations_day:
            self._violations_day, self._violations_today = day, 0
        self._violations_today += 1
        self._violation_ms[vehicle] = max(at_ms, self._violation_ms.get(vehicle, 0))
        self._dirty.add(vehicle)

    def take_changes(self, now_ms: int) -> list[dict[str, Any]]:
        """The vehicles whose fix or state changed since the last call."""
        for vehicle, latest in self._latest.items():  # states that change with time alone
            if self._state(vehicle, latest, now_ms) != latest.state:
                self._dirty.add(vehicle)
        changed = [self._row(v, now_ms) for v in sorted(self._dirty) if v in self._latest]
        self._dirty.clear()
        return changed

    def snapshot(self, now_ms: int) -> list[dict[str, Any]]:
        return [self._row(vehicle, now_ms) for vehicle in sorted(self._latest)]

    def counts(self, now_ms: int) -> dict[str, int]:
        states = [self._state(v, latest, now_ms) for v, latest in self._latest.items()]
        day = (now_ms + LOCAL_OFFSET_MS) // DAY_MS
        return {
            "online": sum(state != OFFLINE for state in states),
            "moving": sum(state in (MOVING, VIOLATING) for state in states),
            "violations_today": self._violations_today if day == self._violations_day else 0,
        }

    def is_moving(self, vehicle: str, now_ms: int) -> bool:
        latest = self._latest.get(vehicle)
        return latest is not None and self._state(vehicle, latest, now_ms) in (MOVING, VIOLATING)

    def _state(self, vehicle: str, latest: _Latest, now_ms: int) -> str:
        if now_ms - latest.ts_ms > self._offline_after_ms:
            return OFFLINE
        if now_ms - self._violation_ms.get(vehicle, -self._violating_ms) < self._violating_ms:
            return VIOLATING
        return MOVING if latest.speed >= self._moving_kmh else STOPPED

    def _row(self, vehicle: str, now_ms: int) -> dict[str, Any]:
        latest = self._latest[vehicle]
        latest.state = self._state(vehicle, latest, now_ms)
        entry = self._fleet.vehicles.get(vehicle)
        return {
            "id": vehicle,
            "plate": format_plate(vehicle),
            "type": entry.type if entry else None,
            "company": entry.company if entry else None,
            "lat": round(latest.lat, 5),  # 1 m: a 10,000-vehicle frame stays small
            "lon": round(latest.lon, 5),
            "speed": round(latest.speed, 1),
            "heading": latest.heading,
            "ts": iso_utc(latest.ts_ms),
            "state": latest.state,
        }
