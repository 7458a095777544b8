"""Journey kernel benchmark (issue #13), in process, one core: positions/s through
:meth:`analytics.journeys.JourneyKernel.process` with every rule on.

A synthetic fleet of 10,000 vehicles (cars, buses, trucks) over a province-sized box, 100 fixes
each at the 30 s cadence: drives with speed noise, stops (speed 0), over-speed episodes, a few
lost-signal gaps and 1 % GPS-jump fixes; 20 zones (10 circles, 10 polygons, 1-3 km) with speed
limits and truck bans; driving-time caps lowered (48 min continuous, 54 min a day) so that
rule fires too. Arrays are built before the clock starts; the clock covers ``process``, a
``tick`` per 10,000 positions and the final ``flush``; best of 3 runs by CPU time.

* **live**: fixes in arrival order (by time), batches of 10,000 (one fix per vehicle), 5,000
  and 1,000: the worst case for per-vehicle carry (every batch is re-sorted by vehicle and
  every fix takes its predecessor from the carry);
* **backlog**: fixes in batches of 10,000 sorted by vehicle (100 vehicles x 100 fixes);
* **200 zones**: live batches of 10,000 with 200 zones instead of 20.

Target: ≥ 1,000,000 positions/s (CPU). ``main()`` prints progress and returns the figures.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from typing import Any

import numpy as np

from analytics.journeys import JourneyConfig, JourneyKernel, JourneyOutput, Vehicle

VEHICLES = 10_000
FIXES = 100
T0 = 1_795_366_800_000 + 7 * 3_600_000  # 2026-11-23 07:00 local
M_PER_DEG = 111_320.0


def fleet(rng: np.random.Generator) -> list[Vehicle]:
    classes = rng.choice(["car", "bus", "truck"], VEHICLES, p=[0.5, 0.2, 0.3])
    return [Vehicle(f"51C{i:05d}", str(c)) for i, c in enumerate(classes)]


def zones(rng: np.random.Generator, count: int = 20) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for z in range(count):
        lat, lon = 10.6 + 0.8 * rng.random(), 107.6 + 0.8 * rng.random()
        size = 1000 + 2000 * rng.random()
        zone: dict[str, Any] = {"id": f"Z{z:02d}", "speed_limit_kmh": 50}
        if z % 2:
            zone["circle"] = {"lat": lat, "lon": lon, "radius_m": size / 2}
        else:
            dl, dn = size / 2 / M_PER_DEG, size / 2 / (M_PER_DEG * np.cos(np.radians(lat)))
            zone["polygon"] = [
                [lat - dl, lon - dn], [lat - dl, lon + dn * 0.6], [lat, lon + dn],
                [lat + dl, lon + dn], [lat + dl * 0.7, lon - dn],
            ]  # fmt: skip
        if z % 4 == 0:
            zone["forbidden"] = [{"classes": ["truck"], "start": "06:00", "end": "20:00"}]
        out.append(zone)
    return out


def tracks(rng: np.random.Generator) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    """(VEHICLES, FIXES) arrays of every column."""
    shape = (VEHICLES, FIXES)
    cruise = rng.uniform(30, 85, (VEHICLES, 1))
    speed = np.clip(cruise + rng.normal(0, 6, shape), 0, None)
    # stops: spells of 12 fixes (6 min) standing still, at random places
    stopped = np.zeros(shape, dtype=bool)
    for _ in range(2):
        start = rng.integers(0, FIXES - 12, VEHICLES)
        cols = start[:, None] + np.arange(12)
        stopped[np.arange(VEHICLES)[:, None], cols] = rng.random((VEHICLES, 1)) < 0.5
    speed[stopped] = 0.0
    # over-speed episodes on a tenth of the vehicles
    fast = rng.random(VEHICLES) < 0.1
    start = rng.integers(0, FIXES - 6, VEHICLES)
    cols = start[:, None] + np.arange(6)
    speed[np.flatnonzero(fast)[:, None], cols[fast]] += 35.0
    dt = np.full(shape, 30_000, dtype=np.int64)
    dt[rng.random(shape) < 0.005] = 300_000  # lost signal
    t = T0 + rng.integers(0, 30_000, (VEHICLES, 1)) + np.cumsum(dt, axis=1)
    heading = np.radians(rng.uniform(0, 360, (VEHICLES, 1)) + np.cumsum(rng.normal(0, 8, shape), 1))
    metres = speed / 3.6 * dt / 1000
    lat = (
        10.55 + 0.9 * rng.random((VEHICLES, 1)) + np.cumsum(metres * np.cos(heading), 1) / M_PER_DEG
    )
    lon = (
        107.55
        + 0.9 * rng.random((VEHICLES, 1))
        + np.cumsum(metres * np.sin(heading), 1) / (M_PER_DEG * 0.98)
    )
    jump = rng.random(shape) < 0.01
    return {
        "vehicle": np.broadcast_to(np.arange(VEHICLES, dtype=np.int32)[:, None], shape),
        "t_ms": t,
        "lat": np.where(jump, lat + 0.05, lat),
        "lon": lon,
        "speed_kmh": np.where(jump, speed * 3, speed).astype(np.float32),
        "ignition": np.where(stopped & (rng.random(shape) < 0.5), 0, -1).astype(np.int8),
        "gps_jump": jump,
    }


def batches(data: dict[str, np.ndarray], size: int, by_time: bool) -> list[dict[str, np.ndarray]]:  # type: ignore[type-arg]
    flat = {k: np.ascontiguousarray(v).ravel() for k, v in data.items()}
    order = np.argsort(flat["t_ms"], kind="stable") if by_time else np.arange(VEHICLES * FIXES)
    flat = {k: v[order] for k, v in flat.items()}
    return [{k: v[i : i + size] for k, v in flat.items()} for i in range(0, len(order), size)]


def run(
    kernel: JourneyKernel,
    parts: list[dict[str, np.ndarray]],  # type: ignore[type-arg]
) -> tuple[float, float, dict[str, int]]:
    counts: dict[str, int] = {}

    def add(out: JourneyOutput) -> None:
        for name in ("trips", "stops", "speeding", "driving", "signal", "zone_events",
                     "zone_violations"):  # fmt: skip
            counts[name] = counts.get(name, 0) + len(getattr(out, name))

    every = max(1, 10_000 // len(parts[0]["t_ms"]))  # a tick per 10,000 positions
    wall, cpu = time.perf_counter(), time.process_time()
    for i, part in enumerate(parts):
        add(kernel.process(**part))
        if i % every == every - 1:
            add(kernel.tick(int(part["t_ms"].max())))
    add(kernel.flush())
    return time.perf_counter() - wall, time.process_time() - cpu, counts


def main(profile: bool = False) -> dict[str, float]:
    started = time.perf_counter()

    def log(line: str) -> None:
        print(f"[journeys {time.perf_counter() - started:6.1f}s] {line}", flush=True)

    rng = np.random.default_rng(13)
    vehicles, data = fleet(rng), tracks(rng)
    config = JourneyConfig.model_validate(
        {"zones": zones(rng), "driving": {"continuous_max_h": 0.8, "daily_max_h": 0.9}}
    )
    n = VEHICLES * FIXES
    log(f"{VEHICLES:,} vehicles x {FIXES} fixes = {n:,} positions, {len(config.zones)} zones")
    figures: dict[str, float] = {}
    cases: list[tuple[str, int, bool]] = [
        ("live_10000", 10_000, True),
        ("live_5000", 5_000, True),
        ("live_1000", 1_000, True),
        ("backlog_10000", 10_000, False),
    ]
    for name, size, by_time in cases:
        parts = batches(data, size, by_time)
        runs = [run(JourneyKernel(config, vehicles), parts) for _ in range(3)]
        wall, cpu, counts = min(runs, key=lambda r: r[1])  # best of 3 (CPU)
        figures[f"{name}_positions_per_s_cpu"] = n / cpu
        figures[f"{name}_positions_per_s_wall"] = n / wall
        log(
            f"{name}: {len(parts)} batches of {size:,}: {cpu:.2f} s CPU, {wall:.2f} s wall "
            f"→ {n / cpu:,.0f} positions/s CPU; {counts}"
        )
    many = config.model_copy(update={"zones": JourneyConfig.model_validate(
        {"zones": zones(np.random.default_rng(14), 200)}).zones})  # fmt: skip
    parts = batches(data, 10_000, True)
    wall, cpu, counts = min(
        (run(JourneyKernel(many, vehicles), parts) for _ in range(3)), key=lambda r: r[1]
    )
    figures["live_10000_200_zones_positions_per_s_cpu"] = n / cpu
    log(f"live_10000 with 200 zones: {n / cpu:,.0f} positions/s CPU; {counts}")
    if profile:
        parts = batches(data, 10_000, True)
        kernel = JourneyKernel(config, vehicles)
        profiler = cProfile.Profile()
        profiler.enable()
        run(kernel, parts)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)
    for figure, value in figures.items():
        log(f"{figure} = {value:,.0f}")
    return figures


if __name__ == "__main__":
    main(profile="--profile" in sys.argv)  # --profile: cProfile of the live 10,000 case
