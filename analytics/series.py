"""Event-time state shared by every analytics stage.

* :class:`SeriesTable` numbers each (station, parameter) pair as it is first seen: a *series*.
* :class:`Points` is a batch of values as numpy arrays, sorted by series then time.
* :class:`HourlyStore` keeps, per series, the sum, count and maximum of the values of each
  UTC clock hour in a ring of :data:`KEEP_HOURS` hours. A late value lands in the hour it
  belongs to for as long as that hour is in the ring.

Everything is keyed by station id, so stations can later be split across processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ioc.messages import Reading
from ioc.registry import Station, StationRegistry, normalize_unit

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

HOUR_MS = 3_600_000
KEEP_HOURS = 48  # a local day, the 8 hours before it (O3 8 h) and the NowCast's 12 hours
NO_TIME = np.iinfo(np.int64).min


class SeriesTable:
    """Stations of the registry by index, and a series index per (station, parameter): first
    every parameter of the registry (the measured series), then others as they appear."""

    def __init__(self, registry: StationRegistry) -> None:
        self.stations: list[Station] = list(registry)
        self.station_index = {s.id: i for i, s in enumerate(self.stations)}
        self.lookup: dict[str, dict[str, int]] = {s.id: {} for s in self.stations}
        self.station_of: list[int] = []
        self.parameter_of: list[str] = []
        self._station_array: IntArray = np.zeros(0, np.int64)
        for station in self.stations:
            for parameter in station.parameters:
                self.add(station.id, parameter)
        self.measured = len(self.station_of)  # series 0..measured-1 are the registry's

    def __len__(self) -> int:
        return len(self.station_of)

    def add(self, station_id: str, parameter: str) -> int:
        """The series of a known station's parameter, created on first use."""
        by_parameter = self.lookup[station_id]
        index = by_parameter.get(parameter)
        if index is None:
            index = by_parameter[parameter] = len(self.station_of)
            self.station_of.append(self.station_index[station_id])
            self.parameter_of.append(parameter)
        return index

    def find(self, station: int, parameter: str) -> int:
        """Series index, or -1 when the station never sent that parameter."""
        return self.lookup[self.stations[station].id].get(parameter, -1)

    @property
    def station_array(self) -> IntArray:
        if len(self._station_array) != len(self.station_of):
            self._station_array = np.asarray(self.station_of, dtype=np.int64)
        return self._station_array

    def stations_of_kinds(self, kinds: Iterable[str]) -> IntArray:
        """Indices of the stations of these kinds."""
        wanted = set(kinds)
        return np.array(
            [i for i, s in enumerate(self.stations) if s.kind in wanted], dtype=np.int64
        )

    def registry_series(
        self, parameter: str, units: dict[str, float] | None = None
    ) -> tuple[IntArray, FloatArray]:
        """Per station: the series of ``parameter`` (-1 if the registry lists none) and the
        factor to the unit wanted (``units``: normalised unit -> factor; NaN if not listed)."""
        series, factors = [], []
        for station in self.stations:
            spec = station.parameters.get(parameter)
            if spec is None:
                series.append(-1)
                factors.append(np.nan)
            else:
                series.append(self.lookup[station.id][parameter])
                factors.append(
                    1.0 if units is None else units.get(normalize_unit(spec.unit), np.nan)
                )
        return np.array(series, dtype=np.int64), np.array(factors, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Points:
    """Values of a batch, sorted by series then time, without NaN or duplicates.

    ``late`` marks values received after their clock hour ended (plus a grace period),
    ``no_status`` values sent without an instrument status (``Reading.status_missing``).
    """

    series: IntArray
    ts: IntArray
    value: FloatArray
    late: BoolArray
    no_status: BoolArray

    @classmethod
    def build(
        cls,
        series: IntArray,
        ts: IntArray,
        value: FloatArray,
        late: BoolArray,
        no_status: BoolArray | None = None,
    ) -> Points:
        """Points of unsorted arrays; ``no_status`` None: every value had its status."""
        flags = np.zeros(len(value), dtype=bool) if no_status is None else no_status
        points = cls(series, ts, value, late, flags)
        finite = np.isfinite(value)
        if not finite.all():
            points = points.select(finite)
        key = (points.series << 42) + points.ts  # epoch ms < 2**42 until 2109
        if np.any(key[1:] < key[:-1]):
            order = np.argsort(key, kind="stable")
            points, key = points.select(order), key[order]
        duplicate = key[1:] == key[:-1]
        if duplicate.any():  # the same (series, time) twice: keep the first
            points = points.select(np.append(True, ~duplicate))
        return points

    def __len__(self) -> int:
        return len(self.value)

    def select(self, which: npt.NDArray[np.bool_] | npt.NDArray[np.intp] | IntArray) -> Points:
        """The points of a mask or an index array."""
        return Points(
            self.series[which],
            self.ts[which],
            self.value[which],
            self.late[which],
            self.no_status[which],
        )

    def by_period(self, period_ms: int) -> Iterator[Points]:
        """The points of each ``period_ms`` (aligned to the epoch) in time order, each still
        sorted by series then time."""
        if not len(self):
            return
        key = (self.series << 42) + self.ts
        series = self.series[np.append(True, self.series[1:] != self.series[:-1])]
        bounds = np.arange(self.ts.min() // period_ms, self.ts.max() // period_ms + 2) * period_ms
        edges = np.searchsorted(key, (series[:, None] << 42) + bounds[None, :])
        for lo, hi in zip(edges.T[:-1], edges.T[1:], strict=True):
            counts = hi - lo
            if counts.any():
                starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
                yield self.select(starts + np.arange(counts.sum()))


def points_from_readings(
    readings: Iterable[Reading], table: SeriesTable, late_grace_ms: int
) -> tuple[Points, IntArray]:
    """The valid values of the readings as :class:`Points`, and the newest reading time of
    each station (:data:`NO_TIME` if none). Values whose instrument was not measuring
    normally are left out; the station still counts as reporting."""
    series: list[int] = []
    values: list[float] = []
    no_status: list[int] = []  # positions of values sent without a status
    meta: list[tuple[int, int, int, int]] = []  # station, time, received, values kept
    lookup, station_index = table.lookup, table.station_index
    for r in readings:
        by_parameter = lookup.get(r.station_id)
        if by_parameter is None:
            continue
        kept = {p: v for p, v in r.values.items() if p not in r.status} if r.status else r.values
        if r.status_missing:
            no_status += [len(series) + i for i, p in enumerate(kept) if p in r.status_missing]
        try:
            series += [by_parameter[p] for p in kept]
        except KeyError:
            series += [table.add(r.station_id, p) for p in kept]
        values += kept.values()
        meta.append((station_index[r.station_id], r.ts_ms, r.received_ms, len(kept)))
    info = np.array(meta, dtype=np.int64).reshape(-1, 4)
    station, ts, received, counts = info.T
    seen = np.full(len(table.stations), NO_TIME, dtype=np.int64)
    np.maximum.at(seen, station, ts)
    late = (received - late_grace_ms) // HOUR_MS > ts // HOUR_MS
    unconfirmed = np.zeros(len(values), dtype=bool)
    unconfirmed[no_status] = True
    points = Points.build(
        np.asarray(series, dtype=np.int64),
        np.repeat(ts, counts),
        np.asarray(values, dtype=np.float64),
        np.repeat(late, counts),
        unconfirmed,
    )
    return points, seen


class HourlyStore:
    """Per series and UTC hour: sum, count and max of the values, in a ring of hours."""

    def __init__(self) -> None:
        self.sums = np.zeros((0, KEEP_HOURS))
        self.counts = np.zeros((0, KEEP_HOURS))
        self.maxs = np.zeros((0, KEEP_HOURS))
        self.hours = np.zeros((0, KEEP_HOURS), dtype=np.int64)
        self.newest = np.zeros(0, dtype=np.int64)  # newest value time per series, ms

    def ensure(self, n_series: int) -> None:
        have = len(self.newest)
        if n_series <= have:
            return
        grow = max(n_series, 2 * have, 64) - have
        self.sums = np.concatenate([self.sums, np.zeros((grow, KEEP_HOURS))])
        self.counts = np.concatenate([self.counts, np.zeros((grow, KEEP_HOURS))])
        self.maxs = np.concatenate([self.maxs, np.full((grow, KEEP_HOURS), -np.inf)])
        self.hours = np.concatenate([self.hours, np.full((grow, KEEP_HOURS), -1, np.int64)])
        self.newest = np.concatenate([self.newest, np.full(grow, NO_TIME, np.int64)])

    def add(self, points: Points) -> None:
        """Add values to their hours. A slot holds the newest hour written to it; values of
        an hour older than the slot's (beyond the ring) are left out."""
        if not len(points):
            return
        self.ensure(int(points.series.max()) + 1)
        hour = points.ts // HOUR_MS
        flat = points.series * KEEP_HOURS + hour % KEEP_HOURS
        stored = self.hours.ravel()
        target = stored.copy()
        np.maximum.at(target, flat, hour)
        renew = np.flatnonzero(target != stored)
        for array, fresh in ((self.sums, 0.0), (self.counts, 0.0), (self.maxs, -np.inf)):
            array.ravel()[renew] = fresh
        stored[renew] = target[renew]
        keep = hour == target[flat]
        flat, value = flat[keep], points.value[keep]
        np.add.at(self.sums.ravel(), flat, value)
        np.add.at(self.counts.ravel(), flat, 1.0)
        np.maximum.at(self.maxs.ravel(), flat, value)
        np.maximum.at(self.newest, points.series, points.ts)

    def gather(
        self, series: npt.ArrayLike, hours: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(sum, count, max) of each (series, hour); 0, 0, -inf when not held. ``series``
        -1 means no series."""
        s, h = np.broadcast_arrays(np.asarray(series), np.asarray(hours))
        if not len(self.newest):
            return np.zeros(s.shape), np.zeros(s.shape), np.full(s.shape, -np.inf)
        known = (s >= 0) & (s < len(self.newest))
        s_safe = np.where(known, s, 0)
        flat = s_safe * KEEP_HOURS + h % KEEP_HOURS
        ok = known & (self.hours.ravel()[flat] == h)
        return (
            np.where(ok, self.sums.ravel()[flat], 0.0),
            np.where(ok, self.counts.ravel()[flat], 0.0),
            np.where(ok, self.maxs.ravel()[flat], -np.inf),
        )

    def means(self, series: npt.ArrayLike, hours: npt.ArrayLike) -> FloatArray:
        """Hourly mean of each (series, hour); NaN without data."""
        total, count, _ = self.gather(series, hours)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, np.nan)

    def newest_of(self, series: IntArray) -> IntArray:
        """Newest value time of each series (:data:`NO_TIME` if none)."""
        if len(series):
            self.ensure(int(series.max()) + 1)
        return self.newest[series]
