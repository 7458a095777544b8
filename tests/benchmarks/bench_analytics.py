"""Analytics benchmark, in process (no broker, no database), one core:

* **kernels**: the vectorised batch kernels in readings/s: the limit rules (QCVN air rules,
  windows and level state machines) on a day of 1-minute data of 200 air stations, the anomaly
  kernels on the same values, VN_AQI on station-hours, fire danger on station-days;
* **streaming**: :meth:`AnalyticsEngine.evaluate` on batches of 500 readings of 6 values from
  200 air stations reporting every 5 minutes, with every default rule, VN_AQI and the anomaly
  checks on, and a tick every 20 batches (target: 20,000 station messages/s);
* **backtest**: a 24-hour-mean rule over 30 days of 1-minute data of 100 stations (4.32 M
  values), synthesized in memory and fed through :func:`analytics.backtest.run_backtest`
  (target: under 3 s).

Times are wall-clock and CPU (``process_time``); on a busy machine the CPU figure is the
fairer one. ``main()`` prints progress and returns the figures.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from analytics import anomaly, aqi, fire_danger
from analytics.backtest import run_backtest
from analytics.config import AnalyticsConfig, AnomalyConfig, RuleConfig
from analytics.engine import AnalyticsEngine
from analytics.limits import LimitRules
from analytics.series import HOUR_MS, HourlyStore, Points, SeriesTable
from ioc.messages import Reading
from ioc.registry import StationRegistry

AIR = ("pm25", "pm10", "so2", "no2", "co", "o3")
LEVELS = np.array([35.0, 55.0, 18.0, 28.0, 1100.0, 45.0])  # µg/m³, per parameter
T0 = 1_795_000_000_000 // (24 * HOUR_MS) * 24 * HOUR_MS - 7 * HOUR_MS  # local midnight
MINUTE = 60_000


def air_registry(directory: Path, stations: int) -> StationRegistry:
    """``stations`` air stations on a grid about 5 km apart, all six pollutants."""
    side = int(np.ceil(np.sqrt(stations)))
    doc: dict[str, Any] = {
        "parameter_sets": {
            "air": {p: {"unit": "ug/m3", "min": 0, "max": 200_000} for p in AIR},
        },
        "stations": [
            {
                "id": f"AIR-{i:04d}",
                "name": f"Air {i}",
                "kind": "air",
                "lat": 11.5 + 0.045 * (i // side),
                "lon": 108.0 + 0.045 * (i % side),
                "parameters": "air",
                "interval_s": 300,
            }
            for i in range(stations)
        ],
    }
    path = directory / f"air-{stations}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return StationRegistry.from_file(path)


def synthetic(stations: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """Values of shape (stations, steps, 6): daily cycle, station level, noise, an episode."""
    hour = (np.arange(steps) % 288) / 12.0
    cycle = 1.0 + 0.4 * np.sin((hour - 8.0) / 24.0 * 2 * np.pi)
    level = rng.lognormal(0.0, 0.25, (stations, 1, 1))
    noise = rng.lognormal(0.0, 0.08, (stations, steps, len(AIR)))
    values = LEVELS * level * cycle[None, :, None] * noise
    values[: stations // 10, steps // 2 : steps // 2 + 24, 0] *= 4.0  # a PM2.5 episode
    return values


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def best_of(runs: int, work: Callable[[], object]) -> Clock:
    clocks = []
    for _ in range(runs):
        with Clock() as clock:
            work()
        clocks.append(clock)
    return min(clocks, key=lambda c: c.cpu)


def bench_kernels(registry: StationRegistry, log: Callable[[str], None]) -> dict[str, float]:
    stations, minutes = len(registry), 1440
    rng = np.random.default_rng(1)
    values = synthetic(stations, minutes, rng)  # 1-minute steps here
    table = SeriesTable(registry)
    series = np.array([[table.find(s, p) for p in AIR] for s in range(stations)])
    n = values.size
    points = Points.build(
        np.repeat(series.ravel(), minutes),
        np.tile(T0 + np.arange(minutes) * MINUTE, stations * len(AIR)),
        values.transpose(0, 2, 1).ravel(),
        np.zeros(n, dtype=bool),
    )
    rules = [r for r in AnalyticsConfig().rules if "air" in r.kinds and r.parameter in AIR]

    def limits() -> None:
        LimitRules(rules, SeriesTable(registry)).evaluate(HourlyStore(), points)

    figures: dict[str, float] = {}
    clock = best_of(2, limits)
    figures["kernel_limits_readings_per_s"] = n / clock.cpu
    log(
        f"limits: {len(rules)} QCVN air rules on {n:,} values: {clock.cpu:.2f} s CPU "
        f"→ {n / clock.cpu:,.0f} values/s"
    )

    grid = values.transpose(0, 2, 1).reshape(-1, minutes)  # (series, time)
    seconds = np.arange(minutes) * 60.0
    low, high = np.zeros(len(grid)), np.full(len(grid), 5000.0)

    def kernels() -> None:
        anomaly.rate_of_change_spikes(grid, seconds, 50.0)
        anomaly.flatline(grid, 12)
        anomaly.out_of_range(grid, low, high)

    clock = best_of(2, kernels)
    figures["kernel_anomaly_step_flat_range_readings_per_s"] = grid.size / clock.cpu
    log(
        f"anomaly rate-of-change + flatline + range on {grid.size:,} values: "
        f"{grid.size / clock.cpu:,.0f} values/s"
    )
    window = AnomalyConfig().zscore_window  # what the engine uses
    sample = grid[:, : 6 * 48]
    clock = best_of(1, lambda: anomaly.robust_zscore(sample, window))
    figures["kernel_anomaly_zscore_readings_per_s"] = sample.size / clock.cpu
    log(
        f"anomaly robust z (window {window}) on {sample.size:,} values: "
        f"{sample.size / clock.cpu:,.0f} values/s"
    )

    hours = 24 * stations
    hourly = {
        p: rng.lognormal(np.log(lv), 0.3, (hours, 12)) for p, lv in zip(AIR, LEVELS, strict=True)
    }
    inputs = {"pm25": hourly["pm25"], "pm10": hourly["pm10"]} | {
        p: hourly[p][:, 0] for p in ("so2", "no2", "co", "o3")
    }
    clock = best_of(3, lambda: aqi.hourly_aqi(inputs))
    figures["kernel_aqi_station_hours_per_s"] = hours / clock.cpu
    log(
        f"VN_AQI hourly on {hours:,} station-hours (6 pollutants, NowCast): "
        f"{hours / clock.cpu:,.0f} station-hours/s"
    )

    days, forest = 365, 1000
    temp = rng.normal(28, 4, (forest, days))
    rh = rng.uniform(30, 90, (forest, days))
    wind = rng.uniform(0, 20, (forest, days))
    rain = np.where(rng.random((forest, days)) < 0.2, rng.exponential(8, (forest, days)), 0.0)
    months = 1 + (np.arange(days) // 31) % 12

    def fire() -> None:
        d13 = fire_danger.saturation_deficit_hpa(temp, rh)
        fire_danger.nesterov_level(fire_danger.nesterov_index(temp, d13, rain))
        fire_danger.fwi_series(temp, rh, wind, rain, months, np.full(forest, 11.9))

    clock = best_of(2, fire)
    figures["kernel_fire_station_days_per_s"] = forest * days / clock.cpu
    log(
        f"Nesterov + FWI on {forest * days:,} station-days: "
        f"{forest * days / clock.cpu:,.0f} station-days/s"
    )
    return figures


def bench_streaming(registry: StationRegistry, log: Callable[[str], None]) -> dict[str, float]:
    stations, steps, batch = len(registry), 600, 500
    rng = np.random.default_rng(2)
    values = synthetic(stations, steps, rng)
    ids = [s.id for s in registry]
    readings = [
        Reading(
            ids[s],
            T0 + i * 5 * MINUTE,
            dict(zip(AIR, values[s, i].tolist(), strict=True)),
            T0 + i * 5 * MINUTE + 2000,
        )
        for i in range(steps)
        for s in range(stations)
    ]
    batches = [readings[i : i + batch] for i in range(0, len(readings), batch)]
    engine = AnalyticsEngine(AnalyticsConfig(), registry)
    engine.tick(T0)
    transitions = lines = 0
    with Clock() as clock:
        for k, b in enumerate(batches):
            out = engine.evaluate(b)
            transitions += len(out.transitions)
            lines += len(out.lines)
            if k % 20 == 19:
                transitions += len(engine.tick(b[-1].ts_ms).transitions)
    n = len(readings)
    log(
        f"streaming: {n:,} messages of 6 values ({steps * 5 / 60:.0f} h of {stations} stations) "
        f"in batches of {batch}: {clock.wall:.2f} s wall, {clock.cpu:.2f} s CPU "
        f"→ {n / clock.cpu:,.0f} messages/s CPU ({n / clock.wall:,.0f} wall); "
        f"{transitions} transitions, {lines:,} lines"
    )
    return {
        "streaming_messages_per_s_cpu": n / clock.cpu,
        "streaming_messages_per_s_wall": n / clock.wall,
    }


def bench_backtest(registry: StationRegistry, log: Callable[[str], None]) -> dict[str, float]:
    stations, minutes = len(registry), 30 * 1440
    rng = np.random.default_rng(3)
    rule = RuleConfig.model_validate(
        {
            "id": "pm25_24h",
            "name": "PM2.5 24h",
            "parameter": "pm25",
            "window": "24h",
            "thresholds": [
                {"above": 45, "clear_at": 43, "severity": "warning"},
                {"above": 90, "clear_at": 85, "severity": "critical"},
            ],
        }
    )
    config = AnalyticsConfig.model_validate(
        {
            "rules": [rule.model_dump(exclude_defaults=True)],
            "anomaly": {"enabled": False},
            "aqi": {"enabled": False},
            "fire": {"enabled": False},
        }
    )
    day = np.arange(minutes) / 1440.0
    level = 30 + 25 * np.sin(day / 30 * 2 * np.pi * 3)  # episodes over the month
    pm25 = (
        level[None, :]
        * rng.lognormal(0, 0.25, (stations, 1))
        * rng.lognormal(0, 0.1, (stations, minutes))
    )
    log(f"backtest data: {pm25.size:,} values synthesized")
    with Clock() as clock:
        engine = AnalyticsEngine(config, registry)
        series = np.array([engine.table.find(s, "pm25") for s in range(stations)])
        points = Points.build(
            np.repeat(series, minutes),
            np.tile(T0 + np.arange(minutes) * MINUTE, stations),
            pm25.ravel(),
            np.zeros(pm25.size, dtype=bool),
        )
        result = run_backtest(engine, points, T0, T0 + minutes * MINUTE, 3600.0)
    alerts = sum(s.alerts for s in result.stations.values())
    log(
        f"backtest 30 days x 1-minute x {stations} stations: {clock.wall:.2f} s wall, "
        f"{clock.cpu:.2f} s CPU; {len(result.events)} events, {alerts} alerts"
    )
    return {
        "backtest_30d_100_stations_s_wall": clock.wall,
        "backtest_30d_100_stations_s_cpu": clock.cpu,
    }


def main() -> dict[str, float]:
    started = time.perf_counter()

    def log(line: str) -> None:
        print(f"[analytics {time.perf_counter() - started:6.1f}s] {line}", flush=True)

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        log("kernels ...")
        figures |= bench_kernels(air_registry(directory, 200), log)
        log("streaming ...")
        figures |= bench_streaming(air_registry(directory, 200), log)
        log("backtest ...")
        figures |= bench_backtest(air_registry(directory, 100), log)
    for name, value in figures.items():
        log(f"{name} = {value:,.2f}")
    return figures


if __name__ == "__main__":
    main()
