"""Raw broker ceiling: the same publisher processes and a bare paho QoS 1 subscriber process
that only counts messages, no service. What this delivers is the most any Python subscriber
built on paho (as the service is, through aiomqtt) can hope for on this machine, with the
publishers and the broker sharing its cores."""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Any

from tests.benchmarks.bench_load import (
    MP,
    PublisherFleet,
    run_counting_subscriber,
    summarize,
    write_bench_registry,
)
from tests.benchmarks.bench_stack import CpuMeter, pid_of, private_stack

DRAIN_TIMEOUT_S = 60.0


@dataclass
class BrokerStep:
    target_rate: int
    duration_s: float
    publishers: int
    engine: str
    published: int = 0
    publish_rate: float = 0.0
    received: int = 0
    receive_rate: float = 0.0  # received / (first publish → last message received)
    lost: int = 0
    cpu_percent: dict[str, float] = field(default_factory=dict)
    note: str = ""

    @property
    def kept_up(self) -> bool:
        return not self.lost and self.receive_rate >= 0.95 * self.target_rate and not self.note


def run_broker_benchmark(
    rates: list[int],
    duration_s: float,
    publishers: int,
    stations: int,
    log: Any,
    engine: str = "paho",
) -> list[BrokerStep]:
    steps = []
    with private_stack("broker") as stack:
        air_ids = write_bench_registry(stack.directory / "stations.yaml", stations)
        log(f"[broker] Mosquitto :{stack.mosquitto.port}, bare paho subscriber, no service")
        for rate in rates:
            steps.append(
                run_broker_step(
                    stack.mosquitto.port,
                    pid_of(stack.mosquitto.process),
                    air_ids,
                    rate,
                    duration_s,
                    publishers,
                    log,
                    engine,
                )
            )
    return steps


def run_broker_step(
    port: int,
    broker_pid: int,
    air_ids: list[str],
    rate: int,
    duration_s: float,
    publishers: int,
    log: Any,
    engine: str = "paho",
) -> BrokerStep:
    step = BrokerStep(rate, duration_s, publishers, engine)
    total = int(rate * duration_s)
    run_id = f"raw{rate}-{int(time.time())}"
    prefix = f"bench/{run_id}/ioc/v1"
    ready, progress, results = MP.Event(), MP.Value("q", 0), MP.Queue()
    subscriber = MP.Process(
        target=run_counting_subscriber,
        args=(
            port,
            f"{prefix}/stations/+/readings",
            f"bench-sub-{run_id}",
            total,
            duration_s * 3 + DRAIN_TIMEOUT_S,
            ready,
            progress,
            results,
        ),
        name="bench-subscriber",
        daemon=True,
    )
    subscriber.start()
    fleet = PublisherFleet(port, prefix, air_ids, publishers, rate, total, run_id, engine)
    try:
        if not ready.wait(15):
            raise RuntimeError("the counting subscriber did not subscribe")
        fleet.start()
        log(f"[broker] {rate:,} msg/s: {total:,} messages over {duration_s:.0f} s")
        cpu = CpuMeter({"mosquitto": broker_pid, "subscriber": subscriber.pid or 0})
        t0 = fleet.go()
        next_print = t0 + 1.0
        while subscriber.is_alive() and time.time() < t0 + duration_s * 3 + DRAIN_TIMEOUT_S:
            time.sleep(0.1)
            cpu.sample()
            if time.time() >= next_print:
                next_print += 1.0
                offered = min(total, int((time.time() - t0) * rate))
                log(
                    f"    t={time.time() - t0:5.1f}s offered {offered:>9,}  "
                    f"received {progress.value:>9,}"
                )
            if progress.value >= total:
                break
        try:
            received, _first, last, error = results.get(timeout=15)
        except queue.Empty:
            received, _first, last, error = progress.value, 0.0, 0.0, "subscriber did not report"
        fleet_summary = summarize(fleet.results(duration_s * 3 + 90))
        step.cpu_percent = cpu.percent({"publishers": fleet_summary.cpu_seconds})
    finally:
        fleet.stop()
        subscriber.join(timeout=5)
        if subscriber.is_alive():
            subscriber.terminate()
    step.published = fleet_summary.published
    step.publish_rate = fleet_summary.publish_rate
    step.received = received
    step.lost = fleet_summary.published - received
    if last and fleet_summary.started:
        step.receive_rate = received / (last - fleet_summary.started)
    step.note = "; ".join(fleet_summary.errors + ([error] if error else []))
    cpu_text = ", ".join(f"{k} {v:.0f}%" for k, v in step.cpu_percent.items())
    log(
        f"[broker] {rate:,} msg/s → published {step.published:,} ({step.publish_rate:,.0f}/s), "
        f"received {step.received:,} ({step.receive_rate:,.0f}/s), lost {step.lost:,}; "
        f"CPU {cpu_text}" + (f"\n         {step.note}" if step.note else "")
    )
    return step
