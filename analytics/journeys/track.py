"""A batch of fixes laid out for the rules: sorted by (vehicle, time), each fix next to the
vehicle's previous fix (from this batch, or carried from the batches before), with the time and
great-circle distance of the segment between them.

The helpers are the vectorised building blocks of every rule: forward fill of an anchor,
cumulative sums restarting at anchors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_A = TypeVar("_A", bound=np.ndarray[Any, Any])

NO_TIME = np.iinfo(np.int64).min // 4  # "no fix yet"; differences with it never overflow
EARTH_RADIUS_M = 6_371_008.8
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Carry:
    """The last processed fix of each vehicle (``t == NO_TIME``: none yet)."""

    t: IntArray
    lat: FloatArray
    lon: FloatArray
    moving: BoolArray

    @classmethod
    def empty(cls, vehicles: int) -> Carry:
        return cls(
            np.full(vehicles, NO_TIME, dtype=np.int64),
            np.zeros(vehicles),
            np.zeros(vehicles),
            np.zeros(vehicles, dtype=bool),
        )

    def update(self, track: Track) -> None:
        v, e = track.vehicle[track.last], track.last
        self.t[v], self.lat[v], self.lon[v] = track.t[e], track.lat[e], track.lon[e]
        self.moving[v] = track.moving[e]


@dataclass(frozen=True, slots=True)
class Track:
    vehicle: IntArray
    t: IntArray
    lat: FloatArray
    lon: FloatArray
    speed: FloatArray
    moving: BoolArray
    first: BoolArray  # first fix of its vehicle in the batch
    last: BoolArray
    group_start: IntArray  # index of the first fix of the fix's vehicle in the batch
    has_prev: BoolArray  # the vehicle had a fix before this one
    prev_t: IntArray
    prev_lat: FloatArray
    prev_lon: FloatArray
    prev_moving: BoolArray
    dt: IntArray  # ms since the previous fix (0 without one)
    dist: FloatArray  # m from the previous fix (0 without one)

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def build(
        cls,
        vehicle: IntArray,
        t: IntArray,
        lat: FloatArray,
        lon: FloatArray,
        speed: FloatArray,
        moving: BoolArray,
        carry: Carry,
        first: BoolArray | None = None,
        last: BoolArray | None = None,
    ) -> Track:
        """``first`` and ``last`` (of :func:`bounds`) when the caller has them."""
        if first is None or last is None:
            first, last = bounds(vehicle)
        group_start = ffill(first)
        head = vehicle[first]
        prev_t, prev_lat, prev_lon, prev_moving = (
            shift(t, first, carry.t[head]),
            shift(lat, first, carry.lat[head]),
            shift(lon, first, carry.lon[head]),
            shift(moving, first, carry.moving[head]),
        )
        has_prev = prev_t != NO_TIME
        dt = np.where(has_prev, t - prev_t, 0)
        dist = np.where(has_prev, haversine_m(prev_lat, prev_lon, lat, lon), 0.0)
        return cls(
            vehicle, t, lat, lon, speed, moving, first, last, group_start, has_prev,
            prev_t, prev_lat, prev_lon, prev_moving, dt, dist,
        )  # fmt: skip


def bounds(vehicle: IntArray) -> tuple[BoolArray, BoolArray]:
    """(first, last): whether each fix of a batch sorted by vehicle is its vehicle's first,
    and last, in the batch. The batch must not be empty."""
    n = len(vehicle)
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(vehicle[1:], vehicle[:-1], out=first[1:])
    last = np.empty(n, dtype=bool)
    last[:-1] = first[1:]
    last[-1] = True
    return first, last


def take_rows(
    into: object, previous: object, names: tuple[str, ...], dst: IntArray, src: IntArray
) -> None:
    """``into.name[dst] = previous.name[src]`` for each per-vehicle array ``name``: the rows
    of the vehicles kept across a change of the vehicle table."""
    for name in names:
        getattr(into, name)[dst] = getattr(previous, name)[src]


def shift(values: _A, first: BoolArray, carried: _A) -> _A:
    """values[i - 1], or the carried value at the first fix of each vehicle."""
    out: _A = np.empty_like(values)
    out[1:] = values[:-1]
    out[first] = carried
    return out


def haversine_m(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) * 0.5) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) * 0.5) ** 2
    )
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0))))


def true_at(mask: npt.NDArray[Any]) -> IntArray:
    """Indices where a 1-D array is non-zero (``np.flatnonzero`` without its wrappers: it is
    called a few dozen times per batch)."""
    return mask.nonzero()[0]


def ffill(anchor: BoolArray) -> IntArray:
    """Index of the last anchor at or before each position (-1 before the first)."""
    return np.maximum.accumulate(np.where(anchor, np.arange(len(anchor)), -1))


def restarting_cumsum(values: FloatArray, anchor: BoolArray, base: FloatArray) -> FloatArray:
    """Cumulative sum of ``values`` restarting at every anchor at ``base[anchor]`` (the anchor's
    own value included). Position 0 must be an anchor."""
    total = np.cumsum(values)
    a = ffill(anchor)
    return np.asarray(base[a] + total - total[a] + values[a])


def band_of(excess: float, edges: tuple[float, float, float]) -> int:
    """0..3 for the bands [tol, e0), [e0, e1], (e1, e2], > e2 (the decrees' wording)."""
    a, b, c = edges
    if excess < a:
        return 0
    if excess <= b:
        return 1
    return 2 if excess <= c else 3
