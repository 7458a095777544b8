"""Outlines of the demo province and its districts, for the wall's map.

``python -m simulators.outlines config/outlines.geojson`` regenerates the shipped file: a
plausible province outline (a hand-drawn ring around the demo stations and roads, its edges
roughened deterministically) and one district per town of :data:`simulators.province.DISTRICTS`
(the province cut by the perpendicular bisectors between the towns: a Voronoi partition).
It is demo geometry, not the real administrative boundaries: a province ships its own GeoJSON
(``web.basemap.outlines``).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from simulators.province import DISTRICTS

Point = tuple[float, float]  # (lon, lat), as GeoJSON orders them

#: The province's ring, clockwise from the north (lon, lat): NE–SW like the Central Highlands
#: province the demo is modelled on.
PROVINCE_RING: list[Point] = [
    (108.40, 12.36),
    (108.62, 12.30),
    (108.78, 12.18),
    (108.82, 11.98),
    (108.74, 11.80),
    (108.66, 11.64),
    (108.45, 11.52),
    (108.26, 11.36),
    (108.02, 11.20),
    (107.80, 11.19),
    (107.55, 11.25),
    (107.36, 11.24),
    (107.22, 11.38),
    (107.20, 11.58),
    (107.30, 11.74),
    (107.48, 11.82),
    (107.72, 11.93),
    (107.92, 12.07),
    (108.05, 12.21),
    (108.20, 12.31),
]
PROVINCE_NAME = "Lâm Đồng (demo)"


def roughen(
    ring: list[Point], seed: int = 2026, depth: int = 3, amount: float = 0.18
) -> list[Point]:
    """Each edge split ``depth`` times at its midpoint, moved sideways by up to ``amount`` of
    the edge's length: a natural-looking border with the hand-drawn shape."""
    rng = random.Random(seed)
    points = list(ring)
    for _ in range(depth):
        finer: list[Point] = []
        for i, (x1, y1) in enumerate(points):
            x2, y2 = points[(i + 1) % len(points)]
            shift = rng.uniform(-amount, amount)
            mx, my = (x1 + x2) / 2 - (y2 - y1) * shift, (y1 + y2) / 2 + (x2 - x1) * shift
            finer += [(x1, y1), (mx, my)]
        points = finer
    return points


def clip(polygon: list[Point], a: float, b: float, c: float) -> list[Point]:
    """The part of ``polygon`` where a·x + b·y <= c (Sutherland–Hodgman, one half-plane)."""
    out: list[Point] = []
    for i, p in enumerate(polygon):
        q = polygon[(i + 1) % len(polygon)]
        fp, fq = a * p[0] + b * p[1] - c, a * q[0] + b * q[1] - c
        if fp <= 0:
            out.append(p)
        if (fp < 0 < fq) or (fq < 0 < fp):
            t = fp / (fp - fq)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def district_cells(province: list[Point]) -> list[tuple[str, Point, list[Point]]]:
    """Each town's cell: the points of the province nearer to it than to any other town."""
    towns = [(name, (lon, lat)) for name, lat, lon in DISTRICTS]
    cells = []
    for name, (x0, y0) in towns:
        cell = province
        for other, (x1, y1) in towns:
            if other == name:
                continue
            # nearer to (x0, y0): (x1-x0)·x + (y1-y0)·y <= (|p1|² - |p0|²) / 2
            cell = clip(cell, x1 - x0, y1 - y0, (x1**2 + y1**2 - x0**2 - y0**2) / 2)
        cells.append((name, (x0, y0), cell))
    return cells


def contains(polygon: list[Point], point: Point) -> bool:
    """Ray casting."""
    x, y = point
    inside = False
    for i, (x1, y1) in enumerate(polygon):
        x2, y2 = polygon[(i + 1) % len(polygon)]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def ring_json(points: list[Point]) -> list[list[float]]:
    ring = [[round(x, 4), round(y, 4)] for x, y in points]
    return [*ring, ring[0]]


def outlines() -> dict[str, Any]:
    province = roughen(PROVINCE_RING)
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {"level": "province", "name": PROVINCE_NAME},
            "geometry": {"type": "Polygon", "coordinates": [ring_json(province)]},
        }
    ]
    for name, (lon, lat), cell in district_cells(province):
        features.append(
            {
                "type": "Feature",
                "properties": {"level": "district", "name": name, "label": [lon, lat]},
                "geometry": {"type": "Polygon", "coordinates": [ring_json(cell)]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="GeoJSON file to write")
    args = parser.parse_args()
    text = json.dumps(outlines(), ensure_ascii=False, separators=(",", ":"))
    args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
