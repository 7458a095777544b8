"""A journey rules backtest: what the rules of ``journeys`` (or a changed version of them) find
in the positions stored over a period, before an officer puts the change in force::

    POST /api/v1/journeys/backtest
    {"start": ISO, "end": ISO, "vehicles": ["49C12345", ...],          # default: all
     "speeding": {...}, "driving": {...}, "signal": {...}, "trips": {...}}   # changed sections

The stored positions (GPS jumps left out as the service leaves them out) go through the same
kernel the service runs (analytics.journeys), with the fleet registry's zones and limits, in a
worker thread; the answer counts violations by kind and speeding band and lists them.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

import numpy as np
from aiohttp import web
from pydantic import AwareDatetime, Field, model_validator

from analytics.journeys import JourneyConfig, JourneyKernel, JourneyOutput
from analytics.journeys.config import DrivingConfig, SignalConfig, SpeedingConfig, TripConfig
from ioc import appkeys
from ioc.clock import iso_utc
from ioc.fleet import FleetRegistry
from ioc.section import Section
from web.api import Answer, ApiRoutes, error_answer
from web.fields import UtcTime
from web.store_query import query_store

api = ApiRoutes()
MAX_DAYS = 31
MAX_LISTED = 5_000


class JourneyBacktest(Section):
    """Body of ``POST /api/v1/journeys/backtest``: a period, vehicles, and the rule sections
    to try instead of those in force."""

    start: AwareDatetime = Field(description="Period start, ISO 8601 with offset.")
    end: AwareDatetime = Field(description="Period end (exclusive), ISO 8601 with offset.")
    vehicles: list[str] = Field(default_factory=list, description="Plates; empty = all.")
    speeding: SpeedingConfig | None = None
    driving: DrivingConfig | None = None
    signal: SignalConfig | None = None
    trips: TripConfig | None = None

    @model_validator(mode="after")
    def _period(self) -> JourneyBacktest:
        if self.end <= self.start:
            raise ValueError("`end` must be after `start`")
        if (self.end - self.start).total_seconds() > MAX_DAYS * 86_400:
            raise ValueError(f"the period may span at most {MAX_DAYS} days")
        return self


class FoundViolation(Answer):
    kind: str
    vehicle: str
    start: UtcTime
    end: UtcTime | None
    band: str | None = None
    peak_kmh: float | None = None
    limit_kmh: float | None = None
    detail: str = ""


class BacktestSummary(Answer):
    positions: int
    vehicles: int
    trips: int
    distance_km: float
    violations: dict[str, int] = Field(description="Per kind.")
    speeding_bands: dict[str, int]


class JourneyBacktestAnswer(Answer):
    summary: BacktestSummary
    violations: list[FoundViolation]
    truncated: bool


def add_journey_backtest_routes(app: web.Application) -> None:
    api.add_to(app)


@api.post("/api/v1/journeys/backtest", tag="vehicles", errors=(503,))
async def journey_backtest(request: web.Request, body: JourneyBacktest) -> JourneyBacktestAnswer:
    """Backtest journey rules over stored positions

    The rules in force, with the sections given in the body instead, run over the period's
    stored positions through the live kernel code (with the registry's zones and limits)."""
    vehicles = request.app[appkeys.PIPELINE].vehicles
    fleet = vehicles.fleet
    unknown = [v for v in body.vehicles if v not in fleet.vehicles]
    if unknown:
        raise error_answer(web.HTTPBadRequest, f"unknown vehicle(s) {', '.join(unknown)}")
    base = request.app[appkeys.CONFIG].journeys
    changed = {k: getattr(body, k) for k in ("speeding", "driving", "signal", "trips")}
    config = base.model_copy(update={k: v for k, v in changed.items() if v is not None})
    rows = await query_store(request, _query(body))
    return await asyncio.to_thread(_run, fleet, config, rows)


def _query(body: JourneyBacktest) -> str:
    start, end = _ms(body.start), _ms(body.end)
    where = f"time >= {start}ms AND time < {end}ms"
    if body.vehicles:
        where += " AND vehicle =~ /^(" + "|".join(map(re.escape, body.vehicles)) + ")$/"
    return f"SELECT lat, lon, speed, ignition, gps_jump, vehicle FROM position WHERE {where}"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _run(
    fleet: FleetRegistry, config: JourneyConfig, rows: list[dict[str, Any]]
) -> JourneyBacktestAnswer:
    kernel = JourneyKernel(fleet.journey_config(config), fleet.kernel_vehicles())
    index = {plate: n for n, plate in enumerate(kernel.ids)}
    kept = [r for r in rows if r.get("vehicle") in index and not r.get("gps_jump")]
    vehicle = np.array([index[r["vehicle"]] for r in kept], dtype=np.int64)
    t_ms = np.array([int(r["time"]) for r in kept], dtype=np.int64)
    lat = np.array([r["lat"] for r in kept], dtype=np.float64)
    lon = np.array([r["lon"] for r in kept], dtype=np.float64)
    speed = np.array([r["speed"] for r in kept], dtype=np.float64)
    ignition = np.array(
        [-1 if r.get("ignition") is None else int(r["ignition"]) for r in kept], dtype=np.int8
    )
    found = kernel.process(vehicle, t_ms, lat, lon, speed, ignition)
    ended = kernel.flush()
    return _answer(found, ended, len(kept), len(set(vehicle.tolist())))


def _answer(
    found: JourneyOutput, ended: JourneyOutput, positions: int, vehicles: int
) -> JourneyBacktestAnswer:
    listed: list[FoundViolation] = []
    counts: dict[str, int] = {}
    bands: dict[str, int] = {}
    trips = [*found.trips, *ended.trips]
    for out in (found, ended):
        for s in out.speeding:
            bands[s.band] = bands.get(s.band, 0) + 1
            listed.append(
                FoundViolation(
                    kind="speeding",
                    vehicle=s.vehicle,
                    start=_iso(s.start_ms),
                    end=_iso(s.end_ms),
                    band=s.band,
                    peak_kmh=s.peak_kmh,
                    limit_kmh=s.limit_kmh,
                )
            )
        for d in out.driving:
            if d.kind == "violation":
                listed.append(
                    FoundViolation(
                        kind=f"{d.rule}_driving",
                        vehicle=d.vehicle,
                        start=_iso(d.at_ms),
                        end=None,
                        detail=f"over {d.threshold_h:g} h",
                    )
                )
        for z in out.zone_violations:
            listed.append(
                FoundViolation(
                    kind="zone_forbidden",
                    vehicle=z.vehicle,
                    start=_iso(z.at_ms),
                    end=None,
                    detail=f"{z.zone} {z.hours}",
                )
            )
        for lost in out.signal:
            end = _iso(lost.restored_ms) if lost.restored_ms is not None else None
            listed.append(
                FoundViolation(
                    kind="signal_lost", vehicle=lost.vehicle, start=_iso(lost.last_ms), end=end
                )
            )
    for v in listed:
        counts[v.kind] = counts.get(v.kind, 0) + 1
    listed.sort(key=lambda v: (v.start, v.vehicle))
    summary = BacktestSummary(
        positions=positions,
        vehicles=vehicles,
        trips=len(trips),
        distance_km=round(sum(t.distance_m for t in trips) / 1000, 1),
        violations=counts,
        speeding_bands=bands,
    )
    return JourneyBacktestAnswer(
        summary=summary, violations=listed[:MAX_LISTED], truncated=len(listed) > MAX_LISTED
    )


def _iso(ms: int) -> str:
    return iso_utc(ms) or ""
