"""CPU per fix of the vehicle data path in process (issue #13): ``Pipeline.process`` on
position messages — decode, validate, line protocol, spool append, journey kernel, board,
alerts — without broker or database, as bench_pipeline measures the stations'.

The fleet simulator's 5,000 vehicles over 25 ticks of 30 s (~97,000 fixes, shifted to end
now; the registry its own), in batches of ``ingest.batch_size`` messages: ``single`` one JSON
object per message, ``arrays`` a vehicle's fixes 20 to a message (bench_vehicles builds
both). The store's writer task is not started and the spool does not fsync. Best of
``REPEATS`` rounds of a fresh pipeline by ``time.process_time``.

``python -m tests.benchmarks.bench_vehicle_pipeline [--profile]``: ``--profile`` prints a
cProfile of one single-fix round (top functions by own time).
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from alerts.lifecycle import AlertBook
from analytics.engine import AnalyticsEngine
from ingest.rejections import RejectionSink
from ingest.validate import ReadingValidator
from ioc.config import IocConfig
from ioc.fleet import FleetRegistry
from ioc.messages import RawMessage
from ioc.pipeline import Pipeline
from ioc.registry import StationRegistry
from ioc.vehicle_pipeline import VehiclePipeline
from simulators.fleet import FleetConfig, write_registry
from store.influx import InfluxStore
from tests.benchmarks.bench_load import write_bench_registry
from tests.benchmarks.bench_vehicles import (
    ARRAY_FIXES,
    CATCHUP_TICKS,
    CATCHUP_VEHICLES,
    Message,
    backlog,
)
from web.broadcast import Broadcaster
from web.station_board import StationBoard
from web.vehicle_board import VehicleBoard

PREFIX = "ioc/v1"
REPEATS = 3


async def one_round(
    directory: Path, messages: list[Message], profile: cProfile.Profile | None = None
) -> tuple[float, int]:
    """(CPU seconds, fixes stored) of a fresh pipeline over ``messages``."""
    config = IocConfig.model_validate({"vehicles": {"fleet": str(directory / "fleet.yaml")}})
    registry = StationRegistry.from_file(directory / "stations.yaml")
    spool = Path(tempfile.mkdtemp(dir=directory))
    influx = config.influx.model_copy(update={"spool_dir": spool, "spool_fsync": False})
    rules = {rule.id: rule for rule in config.analytics.rules}
    fleet = FleetRegistry.from_file(directory / "fleet.yaml")
    size = config.ingest.batch_size
    received = int(time.time() * 1000)
    raw = [
        RawMessage(topic, payload, received, mid=n % 65_535 + 1, qos=1)
        for n, (topic, payload, _) in enumerate(messages)
    ]
    async with aiohttp.ClientSession() as session:
        store = InfluxStore(influx, session)
        alerts = AlertBook(rules)
        rejections = RejectionSink(
            store, lambda t, p: None, f"{PREFIX}/rejected", 60, is_station=lambda s: True
        )
        vehicles = VehiclePipeline(
            fleet=fleet,
            config=config.vehicles,
            journeys=config.journeys,
            topic_prefix=PREFIX,
            store=store,
            rejections=rejections,
            alerts=alerts,
            board=VehicleBoard(fleet),
            clock=lambda: int(time.time() * 1000),
        )
        pipeline = Pipeline(
            registry=registry,
            rules=rules,
            validator=ReadingValidator(registry, config.ingest),
            store=store,
            rejections=rejections,
            engine=AnalyticsEngine(config.analytics, registry),
            alerts=alerts,
            board=StationBoard(registry, 3),
            broadcaster=Broadcaster(100, 100, dict),
            batch_size=size,
            vehicles=vehicles,
        )
        alerts.subscribe(pipeline.publish_alert_events)
        if profile:
            profile.enable()
        started = time.process_time()
        for first in range(0, len(raw), size):
            pipeline.process(raw[first : first + size])
        cpu_s = time.process_time() - started
        if profile:
            profile.disable()
        store.spool.close()
    return cpu_s, vehicles.positions


def main(profile: bool = False) -> dict[str, float]:
    started = time.perf_counter()

    def log(line: str) -> None:
        print(f"[vehicle-pipeline {time.perf_counter() - started:6.1f}s] {line}", flush=True)

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ioc-bench-vehicle-pipeline-") as tmp:
        directory = Path(tmp)
        write_bench_registry(directory / "stations.yaml", 0)
        write_registry(directory / "fleet.yaml", FleetConfig(vehicles=CATCHUP_VEHICLES))
        for name, arrays in (("single", False), ("arrays", True)):
            messages, fixes = backlog(CATCHUP_VEHICLES, CATCHUP_TICKS, PREFIX, arrays)
            rounds = [asyncio.run(one_round(directory, messages)) for _ in range(REPEATS)]
            cpu_s, stored = min(rounds)
            if stored != fixes:
                raise AssertionError(f"{name}: {stored} of {fixes} fixes stored")
            figures[f"{name}_us_per_fix"] = 1e6 * cpu_s / fixes
            figures[f"{name}_positions_per_s_cpu"] = fixes / cpu_s
            log(
                f"{name}: {fixes:,} fixes in {len(messages):,} messages (x{ARRAY_FIXES} a "
                f"message: {arrays}): {1e6 * cpu_s / fixes:.1f} µs CPU per fix → "
                f"{fixes / cpu_s:,.0f} positions/s on one core"
            )
        if profile:
            messages, _ = backlog(CATCHUP_VEHICLES, CATCHUP_TICKS, PREFIX, False)
            profiler = cProfile.Profile()
            asyncio.run(one_round(directory, messages, profiler))
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return figures


if __name__ == "__main__":
    main(profile="--profile" in sys.argv)
