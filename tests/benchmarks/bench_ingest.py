"""MQTT ingest benchmark: publishers → Mosquitto → service (``ioc serve`` subprocess) →
InfluxDB, at fixed offered rates.

For each target rate a fresh service (own working directory, topic prefix, client id and
database) receives ``rate × duration`` station messages from N publisher processes. While
they publish:

* the service's ``/api/v1/health`` is polled every 0.25 s (``mqtt.received``,
  ``pipeline.messages``, ``store.written_points`` and what is still pending): progress lines
  and the processed curve;
* a lag probe publishes one reading every 0.5 s on a station no publisher uses and polls
  ``/api/v1/readings?station=BENCH-PROBE`` every 25 ms until it is there: publish →
  queryable in InfluxDB through the service, queueing behind the load included.

Afterwards the rows in InfluxDB are counted (``SELECT count(pm25) FROM reading`` through
InfluxDB's own ``/query``) and compared with what the broker acknowledged to the publishers.
A rate is *sustained* when nothing is lost, the publishers reached ≥ 95 % of the target rate
and the service had written everything ≤ 2 s after the last publish (the store flushes every
0.5 s). A service that falls behind gets 30 s to catch up; what is still missing then is
reported as backlog, since loss cannot be told apart from slowness any more. CPU seconds of
every process come from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt

from tests.benchmarks.bench_load import (
    PROBE_STATION,
    FleetSummary,
    PublisherFleet,
    readings_topic,
    summarize,
    write_bench_registry,
)
from tests.benchmarks.bench_profile import Profile, ServiceProfiler, format_profile
from tests.benchmarks.bench_stack import (
    BenchStack,
    CpuMeter,
    ServiceProcess,
    count_rows,
    pid_of,
    private_stack,
)

HEALTH_POLL_S = 0.25
PROBE_INTERVAL_S = 0.5
PROBE_POLL_S = 0.025
CAUGHT_UP_WITHIN_S = 2.0
MIN_OFFERED_SHARE = 0.95
DRAIN_TIMEOUT_S = 30.0
IDLE_AFTER_S = 5.0  # publishers done, nothing moves for this long: the rest is lost

Log = Callable[[str], None]


@dataclass
class IngestStep:
    """The outcome of one offered rate."""

    target_rate: int
    duration_s: float
    publishers: int
    engine: str
    published: int = 0
    publish_rate: float = 0.0
    stored: int = 0
    lost: int | None = None  # None: not verifiable (the service had not caught up)
    backlog: int = 0  # not stored when the drain timeout ended the run
    ingest_rate: float = 0.0  # stored / (first publish → everything written)
    peak_rate: float = 0.0  # best 2 s of written points
    catch_up_s: float = math.inf  # last publish → everything written
    lag_ms: list[float] = field(default_factory=list)
    probes_sent: int = 0
    backpressure_waits: int = 0
    cpu_percent: dict[str, float] = field(default_factory=dict)  # % of one core
    service_us_per_message: float = 0.0  # service CPU time / messages stored
    mean_batch: float = 0.0  # messages per pipeline batch
    sustained: bool = False
    skipped: bool = False
    note: str = ""
    profile: Profile | None = None
    profile_path: Path | None = None

    def lag_percentile(self, q: float) -> float:
        """Nearest-rank percentile of the probe lags (ms); NaN without probes."""
        if not self.lag_ms:
            return math.nan
        ordered = sorted(self.lag_ms)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass
class HealthSample:
    t: float
    received: int
    written: int
    pending: int
    backpressure_waits: int
    messages: int  # processed by the pipeline
    batches: int  # pipeline batches so far

    @classmethod
    def parse(cls, t: float, health: dict[str, Any]) -> HealthSample:
        """The figures this benchmark needs from ``/api/v1/health``."""
        mqtt, store, pipeline = health["mqtt"], health["store"], health.get("pipeline", {})
        sample = cls(
            t=t,
            received=int(mqtt["received"]),
            written=int(store["written_points"]),
            pending=pending_work(store),
            backpressure_waits=int(mqtt.get("backpressure_waits", 0)),
            messages=int(pipeline.get("messages", 0)),
            batches=int(pipeline.get("batches", 0)),
        )
        for worker in health.get("workers", []):  # the worker layout: theirs too
            counters = worker.get("counters", {})
            sample.received += int(counters.get("received", 0))
            sample.written += int(counters.get("written_points", 0))
            sample.pending += int(counters.get("pending_bytes", 0) + counters.get("held", 0))
            sample.backpressure_waits += int(counters.get("backpressure_waits", 0))
            sample.messages += int(counters.get("messages", 0))
            sample.batches += int(counters.get("batches", 0))
        return sample

    @property
    def processed(self) -> int:
        """Messages the pipeline has processed; written points if health has no such count
        (written points also include derived lines, e.g. hourly analytics results)."""
        return self.messages if self.batches else self.written

    @property
    def mean_batch(self) -> float:
        return self.messages / self.batches if self.batches else 0.0


# --------------------------------------------------------------------------- the benchmark


def run_ingest_benchmark(
    rates: list[int],
    duration_s: float,
    publishers: int,
    stations: int,
    log: Log,
    profile_dir: Path | None = None,
    engine: str = "paho",
) -> list[IngestStep]:
    """Every rate in ascending order against one private Mosquitto + InfluxDB; once a rate is
    not sustained the higher ones are skipped (they cannot be either)."""
    steps: list[IngestStep] = []
    with private_stack("ingest") as stack:
        registry = stack.directory / "stations.yaml"
        air_ids = write_bench_registry(registry, stations)
        log(
            f"[ingest] Mosquitto :{stack.mosquitto.port}, InfluxDB :{stack.influxdb.port}, "
            f"{len(air_ids)} air stations, {publishers} {engine} publisher processes"
        )
        failed_at: int | None = None
        for rate in sorted(rates):
            if failed_at is not None:
                note = f"skipped: {failed_at:,} msg/s was already not sustained"
                steps.append(
                    IngestStep(rate, duration_s, publishers, engine, skipped=True, note=note)
                )
                log(f"[ingest] {rate:,} msg/s {note}")
                continue
            step = asyncio.run(
                run_ingest_step(
                    stack, registry, air_ids, rate, duration_s, publishers, engine, log,
                    profile_dir,
                )
            )  # fmt: skip
            steps.append(step)
            if not step.sustained:
                failed_at = rate
    return steps


async def run_ingest_step(
    stack: BenchStack,
    registry: Path,
    air_ids: list[str],
    rate: int,
    duration_s: float,
    publishers: int,
    engine: str,
    log: Log,
    profile_dir: Path | None,
) -> IngestStep:
    """One offered rate against a fresh service subprocess."""
    step = IngestStep(rate, duration_s, publishers, engine)
    total = int(rate * duration_s)
    run_id = f"r{rate}-{int(time.time())}"
    service = ServiceProcess(stack.directory, registry, stack, run_id)
    await asyncio.to_thread(service.start)
    fleet = PublisherFleet(
        port=stack.mosquitto.port,
        prefix=service.prefix,
        station_ids=air_ids,
        processes=publishers,
        rate=rate,
        total=total,
        run_id=run_id,
        engine=engine,
    )
    profiler = ServiceProfiler(service.pid, profile_dir, f"service-{rate}") if profile_dir else None
    try:
        log(f"[ingest] {rate:,} msg/s: {total:,} messages over {duration_s:.0f} s")
        await asyncio.to_thread(fleet.start)
        pids = {
            "service": service.pid,
            "mosquitto": pid_of(stack.mosquitto.process),
            "influxd": pid_of(stack.influxdb.process),
        }
        cpu = CpuMeter(pids)
        if profiler:
            profiler.start(duration_s)
        t0 = fleet.go()
        async with aiohttp.ClientSession(headers=service.headers) as http:
            probe = LagProbe(stack.mosquitto.port, service, http)
            probe_task = asyncio.create_task(probe.run(t0, t0 + duration_s))
            publishers_done = asyncio.create_task(
                asyncio.to_thread(fleet.results, duration_s * 3 + 90)
            )
            try:
                samples, outcome = await monitor(
                    service, http, t0, rate, total, publishers_done, probe, log
                )
                cpu.sample()
                fleet_summary = summarize(await publishers_done)
                step.lag_ms = await probe_task
                step.probes_sent = probe.sent
            finally:
                probe_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await probe_task
        step.cpu_percent = cpu.percent({"publishers": fleet_summary.cpu_seconds})
        _evaluate(step, fleet_summary, samples, outcome, stack, service)
        if step.stored:
            step.service_us_per_message = 1e6 * cpu.seconds("service") / step.stored
    finally:
        if profiler:
            profiler.stop()
        fleet.stop()
        await asyncio.to_thread(service.stop)
    log(_step_line(step))
    if profiler:
        step.profile, step.profile_path = profiler.result(), profiler.output
        log(format_profile(step.profile, profiler.output) if step.profile else "    (no profile)")
    return step


async def monitor(
    service: ServiceProcess,
    http: aiohttp.ClientSession,
    t0: float,
    rate: int,
    total: int,
    publishers_done: asyncio.Task[Any],
    probe: LagProbe,
    log: Log,
) -> tuple[list[HealthSample], str]:
    """Poll health until the publishers are done and every message they sent (and every
    probe) is written — outcome ``caught_up`` —, or nothing has moved for 5 s (``idle``), or
    the drain timeout passed (``timeout``), or the service died (``crashed``). Prints a
    progress line every second."""
    samples: list[HealthSample] = []
    next_print = t0 + 1.0
    drain_deadline: float | None = None
    hard_deadline = t0 + 4 * total / rate + 90 + DRAIN_TIMEOUT_S  # publishers hung
    last_change = time.time()
    while True:
        await asyncio.sleep(HEALTH_POLL_S)
        now = time.time()
        if now > hard_deadline:
            return samples, "timeout"
        if service.exited():
            log(f"    the service exited:\n{service.log_tail()}")
            return samples, "crashed"
        try:
            async with http.get(f"{service.url}/api/v1/health") as response:
                health = await response.json()
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError):
            continue
        sample = HealthSample.parse(now, health)
        if samples and (sample.received, sample.processed, sample.written) != (
            samples[-1].received,
            samples[-1].processed,
            samples[-1].written,
        ):
            last_change = now
        samples.append(sample)
        if now >= next_print:
            next_print += 1.0
            offered = min(total, int((now - t0) * rate))
            log(
                f"    t={now - t0:5.1f}s offered {offered:>9,}  received {sample.received:>9,}  "
                f"processed {sample.processed:>9,}  pending {sample.pending:>7,}  "
                f"last 1 s {recent_rate(samples):>8,.0f}/s"
            )
        if not publishers_done.done():
            continue
        drain_deadline = drain_deadline or now + DRAIN_TIMEOUT_S
        if sample.processed >= total + probe.sent and sample.pending == 0:
            return samples, "caught_up"
        if now - last_change > IDLE_AFTER_S and sample.pending == 0:
            log(f"    idle for {IDLE_AFTER_S:.0f} s with {sample.processed:,} processed")
            return samples, "idle"
        if now > drain_deadline:
            log(f"    drain timeout: {sample.processed:,} of {total + probe.sent:,} processed")
            return samples, "timeout"


def pending_work(store: dict[str, Any]) -> int:
    """Points (or, with an on-disk spool, bytes) not yet written to InfluxDB."""
    return int(store.get("pending_points", store.get("pending_bytes", 0)))


def recent_rate(samples: list[HealthSample], window_s: float = 1.0) -> float:
    last = samples[-1]
    for earlier in reversed(samples[:-1]):
        if last.t - earlier.t >= window_s:
            return (last.processed - earlier.processed) / (last.t - earlier.t)
    return 0.0


def _evaluate(
    step: IngestStep,
    fleet: FleetSummary,
    samples: list[HealthSample],
    outcome: str,
    stack: BenchStack,
    service: ServiceProcess,
) -> None:
    step.published = fleet.published
    step.publish_rate = fleet.publish_rate
    step.backpressure_waits = samples[-1].backpressure_waits if samples else 0
    step.mean_batch = samples[-1].mean_batch if samples else 0.0
    step.stored = count_rows(
        stack.influxdb.url, service.database, f"\"station\" != '{PROBE_STATION}'"
    )
    if outcome == "crashed":
        step.note = "the service exited during the run"
    if outcome in ("timeout", "crashed"):
        step.backlog = fleet.published - step.stored
    else:
        step.lost = fleet.published - step.stored
    expected = fleet.published + step.probes_sent
    done = next((s for s in samples if s.processed >= expected and s.pending == 0), None)
    end = done or (samples[-1] if samples else None)
    if end is not None and fleet.started:
        step.ingest_rate = min(end.processed, step.stored) / (end.t - fleet.started)
    if done is not None and fleet.started:
        step.catch_up_s = max(0.0, done.t - (fleet.started + fleet.publish_seconds))
    step.peak_rate = max(
        (
            (b.processed - a.processed) / (b.t - a.t)
            for i, a in enumerate(samples)
            for b in samples[i + 1 : i + 12]
            if b.t - a.t >= 2.0
        ),
        default=0.0,
    )
    problems = list(fleet.errors) + ([step.note] if step.note else [])
    if fleet.acked < fleet.published:
        problems.append(f"{fleet.published - fleet.acked:,} publishes not acknowledged")
    if step.lost:
        problems.append(f"{step.lost:,} messages lost")
    if step.backlog:
        problems.append(
            f"{step.backlog:,} messages still not stored {DRAIN_TIMEOUT_S:.0f} s after "
            "publishing ended (loss not verifiable)"
        )
    if step.publish_rate < MIN_OFFERED_SHARE * step.target_rate:
        problems.append(f"publishers reached only {step.publish_rate:,.0f} msg/s")
    if step.catch_up_s > CAUGHT_UP_WITHIN_S and math.isfinite(step.catch_up_s):
        problems.append(f"service fell behind (caught up {step.catch_up_s:.1f} s late)")
    step.sustained = not problems and done is not None
    step.note = "; ".join(problems)


def _step_line(step: IngestStep) -> str:
    verdict = "SUSTAINED" if step.sustained else "NOT sustained"
    cpu = ", ".join(f"{k} {v:.0f}%" for k, v in step.cpu_percent.items())
    lost = "n/a" if step.lost is None else f"{step.lost:,}"
    return (
        f"[ingest] {step.target_rate:,} msg/s → {verdict}: published {step.published:,} "
        f"({step.publish_rate:,.0f}/s), stored {step.stored:,}, lost {lost}, "
        f"ingested {step.ingest_rate:,.0f}/s (peak 2 s {step.peak_rate:,.0f}/s), lag p50 "
        f"{step.lag_percentile(0.5):,.0f} ms p99 {step.lag_percentile(0.99):,.0f} ms "
        f"({len(step.lag_ms)} probes); service {step.service_us_per_message:,.0f} µs CPU per "
        f"message, {step.mean_batch:,.0f} messages per batch; CPU {cpu}"
        + (f"\n         {step.note}" if step.note else "")
    )


# --------------------------------------------------------------------------- lag probe


class LagProbe:
    """Publishes a reading on the probe station every 0.5 s (``pm25`` = sequence number) and
    records when each becomes visible through the service's readings API."""

    def __init__(self, port: int, service: ServiceProcess, http: aiohttp.ClientSession) -> None:
        self._port = port
        self._service = service
        self._http = http
        self._published: dict[int, float] = {}  # seq → publish time
        self._seen: dict[int, float] = {}
        self._all_seen = asyncio.Event()
        self.sent = 0

    async def run(self, start: float, stop: float) -> list[float]:
        """Probe from ``start`` to ``stop``; then wait (bounded) for the last probes. Returns
        the lag of every probe seen, in ms."""
        poller = asyncio.create_task(self._poll())
        try:
            async with aiomqtt.Client("127.0.0.1", self._port) as client:
                await asyncio.sleep(max(0.0, start - time.time()))
                topic = readings_topic(self._service.prefix, PROBE_STATION)
                seq = 0
                while time.time() < stop and seq < 999:  # pm25 ≤ 1000 is in range
                    seq += 1
                    now = time.time()
                    body = {"ts": round(now, 3), "values": {"pm25": float(seq)}}
                    self._published[seq] = now
                    self._all_seen.clear()
                    await client.publish(topic, json.dumps(body), qos=1)
                    self.sent = seq
                    await asyncio.sleep(PROBE_INTERVAL_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_seen.wait(), DRAIN_TIMEOUT_S)
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        return [1000 * (self._seen[s] - self._published[s]) for s in sorted(self._seen)]

    async def _poll(self) -> None:
        url = f"{self._service.url}/api/v1/readings"
        params = {"station": PROBE_STATION, "limit": "20"}
        while True:
            await asyncio.sleep(PROBE_POLL_S)
            if len(self._seen) == len(self._published):
                continue
            try:
                async with self._http.get(url, params=params) as response:
                    rows = (await response.json())["readings"] if response.status == 200 else []
            except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError, KeyError):
                continue
            now = time.time()
            for row in rows:
                seq = int(row.get("pm25", 0))
                if seq in self._published and seq not in self._seen:
                    self._seen[seq] = now
            if len(self._seen) == len(self._published):
                self._all_seen.set()
