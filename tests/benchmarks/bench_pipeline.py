"""CPU per message of ``Pipeline.process`` in process: decode, validate, line protocol, spool
append, analytics, alerts and wall, without broker or database.

100 air stations of the benchmark registry (tests/benchmarks/bench_load.py) with the default
configuration's rules, each message a reading JSON with the six air parameters (values drawn
from the load benchmarks' pool), batches of 500 (five messages per station, one second
apart). The store's writer task is not started and the spool does not fsync, so the figure
is the event-loop CPU the data path costs, not I/O. Each of ``REPEATS`` rounds builds a fresh
pipeline, processes ``WARM_BATCHES`` untimed and then ``BATCHES`` timed batches, measured
with ``time.process_time``; the figures are the best, median and worst round.

``python -m tests.benchmarks.bench_pipeline [--profile]``: ``--profile`` adds a cProfile of
one round (top functions by own time).
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import statistics
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
from ioc.messages import RawMessage
from ioc.pipeline import Pipeline
from ioc.registry import StationRegistry
from store.influx import InfluxStore
from tests.benchmarks.bench_load import PAYLOAD_TEMPLATE, value_pool, write_bench_registry
from web.broadcast import Broadcaster
from web.station_board import StationBoard

STATIONS = 100
BATCH = 500
WARM_BATCHES = 4
BATCHES = 40
REPEATS = 5
PREFIX = "ioc/v1"


def batches(stations: list[str], count: int, start_s: float) -> list[list[RawMessage]]:
    pool = value_pool(1)
    out, n = [], 0
    for b in range(count):
        batch = []
        for i in range(BATCH):
            station = stations[i % len(stations)]
            ts_s = start_s + b * (BATCH // len(stations)) + i // len(stations)
            body = (PAYLOAD_TEMPLATE % (ts_s, pool[n % len(pool)])).encode()
            topic = f"{PREFIX}/stations/{station}/readings"
            batch.append(RawMessage(topic, body, int(ts_s * 1000) + 50, mid=n + 1, qos=1))
            n += 1
        out.append(batch)
    return out


async def one_round(
    directory: Path, air: list[str], profile: cProfile.Profile | None = None
) -> float:
    """µs of CPU per message over ``BATCHES`` batches of a fresh pipeline."""
    config = IocConfig()
    registry = StationRegistry.from_file(directory / "stations.yaml")
    spool = Path(tempfile.mkdtemp(dir=directory))
    influx = config.influx.model_copy(update={"spool_dir": spool, "spool_fsync": False})
    rules = {rule.id: rule for rule in config.analytics.rules}
    async with aiohttp.ClientSession() as session:
        store = InfluxStore(influx, session)
        alerts = AlertBook(rules)
        pipeline = Pipeline(
            registry=registry,
            rules=rules,
            validator=ReadingValidator(registry, config.ingest),
            store=store,
            rejections=RejectionSink(
                store, lambda t, p: None, f"{PREFIX}/rejected", 60, is_station=lambda s: True
            ),
            engine=AnalyticsEngine(config.analytics, registry),
            alerts=alerts,
            board=StationBoard(registry, 3),
            broadcaster=Broadcaster(100, 100, dict),
            batch_size=BATCH,
        )
        alerts.subscribe(pipeline.publish_alert_events)
        work = batches(air, WARM_BATCHES + BATCHES, time.time() - 3600)
        for batch in work[:WARM_BATCHES]:
            pipeline.process(batch)
        if profile:
            profile.enable()
        started = time.process_time()
        for batch in work[WARM_BATCHES:]:
            pipeline.process(batch)
        cpu_s = time.process_time() - started
        if profile:
            profile.disable()
        store.spool.close()
    assert pipeline.stats.readings == (WARM_BATCHES + BATCHES) * BATCH, pipeline.stats
    return 1e6 * cpu_s / (BATCHES * BATCH)


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="ioc-bench-pipeline-") as tmp:
        directory = Path(tmp)
        air = write_bench_registry(directory / "stations.yaml", STATIONS)[:STATIONS]
        rounds = [asyncio.run(one_round(directory, air)) for _ in range(REPEATS)]
        if "--profile" in sys.argv[1:]:
            profile = cProfile.Profile()
            asyncio.run(one_round(directory, air, profile))
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    figures = {
        "pipeline_process_us_per_message_best": min(rounds),
        "pipeline_process_us_per_message_median": statistics.median(rounds),
        "pipeline_process_us_per_message_worst": max(rounds),
    }
    print(
        f"[pipeline] Pipeline.process, batches of {BATCH}, {STATIONS} stations, 6 values: "
        + ", ".join(f"{r:.1f}" for r in rounds)
        + " µs/message (CPU)",
        flush=True,
    )
    return figures


if __name__ == "__main__":
    main()
