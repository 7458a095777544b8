"""Validation of decoded vehicle fixes (ingest.positions, ingest.osmand), like the stations'
(ingest.validate): every refusal is a :class:`PositionRejection` with its reason.

Checks, in order:

1. the vehicle is known (``unknown_vehicle``): a lookup passed in, any mapping of normalised
   plate → vehicle information; when the information has an ``owner`` attribute and the
   sender is an enterprise (``Origin.owner``), it must be the owner (``not_owner``);
2. the time lies within ``[now - vehicles.max_age_s, now + vehicles.max_future_s]``
   (``bad_timestamp``);
3. latitude and longitude are WGS84 degrees (``out_of_range``) inside the configured area
   plus its margin (``outside_area``);
4. the speed is within 0..``vehicles.max_speed_kmh`` (``out_of_range``);
5. the same vehicle and time was not received before (``duplicate``; remembered for the last
   ``vehicles.dedup_window_fixes`` fixes of each vehicle).

Then two flags, the fix being kept: ``late`` when an earlier-received fix of the vehicle is
newer (a backlog arriving out of order: accepted, analytics orders by event time), and
``gps_jump`` when the distance from the previous fix in event time implies a move faster than
``vehicles.jump_speed_kmh`` (after ``jump_tolerance_m`` of GPS noise). A flagged fix is stored,
but is never the reference for the next one and never counts as speeding. A fix that agrees
with an immediately preceding flagged one is not flagged: the vehicle really moved (a ferry,
a tow truck, a device that was off), and only the first fix after the move is marked.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import replace

import orjson

from ingest.positions import refusal
from ingest.validate import PAYLOAD_KEPT_CHARS, Origin
from ioc.clock import iso_utc
from ioc.messages import PositionFix, PositionRejection, RejectReason
from ioc.vehicles_config import VehiclesConfig

FLAG_GPS_JUMP = "gps_jump"
FLAG_LATE = "late"
EARTH_RADIUS_M = 6_371_008.8  # mean radius
KM_PER_DEGREE_LAT = 111.32
REFERENCE_LOOKBACK = 8  # flagged fixes skipped at most when looking for the reference fix
M_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180  # of a great circle
BOUND_MARGIN = 0.999  # _too_fast's shortcut only well clear of the threshold


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _payload(origin: Origin, fix: PositionFix) -> str:
    """What a refusal keeps: the message as sent, or for a batch (a JSON array) the fix."""
    if origin.payload.lstrip()[:1] != b"[":
        return origin.payload[:PAYLOAD_KEPT_CHARS].decode("utf-8", "replace")
    sent = {"ts": fix.ts_ms, "lat": fix.lat, "lon": fix.lon, "speed": fix.speed_kmh}
    return orjson.dumps(sent).decode()


def _refuse(
    origin: Origin,
    fix: PositionFix,
    rejections: list[PositionRejection],
    index: int | None,
    reason: RejectReason,
    detail: str,
    parameter: str | None = None,
) -> None:
    shown = _payload(origin, fix)
    rejections.append(
        refusal(
            origin, reason, detail, fix.vehicle, parameter=parameter, index=index, payload=shown
        )
    )


class _Track:
    """A vehicle's last fixes in event time (parallel arrays, ~25 bytes a fix)."""

    __slots__ = ("jump", "lat", "lon", "ts")

    def __init__(self) -> None:
        self.ts = array("q")
        self.lat = array("d")
        self.lon = array("d")
        self.jump = array("b")

    def insert(self, at: int, fix: PositionFix, jumped: bool, limit: int) -> None:
        self.ts.insert(at, fix.ts_ms)
        self.lat.insert(at, fix.lat)
        self.lon.insert(at, fix.lon)
        self.jump.insert(at, jumped)
        if len(self.ts) > limit:
            del self.ts[0], self.lat[0], self.lon[0], self.jump[0]

    def remove(self, at: int) -> None:
        del self.ts[at], self.lat[at], self.lon[at], self.jump[at]


class PositionValidator:
    def __init__(self, vehicles: Mapping[str, object], config: VehiclesConfig) -> None:
        """``vehicles``: normalised plate → vehicle information (read on every fix, so a
        registry that changes in place is followed)."""
        self._vehicles = vehicles
        self._max_future_ms = int(config.max_future_s * 1000)
        self._max_age_ms = int(config.max_age_s * 1000)
        self._max_speed = config.max_speed_kmh
        self._jump_mps = config.jump_speed_kmh / 3.6
        self._tolerance_m = config.jump_tolerance_m
        self._window = config.dedup_window_fixes
        area = config.area
        margin_lat = area.margin_km / KM_PER_DEGREE_LAT
        widest = max(abs(area.min_lat - margin_lat), abs(area.max_lat + margin_lat))
        cos = max(math.cos(math.radians(min(widest, 89.0))), 0.01)
        margin_lon = area.margin_km / (KM_PER_DEGREE_LAT * cos)
        self._south = area.min_lat - margin_lat
        self._north = area.max_lat + margin_lat
        self._west = area.min_lon - margin_lon
        self._east = area.max_lon + margin_lon
        self._tracks: dict[str, _Track] = {}

    def follow(self, vehicles: Mapping[str, object]) -> None:
        """Known vehicles from now on (a registry change); tracks of the others are kept."""
        self._vehicles = vehicles

    def validate(
        self,
        origin: Origin,
        fix: PositionFix,
        rejections: list[PositionRejection],
        index: int | None = None,
    ) -> PositionFix | None:
        """``fix`` as it is to be stored (flags added), or None when refused."""
        vehicle = fix.vehicle
        info = self._vehicles.get(vehicle)
        if info is None:
            _refuse(
                origin,
                fix,
                rejections,
                index,
                RejectReason.UNKNOWN_VEHICLE,
                f"vehicle {vehicle!r} is not in the registry",
            )
            return None
        if origin.owner is not None:
            owner = getattr(info, "owner", origin.owner)
            if owner != origin.owner:
                _refuse(
                    origin,
                    fix,
                    rejections,
                    index,
                    RejectReason.NOT_OWNER,
                    f"{origin.owner} may not write vehicle {vehicle}",
                )
                return None
        ts_ms = fix.ts_ms
        if ts_ms - origin.received_ms > self._max_future_ms:
            _refuse(
                origin,
                fix,
                rejections,
                index,
                RejectReason.BAD_TIMESTAMP,
                f"time {iso_utc(ts_ms)} is in the future",
                "ts",
            )
            return None
        if origin.received_ms - ts_ms > self._max_age_ms:
            _refuse(
                origin,
                fix,
                rejections,
                index,
                RejectReason.BAD_TIMESTAMP,
                f"time {iso_utc(ts_ms)} is too old",
                "ts",
            )
            return None
        lat, lon = fix.lat, fix.lon
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            _refuse(
                origin,
                fix,
                rejections,
                index,
                RejectReason.OUT_OF_RANGE,
                f"lat={lat!r}, lon={lon!r} are not WGS84 degrees",
            )
            return None
        if not (self._south <= lat <= self._north and self._west <= lon <= self._east):
            _refuse(
                origin,
                fix,
                rejections,
                index,
                RejectReason.OUTSIDE_AREA,
                f"({lat}, {lon}) is outside the configured area",
            )
            return None
        if not 0.0 <= fix.speed_kmh <= self._max_speed:
            _refuse(
                origin,
                fix,
                rejections,
                index,
                RejectReason.OUT_OF_RANGE,
                f"speed {fix.speed_kmh!r} km/h is outside 0..{self._max_speed:g}",
                "speed",
            )
            return None

        track = self._tracks.get(vehicle)
        if track is None:
            track = self._tracks[vehicle] = _Track()
        times = track.ts
        at = bisect_left(times, ts_ms)
        if at < len(times) and times[at] == ts_ms:
            _refuse(
                origin,
                fix,
                rejections,
                index,
                RejectReason.DUPLICATE,
                f"a fix of {vehicle} at {iso_utc(ts_ms)} was received",
            )
            return None
        late = at < len(times)
        jumped = self._jumped(track, at, ts_ms, lat, lon)
        track.insert(at, fix, jumped, self._window)
        if late or jumped:
            added = {FLAG_LATE} if late else set()
            if jumped:
                added.add(FLAG_GPS_JUMP)
            return replace(fix, flags=fix.flags | added)
        return fix

    def _jumped(self, track: _Track, at: int, ts_ms: int, lat: float, lon: float) -> bool:
        """Whether the move from the previous unflagged fix (in event time) is implausible."""
        reference = at - 1
        stop = at - 1 - REFERENCE_LOOKBACK
        if stop < -1:
            stop = -1
        while reference > stop and track.jump[reference]:
            reference -= 1
        if reference <= stop:
            return False  # no trustworthy fix before this one
        if self._too_fast(track, reference, ts_ms, lat, lon):
            previous = at - 1
            # the fix just before was flagged and this one agrees with it: the vehicle moved
            return not (
                previous != reference
                and track.jump[previous]
                and not self._too_fast(track, previous, ts_ms, lat, lon)
            )
        return False

    def _too_fast(self, track: _Track, i: int, ts_ms: int, lat: float, lon: float) -> bool:
        seconds = (ts_ms - track.ts[i]) / 1000
        plausible = self._jump_mps * seconds
        allowed = (plausible if plausible > 0 else 0.0) + self._tolerance_m
        # An upper bound first (along the meridian, then the parallel: a path at least as
        # long as the great circle): most moves are far below the allowance, and the
        # haversine is only needed near it. The margin covers rounding.
        bound = M_PER_DEGREE * (abs(lat - track.lat[i]) + abs(lon - track.lon[i]))
        if bound < allowed * BOUND_MARGIN:
            return False
        metres = distance_m(track.lat[i], track.lon[i], lat, lon) - self._tolerance_m
        return metres > 0 and metres > plausible

    def validate_all(
        self,
        origin: Origin,
        fixes: Iterable[PositionFix],
        rejections: list[PositionRejection],
    ) -> list[PositionFix]:
        """The accepted ones of ``fixes`` (a batch of one message, in its order)."""
        kept = []
        for fix in fixes:
            checked = self.validate(origin, fix, rejections)
            if checked is not None:
                kept.append(checked)
        return kept

    def forget(self, fixes: Iterable[PositionFix]) -> None:
        """Unmark ``fixes`` as received: validated but not stored (full spool), so when they
        come again they are neither duplicates nor references for the jump check."""
        for fix in fixes:
            track = self._tracks.get(fix.vehicle)
            if track is not None:
                at = bisect_left(track.ts, fix.ts_ms)
                if at < len(track.ts) and track.ts[at] == fix.ts_ms:
                    track.remove(at)

    def vehicles_tracked(self) -> int:
        return len(self._tracks)
