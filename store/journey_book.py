"""SQLite journal of transport journeys (issue #13): what the journey kernel found, kept for the
year the law asks (Circular 09/2015, 71/2024: journey data ≥ 1 year), for the trips of a day,
the violations list and the companies' monthly KPI (web/journeys_api.py).

One writer: the vehicle pipeline (``VehiclePipeline._apply``) calls :meth:`JourneyBook.record`
with each batch's, tick's or flush's :class:`~analytics.journeys.JourneyOutput`: one transaction,
one ``executemany`` per table, nothing at all for a batch without events (most of them). Like
the alert store (alerts/store.py): WAL journal, ``synchronous=NORMAL``; readers never wait.

Each row carries the vehicle's company and driver *when it was written* (from the fleet
registry; a vehicle sold to another company keeps its history with the first). The driver is
the vehicle's registered driver (``vehicles[].driver``).

Schema (``PRAGMA user_version`` 1)::

    trips       vehicle, company, driver, start_ms, end_ms, start/end lat lon, distance_m,
                ended_by (stop, gap, flush); one per (vehicle, start_ms)
    stops       vehicle, company, start_ms, end_ms, lat, lon; one per (vehicle, start_ms)
    violations  id, kind, level, vehicle, company, driver, start_ms, end_ms, lat, lon, and
                per kind: peak_kmh, limit_kmh, excess_kmh, band, fixes, distance_m (speeding);
                threshold_h (driving time); zone, detail (restricted zone: the class and hours;
                signal lost: whether it was moving); one per (kind, level, vehicle, start_ms)

Kinds of violation: ``speeding``, ``continuous_driving``, ``daily_driving``,
``weekly_driving`` (level ``warning`` or ``violation``), ``zone_forbidden`` and
``signal_lost`` (level ``warning``): a gap in the vehicle's records, written once its next fix
came (a vehicle silent now is the live alert ``journey.silent``, not a violation yet: its
backlog may still fill the silence). Zone enter
and exit events are not kept (the wall's news, not the regulator's).

A failure to write (disk full, file locked) is logged and the batch's events are lost from the
journal only: the positions are already stored (InfluxDB) and the alerts still raised.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analytics.journeys import JourneyOutput

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS trips (
    vehicle TEXT NOT NULL,
    company TEXT NOT NULL,
    driver TEXT,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    start_lat REAL NOT NULL,
    start_lon REAL NOT NULL,
    end_lat REAL NOT NULL,
    end_lon REAL NOT NULL,
    distance_m REAL NOT NULL,
    ended_by TEXT NOT NULL,
    PRIMARY KEY (vehicle, start_ms)
);
CREATE INDEX IF NOT EXISTS trips_by_company ON trips (company, start_ms);
CREATE INDEX IF NOT EXISTS trips_by_start ON trips (start_ms);
CREATE TABLE IF NOT EXISTS stops (
    vehicle TEXT NOT NULL,
    company TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    PRIMARY KEY (vehicle, start_ms)
);
CREATE INDEX IF NOT EXISTS stops_by_start ON stops (start_ms);
CREATE TABLE IF NOT EXISTS violations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    level TEXT NOT NULL,
    vehicle TEXT NOT NULL,
    company TEXT NOT NULL,
    driver TEXT,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    peak_kmh REAL,
    limit_kmh REAL,
    excess_kmh REAL,
    band TEXT,
    fixes INTEGER,
    distance_m REAL,
    threshold_h REAL,
    zone TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS violations_once ON violations (kind, level, vehicle, start_ms);
CREATE INDEX IF NOT EXISTS violations_by_company ON violations (company, start_ms);
CREATE INDEX IF NOT EXISTS violations_by_vehicle ON violations (vehicle, start_ms);
CREATE INDEX IF NOT EXISTS violations_by_start ON violations (start_ms);
"""

VIOLATION_KINDS = (
    "speeding",
    "continuous_driving",
    "daily_driving",
    "weekly_driving",
    "zone_forbidden",
    "signal_lost",
)
_VIOLATION_COLUMNS = (
    "kind",
    "level",
    "vehicle",
    "company",
    "driver",
    "start_ms",
    "end_ms",
    "lat",
    "lon",
    "peak_kmh",
    "limit_kmh",
    "excess_kmh",
    "band",
    "fixes",
    "distance_m",
    "threshold_h",
    "zone",
    "detail",
)
_SAVE_VIOLATION = (
    f"INSERT INTO violations ({', '.join(_VIOLATION_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _VIOLATION_COLUMNS)}) "
    "ON CONFLICT (kind, level, vehicle, start_ms) DO UPDATE SET "
    "end_ms = COALESCE(excluded.end_ms, end_ms)"
)
_SAVE_TRIP = (
    "INSERT OR REPLACE INTO trips (vehicle, company, driver, start_ms, end_ms, start_lat, "
    "start_lon, end_lat, end_lon, distance_m, ended_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SAVE_STOP = (
    "INSERT OR REPLACE INTO stops (vehicle, company, start_ms, end_ms, lat, lon) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class TripRow:
    vehicle: str
    company: str
    driver: str | None
    start_ms: int
    end_ms: int
    start_lat: float
    start_lon: float
    end_lat: float
    end_lon: float
    distance_m: float
    ended_by: str


@dataclass(frozen=True, slots=True)
class StopRow:
    vehicle: str
    company: str
    start_ms: int
    end_ms: int
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class ViolationRow:
    id: int
    kind: str
    level: str  # "violation" or "warning"
    vehicle: str
    company: str
    driver: str | None
    start_ms: int
    end_ms: int | None
    lat: float
    lon: float
    peak_kmh: float | None = None
    limit_kmh: float | None = None
    excess_kmh: float | None = None
    band: str | None = None
    fixes: int | None = None
    distance_m: float | None = None
    threshold_h: float | None = None
    zone: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DistanceRow:
    """Trip distance of one vehicle and driver in a period."""

    vehicle: str
    driver: str | None
    distance_m: float
    trips: int


@dataclass(frozen=True, slots=True)
class SpeedingCount:
    """Speeding violations of one vehicle and driver in one band in a period."""

    vehicle: str
    driver: str | None
    band: str
    count: int


class JourneyBook:
    """``company_of`` and ``driver_of``: by plate, from the fleet registry (read when a row is
    written: a live mapping is fine)."""

    def __init__(
        self,
        path: str,
        company_of: Mapping[str, str] | None = None,
        driver_of: Mapping[str, str | None] | None = None,
    ) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        with self._db:
            self._db.executescript(SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._company_of = company_of or {}
        self._driver_of = driver_of or {}
        self.written = 0  # rows written since start
        self.failures = 0  # batches that could not be written

    def follow_fleet(
        self, company_of: Mapping[str, str], driver_of: Mapping[str, str | None]
    ) -> None:
        """A changed transport registry: rows written from now on name these."""
        self._company_of, self._driver_of = company_of, driver_of

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._db:
            yield

    # --- writing ---------------------------------------------------------------------------

    def record(self, out: JourneyOutput) -> None:
        """The events of one batch, tick or flush, in one transaction; never raises."""
        if (
            not (out.trips or out.stops or out.speeding or out.driving or out.signal)
            and not out.zone_violations
        ):
            return
        trips, stops, violations = self._rows(out)
        try:
            with self._db:
                if trips:
                    self._db.executemany(_SAVE_TRIP, trips)
                if stops:
                    self._db.executemany(_SAVE_STOP, stops)
                if violations:
                    self._db.executemany(_SAVE_VIOLATION, violations)
        except sqlite3.Error:
            self.failures += 1
            log.exception(
                "journey journal: %d trips, %d stops, %d violations not written",
                len(trips),
                len(stops),
                len(violations),
            )
            return
        self.written += len(trips) + len(stops) + len(violations)

    def _rows(self, out: JourneyOutput) -> tuple[list[tuple[Any, ...]], ...]:
        company, driver = self._company_of, self._driver_of
        trips = [
            (
                t.vehicle,
                company.get(t.vehicle, ""),
                driver.get(t.vehicle),
                t.start_ms,
                t.end_ms,
                t.start_lat,
                t.start_lon,
                t.end_lat,
                t.end_lon,
                t.distance_m,
                t.ended_by,
            )
            for t in out.trips
        ]
        stops = [
            (s.vehicle, company.get(s.vehicle, ""), s.start_ms, s.end_ms, s.lat, s.lon)
            for s in out.stops
        ]

        def violation(kind: str, level: str, vehicle: str, **fields: Any) -> tuple[Any, ...]:
            """A row of ``violations``: the columns not given are empty."""
            values = {"company": company.get(vehicle, ""), "driver": driver.get(vehicle)}
            values |= {"kind": kind, "level": level, "vehicle": vehicle, "detail": ""} | fields
            return tuple(values.get(column) for column in _VIOLATION_COLUMNS)

        violations = [
            violation(
                "speeding",
                "violation",
                s.vehicle,
                start_ms=s.start_ms,
                end_ms=s.end_ms,
                lat=s.lat,
                lon=s.lon,
                peak_kmh=s.peak_kmh,
                limit_kmh=s.limit_kmh,
                excess_kmh=s.excess_kmh,
                band=s.band,
                fixes=s.fixes,
                distance_m=s.distance_m,
            )
            for s in out.speeding
        ]
        violations += [
            violation(
                f"{d.rule}_driving",
                d.kind,
                d.vehicle,
                start_ms=d.at_ms,
                end_ms=d.at_ms,
                lat=d.lat,
                lon=d.lon,
                threshold_h=d.threshold_h,
            )
            for d in out.driving
        ]
        violations += [
            violation(
                "zone_forbidden",
                "violation",
                z.vehicle,
                start_ms=z.at_ms,
                end_ms=z.at_ms,
                lat=z.lat,
                lon=z.lon,
                zone=z.zone,
                detail=f"{z.vehicle_class} {z.hours}",
            )
            for z in out.zone_violations
        ]
        violations += [
            violation(
                "signal_lost",
                "warning",
                lost.vehicle,
                start_ms=lost.last_ms,
                end_ms=lost.restored_ms,
                lat=lost.lat,
                lon=lost.lon,
                detail="moving" if lost.moving else "stopped",
            )
            for lost in out.signal
            if lost.restored_ms is not None
        ]
        return trips, stops, violations

    def purge(self, before_ms: int) -> int:
        """Delete what started before ``before_ms`` (retention); how many rows went."""
        deleted = 0
        with self._db:
            for table in ("trips", "stops", "violations"):
                cursor = self._db.execute(f"DELETE FROM {table} WHERE start_ms < ?", (before_ms,))
                deleted += cursor.rowcount
        return deleted

    # --- reading ---------------------------------------------------------------------------

    def trips(self, vehicle: str, since_ms: int, until_ms: int) -> list[TripRow]:
        """Trips of a vehicle that started in [since, until), oldest first."""
        rows = self._db.execute(
            "SELECT * FROM trips WHERE vehicle = ? AND start_ms >= ? AND start_ms < ? "
            "ORDER BY start_ms",
            (vehicle, since_ms, until_ms),
        )
        return [TripRow(**dict(row)) for row in rows]

    def stops(self, vehicle: str, since_ms: int, until_ms: int) -> list[StopRow]:
        """Stops of a vehicle that started in [since, until), oldest first."""
        rows = self._db.execute(
            "SELECT * FROM stops WHERE vehicle = ? AND start_ms >= ? AND start_ms < ? "
            "ORDER BY start_ms",
            (vehicle, since_ms, until_ms),
        )
        return [StopRow(**dict(row)) for row in rows]

    def violations(
        self,
        *,
        companies: Collection[str] | None = None,
        vehicle: str | None = None,
        driver: str | None = None,
        kinds: Collection[str] = (),
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 1000,
    ) -> list[ViolationRow]:
        """Violations that started in [since, until), newest first. ``companies`` None: any;
        empty: none."""
        if companies is not None and not companies:
            return []
        where: list[str] = []
        args: list[Any] = []
        for name, values in (("company", companies), ("kind", kinds or None)):
            if values is not None:
                where.append(f"{name} IN ({', '.join('?' for _ in values)})")
                args += list(values)
        for clause, arg in (
            ("vehicle = ?", vehicle),
            ("driver = ?", driver),
            ("start_ms >= ?", since_ms),
            ("start_ms < ?", until_ms),
        ):
            if arg is not None:
                where.append(clause)
                args.append(arg)
        sql = "SELECT * FROM violations"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.execute(f"{sql} ORDER BY start_ms DESC, id DESC LIMIT ?", (*args, limit))
        return [ViolationRow(**dict(row)) for row in rows]

    def distances(self, company: str, since_ms: int, until_ms: int) -> list[DistanceRow]:
        """Trip distance per vehicle and driver of trips that started in [since, until)."""
        rows = self._db.execute(
            "SELECT vehicle, driver, SUM(distance_m) AS distance_m, COUNT(*) AS trips "
            "FROM trips WHERE company = ? AND start_ms >= ? AND start_ms < ? "
            "GROUP BY vehicle, driver ORDER BY vehicle",
            (company, since_ms, until_ms),
        )
        return [DistanceRow(**dict(row)) for row in rows]

    def speeding_counts(self, company: str, since_ms: int, until_ms: int) -> list[SpeedingCount]:
        """Speeding violations per vehicle, driver and band that started in [since, until)."""
        rows = self._db.execute(
            "SELECT vehicle, driver, band, COUNT(*) AS count FROM violations "
            "WHERE kind = 'speeding' AND company = ? AND start_ms >= ? AND start_ms < ? "
            "GROUP BY vehicle, driver, band ORDER BY vehicle",
            (company, since_ms, until_ms),
        )
        return [SpeedingCount(**dict(row)) for row in rows]
