"""Speeding alert latency on the wall (issue #13): from publishing the fix that completes a
speeding episode to the ``alert`` frame on a logged-in wall websocket client, with the fleet
simulator publishing ~``BACKGROUND_RATE`` positions/s in the background.

The service runs as a process on a private Mosquitto and InfluxDB (bench_stack), with the
fleet simulator's registry of ``BACKGROUND_VEHICLES + EPISODES`` vehicles and the default
journey rules. The background is bench_vehicles' live fleet (a fix a second per moving
vehicle, timestamps shifted to now). Each of ``EPISODES`` probe vehicles (kept out of the
background) then drives one episode: three fixes at 150 km/h, 10 s apart in event time
(over every class limit; 20 s span = ``speeding.min_duration_s``), published together;
``SETTLE_S`` later the fix that ends it (40 km/h, stamped now). analytics.journeys.speeding
reports a violation when its episode ends, i.e. on that fix: the latency is from publishing
it to the frame (``rule_id`` ``journey.speeding``, ``station_id`` the plate) arriving.
Goal: p99 ≤ 1 s.

``main()`` prints progress and returns the figures as a flat dict.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time

import aiohttp
import orjson

from simulators.fleet import FleetConfig, FleetSimulator
from tests.benchmarks.bench_stack import CpuMeter, ServiceProcess, pid_of, private_stack
from tests.benchmarks.bench_vehicles import LivePublisher, Log, Message, Publisher, fleet_service

BACKGROUND_VEHICLES = 1_000
BACKGROUND_RATE = 1_000  # ~ fixes/s of that fleet at a fix a second
EPISODES = 20
WARM_UP_S = 5.0
SETTLE_S = 0.5  # between the over-limit fixes and the one that ends the episode
BETWEEN_S = 1.0
FRAME_TIMEOUT_S = 10.0
OVER_KMH, UNDER_KMH = 150.0, 40.0
M_PER_DEG = 111_320.0
RULE = "journey.speeding"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def episode(topic: str, k: int, now_ms: int) -> tuple[list[Message], Message]:
    """Three fixes over the limit ending 10 s ago, and the fix that ends the episode (now),
    driving north from a point of its own in the province."""
    lat0, lon = 11.2 + 0.01 * k, 107.9 + 0.01 * k
    step_over = OVER_KMH / 3.6 * 10 / M_PER_DEG  # degrees in 10 s

    def fix(ts_ms: int, lat: float, speed: float) -> Message:
        body = {"ts": ts_ms, "lat": round(lat, 6), "lon": lon, "speed": speed, "heading": 0}
        return topic, orjson.dumps(body), 1

    over = [fix(now_ms - 30_000 + 10_000 * i, lat0 + step_over * i, OVER_KMH) for i in range(3)]
    end = fix(now_ms, lat0 + step_over * 2 + UNDER_KMH / 3.6 * 10 / M_PER_DEG, UNDER_KMH)
    return over, end


class AlertListener:
    """A wall websocket client noting when a speeding alert frame of each plate arrives."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.frames = 0
        self.ready = asyncio.Event()
        self.arrival = asyncio.Event()  # set on every speeding alert frame
        self.task: asyncio.Task[None] | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self, session: aiohttp.ClientSession, url: str) -> None:
        self.ws = await session.ws_connect(url, max_msg_size=0)
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            t = time.monotonic()
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            self.frames += 1
            self.ready.set()
            text: str = message.data
            if '"alert"' not in text[:40] or RULE not in text:
                continue
            alert = json.loads(text).get("alert") or {}
            if alert.get("rule_id") == RULE:
                self.arrived.setdefault(str(alert.get("station_id")), t)
                self.arrival.set()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def measure(service: ServiceProcess, port: int, probes: list[str], log: Log) -> list[float]:
    publisher = Publisher(port, f"bench-probe-{service.run_id}")
    topics = [f"{service.prefix}/vehicles/{plate}/positions" for plate in probes]
    publisher.connect(topics)
    listener = AlertListener()
    latencies: list[float] = []
    try:
        async with aiohttp.ClientSession(headers=service.headers) as session:
            await listener.connect(session, f"{service.url}/ws")
            await asyncio.wait_for(listener.ready.wait(), 30)
            for k, (plate, topic) in enumerate(zip(probes, topics, strict=True)):
                over, end = episode(topic, k, int(time.time() * 1000))
                publisher.send(over)
                await asyncio.sleep(SETTLE_S)
                t0 = time.monotonic()
                publisher.send([end])
                deadline = t0 + FRAME_TIMEOUT_S
                while plate not in listener.arrived and time.monotonic() < deadline:
                    listener.arrival.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(listener.arrival.wait(), deadline - time.monotonic())
                if plate in listener.arrived and listener.arrived[plate] < t0:
                    raise AssertionError(f"{plate}: alert before the fix that ends the episode")
                if plate in listener.arrived:
                    latencies.append(listener.arrived[plate] - t0)
                    log(f"    episode {k + 1}: {plate} alert after {latencies[-1] * 1000:.0f} ms")
                else:
                    log(f"    episode {k + 1}: {plate}: no alert frame in {FRAME_TIMEOUT_S:.0f} s")
                await asyncio.sleep(BETWEEN_S)
    finally:
        await listener.close()
        publisher.close()
    return latencies


def main() -> dict[str, float]:
    t_start = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - t_start:6.1f}s] {line}", flush=True)

    total = BACKGROUND_VEHICLES + EPISODES
    fleet = {"moving_interval_s": 1, "stopped_interval_s": 30}
    probes = [v.id for v in FleetSimulator(FleetConfig(vehicles=total, **fleet)).vehicles][
        -EPISODES:
    ]
    with private_stack("vehicle-alerts") as stack:
        run_id = f"valerts-{int(time.time())}"
        service = fleet_service(stack, total, run_id, **fleet)
        service.start()
        live = LivePublisher(stack.mosquitto.port, f"bench-live-{run_id}", total,
                             service.prefix, frozenset(probes))  # fmt: skip
        try:
            cpu = CpuMeter({"service": service.pid, "mosquitto": pid_of(stack.mosquitto.process),
                            "influxd": pid_of(stack.influxdb.process)})  # fmt: skip
            t0 = time.time()
            live.start()
            time.sleep(WARM_UP_S)
            log(f"[vehicle-alerts] background {live.fixes / (time.time() - t0):,.0f} fixes/s; "
                f"{EPISODES} speeding episodes")  # fmt: skip
            latencies = asyncio.run(measure(service, stack.mosquitto.port, probes, log))
            background = live.fixes / (time.time() - t0)
            percent = cpu.percent()
            live.stop()
        finally:
            service.stop()
        if live.error:
            raise RuntimeError(f"background publisher: {live.error}")
    figures = {
        "background_positions_per_s": background,
        "episodes": float(EPISODES),
        "alerts_received": float(len(latencies)),
        "alert_latency_p50_ms": 1000 * percentile(latencies, 0.5),
        "alert_latency_p99_ms": 1000 * percentile(latencies, 0.99),
        "alert_latency_max_ms": 1000 * max(latencies, default=math.nan),
        "service_cpu_percent": percent.get("service", 0.0),
        "total_seconds": round(time.monotonic() - t_start, 1),
    }
    log(
        f"[vehicle-alerts] {len(latencies)} of {EPISODES} alerts; latency p50 "
        f"{figures['alert_latency_p50_ms']:.0f} ms, p99 {figures['alert_latency_p99_ms']:.0f} ms "
        f"at {background:,.0f} background fixes/s; CPU "
        + ", ".join(f"{k} {v:.0f}%" for k, v in percent.items())
    )
    return figures


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key} = {value:,.2f}")
