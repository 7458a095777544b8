"""Zones (polygons and circles): enter and exit events, speed limits inside, restricted hours.

Each zone is handled in its own planar frame (metres east and north of its centre, longitude
scaled by cos(latitude): exact enough for zones a few km across). A fix's segment from the
vehicle's previous fix is a *candidate* for a zone when the bounding boxes overlap; only
candidates are looked at, all of a zone's at once:

* whether each end is inside (crossing number for polygons, distance for circles);
* where the segment crosses the boundary (each polygon edge, or the circle's quadratic), so a
  zone crossed between two fixes with no fix inside still gives an enter and an exit, at the
  interpolated time and place. Across a gap (``trips.max_gap_s``) or from no previous fix
  the straight line means nothing: an event is put at the fix if the inside state changed.

A restricted zone (``forbidden`` hours for some classes) gives a :class:`ZoneViolation` when a
vehicle of a banned class enters it, or is inside it, at a forbidden local time: once per stay.
The events of a batch are few; they are applied in time order in a short Python loop that also
keeps the inside / violated state of each (vehicle, zone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analytics.journeys.config import ZoneConfig, minute_of_day
from analytics.journeys.events import ZoneEvent, ZoneViolation
from analytics.journeys.track import HOUR_MS, MINUTE_MS, BoolArray, FloatArray, IntArray, Track

M_PER_DEG = 111_320.0
MARGIN_DEG = 1e-6


@dataclass(frozen=True, slots=True)
class _Zone:
    config: ZoneConfig
    lat0: float
    lon0: float
    kx: float  # metres per degree of longitude
    box: tuple[float, float, float, float]  # min lat, max lat, min lon, max lon
    vertices: FloatArray | None  # (E, 2) x, y, not closed
    radius: float
    limit: FloatArray  # per class, inf without one
    banned: BoolArray | None  # (classes, 1440) forbidden minutes per class
    hours: str

    def xy(self, lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * M_PER_DEG

    def contains(self, x: FloatArray, y: FloatArray) -> BoolArray:
        if self.vertices is None:
            return np.asarray(x * x + y * y <= self.radius * self.radius)
        qx, qy = self.vertices[:, 0], self.vertices[:, 1]
        rx, ry = np.roll(qx, -1), np.roll(qy, -1)
        px, py = x[:, None], y[:, None]
        straddles = (qy > py) != (ry > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = qx + (py - qy) * (rx - qx) / (ry - qy)
        return np.asarray(((straddles & (px < at)).sum(axis=1) % 2) == 1)

    def crossings(
        self, x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray
    ) -> tuple[IntArray, FloatArray]:
        """(row, s) of every boundary crossing at s in (0, 1] along each segment."""
        dx, dy = x1 - x0, y1 - y0
        if self.vertices is None:
            a = dx * dx + dy * dy
            b = 2 * (x0 * dx + y0 * dy)
            c = x0 * x0 + y0 * y0 - self.radius * self.radius
            disc = b * b - 4 * a * c
            ok = (a > 0) & (disc > 0)
            root = np.sqrt(np.where(ok, disc, 0.0))
            safe = np.where(ok, 2 * a, 1.0)
            s = np.stack([(-b - root) / safe, (-b + root) / safe], axis=1)
            hit = ok[:, None] & (s > 0) & (s <= 1)
        else:
            qx, qy = self.vertices[:, 0], self.vertices[:, 1]
            ex, ey = np.roll(qx, -1) - qx, np.roll(qy, -1) - qy
            wx, wy = qx[None, :] - x0[:, None], qy[None, :] - y0[:, None]
            den = dx[:, None] * ey[None, :] - dy[:, None] * ex[None, :]
            with np.errstate(divide="ignore", invalid="ignore"):
                s = (wx * ey[None, :] - wy * ex[None, :]) / den
                u = (wx * dy[:, None] - wy * dx[:, None]) / den
            hit = (den != 0) & (s > 0) & (s <= 1) & (u >= 0) & (u < 1)
        rows, cols = np.nonzero(hit)
        return rows.astype(np.int64), np.asarray(s[rows, cols], dtype=np.float64)


def _zone(config: ZoneConfig, classes: list[str], class_limits: FloatArray) -> _Zone:
    if config.circle is not None:
        c = config.circle
        lat0, lon0, radius = c.lat, c.lon, c.radius_m
        kx = M_PER_DEG * math.cos(math.radians(lat0))
        dlat, dlon = radius / M_PER_DEG, radius / kx
        box = (lat0 - dlat, lat0 + dlat, lon0 - dlon, lon0 + dlon)
        vertices = None
    else:
        points = np.asarray(config.polygon, dtype=np.float64)
        lat0, lon0 = float(points[:, 0].mean()), float(points[:, 1].mean())
        kx = M_PER_DEG * math.cos(math.radians(lat0))
        radius = 0.0
        box = (points[:, 0].min(), points[:, 0].max(), points[:, 1].min(), points[:, 1].max())
        vertices = np.stack([(points[:, 1] - lon0) * kx, (points[:, 0] - lat0) * M_PER_DEG], 1)
    box = (box[0] - MARGIN_DEG, box[1] + MARGIN_DEG, box[2] - MARGIN_DEG, box[3] + MARGIN_DEG)
    limit = np.full(len(classes), np.inf)
    if config.speed_limit_kmh is not None:
        limit[:] = config.speed_limit_kmh
    for name, value in config.class_speed_limits_kmh.items():
        limit[classes.index(name)] = min(limit[classes.index(name)], value)
    limit = np.where(limit < class_limits, limit, np.inf)  # only a lower limit matters
    banned = None
    if config.forbidden:
        banned = np.zeros((len(classes), 1440), dtype=bool)
        minutes = np.arange(1440)
        for rule in config.forbidden:
            start, end = minute_of_day(rule.start), minute_of_day(rule.end)
            span = (
                (minutes >= start) & (minutes < end)
                if start < end
                else (minutes >= start) | (minutes < end)
            )
            for name in rule.classes:
                banned[classes.index(name)] |= span
    hours = ", ".join(f"{r.start}-{r.end}" for r in config.forbidden)
    return _Zone(config, lat0, lon0, kx, box, vertices, radius, limit, banned, hours)


class ZoneState:
    def __init__(
        self,
        zones: list[ZoneConfig],
        classes: list[str],
        class_limits: FloatArray,
        vehicle_class: IntArray,
        gap_s: float,
        utc_offset_h: int,
    ) -> None:
        self.zones = [_zone(z, classes, class_limits) for z in zones]
        self.classes = classes
        self.vehicle_class = vehicle_class
        self._gap = int(gap_s * 1000)
        self._offset = utc_offset_h * HOUR_MS
        vehicles = len(vehicle_class)
        self.inside = np.zeros((vehicles, len(zones)), dtype=bool)
        self.violated = np.zeros((vehicles, len(zones)), dtype=bool)

    def _minute(self, t: IntArray) -> IntArray:
        return np.asarray(((t + self._offset) // MINUTE_MS) % 1440)

    def process(
        self, tr: Track, ids: list[str]
    ) -> tuple[FloatArray, list[ZoneEvent], list[ZoneViolation]]:
        """(lowest zone limit of each fix, inf outside limited zones; events; violations)."""
        n = len(tr)
        limit = np.full(n, np.inf)
        if not n or not self.zones:
            return limit, [], []
        p_lat = np.where(tr.has_prev, tr.prev_lat, tr.lat)
        p_lon = np.where(tr.has_prev, tr.prev_lon, tr.lon)
        lo_lat, hi_lat = np.minimum(p_lat, tr.lat), np.maximum(p_lat, tr.lat)
        lo_lon, hi_lon = np.minimum(p_lon, tr.lon), np.maximum(p_lon, tr.lon)
        straight = tr.has_prev & (tr.dt <= self._gap)
        # items: fix index, position along its segment, zone, what (0 exit, 1 enter, 2 inside)
        rows: list[IntArray] = []
        where: list[FloatArray] = []
        zone_of: list[IntArray] = []
        what: list[IntArray] = []
        for z, zone in enumerate(self.zones):
            a, b, c, d = zone.box
            k = np.flatnonzero((hi_lat >= a) & (lo_lat <= b) & (hi_lon >= c) & (lo_lon <= d))
            if not len(k):
                continue
            x0, y0 = zone.xy(p_lat[k], p_lon[k])
            x1, y1 = zone.xy(tr.lat[k], tr.lon[k])
            in0 = zone.contains(x0, y0) & tr.has_prev[k]
            in1 = zone.contains(x1, y1)
            cls = self.vehicle_class[tr.vehicle[k]]
            limited = in1 & np.isfinite(zone.limit[cls])
            if limited.any():
                kk = k[limited]
                limit[kk] = np.minimum(limit[kk], zone.limit[cls[limited]])
            r, s = zone.crossings(x0, y0, x1, y1)
            r, s = r[straight[k][r]], s[straight[k][r]]
            count = np.bincount(r, minlength=len(k))
            consistent = (count % 2 == 1) == (in0 != in1)
            # interpolated crossings where consistent; otherwise one event at the fix
            use = consistent[r] & straight[k][r]
            r, s = r[use], s[use]
            if len(r):
                order = np.lexsort((s, r))
                r, s = r[order], s[order]
                nth = np.arange(len(r)) - np.searchsorted(r, r)
                entering = (nth % 2 == 0) != in0[r]
                rows.append(k[r])
                where.append(s)
                zone_of.append(np.full(len(r), z))
                what.append(entering.astype(np.int64))
            jump = np.flatnonzero((in0 != in1) & ~(consistent & straight[k]))
            if len(jump):
                rows.append(k[jump])
                where.append(np.ones(len(jump)))
                zone_of.append(np.full(len(jump), z))
                what.append(in1[jump].astype(np.int64))
            if zone.banned is not None:
                ins = k[in1]
                hot = zone.banned[self.vehicle_class[tr.vehicle[ins]], self._minute(tr.t[ins])]
                hot &= ~self.violated[tr.vehicle[ins], z]
                ins = ins[hot]
                if len(ins):
                    runs = np.ones(len(ins), dtype=bool)
                    runs[1:] = (ins[1:] != ins[:-1] + 1) | tr.first[ins[1:]]
                    ins = ins[runs]
                    rows.append(ins)
                    where.append(np.full(len(ins), 2.0))
                    zone_of.append(np.full(len(ins), z))
                    what.append(np.full(len(ins), 2))
        if not rows:
            return limit, [], []
        fix, pos, zs, kinds = (np.concatenate(x) for x in (rows, where, zone_of, what))
        order = np.lexsort((pos, fix))
        events: list[ZoneEvent] = []
        violations: list[ZoneViolation] = []
        for i, s, z, kind in zip(
            fix[order].tolist(), pos[order].tolist(), zs[order].tolist(), kinds[order].tolist(),
            strict=True,
        ):  # fmt: skip
            vi = int(tr.vehicle[i])
            zone = self.zones[z]
            if kind == 2:
                at, lat, lon = int(tr.t[i]), float(tr.lat[i]), float(tr.lon[i])
            else:
                f = min(s, 1.0)
                at = int(tr.t[i] - round((1.0 - f) * float(tr.dt[i])))
                lat = float(p_lat[i] + f * (tr.lat[i] - p_lat[i]))
                lon = float(p_lon[i] + f * (tr.lon[i] - p_lon[i]))
            if kind == 0:
                self.inside[vi, z] = self.violated[vi, z] = False
                events.append(ZoneEvent(ids[vi], vi, zone.config.id, "exit", at, lat, lon, s < 1.0))
                continue
            if kind == 1:
                self.inside[vi, z] = True
                events.append(
                    ZoneEvent(ids[vi], vi, zone.config.id, "enter", at, lat, lon, s < 1.0)
                )
            klass = int(self.vehicle_class[vi])
            if (
                zone.banned is not None
                and not self.violated[vi, z]
                and zone.banned[klass, int(self._minute(np.asarray(at)))]
            ):
                self.violated[vi, z] = True
                violations.append(
                    ZoneViolation(
                        ids[vi], vi, zone.config.id, at, lat, lon, self.classes[klass], zone.hours
                    )
                )
        return limit, events, violations
