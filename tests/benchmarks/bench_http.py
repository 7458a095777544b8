"""HTTP ingest throughput: ``POST /api/v1/ingest`` in batches of 500 readings (6 values
each) into InfluxDB, with zero loss checked by counting the stored rows.

A private Mosquitto and InfluxDB and ``ioc serve`` as a subprocess (tests/benchmarks/
bench_stack.py); the registry of ~1000 air stations from bench_load; a publisher account made
with ``ioc.credentials``. ``CONCURRENCY`` clients post batches back to back for
``DURATION_S``; each batch gets unique timestamps. Figures: readings/s accepted (HTTP answers,
which come after the spool fsync), readings/s stored, request latency p50/p99.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import numpy as np

from ingest.credentials import Credentials
from ioc.registry import StationRegistry
from tests.benchmarks.bench_load import write_bench_registry
from tests.benchmarks.bench_stack import ServiceProcess, count_rows, private_stack

BATCH = 500
CONCURRENCY = 4
DURATION_S = 15.0
DRAIN_TIMEOUT_S = 60.0


def _batch(stations: list[str], first: int, ts0: float) -> dict[str, Any]:
    readings = []
    for i in range(first, first + BATCH):
        readings.append(
            {
                "station_id": stations[i % len(stations)],
                "ts": round(ts0 + i // len(stations) * 0.001, 3),
                "values": {
                    "pm25": 20.0 + i % 7,
                    "pm10": 35.0,
                    "so2": 8.0,
                    "no2": 21.0,
                    "co": 700.0,
                    "o3": 40.0,
                },
            }
        )
    return {"readings": readings}


async def _post_batches(url: str, key: str, stations: list[str]) -> tuple[int, list[float]]:
    counter = iter(range(0, 10**9, BATCH))
    ts0 = time.time() - 3600
    latencies: list[float] = []
    accepted = 0
    stop = time.monotonic() + DURATION_S

    async def client(http: aiohttp.ClientSession) -> None:
        nonlocal accepted
        while time.monotonic() < stop:
            body = _batch(stations, next(counter), ts0)
            started = time.perf_counter()
            async with http.post(
                f"{url}/api/v1/ingest", json=body, headers={"Authorization": f"Bearer {key}"}
            ) as response:
                answer = await response.json()
            latencies.append((time.perf_counter() - started) * 1000)
            accepted += answer["accepted_readings"]

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(client(http) for _ in range(CONCURRENCY)))
    return accepted, latencies


def main() -> dict[str, float]:
    started = time.perf_counter()

    def log(line: str) -> None:
        print(f"[http {time.perf_counter() - started:6.1f}s] {line}", flush=True)

    with private_stack("http") as stack:
        registry_path = stack.directory / "stations.yaml"
        stations = write_bench_registry(registry_path)
        credentials, secrets = Credentials.generate(StationRegistry.from_file(registry_path))
        accounts = stack.directory / "credentials.yaml"
        credentials.write(accounts)
        service = ServiceProcess(
            stack.directory, registry_path, stack, "http",
            extra={"ingest": {"credentials_file": str(accounts)}},
        )  # fmt: skip
        service.start()
        try:
            log(f"{CONCURRENCY} clients posting batches of {BATCH} for {DURATION_S:.0f} s")
            t0 = time.perf_counter()
            accepted, latencies = asyncio.run(
                _post_batches(service.url, secrets.api_keys["ioc-publisher"], stations)
            )
            posting_s = time.perf_counter() - t0
            stored = 0
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
            while time.monotonic() < deadline:
                stored = count_rows(stack.influxdb.url, service.database, "time > 0")
                if stored >= accepted:
                    break
                time.sleep(0.5)
            stored_s = time.perf_counter() - t0
        finally:
            service.stop()
    figures = {
        "http_batch_size": float(BATCH),
        "http_accepted_readings_per_s": accepted / posting_s,
        "http_stored_readings_per_s": stored / stored_s,
        "http_lost_readings": float(accepted - stored),
        "http_request_p50_ms": float(np.percentile(latencies, 50)),
        "http_request_p99_ms": float(np.percentile(latencies, 99)),
    }
    log(", ".join(f"{k}={v:,.1f}" for k, v in figures.items()))
    return figures


if __name__ == "__main__":
    main()
