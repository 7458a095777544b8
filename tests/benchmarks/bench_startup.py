"""Start-up latency of ``ioc serve``: process start → MQTT subscribed, and → the first reading
stored in InfluxDB.

A private Mosquitto and InfluxDB (tests/benchmarks/bench_stack.py) and a registry of 100 air
stations whose last 25 h (the default ``analytics.warmup_hours``) are already stored as
5-minute readings, so the analytics warm-up has real history to rebuild. The service starts
once to register its persistent MQTT session and stops; then, ``RUNS`` times: one reading is
published (QoS 1, queued by the broker for the stopped service), the service process starts,
and the harness notes when the service logs ``MQTT connected`` (its own log time, after the
subscription) and when the reading can be queried from InfluxDB (polled every
``POLL_S``); the service is then stopped with SIGTERM. Figures are the min / median / max
over the runs, and the service's CPU seconds when the harness saw the log line (to within
one poll) and when it found the reading stored: on shared cores the CPU figures are the
steadier ones.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.benchmarks.bench_load import VALUE_RANGES, write_bench_registry
from tests.benchmarks.bench_stack import (
    PROJECT_ROOT,
    BenchStack,
    ServiceProcess,
    count_rows,
    cpu_seconds,
    private_stack,
)

RUNS = 5
STATIONS = 100
HISTORY_HOURS = 25
POLL_S = 0.02
RUN_TIMEOUT_S = 30.0
CONNECTED_LINE = "MQTT connected to"


def _write_history(stack: BenchStack, database: str, stations: list[str]) -> int:
    """Readings every 5 minutes for the last ``HISTORY_HOURS`` of each station, drawn in the
    everyday ranges of the load benchmarks (no alerts, no flat-line anomalies)."""
    now_s = int(time.time()) // 300 * 300
    rng = random.Random(7)
    lines = []
    for station in stations:
        for ts_s in range(now_s - HISTORY_HOURS * 3600, now_s, 300):
            fields = ",".join(
                f"{key}={round(rng.uniform(low, high), 1)}"
                for key, (low, high) in VALUE_RANGES.items()
            )
            lines.append(f"reading,station={station} {fields} {ts_s}")
    urllib.request.urlopen(
        urllib.request.Request(
            f"{stack.influxdb.url}/query",
            data=f"q=CREATE DATABASE {database}".encode(),
        ),
        timeout=30,
    ).close()
    for start in range(0, len(lines), 10_000):
        body = "\n".join(lines[start : start + 10_000]).encode()
        urllib.request.urlopen(
            urllib.request.Request(
                f"{stack.influxdb.url}/write?db={database}&precision=s", data=body
            ),
            timeout=60,
        ).close()
    return len(lines)


def _publish(stack: BenchStack, topic: str, body: str) -> None:
    """One QoS 1 message, returned once the broker acknowledged it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", stack.mosquitto.port)
    client.loop_start()
    try:
        client.publish(topic, body, qos=1).wait_for_publish(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def _logged_at(line: str) -> float | None:
    """Epoch seconds of a log line (``%(asctime)s``: local time with milliseconds)."""
    try:
        return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    except ValueError:
        return None


def _log_since(service: ServiceProcess, offset: int) -> str:
    with service.log_path.open(errors="replace") as log:
        log.seek(offset)
        return log.read()


def _one_start(service: ServiceProcess, stack: BenchStack, station: str) -> dict[str, float]:
    ts_s = round(time.time() - 1, 3)
    _publish(stack, service.topic(station), f'{{"ts":{ts_s},"values":{{"pm25":21.5,"pm10":33.0}}}}')
    log_offset = service.log_path.stat().st_size if service.log_path.exists() else 0
    where = f"station = '{station}' AND time = {int(ts_s * 1000)}ms"
    with service.log_path.open("ab") as log:
        started = time.time()
        process = subprocess.Popen(
            [sys.executable, "-m", "ioc", "serve", "-c", str(service.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=service.directory,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )
    service.process = process
    try:
        stored_at, cpu_s, subscribed_cpu_s = 0.0, 0.0, 0.0
        while time.time() - started < RUN_TIMEOUT_S and process.poll() is None:
            if not subscribed_cpu_s and CONNECTED_LINE in _log_since(service, log_offset):
                subscribed_cpu_s = cpu_seconds(process.pid)
            if count_rows(stack.influxdb.url, service.database, where):
                stored_at, cpu_s = time.time(), cpu_seconds(process.pid)
                break
            time.sleep(POLL_S)
    finally:
        service.stop()
    if not stored_at:
        raise RuntimeError(f"the reading was not stored:\n{service.log_tail()}")
    connected = next(
        (
            _logged_at(line)
            for line in _log_since(service, log_offset).splitlines()
            if CONNECTED_LINE in line
        ),
        None,
    )
    if connected is None:
        raise RuntimeError(f"no {CONNECTED_LINE!r} in the log:\n{service.log_tail()}")
    return {
        "subscribed_s": connected - started,
        "subscribed_cpu_s": subscribed_cpu_s,
        "stored_s": stored_at - started,
        "stored_cpu_s": cpu_s,
    }


def main() -> dict[str, float]:
    t0 = time.perf_counter()

    def log(line: str) -> None:
        print(f"[startup {time.perf_counter() - t0:6.1f}s] {line}", flush=True)

    with private_stack("startup") as stack:
        registry = stack.directory / "stations.yaml"
        stations = write_bench_registry(registry, STATIONS)
        service = ServiceProcess(stack.directory, registry, stack, "startup")
        rows = _write_history(stack, service.database, stations)
        log(f"{rows:,} readings of history stored; first start registers the MQTT session")
        service.start()
        service.stop()
        runs = []
        for n in range(RUNS):
            run = _one_start(service, stack, stations[n % len(stations)])
            log(
                f"run {n + 1}: subscribed {run['subscribed_s']:.2f} s (service CPU "
                f"~{run['subscribed_cpu_s']:.2f} s), first reading stored {run['stored_s']:.2f} s "
                f"(service CPU {run['stored_cpu_s']:.2f} s)"
            )
            runs.append(run)
    figures = {}
    for name in runs[0]:
        values = [run[name] for run in runs]
        figures[f"{name}_min"] = min(values)
        figures[f"{name}_median"] = statistics.median(values)
        figures[f"{name}_max"] = max(values)
    log(", ".join(f"{k}={v:.2f}" for k, v in figures.items()))
    return figures


if __name__ == "__main__":
    main()
