"""The demo province's main roads as polylines with speed limits (REFERENCE §6).

Waypoints are hand-typed approximations of Lâm Đồng's highways (no map data was used): good to
a few hundred metres, which is all a simulator needs. Each polyline is cut into pieces of at
most ``PIECE_M`` metres; a piece's *road class* is the class typed for its segment, except that
pieces inside a town radius are ``urban``. The speed limit of a piece for a vehicle type is
``LIMITS[road_class][vehicle_type]`` (after Circular 38/2024/TT-BGTVT, simplified).

Coordinates are projected once onto a local plane (equirectangular at ``LAT0``): an affine map,
so inside/outside a polygon is the same in both, and distances are within 0.2 % of haversine
over the province.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

LAT0, LON0 = 11.75, 108.0
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
PIECE_M = 400.0
BUCKET_M = 100.0

VEHICLE_TYPES = ("bus", "coach", "truck", "container", "tractor", "taxi")
ROAD_CLASSES = ("urban", "rural", "highway", "pass")
#: km/h by road class and vehicle type: urban = inside a residential area; rural = outside,
#: two-way undivided; highway = outside, divided; pass = signed mountain pass.
LIMITS: dict[str, dict[str, int]] = {
    "urban": dict(bus=50, coach=50, truck=50, container=50, tractor=50, taxi=50),
    "rural": dict(bus=60, coach=70, truck=70, container=60, tractor=60, taxi=80),
    "highway": dict(bus=70, coach=80, truck=80, container=70, tractor=70, taxi=90),
    "pass": dict(bus=40, coach=40, truck=40, container=40, tractor=40, taxi=50),
}
LIMIT_TABLE = np.array(
    [[LIMITS[c][t] for t in VEHICLE_TYPES] for c in ROAD_CLASSES], dtype=np.float64
)

TOWNS = {  # name: (lat, lon, urban radius m)
    "Đà Lạt": (11.940, 108.440, 5000.0),
    "Đức Trọng": (11.735, 108.373, 2500.0),
    "Di Linh": (11.580, 108.070, 2000.0),
    "Bảo Lộc": (11.548, 107.807, 4000.0),
    "Đơn Dương": (11.752, 108.540, 1500.0),
    "Lạc Dương": (12.080, 108.430, 1500.0),
    "Lâm Hà": (11.790, 108.230, 1500.0),
    "Đạ Huoai": (11.405, 107.635, 1500.0),
}

W = tuple[float, float, str]  # lat, lon, class of the segment that starts here
#: id: (name, waypoints). Approximate.
ROADS: dict[str, tuple[str, list[W]]] = {
    "QL20": (
        "Quốc lộ 20 Đà Lạt – Đức Trọng – Di Linh – Bảo Lộc – Đạ Huoai (→ Đồng Nai)",
        [
            (11.9265, 108.4455, "rural"),  # Đà Lạt inter-provincial bus station
            (11.9050, 108.4560, "pass"),  # Prenn pass
            (11.8800, 108.4480, "pass"),
            (11.8550, 108.4300, "highway"),
            (11.8000, 108.4040, "highway"),  # Phi Nôm
            (11.7500, 108.3680, "rural"),  # Liên Khương
            (11.7350, 108.3730, "rural"),  # Liên Nghĩa (Đức Trọng)
            (11.7000, 108.3300, "rural"),
            (11.6600, 108.2800, "rural"),  # Ninh Gia
            (11.6200, 108.1700, "rural"),
            (11.5800, 108.0700, "rural"),  # Di Linh
            (11.5700, 108.0000, "rural"),
            (11.5600, 107.9300, "rural"),  # Lộc An
            (11.5530, 107.8400, "rural"),
            (11.5480, 107.8070, "rural"),  # Bảo Lộc
            (11.5300, 107.7700, "pass"),  # Bảo Lộc pass
            (11.4700, 107.7200, "pass"),
            (11.4300, 107.6700, "rural"),
            (11.4050, 107.6350, "rural"),  # Đạ Huoai (Madagui)
            (11.3500, 107.5200, "rural"),  # towards Đồng Nai
        ],
    ),
    "QL27": (
        "Quốc lộ 27 Đức Trọng – Đơn Dương (→ Ninh Thuận)",
        [
            (11.7350, 108.3730, "rural"),
            (11.7300, 108.4300, "rural"),
            (11.7400, 108.4900, "rural"),
            (11.7520, 108.5400, "rural"),  # Thạnh Mỹ (Đơn Dương)
            (11.7800, 108.6000, "rural"),
            (11.8000, 108.6400, "pass"),  # Ngoạn Mục pass
            (11.8200, 108.6900, "pass"),  # towards Ninh Thuận
        ],
    ),
    "QL28": (
        "Quốc lộ 28 Di Linh (→ Bình Thuận)",
        [
            (11.5800, 108.0700, "rural"),
            (11.5000, 108.1000, "rural"),
            (11.4300, 108.0900, "pass"),  # Gia Bắc
            (11.3600, 108.0700, "pass"),
            (11.3000, 108.0500, "rural"),  # towards Bình Thuận
        ],
    ),
    "QL55": (
        "Quốc lộ 55 Bảo Lộc (→ Bình Thuận)",
        [
            (11.5480, 107.8070, "rural"),
            (11.4500, 107.8500, "rural"),
            (11.3500, 107.8800, "pass"),
            (11.2500, 107.9000, "rural"),  # towards Bình Thuận
        ],
    ),
    "DT725": (
        "Đường tỉnh 725 Đà Lạt – Tà Nung – Nam Ban – Lâm Hà",
        [
            (11.9400, 108.4100, "rural"),  # Đà Lạt, west edge
            (11.9150, 108.3600, "pass"),  # Tà Nung
            (11.8800, 108.3000, "rural"),
            (11.8400, 108.2700, "rural"),  # Nam Ban
            (11.7900, 108.2300, "rural"),  # Đinh Văn (Lâm Hà)
        ],
    ),
    "LACDUONG": (
        "Đường Đà Lạt – Lạc Dương",
        [
            (11.9560, 108.4390, "rural"),  # Đà Lạt, north
            (11.9800, 108.4320, "rural"),
            (12.0100, 108.4290, "rural"),
            (12.0450, 108.4330, "rural"),
            (12.0800, 108.4300, "rural"),  # Lạc Dương
        ],
    ),
    "DALAT-MARKET": (
        "Đà Lạt: bến xe – chợ Đà Lạt",
        [
            (11.9265, 108.4455, "urban"),
            (11.9350, 108.4420, "urban"),
            (11.9425, 108.4375, "urban"),  # chợ Đà Lạt
        ],
    ),
    "DALAT-STREETS": (
        "Đà Lạt: phố trung tâm",
        [
            (11.9265, 108.4455, "urban"),
            (11.9350, 108.4420, "urban"),
            (11.9425, 108.4375, "urban"),
            (11.9460, 108.4300, "urban"),
            (11.9530, 108.4330, "urban"),
            (11.9500, 108.4460, "urban"),
            (11.9400, 108.4550, "urban"),
            (11.9320, 108.4520, "urban"),
            (11.9265, 108.4460, "urban"),
        ],
    ),
    "BAOLOC-STREETS": (
        "Bảo Lộc: phố trung tâm",
        [
            (11.5480, 107.8070, "urban"),
            (11.5570, 107.8050, "urban"),
            (11.5620, 107.8150, "urban"),
            (11.5550, 107.8250, "urban"),
            (11.5485, 107.8080, "urban"),
        ],
    ),
}


def project(lat: F64 | float, lon: F64 | float) -> tuple[F64, F64]:
    x = (np.asarray(lon, dtype=np.float64) - LON0) * M_PER_DEG_LON
    y = (np.asarray(lat, dtype=np.float64) - LAT0) * M_PER_DEG_LAT
    return x, y


def unproject(x: F64, y: F64) -> tuple[F64, F64]:
    return LAT0 + y / M_PER_DEG_LAT, LON0 + x / M_PER_DEG_LON


@dataclass(frozen=True, slots=True)
class RouteLeg:
    road: str
    start: int  # waypoint index
    end: int  # waypoint index (may be < start: driven backwards)


@dataclass(frozen=True, slots=True)
class Route:
    id: str
    name: str
    legs: tuple[RouteLeg, ...]
    types: tuple[str, ...]  # vehicle types that may be given this route


def _leg(road: str, start: int = 0, end: int = -1) -> RouteLeg:
    n = len(ROADS[road][1])
    return RouteLeg(road, start % n, end % n)


_ALL_HEAVY = ("truck", "container", "tractor")
ROUTES: tuple[Route, ...] = (
    Route("B01", "Đà Lạt – Đức Trọng", (_leg("QL20", 0, 6),), ("bus",)),
    Route("B02", "Đà Lạt – Bảo Lộc", (_leg("QL20", 0, 14),), ("bus", "coach")),
    Route("B03", "Đà Lạt – Lạc Dương", (_leg("LACDUONG"),), ("bus",)),
    Route("B04", "Đà Lạt – Lâm Hà", (_leg("DT725"),), ("bus",)),
    Route("B05", "Đức Trọng – Đơn Dương", (_leg("QL27", 0, 3),), ("bus",)),
    Route("B06", "Bảo Lộc – Di Linh", (_leg("QL20", 14, 10),), ("bus",)),
    Route("C01", "Đà Lạt – Đạ Huoai (→ Đồng Nai)", (_leg("QL20"),), ("coach",)),
    Route(
        "C02", "Đà Lạt – Đơn Dương (→ Ninh Thuận)", (_leg("QL20", 0, 6), _leg("QL27")), ("coach",)
    ),
    Route("C03", "Di Linh (→ Bình Thuận)", (_leg("QL28"),), ("coach", *_ALL_HEAVY)),
    Route("C04", "Bảo Lộc (→ Bình Thuận)", (_leg("QL55"),), ("coach", *_ALL_HEAVY)),
    Route("T01", "Đức Trọng – Đạ Huoai (→ Đồng Nai)", (_leg("QL20", 6, 19),), _ALL_HEAVY),
    Route("T02", "Đức Trọng (→ Ninh Thuận)", (_leg("QL27"),), _ALL_HEAVY),
    Route("T03", "Đức Trọng – Di Linh – Bảo Lộc", (_leg("QL20", 6, 14),), _ALL_HEAVY),
    Route("X01", "Taxi Đà Lạt", (_leg("DALAT-STREETS"),), ("taxi",)),
    Route("X02", "Taxi Bảo Lộc", (_leg("BAOLOC-STREETS"),), ("taxi",)),
    # Episode routes (given to scripted vehicles only).
    Route(
        "E01", "Đức Trọng – chợ Đà Lạt (giao hàng)", (_leg("QL20", 6, 0), _leg("DALAT-MARKET")), ()
    ),
    Route("E02", "Đà Lạt – Lạc Dương (xe tải)", (_leg("LACDUONG"),), ()),
)
ROUTE_INDEX = {r.id: i for i, r in enumerate(ROUTES)}


def _route_points(route: Route) -> tuple[list[tuple[float, float]], list[str]]:
    points: list[tuple[float, float]] = []
    classes: list[str] = []
    for leg in route.legs:
        wps = ROADS[leg.road][1]
        step = 1 if leg.end >= leg.start else -1
        idx = list(range(leg.start, leg.end + step, step))
        for k, i in enumerate(idx):
            if k + 1 < len(idx):
                classes.append(wps[min(i, idx[k + 1])][2])
            if points and k == 0:
                continue  # legs join at a shared waypoint
            points.append((wps[i][0], wps[i][1]))
    return points, classes


class Network:
    """All routes as one flat array of pieces, so positions of every vehicle are computed with
    one ``searchsorted``: route r covers pieces ``first[r]..last[r]`` and arc lengths
    ``base[r] + s`` with ``0 <= s <= length[r]``."""

    def __init__(self, routes: tuple[Route, ...] = ROUTES) -> None:
        xs: list[float] = []
        ys: list[float] = []
        cls: list[int] = []
        first: list[int] = []
        last: list[int] = []
        base: list[float] = []
        length: list[float] = []
        cum: list[float] = []
        town_xy = [(*(float(v) for v in project(la, lo)), r) for la, lo, r in TOWNS.values()]
        total = 0.0
        for route in routes:
            pts, classes = _route_points(route)
            first.append(len(xs))
            base.append(total)
            start_total = total
            for (la0, lo0), (la1, lo1), c in zip(pts[:-1], pts[1:], classes, strict=True):
                x0, y0 = (float(v) for v in project(la0, lo0))
                x1, y1 = (float(v) for v in project(la1, lo1))
                seg = math.hypot(x1 - x0, y1 - y0)
                n = max(1, math.ceil(seg / PIECE_M))
                for k in range(n):
                    ax, ay = x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n
                    mx, my = x0 + (x1 - x0) * (k + 0.5) / n, y0 + (y1 - y0) * (k + 0.5) / n
                    urban = any(math.hypot(mx - tx, my - ty) < tr for tx, ty, tr in town_xy)
                    klass = "urban" if urban and c != "pass" else c
                    xs.append(ax)
                    ys.append(ay)
                    cls.append(ROAD_CLASSES.index(klass))
                    cum.append(total)
                    total += seg / n
            last.append(len(xs) - 1)
            length.append(total - start_total)
            # the end point of the route as a zero-class sentinel piece
            xs.append(float(project(pts[-1][0], pts[-1][1])[0]))
            ys.append(float(project(pts[-1][0], pts[-1][1])[1]))
            cls.append(cls[-1])
            cum.append(total)
            total += 1e7  # a gap between routes, never inside any route's range
        self.routes = routes
        self.x = np.array(xs)
        self.y = np.array(ys)
        self.cls = np.array(cls, dtype=np.int64)
        self.cum = np.array(cum)
        nx = np.append(self.x[1:], self.x[-1])
        ny = np.append(self.y[1:], self.y[-1])
        self.dx = nx - self.x
        self.dy = ny - self.y
        self.seg = np.maximum(np.hypot(self.dx, self.dy), 1e-9)
        self.first = np.array(first, dtype=np.int64)
        self.last = np.array(last, dtype=np.int64)
        self.base = np.array(base)
        self.length = np.array(length)
        # piece lookup without a binary search: the piece at the start of each BUCKET_M of
        # every route (pieces are longer than a bucket, so at most one step forward remains)
        assert (
            min(float(self.seg[a : b + 1].min()) for a, b in zip(first, last, strict=True))
            > BUCKET_M
        )
        tables, bucket_base, offset = [], [], 0
        for r in range(len(routes)):
            starts = self.base[r] + np.arange(int(self.length[r] // BUCKET_M) + 2) * BUCKET_M
            table = np.searchsorted(self.cum, starts, side="right") - 1
            tables.append(np.clip(table, self.first[r], self.last[r]))
            bucket_base.append(offset)
            offset += len(starts)
        self._table = np.concatenate(tables).astype(np.int64)
        self._bucket_base = np.array(bucket_base, dtype=np.int64)

    def piece(self, route: I64, s: F64) -> I64:
        s = np.clip(s, 0.0, self.length[route])
        i = self._table[self._bucket_base[route] + (s // BUCKET_M).astype(np.int64)]
        last = self.last[route]
        after = np.minimum(i + 1, last)
        result: I64 = np.where((i < last) & (self.cum[after] <= self.base[route] + s), after, i)
        return result

    def position(self, route: I64, s: F64) -> tuple[F64, F64, I64]:
        """Projected (x, y) and piece index of arc length ``s`` along each vehicle's route."""
        i = self.piece(route, s)
        return (*self.point(i, route, s), i)

    def point(self, i: I64, route: I64, s: F64) -> tuple[F64, F64]:
        """Projected (x, y) of arc length ``s`` on route ``route``, known to be in piece ``i``."""
        frac = np.clip((self.base[route] + s - self.cum[i]) / self.seg[i], 0.0, 1.0)
        return self.x[i] + frac * self.dx[i], self.y[i] + frac * self.dy[i]

    def heading(self, piece: I64, direction: F64) -> F64:
        """Degrees clockwise from north, of travel along ``direction`` (+1 forward, -1 back)."""
        h = np.degrees(np.arctan2(self.dx[piece] * direction, self.dy[piece] * direction))
        result: F64 = np.mod(h, 360.0)
        return result

    def limit(self, route: I64, s: F64, vtype: I64) -> F64:
        """The speed limit at arc length ``s`` for each vehicle's type (km/h)."""
        return LIMIT_TABLE[self.cls[self.piece(route, s)], vtype]

    def distance_to_route(self, route: int, x: F64, y: F64) -> F64:
        """Distance (m) from each point to route ``route``'s polyline."""
        a, b = int(self.first[route]), int(self.last[route])
        px, py = self.x[a : b + 1], self.y[a : b + 1]
        dx, dy, seg = self.dx[a : b + 1], self.dy[a : b + 1], self.seg[a : b + 1]
        rx = x[:, None] - px[None, :]
        ry = y[:, None] - py[None, :]
        t = np.clip((rx * dx + ry * dy) / (seg * seg), 0.0, 1.0)
        d = np.hypot(rx - t * dx, ry - t * dy)
        result: F64 = d.min(axis=1)
        return result

    def uniform_run(self, route: int, s: float, direction: int, vtype: int) -> tuple[float, float]:
        """Arc lengths (behind, ahead) of ``s`` over which the limit for ``vtype`` is constant."""
        i = int(self.piece(np.array([route]), np.array([s]))[0])
        a, b = int(self.first[route]), int(self.last[route])
        lim = LIMIT_TABLE[self.cls, vtype]
        lo = i
        while lo > a and lim[lo - 1] == lim[i]:
            lo -= 1
        hi = i
        while hi < b and lim[hi + 1] == lim[i]:
            hi += 1
        start = float(self.cum[lo] - self.base[route])
        end = (
            float(self.cum[hi] + self.seg[hi] - self.base[route])
            if hi < b
            else float(self.length[route])
        )
        end = min(end, float(self.length[route]))
        return (s - start, end - s) if direction > 0 else (end - s, s - start)
