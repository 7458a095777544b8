"""MQTT load for the benchmarks: a station registry of ~1000 air stations, paced publisher
processes and a bare counting subscriber process.

Publishers are separate processes (``multiprocessing``, spawn) with one of two engines:
paho-mqtt used directly (QoS 1, ``loop_start``, unlimited in-flight messages, so the broker
and not the publisher's acknowledgement window sets the pace), or pre-encoded MQTT packets
on a raw socket, which cost ~10× less CPU. Each publisher owns a disjoint slice of the stations
and gives every message a timestamp that is unique per station (wall clock in ms, bumped by
1 ms on a collision): InfluxDB keeps one point per (series, time), so unique timestamps are
what makes "stored rows == published messages" a valid zero-loss check.

Payloads follow docs/protocol.md: ``{"ts": <epoch seconds, ms resolution>, "values": {...}}``
with the six air parameters, values drawn below every default limit (no alert storm).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import random
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SHIPPED_REGISTRY = Path(__file__).resolve().parents[2] / "config" / "stations.yaml"
BENCH_STATION_PREFIX = "BENCH-AIR-"
PROBE_STATION = "BENCH-PROBE"
AIR_PARAMETERS = ("pm25", "pm10", "so2", "no2", "co", "o3")
# Plausible everyday values, all below the shipped QCVN limits.
VALUE_RANGES = {
    "pm25": (5.0, 40.0),
    "pm10": (10.0, 90.0),
    "so2": (5.0, 120.0),
    "no2": (5.0, 120.0),
    "co": (300.0, 8000.0),
    "o3": (10.0, 150.0),
}
PAYLOAD_TEMPLATE = '{"ts":%.3f,"values":%s}'
VALUE_POOL_SIZE = 997
CONNECT_TIMEOUT_S = 10.0
ACK_TIMEOUT_S = 60.0

MP = mp.get_context("spawn")  # the orchestrator runs an event loop and threads: never fork


# --------------------------------------------------------------------------- registry


def write_bench_registry(path: Path, total_air_stations: int = 1000) -> list[str]:
    """The shipped registry plus generated air stations up to ``total_air_stations`` air
    stations, plus the probe station. Returns the ids of the air stations to load."""
    doc: dict[str, Any] = yaml.safe_load(SHIPPED_REGISTRY.read_text(encoding="utf-8"))
    stations: list[dict[str, Any]] = doc["stations"]
    air_ids = [s["id"] for s in stations if s["kind"] == "air"]
    rng = random.Random(42)
    for n in range(1, max(0, total_air_stations - len(air_ids)) + 1):
        station_id = f"{BENCH_STATION_PREFIX}{n:04d}"
        stations.append(_air_station(station_id, f"Benchmark air {n}", rng))
        air_ids.append(station_id)
    stations.append(_air_station(PROBE_STATION, "Benchmark lag probe", rng))
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return air_ids


def _air_station(station_id: str, name: str, rng: random.Random) -> dict[str, Any]:
    return {
        "id": station_id,
        "name": name,
        "kind": "air",
        "lat": round(11.4 + rng.random() * 0.8, 5),
        "lon": round(107.4 + rng.random() * 1.2, 5),
        "parameters": "air",
        "interval_s": 300,
    }


def readings_topic(prefix: str, station_id: str) -> str:
    return f"{prefix}/stations/{station_id}/readings"


def value_pool(seed: int) -> list[str]:
    """Pre-rendered ``values`` objects, so a publisher spends its CPU on MQTT, not on JSON."""
    rng = random.Random(seed)
    pool = []
    for _ in range(VALUE_POOL_SIZE):
        parts = [f'"{key}":{round(rng.uniform(*VALUE_RANGES[key]), 1)}' for key in AIR_PARAMETERS]
        pool.append("{" + ",".join(parts) + "}")
    return pool


# --------------------------------------------------------------------------- publishers


@dataclass(frozen=True)
class PublisherSpec:
    index: int
    port: int
    client_id: str
    topics: Sequence[str]  # one per owned station
    rate: float  # messages per second for this publisher
    count: int  # exact number of messages to publish
    engine: str = "paho"  # "paho" or "raw" (see RawSocketPublisher)


@dataclass
class PublisherResult:
    index: int
    published: int = 0
    acked: int = 0
    first_publish: float = 0.0
    last_publish: float = 0.0
    last_ack: float = 0.0
    cpu_seconds: float = 0.0
    error: str = ""


class StationMessages:
    """One publisher's messages: its stations in round robin, each message stamped with the
    wall clock in ms, bumped by 1 ms when the station already has a message at that ms."""

    def __init__(self, topics: Sequence[str], seed: int) -> None:
        self.topics = list(topics)
        self._pool = value_pool(seed)
        self._last_ms = [0] * len(self.topics)
        self._n = 0

    def take(self, count: int, now_ms: int) -> list[tuple[int, bytes]]:
        """``count`` messages as (topic index, payload)."""
        out = []
        last_ms, pool = self._last_ms, self._pool
        n_topics, n_pool = len(last_ms), len(pool)
        for n in range(self._n, self._n + count):
            i = n % n_topics
            ms = now_ms if now_ms > last_ms[i] else last_ms[i] + 1
            last_ms[i] = ms
            out.append((i, (PAYLOAD_TEMPLATE % (ms / 1000, pool[n % n_pool])).encode()))
        self._n += count
        return out


class PahoPublisher:
    """paho-mqtt as a device gateway would use it: QoS 1, network thread (``loop_start``)."""

    def __init__(self, spec: PublisherSpec) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.acked, self.last_ack = 0, 0.0  # written by the network thread only
        self._topics = list(spec.topics)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=spec.client_id)
        # 0 = no limit ("as high as it goes"). With a limit, paho scans every outstanding
        # message on each PUBACK (Client._update_inflight): a fast QoS 1 publisher goes
        # quadratic and ends up measuring paho rather than the broker or the service.
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)
        client.on_publish = self._on_publish
        client.connect("127.0.0.1", spec.port, keepalive=60)
        client.loop_start()
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not client.is_connected():
            raise ConnectionError(f"publisher {spec.index} could not connect")
        self._client = client

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self.acked += 1
        self.last_ack = time.time()

    def send(self, messages: list[tuple[int, bytes]], give_up_at: float) -> None:
        publish, topics = self._client.publish, self._topics
        for i, body in messages:
            # rc != 0 only when all 65,535 packet ids are outstanding: wait for PUBACKs.
            while publish(topics[i], body, qos=1).rc and time.time() < give_up_at:
                time.sleep(0.001)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class RawSocketPublisher:
    """MQTT 3.1.1 QoS 1 publishing with pre-encoded packets written in one ``sendall`` per
    batch, and a thread that counts PUBACKs. A few µs per message instead of paho's ~100 µs,
    so on a small machine the load generator leaves the cores to the system under test."""

    def __init__(self, spec: PublisherSpec) -> None:
        import socket
        import threading

        self.acked, self.last_ack = 0, 0.0
        self._topics = [struct.pack("!H", len(t)) + t.encode() for t in spec.topics]
        self._next_id = 0
        self._sock = socket.create_connection(("127.0.0.1", spec.port), CONNECT_TIMEOUT_S)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client_id = spec.client_id.encode()
        variable = b"\x00\x04MQTT\x04\x02\x00\x00"  # level 4, clean session, no keepalive
        body = variable + struct.pack("!H", len(client_id)) + client_id
        self._sock.sendall(b"\x10" + _remaining_length(len(body)) + body)
        if self._recv_exactly(4)[:2] != b"\x20\x02":
            raise ConnectionError("no CONNACK")
        self._sock.settimeout(None)
        self._reader = threading.Thread(target=self._count_pubacks, daemon=True)
        self._reader.start()

    def _recv_exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self._sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            data += chunk
        return data

    def _count_pubacks(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            # The broker only sends PUBACKs here: 4 bytes each (0x40 0x02 id id).
            complete = len(buffer) // 4
            self.acked += complete
            self.last_ack = time.time()
            buffer = buffer[complete * 4 :]

    def send(self, messages: list[tuple[int, bytes]], give_up_at: float) -> None:
        packets = bytearray()
        for i, body in messages:
            while self._next_id - self.acked >= 65_000 and time.time() < give_up_at:
                time.sleep(0.001)  # every packet id in use: wait for PUBACKs
            self._next_id += 1
            packet_id = struct.pack("!H", (self._next_id - 1) % 65_535 + 1)
            topic = self._topics[i]
            length = len(topic) + 2 + len(body)
            packets += b"\x32" + _remaining_length(length) + topic + packet_id + body
        self._sock.sendall(packets)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.sendall(b"\xe0\x00")
            self._sock.close()


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


Publisher = PahoPublisher | RawSocketPublisher
ENGINES: dict[str, type[Publisher]] = {"paho": PahoPublisher, "raw": RawSocketPublisher}


def run_publisher(
    spec: PublisherSpec,
    ready: Any,  # mp.Queue: the index once connected
    go: Any,  # mp.Event: start now (at ``start_at``)
    start_at: Any,  # mp.Value('d'): common start wall time
    results: Any,  # mp.Queue: the PublisherResult at the end
) -> None:
    """Process body: connect, wait for the common start, publish ``count`` messages paced at
    ``rate`` and wait (bounded) for every PUBACK."""
    result = PublisherResult(spec.index)
    client: Publisher | None = None
    announced = False
    try:
        client = ENGINES[spec.engine](spec)
        ready.put(spec.index)
        announced = True
        if not go.wait(CONNECT_TIMEOUT_S * 3):
            raise TimeoutError("no start signal")
        _publish_paced(client, spec, start_at.value, result)
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while client.acked < result.published and time.monotonic() < deadline:
            time.sleep(0.01)
    except Exception as exc:  # reported to the orchestrator, which fails the run
        result.error = f"publisher {spec.index}: {type(exc).__name__}: {exc}"
        if not announced:
            ready.put(spec.index)  # do not keep the orchestrator waiting
    finally:
        if client is not None:
            result.acked, result.last_ack = client.acked, client.last_ack
            client.close()
        result.cpu_seconds = time.process_time()
        results.put(result)


def _publish_paced(
    client: Publisher,
    spec: PublisherSpec,
    t0: float,
    result: PublisherResult,
) -> None:
    """Publish what is due every millisecond: ``int((now - t0) * rate)`` messages by ``now``.
    A publisher that cannot keep up publishes flat out; the achieved rate is reported."""
    messages = StationMessages(spec.topics, seed=spec.index)
    rate, count = spec.rate, spec.count
    hard_stop = t0 + 3 * count / rate + 30  # bounded even if the broker stalls
    while time.time() < t0:
        time.sleep(0.001)
    result.first_publish = time.time()
    sent = 0
    while sent < count and time.time() < hard_stop:
        now = time.time()
        due = min(count, int((now - t0) * rate) + 1, sent + 1000)  # ≤ 1000 per write
        if due <= sent:
            time.sleep(0.001)
            continue
        client.send(messages.take(due - sent, int(now * 1000)), hard_stop)
        sent = due
    result.published = sent
    result.last_publish = time.time()


@dataclass
class PublisherFleet:
    """N publisher processes sharing out ``total`` messages at ``rate`` msg/s in all."""

    port: int
    prefix: str
    station_ids: Sequence[str]
    processes: int
    rate: float
    total: int
    run_id: str
    engine: str = "paho"
    _procs: list[Any] = field(default_factory=list)
    _results: Any = None
    _go: Any = None
    _start_at: Any = None
    _ready: Any = None

    def start(self) -> None:
        """Start the processes and wait until each is connected (bounded)."""
        self._ready, self._results = MP.Queue(), MP.Queue()
        self._go, self._start_at = MP.Event(), MP.Value("d", 0.0)
        for index in range(self.processes):
            owned = self.station_ids[index :: self.processes]
            count = self.total // self.processes + (index < self.total % self.processes)
            spec = PublisherSpec(
                index=index,
                port=self.port,
                client_id=f"bench-pub-{self.run_id}-{index}",
                topics=[readings_topic(self.prefix, s) for s in owned],
                rate=self.rate * count / self.total,
                count=count,
                engine=self.engine,
            )
            proc = MP.Process(
                target=run_publisher,
                args=(spec, self._ready, self._go, self._start_at, self._results),
                name=f"bench-publisher-{index}",
                daemon=True,
            )
            proc.start()
            self._procs.append(proc)
        for _ in range(self.processes):
            self._ready.get(timeout=CONNECT_TIMEOUT_S * 2)

    def go(self, delay_s: float = 0.2) -> float:
        """Release every publisher at the same wall time; returns that time."""
        self._start_at.value = time.time() + delay_s
        self._go.set()
        return float(self._start_at.value)

    def results(self, timeout_s: float) -> list[PublisherResult]:
        """Wait for every publisher's result (bounded), then reap the processes."""
        deadline = time.monotonic() + timeout_s
        collected: list[PublisherResult] = []
        while len(collected) < len(self._procs):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                collected.append(self._results.get(timeout=min(remaining, 1.0)))
            except queue.Empty:
                continue
        self.stop()
        missing = len(self._procs) - len(collected)
        if missing:
            collected.append(PublisherResult(-1, error=f"{missing} publishers did not report"))
        return collected

    def stop(self) -> None:
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)


@dataclass
class FleetSummary:
    published: int
    acked: int
    started: float
    publish_seconds: float  # first publish → last publish
    ack_seconds: float  # first publish → last PUBACK
    cpu_seconds: float  # all publisher processes together
    errors: list[str]

    @property
    def publish_rate(self) -> float:
        return self.published / self.publish_seconds if self.publish_seconds > 0 else 0.0


def summarize(results: list[PublisherResult]) -> FleetSummary:
    ok = [r for r in results if r.first_publish]
    started = min((r.first_publish for r in ok), default=0.0)
    return FleetSummary(
        published=sum(r.published for r in results),
        acked=sum(r.acked for r in results),
        started=started,
        publish_seconds=max((r.last_publish for r in ok), default=started) - started,
        ack_seconds=max((r.last_ack for r in ok), default=started) - started,
        cpu_seconds=sum(r.cpu_seconds for r in results),
        errors=[r.error for r in results if r.error],
    )


# --------------------------------------------------------------------------- subscriber


def run_counting_subscriber(
    port: int,
    topic_filter: str,
    client_id: str,
    expected: int,
    timeout_s: float,
    ready: Any,  # mp.Event: subscribed
    progress: Any,  # mp.Value('q'): messages so far (updated every 0.1 s)
    results: Any,  # mp.Queue: (count, first_time, last_time, error)
) -> None:
    """Process body: a bare paho QoS 1 subscriber that only counts, the broker's ceiling."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    state = [0, 0.0, 0.0]  # count, first, last (written by the network thread only)
    subscribed = [False]

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        now = time.time()
        if not state[0]:
            state[1] = now
        state[0] += 1
        state[2] = now

    def on_subscribe(client: Any, userdata: Any, mid: int, codes: Any, props: Any) -> None:
        subscribed[0] = True

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.on_message, client.on_subscribe = on_message, on_subscribe
    error = ""
    try:
        client.connect("127.0.0.1", port, keepalive=60)
        client.subscribe(topic_filter, qos=1)
        client.loop_start()
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while not subscribed[0] and time.monotonic() < deadline:
            time.sleep(0.01)
        if not subscribed[0]:
            raise ConnectionError("subscription not acknowledged")
        ready.set()
        deadline = time.monotonic() + timeout_s
        while state[0] < expected and time.monotonic() < deadline:
            progress.value = int(state[0])
            time.sleep(0.1)
        progress.value = int(state[0])
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        client.disconnect()
        client.loop_stop()
        results.put((int(state[0]), float(state[1]), float(state[2]), error))
