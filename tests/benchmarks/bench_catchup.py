"""Catch-up benchmark: how fast the service works off a backlog the broker kept for it.

The service's MQTT session is persistent (fixed client id, ``clean_session=False``), so while
it is down the broker queues its QoS 1 messages. Here the service starts once (to register
its subscription) and stops; the publishers then put ``count`` messages into the broker as
fast as they can; then the service starts again and the time until every message is written
to InfluxDB is measured. With no publishers competing for the cores, this is the service's
own processing ceiling on the machine — and the time a real outage takes to recover from.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.benchmarks.bench_ingest import HealthSample, Log, recent_rate
from tests.benchmarks.bench_load import PublisherFleet, summarize, write_bench_registry
from tests.benchmarks.bench_profile import Profile, ServiceProfiler, format_profile
from tests.benchmarks.bench_stack import (
    CLOCK_TICKS,
    BenchStack,
    BrokerConnections,
    CpuMeter,
    ServiceProcess,
    StoredSampler,
    count_rows,
    cpu_seconds,
    middle_span,
    pid_of,
    private_stack,
)

FILL_RATE = 50_000  # msg/s asked of the publishers while the service is down
DRAIN_TIMEOUT_S = 90.0
IDLE_AFTER_S = 5.0


@dataclass
class CatchUpResult:
    queued: int = 0  # messages the broker acknowledged to the publishers
    stored: int = 0
    lost: int | None = None  # None: the service had not caught up at the timeout
    backlog: int = 0
    start_s: float = 0.0  # process start → its TCP connection to the broker
    drain_s: float = 0.0  # subscribed → everything written
    rate: float = 0.0  # stored / drain_s
    peak_rate: float = 0.0  # best 2 s
    service_us_per_message: float = 0.0  # service CPU time / messages stored
    mean_batch: float = 0.0  # messages per pipeline batch
    cpu_percent: dict[str, float] = field(default_factory=dict)
    middle_rate: float = 0.0  # msg/s between 10 % and 90 % of the backlog stored
    middle_us_per_message: float = 0.0  # service CPU over the same span, per message
    note: str = ""
    profile: Profile | None = None
    profile_path: Path | None = None
    # Wall-clock times (epoch s) for comparisons with a peer (bench_nodered): the service
    # process spawned (from /proc, ±10 ms), health said connected, everything written.
    spawned_at: float = 0.0
    connected_at: float = 0.0
    written_at: float = 0.0
    cpu_since_spawn_s: float = 0.0  # the service's CPU time from its spawn, start-up included
    log_path: Path | None = None  # the service's log (its "MQTT connected" line)


def run_catchup_benchmark(
    count: int,
    publishers: int,
    stations: int,
    engine: str,
    log: Log,
    profile_dir: Path | None = None,
) -> CatchUpResult:
    with private_stack("catchup") as stack:
        registry = stack.directory / "stations.yaml"
        air_ids = write_bench_registry(registry, stations)
        log(f"[catch-up] Mosquitto :{stack.mosquitto.port}, InfluxDB :{stack.influxdb.port}")
        return asyncio.run(
            _catch_up(stack, registry, air_ids, count, publishers, engine, log, profile_dir)
        )


async def _catch_up(
    stack: BenchStack,
    registry: Path,
    air_ids: list[str],
    count: int,
    publishers: int,
    engine: str,
    log: Log,
    profile_dir: Path | None,
    workers: int = 0,
    partitions: int | None = None,
) -> CatchUpResult:
    """``workers``: the worker layout (``workers.ingest``, and ``workers.partitions``), 0:
    one process."""
    result = CatchUpResult()
    run_id = f"catchup-{int(time.time())}-w{workers}"
    extra = {"workers": {"ingest": workers, "partitions": partitions}} if workers else None
    service = ServiceProcess(stack.directory, registry, stack, run_id, extra)
    await asyncio.to_thread(service.start)  # registers the persistent subscription
    await asyncio.to_thread(service.stop)
    log(f"[catch-up] service stopped; queueing {count:,} messages in the broker")
    fleet = PublisherFleet(
        stack.mosquitto.port, service.prefix, air_ids, publishers, FILL_RATE, count, run_id, engine
    )
    await asyncio.to_thread(fleet.start)
    fleet.go()
    summary = summarize(await asyncio.to_thread(fleet.results, count / 1000 + 90))
    result.queued = summary.acked
    if summary.errors:
        result.note = "; ".join(summary.errors)
    log(f"[catch-up] {summary.acked:,} queued ({summary.publish_rate:,.0f}/s); starting service")
    # Timed from the service's TCP connection to the broker: it works the backlog off from its
    # CONNACK on, before its health endpoint answers (as the Node-RED comparison times both).
    started = time.time()
    sampler = StoredSampler(
        stack.influxdb.url, service.database, "time > 0", lambda: pid_of(service.process)
    ).start()
    with BrokerConnections(pid_of(stack.mosquitto.process), str(service.directory)) as sockets:
        await asyncio.to_thread(service.start)
        answered = time.time()
    connected, cpu_at_connect = sockets.connected(started, str(service.directory))
    if not connected:
        connected, cpu_at_connect = answered, cpu_seconds(service.pid)
    result.spawned_at, result.connected_at = process_started_at(service.pid), connected
    result.start_s = connected - (result.spawned_at or started)  # not the account set-up
    result.log_path = service.log_path
    profiler = ServiceProfiler(service.pid, profile_dir, "service-catchup") if profile_dir else None
    if profiler:
        profiler.start(min(DRAIN_TIMEOUT_S, 30.0))
    cpu = CpuMeter(
        {
            "service": service.pid,
            "mosquitto": pid_of(stack.mosquitto.process),
            "influxd": pid_of(stack.influxdb.process),
        }
    )
    try:
        samples, outcome = await _wait_written(service, result.queued, connected, log)
        stored_samples = await asyncio.to_thread(sampler.stop)
        result.middle_rate, result.middle_us_per_message = middle_span(
            stored_samples, result.queued
        )
        cpu.sample()
        result.cpu_percent = cpu.percent()
        result.cpu_since_spawn_s = cpu_seconds(service.pid)
        result.stored = count_rows(stack.influxdb.url, service.database, "time > 0")
        if result.stored:
            spent = result.cpu_since_spawn_s - cpu_at_connect
            result.service_us_per_message = 1e6 * spent / result.stored
    finally:
        sampler.stop()
        if profiler:
            profiler.stop()
        await asyncio.to_thread(service.stop)
    if outcome == "caught_up" or outcome == "idle":
        result.lost = result.queued - result.stored
    else:
        result.backlog = result.queued - result.stored
    result.mean_batch = samples[-1].mean_batch if samples else 0.0
    done = next((s for s in samples if s.processed >= result.queued and s.pending == 0), None)
    end = done or (samples[-1] if samples else None)
    if end is not None:
        result.drain_s = end.t - connected
        result.written_at = end.t
        result.rate = min(end.processed, result.stored) / max(1e-3, result.drain_s)
    result.peak_rate = max(
        (
            (b.processed - a.processed) / (b.t - a.t)
            for i, a in enumerate(samples)
            for b in samples[i + 1 : i + 12]
            if b.t - a.t >= 2.0
        ),
        default=0.0,
    )
    lost = "n/a" if result.lost is None else f"{result.lost:,}"
    log(
        f"[catch-up] {result.stored:,} of {result.queued:,} written in {result.drain_s:.1f} s "
        f"after a {result.start_s:.1f} s start → {result.rate:,.0f} msg/s (peak 2 s "
        f"{result.peak_rate:,.0f}/s; 10–90 % stored: {result.middle_rate:,.0f}/s at "
        f"{result.middle_us_per_message:,.0f} µs/message), lost {lost}; service CPU "
        f"{result.service_us_per_message:,.0f} µs/message, {result.mean_batch:,.0f} messages "
        "per batch; CPU " + ", ".join(f"{k} {v:.0f}%" for k, v in result.cpu_percent.items())
    )
    if profiler:
        result.profile, result.profile_path = profiler.result(), profiler.output
        if result.profile:
            log(format_profile(result.profile, profiler.output))
    return result


def process_started_at(pid: int) -> float:
    """When a live process was spawned (epoch s, ±10 ms), from /proc: its start in clock
    ticks since boot, against the uptime now (``btime`` has only whole seconds)."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return time.time() - (uptime - ticks / CLOCK_TICKS)


async def _wait_written(
    service: ServiceProcess, expected: int, t0: float, log: Log
) -> tuple[list[HealthSample], str]:
    """Poll health until ``expected`` points are written (``caught_up``), nothing moved for
    5 s (``idle``), the timeout passed (``timeout``) or the service died (``crashed``)."""
    samples: list[HealthSample] = []
    next_print, last_change = t0 + 1.0, time.time()
    async with aiohttp.ClientSession() as http:
        while True:
            await asyncio.sleep(0.25)
            now = time.time()
            if service.exited():
                log(f"    the service exited:\n{service.log_tail()}")
                return samples, "crashed"
            if now - t0 > DRAIN_TIMEOUT_S:
                return samples, "timeout"
            try:
                async with http.get(f"{service.url}/api/v1/health") as response:
                    health = await response.json()
            except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError):
                continue
            sample = HealthSample.parse(now, health)
            if samples and (sample.processed, sample.written) != (
                samples[-1].processed,
                samples[-1].written,
            ):
                last_change = now
            samples.append(sample)
            if now >= next_print:
                next_print += 1.0
                log(
                    f"    t={now - t0:5.1f}s received {sample.received:>9,}  processed "
                    f"{sample.processed:>9,} of {expected:,}  last 1 s "
                    f"{recent_rate(samples):>8,.0f}/s"
                )
            if sample.processed >= expected and sample.pending == 0:
                return samples, "caught_up"
            if now - last_change > IDLE_AFTER_S and sample.pending == 0 and sample.processed:
                return samples, "idle"
