"""The wall's issue targets, measured end to end against ``python -m ioc serve``.

Order of the run (one service for all of it):

1. **Fan-out** (first, while nothing else loads the service). 999 websocket clients
   (aiohttp, one process) receive 50 alert events (dust above / below the limit
   alternately, 0.3 s apart): delay from the publish call to each client's receipt,
   p50 / p99 / max, split per event into publish → first client (the pipeline) and
   first → last client (the fan-out itself); and whether every client got every event
   (``seq`` strictly increasing by one, resync snapshots counted, heartbeats carrying the
   last seq). Run once as is and once with a 1,000th client that did the websocket
   handshake by hand on a socket with a tiny receive buffer and never reads: before its run
   it sends pings until the server stops reading it (every ping makes the server write a
   pong), so the kernel and transport buffers towards it are full and every write to it
   waits, as for a browser tab frozen for a while. Target: the others' p99 unchanged. The
   server's ``/api/v1/health`` wall counters (events, resyncs) are read around each run.
2. **Alert latency.** One websocket client; probes every 0.5 s: a dust reading above the
   limit for ``BENCH-STK`` and 0.25 s later one below the clearing level; the time from the
   publish call to the ``alert`` frame ``opened`` / ``resolved``. First without load (the
   pipeline's own latency), then under 500 msg/s (a load the service keeps up with), then
   under the target load: a separate process (paho-mqtt, QoS 1) publishing valid air
   readings for 500 stations at 5,000 msg/s. Target: p99 ≤ 50 ms. A frame never seen
   counts as infinitely late in the percentiles (so p99 is ``inf`` when more than 1 % are
   missing); ``*_seen_max_ms`` is the slowest one seen. The figures also give the background
   rate achieved, what the service processed meanwhile, its CPU per message and how long
   its event loop waited for a CPU (``/proc``: the machine is shared).
3. **Alert latency while catching up.** The service is stopped, ``CATCHUP_BACKLOG`` air
   readings (100,000) are queued for its persistent session, it is started again and the
   probes run while it works the backlog off: a live reading must not wait behind the
   backlog. Target: p99 ≤ 250 ms. The figures (``alert_latency_catchup_*``) count the probes
   published before the service had caught up; how long catching up took is reported beside.

Everything runs on 127.0.0.1: a private Mosquitto and InfluxDB (ioc.private_services) in a
temporary directory on free ports, the service as a subprocess with a generated registry
(500 air stations, one stack station) and config (one instant rule: dust above 200 mg/Nm3,
clear at 150). Every wait is bounded; the whole run takes 2–3 minutes on 2 cores.

``main()`` prints progress lines and returns the figures as a flat dict.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import json
import math
import multiprocessing as mp
import os
import random
import resource
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from ioc.private_services import PrivateInfluxDB, PrivateMosquitto
from tests.benchmarks.bench_catchup import FILL_RATE
from tests.benchmarks.bench_load import PublisherFleet, summarize
from tests.benchmarks.bench_stack import ServiceProcess, private_stack

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MP = mp.get_context("spawn")  # the harness runs an event loop and paho threads: never fork

AIR_STATIONS = 500
AIR_PREFIX = "BENCH-AIR-"
STACK_ID = "BENCH-STK"
RULE_ID = "dust_instant"
DUST_ABOVE, DUST_CLEAR_AT = 200.0, 150.0

BACKGROUND_RATE = 5_000  # msg/s offered by the background publisher
WARMUP_S = 3.0
PROBES = 60
IDLE_PROBES = 20  # first, without background load: the pipeline's own latency
MODERATE_RATE = 500  # then under a load the service keeps up with (0: skip)
MODERATE_PROBES = 20
PROBE_INTERVAL_S = 0.5
PROBE_DRAIN_S = 15.0  # longest wait for late probe frames once the load has stopped
CATCHUP_BACKLOG = 100_000  # queued while the service is down, then probed through
CATCHUP_PROBES = 40
CATCHUP_PUBLISHERS = 2

FANOUT_CLIENTS = 1_000  # including the stalled one
FANOUT_EVENTS = 50
FANOUT_SPACING_S = 0.3
FANOUT_DRAIN_S = 10.0
FANOUT_CONNECT_PARALLEL = 50  # aiohttp's listen backlog is 128
STALL_RCVBUF = 1024
# Before its run the stalled client sends pings until the server stops reading it: each
# ping makes the server write a pong to it, so this fills the kernel buffers and aiohttp's
# transport buffer (~2 MB in all) as a client that stopped reading a while ago would have.
# From then on every write to it waits, as for a frozen browser tab.
STALL_FILL_MAX_BYTES = 32 * 1024**2
STALL_FILL_MAX_S = 15.0
STALL_QUIET_S = 1.5  # no byte accepted for this long = the server stopped reading

SERVICE_START_TIMEOUT_S = 40.0
SERVICE_STOP_TIMEOUT_S = 15.0
OPEN_FILES_WANTED = 8_192
BIG_FRAME = 8_192  # frames above this (snapshots) are reduced to type and seq on receipt
ALERT_PREFIX = '{"type": "alert"'
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

Log = Callable[[str], None]
Key = tuple[str, float]  # (alert event, value of the reading that caused it)


# --------------------------------------------------------------------------- helpers


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (``inf`` entries stand for events never seen); nan if empty."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def runq_wait_seconds(pid: int) -> float:
    """Time the process's main thread (the service's event loop) spent runnable but waiting
    for a CPU (``/proc/<pid>/task/<pid>/schedstat``): how much the machine starved it."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    except (OSError, IndexError):
        return 0.0
    return int(fields[1]) / 1e9


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has spent so far (``/proc/stat``)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields)
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


class CpuWindow:
    """CPU % of one core per named process over an interval, plus this harness process and
    ``other``: everything else on the machine (work that is not part of the benchmark)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self.harness = time.process_time()
        self.machine = machine_busy_seconds()
        self.waits = {name: runq_wait_seconds(pid) for name, pid in pids.items()}
        self.harness_wait = runq_wait_seconds(os.getpid())
        self.t = time.monotonic()

    def seconds(self, name: str) -> float:
        return cpu_seconds(self.pids[name]) - self.start[name]

    def percent(self) -> dict[str, float]:
        wall = max(1e-3, time.monotonic() - self.t)
        used = {name: self.seconds(name) for name in self.pids}
        used["harness"] = time.process_time() - self.harness
        used["other"] = max(0.0, machine_busy_seconds() - self.machine - sum(used.values()))
        return {name: round(100 * s / wall, 1) for name, s in used.items()}

    def wait_percent(self) -> dict[str, float]:
        """Share of the interval each main thread waited for a CPU while runnable."""
        wall = max(1e-3, time.monotonic() - self.t)
        waited = {
            name: runq_wait_seconds(pid) - self.waits[name] for name, pid in self.pids.items()
        }
        waited["harness"] = runq_wait_seconds(os.getpid()) - self.harness_wait
        return {name: round(100 * s / wall, 1) for name, s in waited.items()}


def raise_open_file_limit(wanted: int = OPEN_FILES_WANTED) -> None:
    """1,000 websocket clients here and their 1,000 server ends in the service (which
    inherits the limit) need more than the common default of 1,024 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def write_registry(path: Path) -> list[str]:
    """500 air stations (pm25, pm10, no2) and the stack station; returns the air ids."""
    rng = random.Random(7)
    air_ids = [f"{AIR_PREFIX}{n:04d}" for n in range(1, AIR_STATIONS + 1)]
    stations: list[dict[str, Any]] = [
        {
            "id": station_id,
            "name": f"Benchmark air {n}",
            "kind": "air",
            "lat": round(11.4 + rng.random() * 0.8, 5),
            "lon": round(107.4 + rng.random() * 1.2, 5),
            "parameters": "air",
            "interval_s": 60,
        }
        for n, station_id in enumerate(air_ids, 1)
    ]
    stations.append(
        {
            "id": STACK_ID,
            "name": "Benchmark stack",
            "kind": "stack",
            "owner": "ENT-BENCH",
            "lat": 11.8,
            "lon": 108.3,
            "parameters": "stack",
            "interval_s": 60,
        }
    )
    doc = {
        "enterprises": [{"id": "ENT-BENCH", "name": "Benchmark enterprise"}],
        "parameter_sets": {
            "air": {
                "pm25": {"unit": "ug/m3", "min": 0, "max": 1000},
                "pm10": {"unit": "ug/m3", "min": 0, "max": 2000},
                "no2": {"unit": "ug/m3", "min": 0, "max": 5000},
            },
            "stack": {"dust": {"unit": "mg/Nm3", "min": 0, "max": 10000}},
        },
        "stations": stations,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return air_ids


# --------------------------------------------------------------------------- the service


RULES = {
    "rules": [
        {
            "id": RULE_ID,
            "name": "Dust (instant)",
            "parameter": "dust",
            "kinds": ["stack"],
            "above": DUST_ABOVE,
            "clear_at": DUST_CLEAR_AT,
            "severity": "critical",
        }
    ]
}


async def health(session: aiohttp.ClientSession, service: ServiceProcess) -> dict[str, Any]:
    async with session.get(
        f"{service.url}/api/v1/health", timeout=aiohttp.ClientTimeout(total=15)
    ) as response:
        body: dict[str, Any] = await response.json()
        return body


# --------------------------------------------------------------------------- MQTT


def background_publisher(
    port: int,
    topics: list[str],
    rate: float,
    max_seconds: float,
    ready: Any,
    stop: Any,
    results: Any,
) -> None:
    """Child process: valid air readings round robin over ``topics`` at ``rate`` msg/s,
    QoS 1, until ``stop`` is set. Timestamps: epoch seconds with ms resolution, unique and
    increasing per station. Puts {published, acked, seconds, cpu_s, error} on ``results``."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    acked = [0]
    out: dict[str, Any] = {"published": 0, "acked": 0, "seconds": 0.0, "cpu_s": 0.0, "error": ""}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-wall-load-{os.getpid()}")
    # No inflight limit: with one, paho scans every outstanding message on each PUBACK.
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)

    def on_publish(*_: Any) -> None:
        acked[0] += 1

    client.on_publish = on_publish
    rng = random.Random(os.getpid())
    pool = [
        f'{{"pm25":{rng.uniform(5, 40):.1f},"pm10":{rng.uniform(10, 90):.1f},'
        f'"no2":{rng.uniform(5, 120):.1f}}}'
        for _ in range(997)
    ]
    last_ms = [0] * len(topics)
    try:
        client.connect("127.0.0.1", port, keepalive=60)
        client.loop_start()
        deadline = time.monotonic() + 10
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not client.is_connected():
            raise ConnectionError("background publisher could not connect")
        ready.set()
        start = time.monotonic()
        sent, n_topics, publish = 0, len(topics), client.publish
        while not stop.is_set():
            now = time.monotonic()
            if now - start > max_seconds:
                break
            due = int((now - start) * rate)
            if due - sent > rate * 0.2:  # fell behind: no catch-up burst beyond 200 ms
                sent = due - int(rate * 0.2)
                out["skipped"] = out.get("skipped", 0) + 1
            now_ms = int(time.time() * 1000)
            while sent < due:
                i = out["published"] % n_topics
                ms = now_ms if now_ms > last_ms[i] else last_ms[i] + 1
                last_ms[i] = ms
                body = f'{{"ts":{ms / 1000:.3f},"values":{pool[out["published"] % 997]}}}'
                publish(topics[i], body, qos=1)
                out["published"] += 1
                sent += 1
            time.sleep(0.005)
        out["seconds"] = time.monotonic() - start
        wait_until = time.monotonic() + 3
        while acked[0] < out["published"] and time.monotonic() < wait_until:
            time.sleep(0.05)
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        ready.set()
    finally:
        out["acked"] = acked[0]
        out["cpu_s"] = time.process_time()
        with contextlib.suppress(Exception):
            client.disconnect()
            client.loop_stop()
        results.put(out)


class ProbePublisher:
    """paho-mqtt in the harness process: dust readings of the stack station, QoS 1."""

    def __init__(self, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.topic = topic
        self._last_ts = 0.0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-wall-probe-{os.getpid()}"
        )
        self._client.connect("127.0.0.1", port, keepalive=60)
        self._client.loop_start()
        deadline = time.monotonic() + 10
        while not self._client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._client.is_connected():
            self.close()
            raise ConnectionError("probe publisher could not connect")

    def publish(self, value: float) -> float:
        """Publish one dust reading; returns the monotonic time just before the call."""
        self._last_ts = max(round(time.time(), 3), round(self._last_ts + 0.001, 3))
        body = json.dumps({"ts": self._last_ts, "values": {"dust": value}})
        t0 = time.monotonic()
        self._client.publish(self.topic, body, qos=1)
        return t0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.disconnect()
            self._client.loop_stop()


# --------------------------------------------------------------------------- websocket clients


class WallListener:
    """One websocket client of /ws: frames are timestamped on receipt and analysed later
    (:meth:`consume`) so that the 999 clients spend as little CPU as possible while the
    latency is being measured."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, str]] = []
        self.alert_frames = 0
        self.first_frame = asyncio.Event()
        self.first_frame_bytes = 0
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.task: asyncio.Task[None] | None = None
        self.error = ""
        # analysis state, carried over from one consume() to the next
        self.last_seq: int | None = None
        self.snapshots = 0
        self.resyncs = 0  # snapshots after the first
        self.gaps = 0  # events skipped between two consecutive event frames
        self.disorder = 0  # a seq not above the previous one
        self.heartbeat_mismatch = 0
        self.alert_times: dict[Key, float] = {}

    async def connect(self, session: aiohttp.ClientSession, url: str) -> None:
        self.ws = await session.ws_connect(
            url, max_msg_size=0, autoping=True, timeout=aiohttp.ClientWSTimeout(ws_close=5)
        )
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for message in self.ws:
                t = time.monotonic()
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                data: str = message.data
                if not self.first_frame.is_set():
                    self.first_frame_bytes = len(data.encode())
                if len(data) > BIG_FRAME:
                    body = json.loads(data)
                    data = json.dumps({"type": body.get("type"), "seq": body.get("seq")})
                elif data.startswith(ALERT_PREFIX):
                    self.alert_frames += 1
                self.frames.append((t, data))
                self.first_frame.set()
        except Exception as exc:  # recorded: a client that broke shows up as lost events
            self.error = f"{type(exc).__name__}: {exc}"

    def consume(self) -> None:
        """Analyse the frames received since the last call."""
        frames, self.frames = self.frames, []
        for t, text in frames:
            body = json.loads(text)
            kind, seq = body.get("type"), body.get("seq")
            if kind == "heartbeat":
                if self.last_seq is not None and seq != self.last_seq:
                    self.heartbeat_mismatch += 1
                continue
            if not isinstance(seq, int):
                continue
            if kind == "snapshot":
                self.snapshots += 1
                self.resyncs += 1 if self.snapshots > 1 else 0
                if self.last_seq is not None and seq < self.last_seq:
                    self.disorder += 1
            elif self.last_seq is not None:
                if seq > self.last_seq + 1:
                    self.gaps += seq - self.last_seq - 1
                elif seq <= self.last_seq:
                    self.disorder += 1
            self.last_seq = seq
            if kind == "alert":
                alert = body.get("alert") or {}
                if alert.get("station_id") == STACK_ID and alert.get("rule_id") == RULE_ID:
                    key = (str(body.get("event")), float(alert.get("value") or math.nan))
                    self.alert_times.setdefault(key, t)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


class StalledClient:
    """A websocket client that does the handshake by hand on a raw socket with a tiny
    receive buffer and then never reads: the server's sends to it block."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALL_RCVBUF)
        self.sock.setblocking(False)

    async def connect(self, port: int, token: str) -> None:
        loop = asyncio.get_running_loop()
        await loop.sock_connect(self.sock, ("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Authorization: Bearer {token}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        await loop.sock_sendall(self.sock, request.encode())
        head = b""
        while not head.endswith(b"\r\n\r\n") and len(head) < 4096:  # headers only
            chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 1), 10)
            if not chunk:
                raise ConnectionError("server closed the stalled client's handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"websocket handshake refused: {head[:80]!r}")

    async def fill(self) -> tuple[int, bool]:
        """Send masked 125-byte pings until the server stops reading this socket (its pong
        writes wait for buffer space: the server's sends to this client are blocked).
        Returns (bytes of pings sent, whether the server stopped reading)."""
        ping = b"\x89\xfd" + b"\0\0\0\0" + b"p" * 125  # FIN+PING, masked (zero key), 125 B
        chunk = ping * 64
        sent, view = 0, memoryview(b"")
        started = last_progress = time.monotonic()
        while sent < STALL_FILL_MAX_BYTES and time.monotonic() - started < STALL_FILL_MAX_S:
            if not view:
                view = memoryview(chunk)
            try:
                n = self.sock.send(view)
            except BlockingIOError:
                if time.monotonic() - last_progress > STALL_QUIET_S:
                    return sent, True
                await asyncio.sleep(0.05)
                continue
            sent += n
            view = view[n:]
            last_progress = time.monotonic()
            await asyncio.sleep(0)
        return sent, False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


# --------------------------------------------------------------------------- 1. fan-out


class LoopLag:
    """How late this process's event loop wakes up from 10 ms sleeps: a stall on the
    harness side would show here, one in the service would not."""

    def __init__(self) -> None:
        self.max_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            self.max_ms = max(self.max_ms, (time.monotonic() - t - 0.01) * 1000)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def connect_listeners(
    session: aiohttp.ClientSession, url: str, count: int, log: Log
) -> list[WallListener]:
    listeners = [WallListener() for _ in range(count)]
    gate = asyncio.Semaphore(FANOUT_CONNECT_PARALLEL)

    durations: list[float] = []

    async def one(listener: WallListener) -> None:
        async with gate:
            started = time.monotonic()
            await listener.connect(session, url)
            durations.append(time.monotonic() - started)

    t0 = time.monotonic()
    results = await asyncio.wait_for(
        asyncio.gather(*(one(x) for x in listeners), return_exceptions=True), 120
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        log(f"[fanout] {len(failed)} of {count} connections failed, first: {failed[0]!r}")
    connected = [x for x, r in zip(listeners, results, strict=True) if r is None]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            for listener in connected:
                await listener.first_frame.wait()
    snapshots = sum(x.first_frame.is_set() for x in connected)
    log(
        f"[fanout] {len(connected)} clients connected, {snapshots} with their snapshot, "
        f"in {time.monotonic() - t0:.1f} s; one handshake p50 "
        f"{1000 * percentile(durations, 50):.0f} ms, max {1000 * max(durations, default=0):.0f}"
        f" ms ({FANOUT_CONNECT_PARALLEL} at a time)"
    )
    return connected


async def fanout_run(
    label: str,
    listeners: list[WallListener],
    probe: ProbePublisher,
    run_index: int,
    log: Log,
) -> dict[str, float]:
    """~FANOUT_EVENTS alert events (opened / resolved alternately) to every listener."""
    for listener in listeners:  # everything before the run is analysed and set aside
        listener.consume()
    base_alerts = [x.alert_frames for x in listeners]
    gaps0 = sum(x.gaps + x.disorder for x in listeners)
    resyncs0 = sum(x.resyncs for x in listeners)
    expected: dict[Key, float] = {}
    cpu0, t_start = time.process_time(), time.monotonic()
    for n in range(FANOUT_EVENTS):
        k = n // 2
        if n % 2 == 0:
            value = 400.0 + 100 * run_index + k
            event = "opened"
        else:
            value = round(100.0 + run_index + k / 1000, 3)
            event = "resolved"
        expected[(event, value)] = probe.publish(value)
        await asyncio.sleep(max(0.0, t_start + (n + 1) * FANOUT_SPACING_S - time.monotonic()))
    deadline = time.monotonic() + FANOUT_DRAIN_S
    while time.monotonic() < deadline:
        behind = sum(
            x.alert_frames - base < len(expected)
            for x, base in zip(listeners, base_alerts, strict=True)
        )
        if not behind:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # a little grace for frames still on the way
    harness_cpu = 100 * (time.process_time() - cpu0) / (time.monotonic() - t_start)
    delays: list[float] = []
    per_event: dict[Key, list[float]] = {key: [] for key in expected}
    lost = 0
    for listener in listeners:
        listener.consume()
        for key, t0 in expected.items():
            t = listener.alert_times.get(key)
            if t is None:
                lost += 1
                delays.append(math.inf)
                per_event[key].append(math.inf)
            else:
                delays.append((t - t0) * 1000)
                per_event[key].append((t - t0) * 1000)
    first = [min(v) for v in per_event.values()]  # publish -> first client: the pipeline
    last = [max(v) for v in per_event.values()]  # publish -> every client had it
    spread = [b - a for a, b in zip(first, last, strict=True)]  # the fan-out itself
    figures = {
        f"fanout_p50_ms_{label}": percentile(delays, 50),
        f"fanout_p99_ms_{label}": percentile(delays, 99),
        f"fanout_max_ms_{label}": max(delays, default=math.nan),
        f"fanout_first_client_p50_ms_{label}": percentile(first, 50),
        f"fanout_first_client_max_ms_{label}": max(first, default=math.nan),
        f"fanout_spread_p50_ms_{label}": percentile(spread, 50),
        f"fanout_spread_max_ms_{label}": max(spread, default=math.nan),
        f"fanout_lost_events_{label}": float(lost),
        f"fanout_seq_gaps_{label}": float(sum(x.gaps + x.disorder for x in listeners) - gaps0),
        f"fanout_client_resyncs_{label}": float(sum(x.resyncs for x in listeners) - resyncs0),
        f"fanout_harness_cpu_pct_{label}": round(harness_cpu, 1),
    }
    worst = sorted(range(len(last)), key=lambda i: last[i], reverse=True)[:3]
    log(
        f"[fanout:{label}] {len(expected)} events x {len(listeners)} clients: "
        f"p50 {figures[f'fanout_p50_ms_{label}']:.1f} ms, "
        f"p99 {figures[f'fanout_p99_ms_{label}']:.1f} ms, "
        f"max {figures[f'fanout_max_ms_{label}']:.1f} ms; per event: first client p50 "
        f"{figures[f'fanout_first_client_p50_ms_{label}']:.1f} ms, first->last client p50 "
        f"{figures[f'fanout_spread_p50_ms_{label}']:.1f} ms; lost {lost}, seq gaps "
        f"{figures[f'fanout_seq_gaps_{label}']:.0f}, client resyncs "
        f"{figures[f'fanout_client_resyncs_{label}']:.0f}, harness CPU {harness_cpu:.0f} %"
    )
    log(
        f"[fanout:{label}] slowest events (#: first / last client ms): "
        + ", ".join(f"#{i}: {first[i]:.0f} / {last[i]:.0f}" for i in worst)
    )
    return figures


async def measure_fanout(
    session: aiohttp.ClientSession,
    service: ServiceProcess,
    probe: ProbePublisher,
    pids: dict[str, int],
    log: Log,
) -> dict[str, float]:
    figures: dict[str, float] = {}
    healthy = FANOUT_CLIENTS - 1
    log(f"[fanout] connecting {healthy} websocket clients to {service.url}/ws")
    t0, cpu = time.monotonic(), CpuWindow(pids)
    listeners = await connect_listeners(session, f"{service.url}/ws", healthy, log)
    figures["fanout_connect_s"] = round(time.monotonic() - t0, 1)
    figures["fanout_connect_service_cpu_pct"] = cpu.percent()["service"]
    figures["snapshot_bytes"] = float(max((x.first_frame_bytes for x in listeners), default=0))
    log(
        f"[fanout] snapshot {figures['snapshot_bytes'] / 1024:,.0f} KiB; CPU % while "
        f"connecting {cpu.percent()}; waiting for a CPU % {cpu.wait_percent()}"
    )
    stalled: StalledClient | None = None
    after: dict[str, Any] = {}
    try:
        figures["fanout_clients"] = float(len(listeners))
        await asyncio.sleep(1.0)
        for run_index, label in enumerate(("no_stall", "with_stall")):
            if label == "with_stall":
                stalled = StalledClient()
                await stalled.connect(service.web_port, service.token)
                pinged, blocked = await stalled.fill()
                figures["stalled_client_ping_bytes"] = float(pinged)
                figures["stalled_client_server_blocked"] = float(blocked)
                log(
                    f"[fanout] stalled client connected, {pinged:,} bytes of pings sent; "
                    + (
                        "the server stopped reading it (its writes to it are blocked)"
                        if blocked
                        else "WARNING: the server kept reading it (not blocked)"
                    )
                )
                await asyncio.sleep(1.0)
            before = await health(session, service)
            cpu = CpuWindow(pids)
            # No collector pauses in the harness while it timestamps 999 clients' frames
            # (a full collection over their buffers takes long enough to show up as
            # latency); the service's own collector is left alone: it is part of the result.
            gc.collect()
            gc.freeze()
            gc.disable()
            try:
                with LoopLag() as lag:
                    figures |= await fanout_run(label, listeners, probe, run_index, log)
                figures[f"fanout_harness_loop_lag_max_ms_{label}"] = round(lag.max_ms, 1)
            finally:
                gc.enable()
                gc.unfreeze()
            waits = cpu.wait_percent()
            after = await health(session, service)
            load = cpu.percent()
            figures[f"fanout_service_cpu_pct_{label}"] = load["service"]
            figures[f"fanout_other_cpu_pct_{label}"] = load["other"]
            figures[f"fanout_service_runq_wait_pct_{label}"] = waits["service"]
            figures[f"fanout_harness_runq_wait_pct_{label}"] = waits["harness"]
            wall0, wall1 = before["wall"], after["wall"]
            figures[f"wall_resyncs_{label}"] = float(wall1["resyncs"] - wall0["resyncs"])
            figures[f"wall_events_{label}"] = float(wall1["events"] - wall0["events"])
            figures[f"wall_clients_{label}"] = float(wall1["clients"])
            log(f"[fanout:{label}] harness event loop woke up at most {lag.max_ms:.0f} ms late")
            log(
                f"[fanout:{label}] health wall {wall1} (resyncs during the run: "
                f"{figures[f'wall_resyncs_{label}']:.0f}); CPU % {load}; waiting for a CPU % "
                f"{waits}"
            )
        figures["wall_resyncs_total"] = float(after["wall"]["resyncs"])
        figures["fanout_client_errors"] = float(sum(bool(x.error) for x in listeners))
    finally:
        if stalled is not None:
            stalled.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(20):
                await asyncio.gather(*(x.close() for x in listeners))
    return figures


# --------------------------------------------------------------------------- 2. latency


async def probe_series(
    listener: WallListener,
    probe: ProbePublisher,
    count: int,
    series: int,
    label: str,
    log: Log,
) -> dict[Key, float]:
    """``count`` probes, PROBE_INTERVAL_S apart: dust above the limit, then half an interval
    later below the clearing level. Values are unique per probe and ``series`` so that each
    alert frame names the publish that caused it. Returns {(event, value): publish time}."""
    expected: dict[Key, float] = {}
    start = time.monotonic()
    for k in range(count):
        slot = start + k * PROBE_INTERVAL_S
        await asyncio.sleep(max(0.0, slot - time.monotonic()))
        value = 1000.0 + 100 * series + k
        expected[("opened", value)] = probe.publish(value)
        await asyncio.sleep(max(0.0, slot + PROBE_INTERVAL_S / 2 - time.monotonic()))
        value = round(110.0 + series + k / 1000, 3)
        expected[("resolved", value)] = probe.publish(value)
        if (k + 1) % 20 == 0 or k + 1 == count:
            listener.consume()
            seen = sum(key in listener.alert_times for key in expected)
            log(f"[{label}] {k + 1}/{count} probes sent, {seen}/{len(expected)} frames seen")
    return expected


async def wait_for_frames(
    listener: WallListener, expected: dict[Key, float], within: float
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        listener.consume()
        if all(key in listener.alert_times for key in expected):
            return
        await asyncio.sleep(0.1)
    listener.consume()


def latency_figures(
    prefix: str, listener: WallListener, expected: dict[Key, float]
) -> dict[str, float]:
    """p50 / p99 / max of publish -> alert frame; a frame never seen counts as ``inf``."""
    latencies: dict[str, list[float]] = {"opened": [], "resolved": []}
    for (event, value), sent_at in expected.items():
        t = listener.alert_times.get((event, value))
        latencies[event].append(math.inf if t is None else (t - sent_at) * 1000)
    both = latencies["opened"] + latencies["resolved"]
    return {
        f"{prefix}_p50_ms": percentile(both, 50),
        f"{prefix}_p99_ms": percentile(both, 99),
        f"{prefix}_max_ms": max(both, default=math.nan),
        f"{prefix}_seen_max_ms": max((v for v in both if math.isfinite(v)), default=math.nan),
        f"{prefix}_opened_p50_ms": percentile(latencies["opened"], 50),
        f"{prefix}_opened_p99_ms": percentile(latencies["opened"], 99),
        f"{prefix}_resolved_p99_ms": percentile(latencies["resolved"], 99),
        f"{prefix}_frames_expected": float(len(both)),
        f"{prefix}_frames_seen": float(sum(math.isfinite(v) for v in both)),
    }


def log_latency(log: Log, label: str, prefix: str, f: dict[str, float]) -> None:
    log(
        f"[{label}] publish -> alert frame: p50 {f[f'{prefix}_p50_ms']:.1f} ms, "
        f"p99 {f[f'{prefix}_p99_ms']:.1f} ms, max {f[f'{prefix}_max_ms']:.1f} ms "
        f"(opened p99 {f[f'{prefix}_opened_p99_ms']:.1f}, resolved p99 "
        f"{f[f'{prefix}_resolved_p99_ms']:.1f}); frames seen "
        f"{f[f'{prefix}_frames_seen']:.0f}/{f[f'{prefix}_frames_expected']:.0f} (slowest seen "
        f"{f[f'{prefix}_seen_max_ms']:.0f} ms)"
    )


async def probes_under_load(
    session: aiohttp.ClientSession,
    service: ServiceProcess,
    broker: PrivateMosquitto,
    listener: WallListener,
    probe: ProbePublisher,
    air_ids: list[str],
    rate: float,
    probes: int,
    series: int,
    prefix: str,
    pids: dict[str, int],
    drain_s: float,
    log: Log,
) -> dict[str, float]:
    """Background load at ``rate`` from a separate process, probes through it; figures are
    ``<prefix>_p50_ms`` ... and ``<prefix>_background_rate_achieved_msg_s`` ..."""
    label = f"latency@{rate:,.0f}"
    ready, stop, results = MP.Event(), MP.Event(), MP.Queue()
    worker = MP.Process(
        target=background_publisher,
        args=(
            broker.port,
            [service.topic(s) for s in air_ids],
            rate,
            WARMUP_S + probes * PROBE_INTERVAL_S + 10,
            ready,
            stop,
            results,
        ),
        name="bench-wall-load",
        daemon=True,
    )
    result: dict[str, Any] = {}
    try:
        h_start = await health(session, service)
        worker.start()
        if not await asyncio.to_thread(ready.wait, 30):
            raise RuntimeError("background publisher not ready after 30 s")
        log(f"[{label}] background load {rate:,.0f} msg/s on {len(air_ids)} stations started")
        await asyncio.sleep(WARMUP_S)
        h0, t0 = await health(session, service), time.monotonic()
        assert worker.pid is not None
        cpu = CpuWindow(pids | {"publisher": worker.pid})
        expected = await probe_series(listener, probe, probes, series, label, log)
        await asyncio.sleep(PROBE_INTERVAL_S)
        h1, t1 = await health(session, service), time.monotonic()
        service_cpu_s = cpu.seconds("service")
        load_cpu = cpu.percent()
        load_waits = cpu.wait_percent()
        stop.set()
        result = await asyncio.to_thread(results.get, True, 20)
        if result.get("error"):
            log(f"[{label}] background publisher: {result['error']}")
        missing = sum(key not in listener.alert_times for key in expected)
        if missing:
            log(f"[{label}] load stopped; waiting up to {drain_s:.0f} s for {missing} frames")
        await wait_for_frames(listener, expected, drain_s)
        h2 = await health(session, service)
    finally:
        stop.set()
        worker.join(10)
        if worker.is_alive():
            worker.kill()
            worker.join(5)

    figures = latency_figures(prefix, listener, expected)
    published = float(result.get("published", 0))
    seconds = float(result.get("seconds") or math.nan)
    processed = h1["pipeline"]["messages"] - h0["pipeline"]["messages"]
    figures |= {
        f"{prefix}_background_rate_target_msg_s": float(rate),
        f"{prefix}_background_rate_achieved_msg_s": round(published / seconds, 1),
        f"{prefix}_background_published": published,
        f"{prefix}_background_acked": float(result.get("acked", 0)),
        f"{prefix}_service_processed_rate_msg_s": round(processed / (t1 - t0), 1),
        f"{prefix}_service_cpu_us_per_msg": round(1e6 * service_cpu_s / max(1, processed), 1),
        # published before the load stopped but not processed by the end of the drain wait
        f"{prefix}_service_backlog_msgs": float(
            max(
                0,
                published
                + len(expected)
                - (h2["pipeline"]["messages"] - h_start["pipeline"]["messages"]),
            )
        ),
        f"{prefix}_service_backpressure_waits": float(h2["mqtt"]["backpressure_waits"]),
        f"{prefix}_service_rejected": float(sum(h2["rejected_by_reason"].values())),
    }
    figures |= {f"{prefix}_cpu_pct_{name}": pct for name, pct in load_cpu.items()}
    figures[f"{prefix}_service_runq_wait_pct"] = load_waits["service"]
    log_latency(log, label, prefix, figures)
    log(
        f"[{label}] background achieved {figures[f'{prefix}_background_rate_achieved_msg_s']:,.0f}"
        f" msg/s (acked {result.get('acked', 0):,} of {result.get('published', 0):,}); service "
        f"processed {figures[f'{prefix}_service_processed_rate_msg_s']:,.0f} msg/s at "
        f"{figures[f'{prefix}_service_cpu_us_per_msg']:,.0f} µs CPU per message, "
        f"~{figures[f'{prefix}_service_backlog_msgs']:,.0f} messages unprocessed at the end; "
        f"CPU % {load_cpu}; waiting for a CPU % {load_waits}"
    )
    return figures


async def measure_alert_latency(
    session: aiohttp.ClientSession,
    service: ServiceProcess,
    broker: PrivateMosquitto,
    probe: ProbePublisher,
    air_ids: list[str],
    rate: float,
    probes: int,
    pids: dict[str, int],
    log: Log,
) -> dict[str, float]:
    """Idle baseline, then a moderate load the service keeps up with, then ``rate``. In this
    order: a load the service cannot sustain leaves a backlog in the broker behind it."""
    figures: dict[str, float] = {}
    listener = WallListener()
    await listener.connect(session, f"{service.url}/ws")
    try:
        await asyncio.wait_for(listener.first_frame.wait(), 30)
        idle = await probe_series(listener, probe, IDLE_PROBES, 0, "latency:idle", log)
        await wait_for_frames(listener, idle, 5.0)
        figures |= latency_figures("alert_latency_idle", listener, idle)
        log_latency(log, "latency:idle", "alert_latency_idle", figures)
        if MODERATE_RATE and rate > MODERATE_RATE:
            figures |= await probes_under_load(
                session, service, broker, listener, probe, air_ids, MODERATE_RATE,
                MODERATE_PROBES, 1, f"alert_latency_at_{MODERATE_RATE}", pids, 5.0, log,
            )  # fmt: skip
        figures |= await probes_under_load(
            session, service, broker, listener, probe, air_ids, rate, probes, 2,
            "alert_latency", pids, PROBE_DRAIN_S, log,
        )  # fmt: skip
    finally:
        listener.consume()
        figures["latency_client_seq_gaps"] = float(listener.gaps + listener.disorder)
        figures["latency_client_resyncs"] = float(listener.resyncs)
        await listener.close()
    return figures


async def measure_catchup_latency(
    service: ServiceProcess,
    broker: PrivateMosquitto,
    probe: ProbePublisher,
    air_ids: list[str],
    backlog: int,
    log: Log,
) -> dict[str, float]:
    """Probes while the restarted service works off ``backlog`` queued readings."""
    label = "latency:catch-up"
    await asyncio.to_thread(service.stop)
    fleet = PublisherFleet(
        broker.port, service.prefix, air_ids, CATCHUP_PUBLISHERS, FILL_RATE, backlog,
        f"wall-{uuid.uuid4().hex[:6]}",
    )  # fmt: skip
    await asyncio.to_thread(fleet.start)
    fleet.go()
    summary = summarize(await asyncio.to_thread(fleet.results, backlog / 1000 + 90))
    log(f"[{label}] {summary.acked:,} readings queued for the stopped service; starting it")
    started = time.monotonic()
    await asyncio.to_thread(service.start)
    figures: dict[str, float] = {"alert_latency_catchup_queued": float(summary.acked)}
    caught_up_at = math.inf
    async with aiohttp.ClientSession(headers=service.headers) as session:
        listener = WallListener()
        await listener.connect(session, f"{service.url}/ws")

        async def watch_backlog() -> None:  # the restarted process counts from 0
            nonlocal caught_up_at
            while True:
                h = await health(session, service)
                if h["pipeline"]["messages"] >= summary.acked:
                    caught_up_at = time.monotonic()
                    return
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch_backlog())
        try:
            await asyncio.wait_for(listener.first_frame.wait(), 30)
            expected = await probe_series(listener, probe, CATCHUP_PROBES, 3, label, log)
            await wait_for_frames(listener, expected, PROBE_DRAIN_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(watcher), 60)
        finally:
            watcher.cancel()
            listener.consume()
            await listener.close()
    during = {key: t for key, t in expected.items() if t < caught_up_at}
    figures |= latency_figures("alert_latency_catchup", listener, during)
    figures["alert_latency_catchup_caught_up_s"] = round(caught_up_at - started, 2)
    log_latency(log, label, "alert_latency_catchup", figures)
    missing = sorted(key for key in during if key not in listener.alert_times)
    if missing:
        log(f"[{label}] frames never seen (event, probe value): {missing}")
    log(
        f"[{label}] caught up {figures['alert_latency_catchup_caught_up_s']:.1f} s after the "
        f"restart; {len(during)} of {len(expected)} frames were probed before that"
    )
    return figures


# --------------------------------------------------------------------------- main


async def measure(
    service: ServiceProcess,
    broker: PrivateMosquitto,
    influx: PrivateInfluxDB,
    air_ids: list[str],
    rate: float,
    probes: int,
    log: Log,
) -> dict[str, float]:
    figures: dict[str, float] = {}
    pids = {
        "service": service.pid,
        "mosquitto": broker.process.pid if broker.process else 0,
        "influxd": influx.process.pid if influx.process else 0,
    }
    probe = ProbePublisher(broker.port, service.topic(STACK_ID))
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, headers=service.headers) as session:
            try:
                figures |= await measure_fanout(session, service, probe, pids, log)
            except Exception as exc:  # the latency part still runs
                log(f"[fanout] FAILED: {type(exc).__name__}: {exc}")
                figures["fanout_failed"] = 1.0
            figures |= await measure_alert_latency(
                session, service, broker, probe, air_ids, rate, probes, pids, log
            )
        figures |= await measure_catchup_latency(
            service, broker, probe, air_ids, CATCHUP_BACKLOG, log
        )
    finally:
        probe.close()
    return figures


def main(rate: float = BACKGROUND_RATE, probes: int = PROBES) -> dict[str, float]:
    t_start = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - t_start:6.1f}s] {line}", flush=True)

    raise_open_file_limit()
    log(
        f"[wall] alert latency under {rate:,.0f} msg/s ({probes} probes) and fan-out to "
        f"{FANOUT_CLIENTS} websocket clients; 127.0.0.1 only"
    )
    with private_stack("wall") as stack, contextlib.ExitStack() as s:
        directory = stack.directory
        broker, influx = stack.mosquitto, stack.influxdb
        log(f"[wall] mosquitto on :{broker.port}, influxd on :{influx.port}")
        air_ids = write_registry(directory / "stations.yaml")
        service = ServiceProcess(
            directory, directory / "stations.yaml", stack, uuid.uuid4().hex[:8],
            extra={"analytics": RULES},
        )  # fmt: skip
        s.callback(service.stop)
        service.start()
        log(f"[wall] service up at {service.url} (pid {service.pid})")
        try:
            figures = asyncio.run(measure(service, broker, influx, air_ids, rate, probes, log))
        except BaseException:
            log(f"[wall] service log tail:\n{service.log_tail()}")
            raise
        if service.process is not None and service.process.poll() is not None:
            log(f"[wall] the service exited during the run:\n{service.log_tail()}")
        log("[wall] stopping the service, broker and database")
    figures["total_seconds"] = round(time.monotonic() - t_start, 1)
    log(f"[wall] done in {figures['total_seconds']:.0f} s")
    return figures


if __name__ == "__main__":
    print(main())
