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


@dataclass(frozen=True, slots=True)
class KpiLine:
    """Speeding violations and trip distance of one driver or vehicle in a period."""

    key: str  # driver-licence number or plate; "" when unknown
    violations: int
    distance_km: float
    rate: float  # per ``KpiConfig.per_km``; inf when violations but no distance


@dataclass(frozen=True, slots=True)
class CompanySummary:
    """A company's speeding KPI for a period (a local month)."""

    violations: int
    distance_km: float
    trips: int
    rate: float  # per ``KpiConfig.per_km``; inf when violations but no distance
    flagged: bool
    bands: dict[str, int]  # every band, zero included
    drivers: list[KpiLine]  # most violations first, then most km
    vehicles: list[KpiLine]


SPEED_BANDS = ("5-10", "10-20", "20-35", ">35")


def company_summary(
    distances: Iterable[tuple[str, str | None, float, int]],
    speeding: Iterable[tuple[str, str | None, str, int]],
    config: KpiConfig | None = None,
) -> CompanySummary:
    """``distances``: (vehicle, driver, metres, trips) rows; ``speeding``: (vehicle, driver,
    band, count) rows (store.journey_book). Totals, the rate and flag, and the same per driver
    and per vehicle."""
    c = config or KpiConfig()
    metres: dict[tuple[str, str], float] = defaultdict(float)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    bands = dict.fromkeys(SPEED_BANDS, 0)
    trips = 0
    for vehicle, driver, distance_m, n in distances:
        metres[vehicle, driver or ""] += distance_m
        trips += n
    for vehicle, driver, band, n in speeding:
        counts[vehicle, driver or ""] += n
        bands[band] = bands.get(band, 0) + n

    def lines(position: int) -> list[KpiLine]:
        km: dict[str, float] = defaultdict(float)
        found: dict[str, int] = defaultdict(int)
        for key, m in metres.items():
            km[key[position]] += m / 1000
        for key, n in counts.items():
            found[key[position]] += n
        rows = [
            KpiLine(k, found[k], km[k], speeding_rate(found[k], km[k], c.per_km))
            for k in set(km) | set(found)
        ]
        return sorted(rows, key=lambda r: (-r.violations, -r.distance_km, r.key))

    violations = sum(counts.values())
    distance_km = sum(metres.values()) / 1000
    rate = speeding_rate(violations, distance_km, c.per_km)
    return CompanySummary(
        violations=violations,
        distance_km=distance_km,
        trips=trips,
        rate=rate,
        flagged=rate >= c.flag_at,
        bands=bands,
        drivers=lines(1),
        vehicles=lines(0),
    )
