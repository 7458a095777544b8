"""REST API of the journey journal (transport journey monitoring, issue #13; the rows are
written by the vehicle pipeline into store.journey_book)::

    GET /api/v1/vehicles/{id}/trips?date=YYYY-MM-DD          a local day's trips and stops
    GET /api/v1/violations?company=&vehicle=&driver=&kind=&since=&until=&limit=&format=
    GET /api/v1/companies/{id}/summary?month=YYYY-MM         a company's monthly speeding KPI

Who sees what: the centre's people (viewer and up) every company; a transport company's user
(role ``enterprise`` whose enterprise is a company id of the fleet registry, e.g. VT-01) only
its own company's vehicles, violations and summary: asking for another company's is a 403,
audited (an unknown vehicle is a 404 for everyone: plates are painted on the vehicles).

Times are ISO 8601 UTC (``Z``) in JSON; the CSV writes them in local time
(Asia/Ho_Chi_Minh) with the offset in every value (``2026-12-01T09:31:00+07:00``), the header
saying so. Days and months are local (UTC+7, no daylight saving).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args

from aiohttp import web
from pydantic import Field

from analytics.journeys.kpi import KpiLine, company_summary
from ioc import appkeys
from ioc.audit import DENIED
from ioc.clock import LOCAL_TZ, iso_utc
from ioc.fleet import FleetRegistry
from store.journey_book import VIOLATION_KINDS, ViolationRow
from web.access import audit, principal_of
from web.api import Answer, ApiRoutes, Query, error_answer, respond
from web.fields import IsoTime, UtcTime, count
from web.monthly_report import MONTH_PATTERN

api = ApiRoutes()
CSV_MEDIA = "text/csv"
TIME_ZONE_NAME = "Asia/Ho_Chi_Minh"
DEFAULT_VIOLATIONS = 500
MAX_VIOLATIONS = 10_000
ViolationKind = Literal[
    "speeding",
    "continuous_driving",
    "daily_driving",
    "weekly_driving",
    "zone_forbidden",
    "signal_lost",
]
assert set(VIOLATION_KINDS) == set(get_args(ViolationKind))


# --- answers -------------------------------------------------------------------------------


class TripsQuery(Query):
    date: str | None = Field(
        None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="Local day (Asia/Ho_Chi_Minh), YYYY-MM-DD; default today.",
    )


class TripAnswer(Answer):
    start: UtcTime
    end: UtcTime
    duration_s: float
    distance_km: float
    start_lat: float
    start_lon: float
    end_lat: float
    end_lon: float
    driver: str | None
    ended_by: Literal["stop", "gap", "flush"] = Field(
        description="A stop began, data was lost (a gap), or the kernel was flushed."
    )


class StopAnswer(Answer):
    start: UtcTime
    end: UtcTime
    duration_s: float
    lat: float
    lon: float


class TripsAnswer(Answer):
    vehicle: str
    company: str
    date: str = Field(json_schema_extra={"format": "date"})
    timezone: str
    distance_km: float = Field(description="Sum of the trips' distance.")
    trips: list[TripAnswer] = Field(description="Trips that started that day, oldest first.")
    stops: list[StopAnswer] = Field(description="Stops that started that day, oldest first.")


class ViolationsQuery(Query):
    company: str | None = Field(None, description="A transport company id (VT-01).")
    vehicle: str | None = Field(None, description="A plate, normalised (49B15613).")
    driver: str | None = Field(None, description="A driving-licence number.")
    kind: ViolationKind | None = None
    since: IsoTime | None = Field(None, description="Started at or after (ISO 8601).")
    until: IsoTime | None = Field(None, description="Started before (ISO 8601).")
    limit: int = count(DEFAULT_VIOLATIONS, MAX_VIOLATIONS)
    format: Literal["json", "csv"] = "json"


class ViolationAnswer(Answer):
    id: int
    kind: ViolationKind
    level: Literal["violation", "warning"] = Field(
        description="Driving time: `warning` before the cap; lost signal is a `warning`."
    )
    vehicle: str
    company: str
    company_name: str
    driver: str | None
    start: UtcTime
    end: UtcTime | None = Field(description="Null: lost signal, still silent.")
    lat: float
    lon: float
    peak_kmh: float | None = Field(description="Speeding: the highest speed.")
    limit_kmh: float | None = Field(description="Speeding: the limit at the peak.")
    excess_kmh: float | None = Field(description="Speeding: the largest speed over the limit.")
    band: Literal["5-10", "10-20", "20-35", ">35"] | None = Field(
        description="Speeding: the fine band of the excess (km/h over the limit)."
    )
    distance_m: float | None = Field(description="Speeding: driven over the limit.")
    threshold_h: float | None = Field(description="Driving time: the cap reached (hours).")
    zone: str | None = Field(description="Restricted zone: its id.")
    detail: str = Field(description="Zone: the class and forbidden hours; signal: moving/stopped.")


class ViolationList(Answer):
    count: int
    violations: list[ViolationAnswer] = Field(description="Newest first.")


class SummaryQuery(Query):
    month: str | None = Field(
        None, pattern=MONTH_PATTERN, description="YYYY-MM, a local month; default this month."
    )


class KpiLineAnswer(Answer):
    violations: int = Field(description="Speeding violations.")
    distance_km: float = Field(description="Trip distance.")
    per_1000_km: float | None = Field(description="Violations per 1,000 km; null: no distance.")


class DriverKpi(KpiLineAnswer):
    driver: str = Field(description="Driving-licence number; empty: not known.")
    name: str


class VehicleKpi(KpiLineAnswer):
    vehicle: str


class CompanySummaryAnswer(Answer):
    company: str
    name: str
    month: str
    timezone: str
    vehicles: int = Field(description="Vehicles of the company in the registry.")
    active_vehicles: int = Field(description="Vehicles with a trip or violation that month.")
    trips: int
    distance_km: float = Field(description="Trips that started in the month.")
    speeding_violations: int = Field(description="Speeding episodes that started in the month.")
    per_1000_km: float | None = Field(
        description="Speeding violations per 1,000 km; null: violations but no distance."
    )
    flag_at: float = Field(description="The rate at which a company-month is flagged.")
    flagged: bool = Field(description="Rate ≥ flag_at (transport badge revoked).")
    bands: dict[str, int] = Field(description="Speeding violations per band (km/h over).")
    drivers: list[DriverKpi] = Field(description="Most violations first.")
    per_vehicle: list[VehicleKpi] = Field(description="Most violations first.")


def add_journey_routes(app: web.Application) -> None:
    api.add_to(app)


# --- confinement ---------------------------------------------------------------------------


def caller_company(request: web.Request) -> str | None:
    """The company the caller is confined to (an enterprise user's enterprise), or None."""
    return principal_of(request).enterprise


def check_company(request: web.Request, company: str) -> None:
    """403 (audited) when the caller is confined to another company."""
    principal = principal_of(request)
    if principal.enterprise is not None and principal.enterprise != company:
        reason = f"company {company!r} is not {principal.enterprise}"
        audit(request, principal.name, "access", DENIED, reason=reason, company=company)
        raise error_answer(web.HTTPForbidden, reason, company=company)


def check_vehicle(request: web.Request, plate: str) -> str:
    """The vehicle's company: 404 for an unknown plate, 403 (audited) for another company's."""
    vehicle = fleet_of(request).vehicles.get(plate)
    if vehicle is None:
        raise error_answer(web.HTTPNotFound, f"no vehicle {plate!r}")
    principal = principal_of(request)
    if principal.enterprise is not None and principal.enterprise != vehicle.company:
        reason = f"vehicle {plate!r} is not one of company {principal.enterprise}'s"
        audit(request, principal.name, "access", DENIED, reason=reason, vehicle=plate)
        raise error_answer(web.HTTPForbidden, reason, vehicle=plate)
    return vehicle.company


def local_day(text: str | None) -> tuple[date, int, int]:
    """A local day (YYYY-MM-DD, default today) and its UTC ms bounds; 400 for no date."""
    try:
        day = date.fromisoformat(text) if text else datetime.now(LOCAL_TZ).date()
    except ValueError:
        raise error_answer(web.HTTPBadRequest, f"`date` {text!r} is no date") from None
    start = datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)
    end = start + timedelta(days=1)
    return day, int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def fleet_of(request: web.Request) -> FleetRegistry:
    return request.app[appkeys.PIPELINE].vehicles.fleet


# --- routes --------------------------------------------------------------------------------


@api.get("/api/v1/vehicles/{id}/trips", tag="vehicles", errors=(403, 404))
async def vehicle_trips(request: web.Request, id: str, query: TripsQuery) -> TripsAnswer:
    """A vehicle's trips and stops of one local day

    Those that started that day (Asia/Ho_Chi_Minh), oldest first, as the journey kernel found
    them: a trip moves ≥ 200 m and ≥ 180 s, a stop lasts ≥ 300 s, a gap > 1 h ends a trip. A
    transport company's user sees its own vehicles only."""
    company = check_vehicle(request, id)
    day, start_ms, end_ms = local_day(query.date)
    book = request.app[appkeys.JOURNEYS]
    trips = book.trips(id, start_ms, end_ms)
    stops = book.stops(id, start_ms, end_ms)
    return TripsAnswer(
        vehicle=id,
        company=company,
        date=day.isoformat(),
        timezone=TIME_ZONE_NAME,
        distance_km=sum(t.distance_m for t in trips) / 1000,
        trips=[
            TripAnswer.of(
                t,
                start=iso_utc(t.start_ms),
                end=iso_utc(t.end_ms),
                duration_s=(t.end_ms - t.start_ms) / 1000,
                distance_km=t.distance_m / 1000,
            )
            for t in trips
        ],
        stops=[
            StopAnswer.of(
                s,
                start=iso_utc(s.start_ms),
                end=iso_utc(s.end_ms),
                duration_s=(s.end_ms - s.start_ms) / 1000,
            )
            for s in stops
        ],
    )


@api.get(
    "/api/v1/violations",
    tag="vehicles",
    errors=(403,),
    answer=ViolationList,
    answer_media={CSV_MEDIA: {"type": "string", "contentMediaType": CSV_MEDIA}},
)
async def list_violations(request: web.Request, query: ViolationsQuery) -> web.StreamResponse:
    """Journey violations

    Speeding (with its band), continuous / daily / weekly driving time (warnings and
    violations), restricted zones at forbidden hours and lost signal, that started in
    [`since`, `until`), newest first. As JSON (times UTC) or CSV (local times, offset stated).
    A transport company's user sees its own company's only (another `company` or vehicle: 403)."""
    confined = caller_company(request)
    companies: list[str] | None = None
    if query.company:
        check_company(request, query.company)
        companies = [query.company]
    elif confined is not None:
        companies = [confined]
    if query.vehicle and query.vehicle in fleet_of(request).vehicles:
        check_vehicle(request, query.vehicle)
    rows = request.app[appkeys.JOURNEYS].violations(
        companies=companies,
        vehicle=query.vehicle or None,
        driver=query.driver or None,
        kinds=[query.kind] if query.kind else (),
        since_ms=query.since,
        until_ms=query.until,
        limit=query.limit,
    )
    names = {c: e.name for c, e in fleet_of(request).companies.items()}
    answers = [_violation(v, names) for v in rows]
    if query.format == "csv":
        stamp = datetime.now(LOCAL_TZ).strftime("%Y%m%d-%H%M")
        return web.Response(
            body=violations_csv(answers),
            content_type=CSV_MEDIA,
            charset="utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="violations-{stamp}.csv"',
            },
        )
    return respond(ViolationList(count=len(answers), violations=answers))


@api.get("/api/v1/companies/{id}/summary", tag="vehicles", errors=(403, 404))
async def company_month(request: web.Request, id: str, query: SummaryQuery) -> CompanySummaryAnswer:
    """A transport company's monthly speeding KPI

    For a local month: the company's vehicles, trip distance (trips that started in the
    month), speeding violations (episodes that started in it), violations per 1,000 km and the
    flag at 5 or more (the transport badge is revoked), the same per driver and per vehicle,
    and the violations per band (km/h over the limit). A transport company's user sees its
    own company only."""
    check_company(request, id)
    fleet = fleet_of(request)
    company = fleet.companies.get(id)
    if company is None:
        raise error_answer(web.HTTPNotFound, f"no transport company {id!r}")
    month = query.month or datetime.now(LOCAL_TZ).strftime("%Y-%m")
    start_ms, end_ms = month_bounds(month)
    book = request.app[appkeys.JOURNEYS]
    distances = book.distances(id, start_ms, end_ms)
    speeding = book.speeding_counts(id, start_ms, end_ms)
    kpi_config = request.app[appkeys.CONFIG].journeys.kpi
    summary = company_summary(
        [(d.vehicle, d.driver, d.distance_m, d.trips) for d in distances],
        [(s.vehicle, s.driver, s.band, s.count) for s in speeding],
        kpi_config,
    )
    driver_names = {d.licence: d.name for d in fleet.document.drivers}
    return CompanySummaryAnswer(
        company=id,
        name=company.name,
        month=month,
        timezone=TIME_ZONE_NAME,
        vehicles=sum(1 for v in fleet.vehicles.values() if v.company == id),
        active_vehicles=len(summary.vehicles),
        trips=summary.trips,
        distance_km=round(summary.distance_km, 3),
        speeding_violations=summary.violations,
        per_1000_km=_rate(summary.rate),
        flag_at=kpi_config.flag_at,
        flagged=summary.flagged,
        bands=summary.bands,
        drivers=[
            DriverKpi(driver=line.key, name=driver_names.get(line.key, ""), **_line(line))
            for line in summary.drivers
        ],
        per_vehicle=[VehicleKpi(vehicle=line.key, **_line(line)) for line in summary.vehicles],
    )


# --- helpers -------------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[int, int]:
    """[start, end) of a local month, epoch ms."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=LOCAL_TZ)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=LOCAL_TZ)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _rate(rate: float) -> float | None:
    return None if rate == float("inf") else round(rate, 3)


def _line(line: KpiLine) -> dict[str, object]:
    return {
        "violations": line.violations,
        "distance_km": round(line.distance_km, 3),
        "per_1000_km": _rate(line.rate),
    }


def _violation(row: ViolationRow, names: dict[str, str]) -> ViolationAnswer:
    return ViolationAnswer.of(
        row,
        company_name=names.get(row.company, row.company),
        start=iso_utc(row.start_ms),
        end=iso_utc(row.end_ms),
    )


CSV_COLUMNS = (
    "id",
    "kind",
    "level",
    "vehicle",
    "company",
    "company_name",
    "driver",
    "start",
    "end",
    "lat",
    "lon",
    "peak_kmh",
    "limit_kmh",
    "excess_kmh",
    "band",
    "distance_m",
    "threshold_h",
    "zone",
    "detail",
)
LOCAL_OFFSET = "+07:00"


def violations_csv(rows: list[ViolationAnswer]) -> bytes:
    """UTF-8 with a BOM (spreadsheets read Vietnamese names right), CRLF; ``start`` and
    ``end`` in local time with the offset stated in the header and in every value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    zone = f"{TIME_ZONE_NAME}, UTC{LOCAL_OFFSET}"
    writer.writerow(
        [f"{c} ({zone})" if c in ("start", "end") else c for c in CSV_COLUMNS],
    )
    for row in rows:
        values = row.model_dump()
        values["start"] = local_time(row.start)
        values["end"] = local_time(row.end)
        writer.writerow(["" if values[c] is None else values[c] for c in CSV_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode()


def local_time(utc: str | None) -> str:
    """An ISO UTC time as local time with its offset, to the second."""
    if not utc:
        return ""
    moment = datetime.fromisoformat(utc).astimezone(UTC).astimezone(LOCAL_TZ)
    return moment.isoformat(timespec="seconds")
