"""Vehicle positions through the real service (issue #13): positions/s with every journey
rule on, and zero loss.

A private Mosquitto and InfluxDB (bench_stack), ``ioc serve`` as a process with the fleet
simulator's registry (``vehicles.fleet``: its vehicles, zones, roads and limits) and the
default journey rules. The fixes are the fleet simulator's (simulators.fleet), simulated on a
day at 10:00 local and shifted in time as a whole so that they end now (the validator refuses
nothing as too old; lost-signal gaps are the fleet's own), published on
``<prefix>/vehicles/<plate>/positions`` with QoS 1 by a raw-socket publisher
(bench_load.RawSocketPublisher: a few µs per message, leaving the cores to the service).

* **catch-up** (as bench_catchup): the service starts once (its persistent session), stops;
  the backlog is put into the broker; the service starts again and the time from subscribed
  until every fix is queryable (``SELECT count(lat) FROM position`` + the dead-letter count
  ``SELECT count(detail) FROM rejected`` == fixes sent) gives positions/s:
  ``catchup_single``: one JSON object per message, as the simulator publishes a live fleet;
  ``catchup_arrays``: the same kind of fixes as devices' backlogs, JSON arrays of
  ``ARRAY_FIXES`` fixes of one vehicle per message.
* **sustained**: ``SUSTAINED_VEHICLES`` vehicles sending a fix every second (the simulator's
  ``moving_interval_s`` = 1), published live tick by tick (~5,000 fixes/s) for
  ``SUSTAINED_S`` s; ``lag`` is, at each poll, how long ago the last stored fix was published
  (the publish timeline against the stored count).

``*_lost`` = sent - refused - stored (0 is the goal; -1: not all accounted for within
``DRAIN_TIMEOUT_S``). ``*_service_cpu_us_per_fix``: the service process's CPU time over the
drain per stored fix (MQTT receive included). Goal: catch-up ≥ 20,000 positions/s on 2 cores.

``traccar_quoted_msgs_per_s`` is the peer's figure as quoted by its maintainer (~8,000
messages/s for 30,000 devices on one server): **quoted, not measured** — Debian offers a Java
runtime (default-jre-headless) but Traccar itself is packaged in neither Debian, PyPI nor npm
(its server ships as an installer from traccar.org), so it is not run here;
``*_vs_traccar_quoted`` is the ratio of our measured rate to that quote.

On a machine other work is using (CPU column ``other``), the rates drop with the cores left
to the service; CPU per fix moves much less.

``main()`` prints progress and returns the figures as a flat dict.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import orjson

from simulators.fleet import FixBatch, FleetConfig, FleetSimulator, fix_payloads, write_registry
from simulators.fleet.publisher import _objects
from tests.benchmarks.bench_load import PublisherSpec, RawSocketPublisher, write_bench_registry
from tests.benchmarks.bench_stack import (
    BenchStack,
    BrokerConnections,
    CpuMeter,
    ServiceProcess,
    cpu_seconds,
    influx_query,
    pid_of,
    private_stack,
)

CATCHUP_VEHICLES = 5_000
CATCHUP_TICKS = 25  # 30 s ticks: ~100,000 fixes
ARRAY_FIXES = 20
SUSTAINED_VEHICLES = 5_000
SUSTAINED_S = 20
DRAIN_TIMEOUT_S = 120.0
IDLE_AFTER_S = 8.0
TRACCAR_QUOTED_MSGS_PER_S = 8_000.0  # Traccar's maintainer, 30,000 devices: quoted
LOCAL = timezone(timedelta(hours=7))

Log = Callable[[str], None]
Message = tuple[str, bytes, int]  # topic, payload, fixes in it


def day_start_ms() -> int:
    """Yesterday 10:00 local: the fleet is on the road (the fixes are shifted to now)."""
    day = datetime.now(LOCAL).replace(hour=10, minute=0, second=0, microsecond=0)
    return int((day - timedelta(days=1)).timestamp() * 1000)


def shifted(batch: FixBatch, offset_ms: int) -> FixBatch:
    return dataclasses.replace(
        batch, ts_ms=batch.ts_ms + offset_ms, sent_ms=batch.sent_ms + offset_ms
    )


def single_messages(sim: FleetSimulator, batch: FixBatch, prefix: str) -> list[Message]:
    """The simulator's own messages: a JSON object per fix (an array per simulated backlog)."""
    return [(t, p, p.count(b'"ts"')) for t, p in fix_payloads(batch, sim.vehicles, prefix)]


def array_messages(sim: FleetSimulator, batch: FixBatch, prefix: str, size: int) -> list[Message]:
    """Each vehicle's fixes in event order, ``size`` a message, ordered by their first fix."""
    objects = _objects(batch, range(len(batch)), sim.vehicles)
    order = np.lexsort((batch.ts_ms, batch.vehicle))
    vehicle = batch.vehicle[order]
    out: list[tuple[int, Message]] = []
    bounds = np.flatnonzero(np.diff(vehicle)) + 1
    for rows in np.split(order, bounds):
        topic = f"{prefix}/vehicles/{sim.vehicles[int(batch.vehicle[rows[0]])].id}/positions"
        for first in range(0, len(rows), size):
            part = rows[first : first + size]
            body = orjson.dumps([objects[int(i)] for i in part])
            out.append((int(batch.ts_ms[part[0]]), (topic, body, len(part))))
    out.sort(key=lambda item: item[0])
    return [message for _, message in out]


def backlog(vehicles: int, ticks: int, prefix: str, arrays: bool) -> tuple[list[Message], int]:
    """The fleet's fixes of ``ticks`` 30 s ticks ending now, as messages; and the fix count."""
    sim = FleetSimulator(FleetConfig(vehicles=vehicles))
    start = day_start_ms()
    batch = FixBatch.concat(list(sim.ticks(start, ticks)))
    batch = shifted(batch, int(time.time() * 1000) - 1_000 - int(batch.ts_ms.max()))
    if arrays:
        messages = array_messages(sim, batch, prefix, ARRAY_FIXES)
    else:
        messages = single_messages(sim, batch, prefix)
    return messages, sum(m[2] for m in messages)


class Publisher:
    """bench_load's raw-socket QoS 1 publisher on any topics, in this process."""

    def __init__(self, port: int, client_id: str) -> None:
        self._topics: dict[str, int] = {}
        self._spec = PublisherSpec(0, port, client_id, [], 0.0, 0, "raw")
        self._raw: RawSocketPublisher | None = None
        self.published = 0

    def connect(self, topics: list[str]) -> None:
        self._topics = {t: i for i, t in enumerate(topics)}
        spec = dataclasses.replace(self._spec, topics=topics)
        self._raw = RawSocketPublisher(spec)

    @property
    def acked(self) -> int:
        return self._raw.acked if self._raw else 0

    def send(self, messages: list[Message]) -> None:
        assert self._raw is not None
        for first in range(0, len(messages), 1000):
            part = messages[first : first + 1000]
            self._raw.send([(self._topics[t], p) for t, p, _ in part], time.time() + 60)
            self.published += len(part)

    def wait_acked(self, timeout_s: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.acked < self.published and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acked >= self.published

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()


def counts(service: ServiceProcess, url: str) -> tuple[int, int]:
    """(fixes stored, position refusals stored) in the service's database."""
    stored = influx_query(url, service.database, "SELECT count(lat) FROM position")
    refused = influx_query(url, service.database, "SELECT count(detail) FROM rejected")
    return (
        int(stored[0]["count"]) if stored else 0,
        int(refused[0]["count"]) if refused else 0,
    )


def fleet_service(stack: BenchStack, vehicles: int, run_id: str, **fleet: Any) -> ServiceProcess:
    stations = stack.directory / "stations.yaml"
    if not stations.exists():
        write_bench_registry(stations, 0)
    registry = write_registry(
        stack.directory / f"fleet-{run_id}.yaml", FleetConfig(vehicles=vehicles, **fleet)
    )
    extra = {"vehicles": {"fleet": str(registry)}}
    return ServiceProcess(stack.directory, stations, stack, run_id, extra)


@dataclasses.dataclass
class Drained:
    stored: int = 0
    refused: int = 0
    seconds: float = 0.0  # t0 → last count change
    samples: list[tuple[float, int]] = dataclasses.field(default_factory=list)
    outcome: str = ""


def wait_stored(service: ServiceProcess, url: str, expected: int, t0: float, log: Log) -> Drained:
    """Poll the counts until stored + refused == ``expected``, nothing moved for
    ``IDLE_AFTER_S`` or the timeout passed; ``seconds`` ends at the last change."""
    result = Drained()
    last_change, next_log = time.time(), t0 + 2.0
    while True:
        time.sleep(0.2)
        now = time.time()
        if service.exited():
            log(f"    the service exited:\n{service.log_tail()}")
            result.outcome = "crashed"
            return result
        try:
            stored, refused = counts(service, url)
        except OSError:
            continue
        if (stored, refused) != (result.stored, result.refused):
            last_change = now
            result.seconds = now - t0
        result.stored, result.refused = stored, refused
        result.samples.append((now, stored))
        if now >= next_log:
            next_log += 2.0
            log(f"    t={now - t0:5.1f}s stored {stored:,} refused {refused:,} of {expected:,}")
        if stored + refused >= expected:
            result.outcome = "complete"
            return result
        if now - last_change > IDLE_AFTER_S:
            result.outcome = "idle"
            return result
        if now - t0 > DRAIN_TIMEOUT_S:
            result.outcome = "timeout"
            return result


def catch_up(stack: BenchStack, name: str, arrays: bool, log: Log) -> dict[str, float]:
    run_id = f"{name}-{int(time.time())}"
    service = fleet_service(stack, CATCHUP_VEHICLES, run_id)
    service.start()  # registers the persistent subscription
    service.stop()
    messages, fixes = backlog(CATCHUP_VEHICLES, CATCHUP_TICKS, service.prefix, arrays)
    publisher = Publisher(stack.mosquitto.port, f"bench-vehicles-{run_id}")
    publisher.connect(sorted({m[0] for m in messages}))
    t = time.monotonic()
    publisher.send(messages)
    queued = publisher.wait_acked()
    publisher.close()
    log(
        f"[{name}] {fixes:,} fixes in {len(messages):,} messages queued in "
        f"{time.monotonic() - t:.1f} s (all acknowledged: {queued}); starting the service"
    )
    # Timed from the service's TCP connection to the broker (as the Node-RED comparison is):
    # it works the backlog off from its CONNACK on, before its health endpoint answers.
    started = time.time()
    with BrokerConnections(pid_of(stack.mosquitto.process), str(service.directory)) as sockets:
        service.start()
        subscribed = time.time()
    connected, cpu_at_connect = sockets.connected(started, str(service.directory))
    if not connected:
        connected, cpu_at_connect = subscribed, cpu_seconds(service.pid)
    cpu = CpuMeter(
        {
            "service": service.pid,
            "mosquitto": pid_of(stack.mosquitto.process),
            "influxd": pid_of(stack.influxdb.process),
        }
    )
    try:
        drained = wait_stored(service, stack.influxdb.url, fixes, connected, log)
        percent = cpu.percent()
        service_cpu = cpu_seconds(service.pid) - cpu_at_connect
    finally:
        service.stop()
    stored, refused = drained.stored, drained.refused
    rate = stored / max(1e-3, drained.seconds)
    figures = {
        f"{name}_fixes": float(fixes),
        f"{name}_messages": float(len(messages)),
        f"{name}_positions_per_s": rate,
        f"{name}_seconds": drained.seconds,
        f"{name}_start_s": connected - started,
        f"{name}_refused": float(refused),
        f"{name}_lost": float(fixes - refused - stored) if drained.outcome == "complete" else -1.0,
        f"{name}_service_cpu_us_per_fix": 1e6 * service_cpu / max(1, stored),
        f"{name}_vs_traccar_quoted": rate / TRACCAR_QUOTED_MSGS_PER_S,
    }
    log(
        f"[{name}] {stored:,} stored + {refused:,} refused of {fixes:,} in "
        f"{drained.seconds:.1f} s ({drained.outcome}) → {rate:,.0f} positions/s, lost "
        f"{fixes - refused - stored:,}; service {1e6 * service_cpu / max(1, stored):.0f} µs "
        f"CPU per fix; CPU " + ", ".join(f"{k} {v:.0f}%" for k, v in percent.items())
    )
    return figures


def live_ticks(
    vehicles: int, prefix: str, skip: frozenset[str] = frozenset()
) -> Iterator[list[Message]]:
    """The fleet with a fix a second while moving, tick by tick, shifted to end each tick
    now; vehicles in ``skip`` left out."""
    sim = FleetSimulator(FleetConfig(vehicles=vehicles, moving_interval_s=1, stopped_interval_s=30))
    start = day_start_ms()
    offset = int(time.time() * 1000) - start
    for batch in sim.ticks(start):
        now_offset = int(time.time() * 1000) - 500 - int(batch.ts_ms.max(initial=start))
        offset = min(offset, now_offset) if len(batch) else offset
        messages = single_messages(sim, shifted(batch, offset), prefix)
        yield [m for m in messages if m[0].split("/")[-2] not in skip]


class LivePublisher(threading.Thread):
    """Publishes ``live_ticks`` once a second, each tick spread over its second in tenths,
    until stopped; ``timeline`` holds (time, fixes published so far)."""

    def __init__(
        self, port: int, client_id: str, vehicles: int, prefix: str, skip: frozenset[str]
    ) -> None:
        super().__init__(daemon=True)
        self.publisher = Publisher(port, client_id)
        self.ticks = live_ticks(vehicles, prefix, skip)
        self.first = next(self.ticks)
        topics = [f"{prefix}/vehicles/{v.id}/positions" for v in self._vehicles(vehicles)]
        self.publisher.connect(topics)
        self.timeline: list[tuple[float, int]] = []
        self.fixes = 0
        self.halt = threading.Event()
        self.error = ""

    @staticmethod
    def _vehicles(count: int) -> list[Any]:
        return FleetSimulator(FleetConfig(vehicles=count)).vehicles

    def run(self) -> None:
        try:
            tick, began = self.first, time.monotonic()
            k = 0
            while not self.halt.is_set():
                for part in range(10):
                    due = began + k + part / 10
                    time.sleep(max(0.0, due - time.monotonic()))
                    chunk = tick[part * len(tick) // 10 : (part + 1) * len(tick) // 10]
                    self.publisher.send(chunk)
                    self.fixes += sum(m[2] for m in chunk)
                    self.timeline.append((time.time(), self.fixes))
                k += 1
                tick = next(self.ticks)
        except Exception as exc:  # reported by the caller
            self.error = f"{type(exc).__name__}: {exc}"

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)
        self.publisher.wait_acked(30)
        self.publisher.close()


def published_at(timeline: list[tuple[float, int]], count: int) -> float:
    """When the ``count``-th fix was published (the first timeline point reaching it)."""
    for t, n in timeline:
        if n >= count:
            return t
    return timeline[-1][0] if timeline else 0.0


def sustained(stack: BenchStack, log: Log) -> dict[str, float]:
    name = "sustained"
    run_id = f"{name}-{int(time.time())}"
    service = fleet_service(
        stack, SUSTAINED_VEHICLES, run_id, moving_interval_s=1, stopped_interval_s=30
    )
    service.start()
    live = LivePublisher(
        stack.mosquitto.port, f"bench-live-{run_id}", SUSTAINED_VEHICLES, service.prefix,
        frozenset(),
    )  # fmt: skip
    cpu = CpuMeter({"service": service.pid, "mosquitto": pid_of(stack.mosquitto.process),
                    "influxd": pid_of(stack.influxdb.process)})  # fmt: skip
    t0 = time.time()
    live.start()
    lags: list[float] = []
    try:
        while time.time() - t0 < SUSTAINED_S:
            time.sleep(0.5)
            stored, _ = counts(service, stack.influxdb.url)
            if stored:
                lags.append(time.time() - published_at(live.timeline, stored))
        live.stop()
        sent, elapsed = live.fixes, live.timeline[-1][0] - t0
        percent = cpu.percent()
        drained = wait_stored(service, stack.influxdb.url, sent, time.time(), log)
        service_cpu = cpu.seconds("service")
    finally:
        service.stop()
    if live.error:
        raise RuntimeError(f"publisher: {live.error}")
    offered = sent / max(1e-3, elapsed)
    lost = sent - drained.refused - drained.stored
    ordered = sorted(lags) or [0.0]
    figures = {
        f"{name}_offered_positions_per_s": offered,
        f"{name}_fixes": float(sent),
        f"{name}_stored_positions_per_s": drained.stored / max(1e-3, elapsed + drained.seconds),
        f"{name}_lag_p50_s": ordered[len(ordered) // 2],
        f"{name}_lag_max_s": ordered[-1],
        f"{name}_drain_after_publishing_s": drained.seconds,
        f"{name}_refused": float(drained.refused),
        f"{name}_lost": float(lost) if drained.outcome == "complete" else -1.0,
        f"{name}_service_cpu_us_per_fix": 1e6 * service_cpu / max(1, drained.stored),
        f"{name}_service_cpu_percent": percent.get("service", 0.0),
    }
    log(
        f"[{name}] offered {offered:,.0f} fixes/s for {elapsed:.0f} s: {drained.stored:,} "
        f"stored + {drained.refused:,} refused of {sent:,} (lost {lost:,}); lag p50 "
        f"{figures[f'{name}_lag_p50_s']:.2f} s, max {ordered[-1]:.2f} s; drained "
        f"{drained.seconds:.1f} s after; CPU "
        + ", ".join(f"{k} {v:.0f}%" for k, v in percent.items())
    )
    return figures


def main() -> dict[str, float]:
    t_start = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - t_start:6.1f}s] {line}", flush=True)

    figures: dict[str, float] = {"traccar_quoted_msgs_per_s": TRACCAR_QUOTED_MSGS_PER_S}
    with private_stack("vehicles") as stack:
        log(f"[vehicles] Mosquitto :{stack.mosquitto.port}, InfluxDB :{stack.influxdb.port}")
        figures |= catch_up(stack, "catchup_single", False, log)
        figures |= catch_up(stack, "catchup_arrays", True, log)
        figures |= sustained(stack, log)
    figures["total_seconds"] = round(time.monotonic() - t_start, 1)
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key} = {value:,.2f}")
