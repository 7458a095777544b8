"""Company KPI: speeding violations per 1,000 km in a local calendar month; a company-month
at 5 or more is flagged (the transport badge is revoked). Distance is the trips' distance."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from analytics.journeys.config import KpiConfig
from analytics.journeys.events import SpeedingViolation, Trip


@dataclass(frozen=True, slots=True)
class CompanyKpi:
    company: str
    month: str  # local, "2026-11"
    violations: int
    distance_km: float
    rate: float  # violations per ``KpiConfig.per_km``; inf when violations but no distance
    flagged: bool


def speeding_rate(violations: int, distance_km: float, per_km: float = 1000.0) -> float:
    if distance_km <= 0:
        return float("inf") if violations else 0.0
    return violations * per_km / distance_km


def local_month(t_ms: int, utc_offset_h: int) -> str:
    moment = datetime.fromtimestamp(t_ms / 1000, UTC) + timedelta(hours=utc_offset_h)
    return f"{moment.year:04d}-{moment.month:02d}"


def monthly_speeding_kpi(
    violations: Iterable[SpeedingViolation],
    trips: Iterable[Trip],
    company_of: Mapping[str, str],
    config: KpiConfig | None = None,
    utc_offset_h: int = 7,
) -> list[CompanyKpi]:
    """One row per (company, local month) with distance or violations, sorted. A violation
    counts in the month it started; a trip's distance in the month it started."""
    c = config or KpiConfig()
    count: dict[tuple[str, str], int] = defaultdict(int)
    km: dict[tuple[str, str], float] = defaultdict(float)
    for v in violations:
        count[company_of.get(v.vehicle, ""), local_month(v.start_ms, utc_offset_h)] += 1
    for trip in trips:
        km[company_of.get(trip.vehicle, ""), local_month(trip.start_ms, utc_offset_h)] += (
            trip.distance_m / 1000
        )
    rows = []
    for key in sorted(set(count) | set(km)):
        rate = speeding_rate(count[key], km[key], c.per_km)
        rows.append(CompanyKpi(key[0], key[1], count[key], km[key], rate, rate >= c.flag_at))
    return rows
