"""Zones (polygons and circles): enter and exit events, speed limits inside, restricted hours.

Each zone has its own planar frame (metres east and north of its centre, longitude scaled by
cos(latitude): exact enough for zones a few km across). A fix's segment from the vehicle's
previous fix is a *candidate* for a zone when their bounding boxes overlap (found through a
grid of cells listing the zones over them, so the cost hardly grows with the number of zones).
All candidate (segment, zone) pairs of a batch, whatever their zone, are then handled together
(polygons padded to the largest vertex count):

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

import numpy as np

from analytics.journeys.config import ZoneConfig, minute_of_day
from analytics.journeys.events import ZoneEvent, ZoneViolation
from analytics.journeys.track import (
    HOUR_MS,
    MINUTE_MS,
    NO_TIME,
    BoolArray,
    Carry,
    FloatArray,
    IntArray,
    Track,
    true_at,
)

M_PER_DEG = 111_320.0
MARGIN_DEG = 1e-6
CELL_DEG = 0.02  # ~2.2 km: most segments (30 s apart) fall in at most 2 x 2 cells
MAX_CELLS = 4_000_000


class ZoneTable:
    """Every zone as rows of arrays: frames, boxes, padded polygon edges, circles, limits per
    class, forbidden minutes per class."""

    def __init__(self, zones: list[ZoneConfig], classes: list[str], class_limits: FloatArray):
        z = len(zones)
        self.ids = [zone.id for zone in zones]
        self.shapes = [(zone.polygon, zone.circle) for zone in zones]
        self.lat0, self.lon0, self.kx = np.zeros(z), np.zeros(z), np.zeros(z)
        self.box = np.zeros((4, z))  # min lat, max lat, min lon, max lon
        self.circle = np.zeros(z, dtype=bool)
        self.r2 = np.zeros(z)
        edges = max([len(zone.polygon or ()) for zone in zones] + [1])
        self.qx, self.qy = np.full((z, edges), np.nan), np.full((z, edges), np.nan)
        self.ex, self.ey = np.full((z, edges), np.nan), np.full((z, edges), np.nan)
        self.limit = np.full((z, len(classes)), np.inf)
        self.banned = np.zeros((z, len(classes), 1440), dtype=bool)
        self.hours: list[str] = []
        minutes = np.arange(1440)
        for i, zone in enumerate(zones):
            if zone.circle is not None:
                c = zone.circle
                lat0, lon0 = c.lat, c.lon
                kx = M_PER_DEG * math.cos(math.radians(lat0))
                dlat, dlon = c.radius_m / M_PER_DEG, c.radius_m / kx
                box = (lat0 - dlat, lat0 + dlat, lon0 - dlon, lon0 + dlon)
                self.circle[i], self.r2[i] = True, c.radius_m**2
            else:
                points = np.asarray(zone.polygon, dtype=np.float64)
                lat0, lon0 = float(points[:, 0].mean()), float(points[:, 1].mean())
                kx = M_PER_DEG * math.cos(math.radians(lat0))
                box = (
                    points[:, 0].min(),
                    points[:, 0].max(),
                    points[:, 1].min(),
                    points[:, 1].max(),
                )
                x, y = (points[:, 1] - lon0) * kx, (points[:, 0] - lat0) * M_PER_DEG
                e = len(points)
                self.qx[i, :e], self.qy[i, :e] = x, y
                self.ex[i, :e], self.ey[i, :e] = np.roll(x, -1) - x, np.roll(y, -1) - y
            self.lat0[i], self.lon0[i], self.kx[i] = lat0, lon0, kx
            self.box[:, i] = (
                box[0] - MARGIN_DEG,
                box[1] + MARGIN_DEG,
                box[2] - MARGIN_DEG,
                box[3] + MARGIN_DEG,
            )
            if zone.speed_limit_kmh is not None:
                self.limit[i] = zone.speed_limit_kmh
            for name, value in zone.class_speed_limits_kmh.items():
                k = classes.index(name)
                self.limit[i, k] = min(self.limit[i, k], value)
            for rule in zone.forbidden:
                start, end = minute_of_day(rule.start), minute_of_day(rule.end)
                span = (
                    (minutes >= start) & (minutes < end)
                    if start < end
                    else (minutes >= start) | (minutes < end)
                )
                for name in rule.classes:
                    self.banned[i, classes.index(name)] |= span
            self.hours.append(", ".join(f"{r.start}-{r.end}" for r in zone.forbidden))
        self.limit = np.where(self.limit < class_limits[None, :], self.limit, np.inf)
        self.restricted: BoolArray = np.asarray(self.banned.any(axis=(1, 2)))
        self._grid()

    def _grid(self) -> None:
        """A dense grid of ``CELL_DEG`` cells over the zones' boxes: each cell lists (CSR) the
        zones whose box overlaps it. The last cell stands for "outside the grid" (no zone)."""
        g, (a, b, c, d) = CELL_DEG, self.box
        z = len(self)
        self.origin = (math.floor(a.min() / g), math.floor(c.min() / g)) if z else (0, 0)
        self.rows = (math.floor(b.max() / g) - self.origin[0] + 1) if z else 0
        self.cols = (math.floor(d.max() / g) - self.origin[1] + 1) if z else 0
        if self.rows * self.cols > MAX_CELLS:  # zones spread too far: test every zone
            self.rows = self.cols = 0
        self._origin4 = np.array(
            [self.origin[0], self.origin[0], self.origin[1], self.origin[1]], dtype=np.int64
        )[:, None]
        cells: list[IntArray] = []
        for i in range(z if self.rows else 0):
            r = np.arange(math.floor(a[i] / g), math.floor(b[i] / g) + 1) - self.origin[0]
            q = np.arange(math.floor(c[i] / g), math.floor(d[i] / g) + 1) - self.origin[1]
            cells.append((r[:, None] * self.cols + q[None, :]).ravel())
        cell = np.concatenate(cells) if cells else np.zeros(0, dtype=np.int64)
        zone = np.repeat(np.arange(len(cells)), [len(x) for x in cells])
        order = np.argsort(cell, kind="stable")
        self.cell_zone = zone[order].astype(np.int64)
        self.cell_count = np.bincount(cell, minlength=self.rows * self.cols + 1)
        self.cell_start = np.cumsum(self.cell_count) - self.cell_count
        # block[r, c]: a zone in cells r..r+1 x c..c+1 (all a small segment at (r, c) can touch)
        occupied = (self.cell_count[:-1] > 0).reshape(self.rows, self.cols)
        block = occupied.copy()
        block[:-1] |= occupied[1:]
        block[:, :-1] |= block[:, 1:].copy()
        self.block = np.append(block.ravel(), False)

    def candidates(
        self, lo_lat: FloatArray, hi_lat: FloatArray, lo_lon: FloatArray, hi_lon: FloatArray
    ) -> tuple[IntArray, IntArray]:
        """(segment, zone) pairs whose boxes overlap, sorted by segment then zone. A segment
        spanning at most 2 x 2 cells looks up the zones of those cells; longer ones (and all,
        without a grid) are tested against every zone."""
        g, z, rows, cols = CELL_DEG, len(self), self.rows, self.cols
        corner = np.floor(np.stack((lo_lat, hi_lat, lo_lon, hi_lon)) / g).astype(np.int64)
        corner -= self._origin4
        r0, r1, c0, c1 = corner
        small = (r1 - r0 <= 1) & (c1 - c0 <= 1) if rows else np.zeros(len(r0), bool)
        # a small segment whose lower corner is a row or column before the grid still
        # reaches into it: look its block up one cell in (its cells are then checked below)
        rb, cb = np.maximum(r0, np.minimum(r1, 0)), np.maximum(c0, np.minimum(c1, 0))
        ok = small & (rb >= 0) & (rb < rows) & (cb >= 0) & (cb < cols)
        near = true_at(self.block[np.where(ok, rb * cols + cb, rows * cols)])
        segs: list[IntArray] = []
        zones: list[IntArray] = []
        if len(near):
            # the 2 x 2 cells of each near segment at once (the same cell twice when the
            # segment spans one row or column: duplicates go with np.unique below)
            row = corner[0:2, near][[0, 0, 1, 1]].ravel()
            col = corner[2:4, near][[0, 1, 0, 1]].ravel()
            inside = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
            cell = np.where(inside, row * cols + col, rows * cols)
            count = self.cell_count[cell]
            hit = true_at(count)
            if len(hit):
                n = count[hit]
                start = self.cell_start[cell[hit]]
                at = np.repeat(start - np.cumsum(n) + n, n) + np.arange(n.sum())
                segs.append(np.repeat(np.tile(near, 4)[hit], n))
                zones.append(self.cell_zone[at])
        large = true_at(~small)
        if len(large):
            segs.append(np.repeat(large, z))
            zones.append(np.tile(np.arange(z), len(large)))
        if not segs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        key = np.unique(np.concatenate(segs) * z + np.concatenate(zones))
        k, zz = key // z, key % z
        a, b, c, d = self.box
        overlap = (
            (hi_lat[k] >= a[zz])
            & (lo_lat[k] <= b[zz])
            & (hi_lon[k] >= c[zz])
            & (lo_lon[k] <= d[zz])
        )
        return k[overlap], zz[overlap]

    def __len__(self) -> int:
        return len(self.ids)

    def contains(self, z: IntArray, x: FloatArray, y: FloatArray) -> BoolArray:
        """Whether each point (x, y), in zone z's frame, is inside zone z."""
        qx, qy, ex, ey = self.qx[z], self.qy[z], self.ex[z], self.ey[z]
        px, py = x[:, None], y[:, None]
        straddles = (qy > py) != (qy + ey > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = qx + (py - qy) * ex / ey
        polygon = ((straddles & (px < at)).sum(axis=1) % 2) == 1
        return np.where(self.circle[z], x * x + y * y <= self.r2[z], polygon)

    def crossings(
        self, z: IntArray, x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray
    ) -> tuple[IntArray, FloatArray]:
        """(row, s) of every boundary crossing at s in (0, 1] along each segment."""
        dx, dy = x1 - x0, y1 - y0
        # circles
        a = dx * dx + dy * dy
        b = 2 * (x0 * dx + y0 * dy)
        c = x0 * x0 + y0 * y0 - self.r2[z]
        disc = b * b - 4 * a * c
        ok = self.circle[z] & (a > 0) & (disc > 0)
        root = np.sqrt(np.where(ok, disc, 0.0))
        safe = np.where(ok, 2 * a, 1.0)
        sc = np.stack([(-b - root) / safe, (-b + root) / safe], axis=1)
        hit_c = ok[:, None] & (sc > 0) & (sc <= 1)
        # polygons (NaN padding never hits)
        ex, ey = self.ex[z], self.ey[z]
        wx, wy = self.qx[z] - x0[:, None], self.qy[z] - y0[:, None]
        den = dx[:, None] * ey - dy[:, None] * ex
        with np.errstate(divide="ignore", invalid="ignore"):
            sp = (wx * ey - wy * ex) / den
            u = (wx * dy[:, None] - wy * dx[:, None]) / den
        hit_p = (den != 0) & (sp > 0) & (sp <= 1) & (u >= 0) & (u < 1)
        rc, cc = np.nonzero(hit_c)
        rp, cp = np.nonzero(hit_p)
        rows = np.concatenate([rc, rp]).astype(np.int64)
        return rows, np.concatenate([sc[rc, cc], sp[rp, cp]])


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
        self.table = ZoneTable(zones, classes, class_limits)
        self.classes = classes
        self.vehicle_class = vehicle_class
        self._gap = int(gap_s * 1000)
        self._offset = utc_offset_h * HOUR_MS
        vehicles = len(vehicle_class)
        self.inside = np.zeros((vehicles, len(zones)), dtype=bool)
        self.violated = np.zeros((vehicles, len(zones)), dtype=bool)

    def carry_over(self, previous: ZoneState, dst: IntArray, src: IntArray, carry: Carry) -> None:
        """Rows ``src`` of ``previous`` become rows ``dst`` (a changed vehicle table), zones
        matched by id. ``carry``: the last fix of each vehicle of this table.

        * A zone of the same id and shape: a vehicle inside stays inside (no event), and a
          stay already reported in a restricted zone is not reported again.
        * A new zone, or one whose shape changed: whether the vehicle is inside is taken
          from its last fix, without an enter event (it crossed no boundary); it is judged
          from its next fix on, so a vehicle inside a zone that became restricted is reported
          at its next fix in the forbidden hours. A reshaped zone keeps a reported stay of a
          vehicle still inside it.
        * A removed zone is forgotten, without an exit event.
        """
        zt, old = self.table, previous.table
        if not len(zt) or not len(dst):
            return
        old_of = {zone_id: j for j, zone_id in enumerate(old.ids)}
        col = np.array([old_of.get(zone_id, -1) for zone_id in zt.ids], dtype=np.int64)
        pairs = zip(col.tolist(), zt.shapes, strict=True)
        same = np.array([c >= 0 and old.shapes[c] == shape for c, shape in pairs], dtype=bool)
        kept = true_at(col >= 0)
        rows = np.ix_(dst, kept)
        self.inside[rows] = previous.inside[np.ix_(src, col[kept])]
        self.violated[rows] = previous.violated[np.ix_(src, col[kept])]
        judge = ~same
        if not judge.any():
            return
        known = dst[carry.t[dst] != NO_TIME]
        lat, lon = carry.lat[known], carry.lon[known]
        k, z = zt.candidates(lat, lat, lon, lon)
        fresh = np.zeros((len(self.inside), len(zt)), dtype=bool)
        if len(k):
            use = true_at(judge[z])
            k, z = k[use], z[use]
            x = (lon[k] - zt.lon0[z]) * zt.kx[z]
            y = (lat[k] - zt.lat0[z]) * M_PER_DEG
            hit = zt.contains(z, x, y)
            fresh[known[k[hit]], z[hit]] = True
        judged = true_at(judge)
        self.inside[:, judged] = fresh[:, judged]
        self.violated[:, judged] &= fresh[:, judged]

    def _minute(self, t: IntArray) -> IntArray:
        return np.asarray(((t + self._offset) // MINUTE_MS) % 1440)

    def process(
        self, tr: Track, ids: list[str]
    ) -> tuple[FloatArray, list[ZoneEvent], list[ZoneViolation]]:
        """(lowest zone limit of each fix, inf outside limited zones; events; violations)."""
        n, zt = len(tr), self.table
        limit = np.full(n, np.inf)
        if not n or not len(zt):
            return limit, [], []
        p_lat = np.where(tr.has_prev, tr.prev_lat, tr.lat)
        p_lon = np.where(tr.has_prev, tr.prev_lon, tr.lon)
        k, z = zt.candidates(
            np.minimum(p_lat, tr.lat), np.maximum(p_lat, tr.lat),
            np.minimum(p_lon, tr.lon), np.maximum(p_lon, tr.lon),
        )  # fmt: skip
        if not len(k):
            return limit, [], []
        kx, lat0, lon0 = zt.kx[z], zt.lat0[z], zt.lon0[z]
        x0, y0 = (p_lon[k] - lon0) * kx, (p_lat[k] - lat0) * M_PER_DEG
        x1, y1 = (tr.lon[k] - lon0) * kx, (tr.lat[k] - lat0) * M_PER_DEG
        both = zt.contains(
            np.concatenate([z, z]), np.concatenate([x0, x1]), np.concatenate([y0, y1])
        )
        m = len(k)
        in0, in1 = both[:m] & tr.has_prev[k], both[m:]
        v = tr.vehicle[k]
        cls = self.vehicle_class[v]
        zone_limit = zt.limit[z, cls]
        limited = true_at(in1 & np.isfinite(zone_limit))
        if len(limited):
            np.minimum.at(limit, k[limited], zone_limit[limited])

        straight = tr.has_prev[k] & (tr.dt[k] <= self._gap)
        r, s = zt.crossings(z, x0, y0, x1, y1)
        keep = straight[r]
        r, s = r[keep], s[keep]
        count = np.bincount(r, minlength=m)
        consistent = straight & ((count % 2 == 1) == (in0 != in1))
        use = consistent[r]
        r, s = r[use], s[use]
        order = np.lexsort((s, r))
        r, s = r[order], s[order]
        nth = np.arange(len(r)) - np.searchsorted(r, r)
        entering = (nth % 2 == 0) != in0[r]
        jump = true_at((in0 != in1) & ~consistent)
        item_pair = [r, jump]
        item_pos = [s, np.ones(len(jump))]
        item_what = [entering.astype(np.int64), in1[jump].astype(np.int64)]
        # restricted zones: the first inside fix of each run at a forbidden time
        hot = true_at(in1 & zt.restricted[z] & zt.banned[z, cls, self._minute(tr.t[k])])
        if len(hot):
            hot = hot[np.lexsort((k[hot], z[hot]))]
            fresh = np.ones(len(hot), dtype=bool)
            fresh[1:] = (
                (z[hot][1:] != z[hot][:-1]) | (k[hot][1:] != k[hot][:-1] + 1) | tr.first[k[hot][1:]]
            )
            hot = hot[fresh]
            item_pair.append(hot)
            item_pos.append(np.full(len(hot), 2.0))
            item_what.append(np.full(len(hot), 2))
        pair, pos, what = (np.concatenate(x) for x in (item_pair, item_pos, item_what))
        if not len(pair):
            return limit, [], []
        order = np.lexsort((pos, k[pair]))
        pair, pos, what = pair[order], pos[order], what[order]
        return limit, *self._apply(tr, ids, k[pair], z[pair], pos, what, p_lat, p_lon)

    def _apply(
        self,
        tr: Track,
        ids: list[str],
        fixes: IntArray,
        zones: IntArray,
        where: FloatArray,
        what: IntArray,
        p_lat: FloatArray,
        p_lon: FloatArray,
    ) -> tuple[list[ZoneEvent], list[ZoneViolation]]:
        """Events in time order: update the inside / violated state, build the outputs."""
        zt = self.table
        events: list[ZoneEvent] = []
        violations: list[ZoneViolation] = []
        for i, z, s, kind in zip(
            fixes.tolist(), zones.tolist(), where.tolist(), what.tolist(), strict=True
        ):
            vi = int(tr.vehicle[i])
            zone_id = zt.ids[z]
            if kind == 2:
                at, lat, lon = int(tr.t[i]), float(tr.lat[i]), float(tr.lon[i])
            else:
                at = int(tr.t[i] - round((1.0 - s) * float(tr.dt[i])))
                lat = float(p_lat[i] + s * (tr.lat[i] - p_lat[i]))
                lon = float(p_lon[i] + s * (tr.lon[i] - p_lon[i]))
            if kind == 0:
                self.inside[vi, z] = self.violated[vi, z] = False
                events.append(ZoneEvent(ids[vi], vi, zone_id, "exit", at, lat, lon, s < 1.0))
                continue
            if kind == 1:
                self.inside[vi, z] = True
                events.append(ZoneEvent(ids[vi], vi, zone_id, "enter", at, lat, lon, s < 1.0))
            klass = int(self.vehicle_class[vi])
            minute = ((at + self._offset) // MINUTE_MS) % 1440
            if zt.restricted[z] and not self.violated[vi, z] and zt.banned[z, klass, minute]:
                self.violated[vi, z] = True
                violations.append(
                    ZoneViolation(
                        ids[vi], vi, zone_id, at, lat, lon, self.classes[klass], zt.hours[z]
                    )
                )
        return events, violations
