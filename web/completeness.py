"""Data completeness of a station over local days (Asia/Ho_Chi_Minh, UTC+7, no daylight
saving): the pure counting, on rows as InfluxDB returns them, and the bounded query behind it.

A station owes one record per reporting interval (``interval_s`` in the registry). Day ``d``
is cut into the intervals ``[midnight + k·interval_s, midnight + (k+1)·interval_s)`` for
``k < floor(86400 / interval_s)`` (today: only those already over). Per day and station:

- ``expected``  the number of those intervals;
- ``received``  distinct timestamps stored that day (one record per instant, however many
  parameters it carries: see web/portal_api.py for why timestamps are counted, not fields);
- ``valid`` / ``calibrating`` / ``device_error``  the received records by instrument status
  (00 measuring, 01 calibrating, 02 device error, stored as ``<parameter>_status`` only when
  not 00). A record is classed by its worst value: one parameter in device error makes the
  record a device error, one calibrating (and none in error) a calibration, else it is valid;
- ``missing``   intervals with no record at all, listed as ranges of consecutive intervals
  (``gaps``: start, end exclusive, how many intervals);
- ``surplus``   records beyond one per interval that has any; ``over_frequent`` when the
  surplus is more than :data:`OVER_FREQUENT_SHARE` of those intervals: the station sends more
  often than registered (clock jitter putting two records in one interval now and then
  does not raise it).

``ratio`` is ``min(received, expected) / expected`` — the same measure as the portal's daily
completeness — and ``valid_ratio`` ``min(valid, expected) / expected``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from ioc.clock import LOCAL_TZ
from ioc.messages import InstrumentStatus
from ioc.registry import Station

DAY_MS = 86_400_000
LOCAL_OFFSET_MS = int(LOCAL_TZ.utcoffset(None).total_seconds() * 1000)
OVER_FREQUENT_SHARE = 0.1
PARALLEL_QUERIES = 4
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def local_day(ts_ms: int) -> int:
    """The local (UTC+7) day of a UTC epoch-ms time, as days since 1970-01-01."""
    return (ts_ms + LOCAL_OFFSET_MS) // DAY_MS


def day_start_ms(day: int) -> int:
    """UTC epoch ms of the local midnight starting ``day``."""
    return day * DAY_MS - LOCAL_OFFSET_MS


def day_label(day: int) -> str:
    return date.fromordinal(_EPOCH_ORDINAL + day).isoformat()


def day_of(when: date) -> int:
    return when.toordinal() - _EPOCH_ORDINAL


def expected_intervals(interval_s: float, seconds: float) -> int:
    """Reporting intervals of ``interval_s`` in ``seconds``: one value is due per interval."""
    return int(max(seconds, 0.0) // interval_s)


def ratio(part: int, expected: int) -> float | None:
    """``part / expected`` capped at 1, to 4 decimals; None while nothing is expected."""
    if expected <= 0:
        return None
    return round(min(part / expected, 1.0), 4)


@dataclass(frozen=True, slots=True)
class Record:
    """One stored instant of a station and the worst instrument status of its values."""

    ts_ms: int
    status: InstrumentStatus = InstrumentStatus.MEASURING


@dataclass(frozen=True, slots=True)
class Gap:
    """Consecutive intervals without a record: [start_ms, end_ms)."""

    start_ms: int
    end_ms: int
    intervals: int


@dataclass(slots=True)
class Counts:
    expected: int = 0
    received: int = 0
    valid: int = 0
    calibrating: int = 0
    device_error: int = 0
    missing: int = 0
    surplus: int = 0

    def add(self, other: Counts) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def ratio(self) -> float | None:
        return ratio(self.received, self.expected)

    @property
    def valid_ratio(self) -> float | None:
        return ratio(self.valid, self.expected)

    @property
    def over_frequent(self) -> bool:
        return self.surplus > OVER_FREQUENT_SHARE * (self.expected - self.missing)


@dataclass(slots=True)
class DayCompleteness:
    day: int
    counts: Counts
    partial: bool  # the day is not over yet


@dataclass(slots=True)
class StationCompleteness:
    station_id: str
    interval_s: float
    days: list[DayCompleteness]
    gaps: list[Gap]
    total: Counts = field(default_factory=Counts)


def record_of(row: Mapping[str, Any], parameters: Iterable[str]) -> Record:
    """The record of an InfluxDB row of measurement ``reading`` (``time`` in epoch ms)."""
    worst = InstrumentStatus.MEASURING
    for key in parameters:
        code = row.get(f"{key}_status")
        if isinstance(code, int) and code in InstrumentStatus._value2member_map_:
            worst = max(worst, InstrumentStatus(code))
    return Record(int(row["time"]), worst)


def completeness(
    station_id: str,
    interval_s: float,
    records: Iterable[Record],
    first_day: int,
    last_day: int,
    now_ms: int,
) -> StationCompleteness:
    """Counts per local day in ``first_day..last_day`` and in total, and the gaps, of the
    records of one station. Days after ``now_ms`` expect nothing; today only the intervals
    already over. Records outside the days are ignored; the same timestamp counts once."""
    interval_ms = interval_s * 1000
    by_slot: dict[tuple[int, int], list[InstrumentStatus]] = {}
    for record in sorted({r.ts_ms: r for r in records}.values(), key=lambda r: r.ts_ms):
        day = local_day(record.ts_ms)
        if first_day <= day <= last_day:
            slot = int((record.ts_ms - day_start_ms(day)) // interval_ms)
            by_slot.setdefault((day, slot), []).append(record.status)
    # One past the last interval of each day holding a record: records past the expected
    # intervals (the tail of a day, or ahead of now) are counted, not missing.
    data_slots: dict[int, int] = {}
    for day, slot in by_slot:
        data_slots[day] = max(data_slots.get(day, 0), slot + 1)
    result = StationCompleteness(station_id, interval_s, [], [])
    gap_start: int | None = None
    gap_slots = 0
    for day in range(first_day, last_day + 1):
        start = day_start_ms(day)
        partial = start <= now_ms < start + DAY_MS
        expected = expected_intervals(interval_s, min(now_ms - start, DAY_MS) / 1000)
        counts = Counts(expected=expected)
        for slot in range(max(expected, data_slots.get(day, 0))):
            statuses = by_slot.get((day, slot), [])
            counts.received += len(statuses)
            counts.valid += statuses.count(InstrumentStatus.MEASURING)
            counts.calibrating += statuses.count(InstrumentStatus.CALIBRATING)
            counts.device_error += statuses.count(InstrumentStatus.DEVICE_ERROR)
            counts.surplus += max(len(statuses) - 1, 0)
            slot_start = int(start + slot * interval_ms)
            if slot < expected and not statuses:
                counts.missing += 1
                gap_start = slot_start if gap_start is None else gap_start
                gap_slots += 1
            elif gap_start is not None:
                result.gaps.append(Gap(gap_start, slot_start, gap_slots))
                gap_start, gap_slots = None, 0
        if gap_start is not None and expected < expected_intervals(interval_s, DAY_MS / 1000):
            # The day's last intervals are not due yet (today): the gap ends where they start.
            result.gaps.append(Gap(gap_start, int(start + expected * interval_ms), gap_slots))
            gap_start, gap_slots = None, 0
        result.days.append(DayCompleteness(day, counts, partial))
        result.total.add(counts)
    if gap_start is not None:
        end = day_start_ms(last_day) + expected_intervals(interval_s, DAY_MS / 1000) * interval_ms
        result.gaps.append(Gap(gap_start, int(end), gap_slots))
    return result


class Store(Protocol):
    async def query(self, influxql: str) -> list[dict[str, Any]]: ...


async def station_completeness(
    store: Store, stations: Sequence[Station], first_day: int, last_day: int, now_ms: int
) -> list[StationCompleteness]:
    """:func:`completeness` of each station, read from InfluxDB: one query per station over
    the days (its own parameters and their statuses, at most ``days · 86400 / interval_s``
    rows), a few at a time. Raises ioc.errors.StoreError when the database fails."""
    start, end = day_start_ms(first_day), day_start_ms(last_day + 1)
    limit = asyncio.Semaphore(PARALLEL_QUERIES)

    async def one(station: Station) -> StationCompleteness:
        rows: list[dict[str, Any]] = []
        if station.parameters:
            fields = ",".join(f'"{k}","{k}_status"' for k in station.parameters)
            async with limit:
                rows = await store.query(
                    f'SELECT {fields} FROM "reading" WHERE "station" = \'{station.id}\' '
                    f"AND time >= {start}ms AND time < {end}ms"
                )
        records = [record_of(row, station.parameters) for row in rows]
        return completeness(station.id, station.interval_s, records, first_day, last_day, now_ms)

    return list(await asyncio.gather(*(one(s) for s in stations)))
