"""Catch-up against the do-it-yourself peer: the same backlog worked off by ``ioc serve``
and by a Node-RED flow doing the minimum of the same job, on the same broker and database.

The peer is what a user would build instead: Node-RED (``make bench-peers`` installs it with
``node-red-contrib-influxdb`` into ``var/peers/node-red``, pinned by
``tests/benchmarks/peers/node-red/package-lock.json``) with the flow

    mqtt in (``<prefix>/stations/+/readings``, QoS 1, persistent session: clean session off,
    fixed client id; payload parsed as JSON)
    → function (topic → tag ``station``; ``values`` → fields; ``ts`` → timestamp in ms)
    → join (arrays of 1,000 points, or whatever arrived within 0.5 s)
    → influxdb batch (InfluxDB 1.x, precision ms) into measurement ``reading``.

The flow file and ``settings.js`` are generated into a temporary user directory; Node-RED
runs with no editor and no HTTP endpoints (``httpAdminRoot``/``httpNodeRoot`` false).

Both sides get the treatment of bench_catchup, one after the other in one run, with the same
registry (~1000 air stations), the same publishers and messages, the same backlog size and
one private Mosquitto + InfluxDB: start once (registers the persistent subscription), stop,
queue ``count`` messages in the broker, start again and time it. Both are timed alike:
process spawned (``/proc``) → connected (a new socket on the broker:
:class:`BrokerConnections`) → every queued message a row in InfluxDB (ours: its health
endpoint says everything is processed and written; Node-RED, which has no such endpoint:
its own database counted every 0.25 s). Before its catch-up the flow is checked end to end
with one probe message, so a broken flow fails fast instead of timing out. Rounds alternate
which side goes first.

The ratio is ours msg/s ÷ Node-RED msg/s (connected → everything written, medians of the
rounds): above 1, ours catches up faster; a second ratio counts from the process spawn. The
two do not do the same work: see ``DIFFERENCES``, printed next to the figures.
``python -m tests.benchmarks.bench_nodered --backlog 30000 --rounds 3`` runs it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ioc.private_services import free_port
from tests.benchmarks.bench_catchup import FILL_RATE, CatchUpResult, _catch_up
from tests.benchmarks.bench_ingest import Log
from tests.benchmarks.bench_load import (
    PROBE_STATION,
    PublisherFleet,
    readings_topic,
    summarize,
    write_bench_registry,
)
from tests.benchmarks.bench_stack import (
    PROJECT_ROOT,
    BenchStack,
    BrokerConnections,
    CpuMeter,
    count_rows,
    cpu_seconds,
    pid_of,
    private_stack,
)

PEER_DIR = Path(os.environ.get("IOC_BENCH_NODE_RED_DIR", PROJECT_ROOT / "var/peers/node-red"))
BATCH_POINTS = 1_000  # the join node's count: points per InfluxDB write
BATCH_TIMEOUT_S = 0.5  # ... or what arrived within this (as our store's flush interval)
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
DRAIN_TIMEOUT_S = 120.0
IDLE_AFTER_S = 10.0
ROUNDS = 3  # alternating (ours, Node-RED) / (Node-RED, ours); medians reported
POLL_S = 0.25
PROBE_TIMEOUT_S = 30.0
CONNECTED_LINE = "Connected to broker"
NOT_PROBE = f"station != '{PROBE_STATION}'"

# What the function node does per message: nothing more than mapping (see DIFFERENCES).
FUNCTION_JS = """\
const parts = msg.topic.split("/");
const p = msg.payload;
msg.payload = {
    measurement: "reading",
    tags: { station: parts[parts.length - 2] },
    fields: p.values,
    timestamp: Math.round(p.ts * 1000),
};
return msg;
"""

DIFFERENCES = (
    "Not the same work. Ours, per message: checks the station against the registry, the "
    "timestamp window, every parameter, unit (with conversion) and plausible range, drops "
    "duplicates, writes every refusal to the `rejected` measurement, tags station kind and "
    "owner, evaluates the alert rules and the streaming analytics, updates the wall, and "
    "acknowledges to the broker only after the reading is fsynced in its disk spool (so a "
    "crash or an InfluxDB outage loses nothing). The Node-RED flow maps the JSON to a point "
    "and writes it: no validation (an unknown station, a string value or an absurd number "
    "goes into InfluxDB as sent; a payload that is not JSON is dropped with a log line), no "
    "duplicate check, no rejections kept, no alerts; mqtt.js acknowledges each message on "
    "receipt, so what is in the flow's memory when Node-RED stops or InfluxDB refuses a "
    "write is lost."
)


@dataclass
class SideRun:
    """One catch-up of one side, timed alike for both: process spawned → connected to the
    broker (its own log line: ours "MQTT connected", Node-RED "Connected to broker") →
    every queued message a row in InfluxDB (polled every 0.25 s)."""

    side: str  # "ours" or "node-red"
    queued: int = 0
    stored: int = 0
    lost: int | None = None  # None: not caught up at the timeout
    spawned_at: float = 0.0  # epoch s
    connected_at: float = 0.0
    written_at: float = 0.0
    logged_connected_at: float = 0.0  # what the side's own log says (for comparison)
    cpu_since_spawn_s: float = 0.0  # the side's process CPU time, start-up included
    cpu_at_connect_s: float = 0.0  # ... of which spent before it connected (start-up)
    cpu_percent: dict[str, float] = field(default_factory=dict)
    note: str = ""

    @property
    def start_s(self) -> float:
        return self.connected_at - self.spawned_at

    @property
    def drain_s(self) -> float:
        return self.written_at - self.connected_at

    @property
    def rate(self) -> float:
        """Messages per second, connected → everything written (0: did not catch up)."""
        if self.lost is None or not self.written_at or self.drain_s <= 0:
            return 0.0
        return min(self.stored, self.queued) / self.drain_s

    @property
    def cpu_us_per_message(self) -> float:
        """The side's CPU time from connected to the end, per message (start-up left out:
        at most a few ms of the end's polling counted in)."""
        if not self.stored or not self.cpu_at_connect_s:
            return 0.0
        return 1e6 * (self.cpu_since_spawn_s - self.cpu_at_connect_s) / self.stored

    @property
    def rate_with_start(self) -> float:
        """Messages per second from the process spawn: the whole recovery after a restart."""
        if not self.rate or self.written_at <= self.spawned_at:
            return 0.0
        return min(self.stored, self.queued) / (self.written_at - self.spawned_at)

    def line(self) -> str:
        lost = "n/a" if self.lost is None else f"{self.lost:,}"
        return (
            f"{self.stored:,} of {self.queued:,} written {self.drain_s:.2f} s after connecting "
            f"(start {self.start_s:.2f} s; its log says connected "
            f"{self.logged_connected_at - self.connected_at:+.2f} s from that) → "
            f"{self.rate:,.0f} msg/s ({self.rate_with_start:,.0f} from spawn), lost {lost}, "
            f"own CPU {self.cpu_since_spawn_s:.2f} s since spawn, {self.cpu_at_connect_s:.2f} s "
            f"of it before connecting, {self.cpu_us_per_message:,.0f} µs/message after; CPU % "
            + ", ".join(f"{k} {v:.0f}%" for k, v in self.cpu_percent.items())
        )


def ours_run(result: CatchUpResult, connections: BrokerConnections) -> SideRun:
    """Our side in the terms of :class:`SideRun`, connected when its TCP connection to the
    broker appeared (its health endpoint answers late while the backlog keeps the event
    loop busy; its log line comes after the backlog: see :class:`BrokerConnections`)."""
    logged = _service_connected_at(result.log_path)
    service_dir = str(result.log_path.parent) if result.log_path else "-"
    connected, start_cpu = connections.connected(result.spawned_at, service_dir)
    connected = connected or logged or result.connected_at
    return SideRun(
        side="ours",
        queued=result.queued,
        stored=result.stored,
        lost=result.lost,
        spawned_at=result.spawned_at,
        connected_at=connected,
        written_at=result.written_at,
        logged_connected_at=logged,
        cpu_since_spawn_s=result.cpu_since_spawn_s,
        cpu_at_connect_s=start_cpu,
        cpu_percent=result.cpu_percent,
        note=result.note,
    )


def _service_connected_at(log_path: Path | None) -> float:
    """The time of the last "MQTT connected" line of the service's log (local time, ms)."""
    if log_path is None:
        return 0.0
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return 0.0
    for line in reversed(lines):
        if "MQTT connected to" in line:
            with contextlib.suppress(ValueError):
                return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return 0.0


@dataclass
class NodeRedResult:
    """Rounds of (ours, Node-RED); the figures are medians over the rounds."""

    ours: list[SideRun] = field(default_factory=list)
    peer: list[SideRun] = field(default_factory=list)
    workers: list[SideRun] = field(default_factory=list)  # ours, the worker layout
    worker_count: int = 0
    versions: dict[str, str] = field(default_factory=dict)
    backlog: int = 0

    @property
    def ours_rate(self) -> float:
        return _median([r.rate for r in self.ours])

    @property
    def peer_rate(self) -> float:
        return _median([r.rate for r in self.peer])

    @property
    def ours_rate_with_start(self) -> float:
        return _median([r.rate_with_start for r in self.ours])

    @property
    def peer_rate_with_start(self) -> float:
        return _median([r.rate_with_start for r in self.peer])

    @property
    def ratio(self) -> float:
        """Ours msg/s ÷ Node-RED msg/s, connected → all written (0: not measurable)."""
        return self.ours_rate / self.peer_rate if self.ours_rate and self.peer_rate else 0.0

    @property
    def ratio_with_start(self) -> float:
        """The same from the process spawn: the whole recovery, start-up included."""
        ours, peer = self.ours_rate_with_start, self.peer_rate_with_start
        return ours / peer if ours and peer else 0.0

    @property
    def cpu_ratio(self) -> float:
        """Node-RED's CPU per message ÷ ours (after start-up): the same sense as
        :attr:`ratio` (above 1: ours is cheaper), and much less moved by other work on the
        machine than the rates are."""
        ours = _median([r.cpu_us_per_message for r in self.ours])
        peer = _median([r.cpu_us_per_message for r in self.peer])
        return peer / ours if ours and peer else 0.0

    @property
    def workers_rate(self) -> float:
        return _median([r.rate for r in self.workers])

    @property
    def workers_ratio(self) -> float:
        """The worker layout's msg/s ÷ Node-RED's."""
        rate, peer = self.workers_rate, self.peer_rate
        return rate / peer if rate and peer else 0.0

    def figures(self) -> dict[str, float]:
        """Flat figures (medians over the rounds)."""
        workers = {
            "ratio_workers_over_node_red": self.workers_ratio,
            "workers_msg_per_s": self.workers_rate,
            "workers_msg_per_s_with_start": _median([r.rate_with_start for r in self.workers]),
            "workers_cpu_us_per_message": _median([r.cpu_us_per_message for r in self.workers]),
            "workers_start_s": _median([r.start_s for r in self.workers]),
        }
        return {
            **(workers if self.workers else {}),
            "cpu_ratio_node_red_over_ours": self.cpu_ratio,
            "ratio_ours_over_node_red": self.ratio,
            "ours_msg_per_s": self.ours_rate,
            "node_red_msg_per_s": self.peer_rate,
            "ratio_with_start": self.ratio_with_start,
            "ours_msg_per_s_with_start": self.ours_rate_with_start,
            "node_red_msg_per_s_with_start": self.peer_rate_with_start,
            "ours_start_s": _median([r.start_s for r in self.ours]),
            "node_red_start_s": _median([r.start_s for r in self.peer]),
            "ours_cpu_us_per_message": _median([r.cpu_us_per_message for r in self.ours]),
            "node_red_cpu_us_per_message": _median([r.cpu_us_per_message for r in self.peer]),
            "ours_cpu_since_spawn_s": _median([r.cpu_since_spawn_s for r in self.ours]),
            "node_red_cpu_since_spawn_s": _median([r.cpu_since_spawn_s for r in self.peer]),
        }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


# --------------------------------------------------------------------------- the peer


def peer_versions(peer_dir: Path = PEER_DIR) -> dict[str, str]:
    """Node.js and the installed Node-RED packages (``not installed`` when missing)."""
    found = {}
    for name in ("node-red", "node-red-contrib-influxdb"):
        try:
            package = json.loads((peer_dir / "node_modules" / name / "package.json").read_text())
            found[name] = str(package["version"])
        except (OSError, ValueError, KeyError):
            found[name] = "not installed"
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10)
        found["node"] = node.stdout.strip() or "not found"
    except (OSError, subprocess.TimeoutExpired):
        found["node"] = "not found"
    return found


def flow(prefix: str, broker_port: int, client_id: str, influx_port: int, database: str) -> Any:
    """The peer's flow: what a Node-RED user would wire for MQTT → InfluxDB 1.x."""
    return [
        {"id": "ioc-tab", "type": "tab", "label": "MQTT to InfluxDB", "disabled": False},
        {
            "id": "ioc-broker",
            "type": "mqtt-broker",
            "name": "bench broker",
            "broker": "127.0.0.1",
            "port": str(broker_port),
            "clientid": client_id,
            "autoConnect": True,
            "usetls": False,
            "protocolVersion": "4",
            "keepalive": "60",
            "cleansession": False,  # persistent session: the broker keeps the backlog
            "autoUnsubscribe": False,  # ... and the subscription when the flow stops
            "birthTopic": "",
            "closeTopic": "",
            "willTopic": "",
        },
        {
            "id": "ioc-influx",
            "type": "influxdb",
            "hostname": "127.0.0.1",
            "port": str(influx_port),
            "protocol": "http",
            "database": database,
            "name": "bench influxdb",
            "usetls": False,
            "influxdbVersion": "1.x",
        },
        {
            "id": "ioc-mqtt-in",
            "type": "mqtt in",
            "z": "ioc-tab",
            "name": "station readings",
            "topic": readings_topic(prefix, "+"),
            "qos": "1",
            "datatype": "json",
            "broker": "ioc-broker",
            "inputs": 0,
            "wires": [["ioc-to-point"]],
        },
        {
            "id": "ioc-to-point",
            "type": "function",
            "z": "ioc-tab",
            "name": "reading to point",
            "func": FUNCTION_JS,
            "outputs": 1,
            "noerr": 0,
            "initialize": "",
            "finalize": "",
            "libs": [],
            "wires": [["ioc-batch"]],
        },
        {
            "id": "ioc-batch",
            "type": "join",
            "z": "ioc-tab",
            "name": f"batch {BATCH_POINTS}",
            "mode": "custom",
            "build": "array",
            "property": "payload",
            "propertyType": "msg",
            "key": "topic",
            "joiner": "\\n",
            "joinerType": "str",
            "useparts": False,
            "accumulate": False,
            "timeout": str(BATCH_TIMEOUT_S),
            "count": str(BATCH_POINTS),
            "reduceRight": False,
            "wires": [["ioc-write"]],
        },
        {
            "id": "ioc-write",
            "type": "influxdb batch",
            "z": "ioc-tab",
            "name": "write readings",
            "influxdb": "ioc-influx",
            "precision": "ms",
            "retentionPolicy": "",
            "wires": [],
        },
    ]


SETTINGS_JS = """\
// Generated by tests/benchmarks/bench_nodered.py: a headless Node-RED for the benchmark.
module.exports = {
    flowFile: "flows.json",
    credentialSecret: false,
    uiHost: "127.0.0.1",
    uiPort: %(port)d,
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    logging: { console: { level: "info", metrics: false, audit: false } },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    diagnostics: { enabled: false },
    runtimeState: { enabled: false },
    telemetry: { enabled: false },
    functionExternalModules: false,
};
"""


class NodeRedProcess:
    """``node node-red/red.js --userDir DIR`` with a generated flow, stopped with SIGTERM."""

    def __init__(self, user_dir: Path, port: int, flows: Any, peer_dir: Path = PEER_DIR) -> None:
        self.red_js = peer_dir / "node_modules" / "node-red" / "red.js"
        node = shutil.which("node")
        if node is None or not self.red_js.exists():
            raise RuntimeError(
                f"the Node-RED peer is not installed in {peer_dir} (run `make bench-peers`)"
            )
        self.node = node
        self.user_dir = user_dir
        user_dir.mkdir(parents=True, exist_ok=True)
        (user_dir / "settings.js").write_text(SETTINGS_JS % {"port": port})
        (user_dir / "flows.json").write_text(json.dumps(flows, indent=1))
        self.log_path = user_dir / "node-red.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._connections_seen = 0

    @property
    def pid(self) -> int:
        return pid_of(self.process)

    def start(self) -> tuple[float, float]:
        """Start and wait until its MQTT client is connected (the log line, polled every
        20 ms); returns when it was spawned and when it connected."""
        self._connections_seen = self._log().count(CONNECTED_LINE)
        spawned = time.time()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.node, str(self.red_js), "--userDir", str(self.user_dir),
                 "--settings", str(self.user_dir / "settings.js")],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.user_dir, env={**os.environ, "NODE_ENV": "production"},
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Node-RED exited at start:\n{self.log_tail()}")
            if self._log().count(CONNECTED_LINE) > self._connections_seen:
                return spawned, time.time()
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(
            f"Node-RED not connected after {START_TIMEOUT_S:.0f}s:\n{self.log_tail()}"
        )

    def _log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log_tail(self, lines: int = 25) -> str:
        return "\n".join(self._log().splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _influx_post(url: str, influxql: str) -> None:
    data = urllib.parse.urlencode({"q": influxql}).encode()
    with urllib.request.urlopen(f"{url}/query", data=data, timeout=30) as response:
        body = json.load(response)
    error = body.get("results", [{}])[0].get("error") or body.get("error")
    if error:
        raise RuntimeError(f"InfluxDB: {error}")


def _publish_probe(port: int, topic: str) -> None:
    """One QoS 1 message on the probe station, to check the flow end to end."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-probe-{time.time_ns()}")
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    try:
        payload = json.dumps({"ts": round(time.time(), 3), "values": {"pm25": 1.0}})
        client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def node_red_catch_up(
    stack: BenchStack,
    air_ids: list[str],
    count: int,
    publishers: int,
    engine: str,
    log: Log,
    connections: BrokerConnections,
    peer_dir: Path = PEER_DIR,
    label: str = "",
) -> SideRun:
    """bench_catchup's procedure with Node-RED in the place of the service: its own topic
    prefix, client id and database on the shared broker and InfluxDB."""
    result = SideRun("node-red")
    run_id = f"nodered-{int(time.time())}{label}"
    prefix = f"bench/{run_id}/ioc/v1"
    database = f"bench_{run_id.replace('-', '_')}"
    influx = stack.influxdb.url
    _influx_post(influx, f'CREATE DATABASE "{database}"')
    client_id = f"bench-nodered-{run_id}"
    flows = flow(prefix, stack.mosquitto.port, client_id, stack.influxdb.port, database)
    node_red = NodeRedProcess(stack.directory / run_id, free_port(), flows, peer_dir)
    samples: list[tuple[float, int]] = []
    try:
        node_red.start()  # registers the persistent subscription
        # Again every 2 s: the first may come before the broker has the new subscription.
        deadline, next_probe = time.monotonic() + PROBE_TIMEOUT_S, 0.0
        while count_rows(influx, database, f"station = '{PROBE_STATION}'") < 1:
            if time.monotonic() > deadline or node_red.exited():
                raise RuntimeError(f"the flow did not store a probe:\n{node_red.log_tail()}")
            if time.monotonic() >= next_probe:
                _publish_probe(stack.mosquitto.port, readings_topic(prefix, PROBE_STATION))
                next_probe = time.monotonic() + 2.0
            time.sleep(0.1)
        node_red.stop()
        log(f"[node-red] flow checked, stopped; queueing {count:,} messages in the broker")
        fleet = PublisherFleet(
            stack.mosquitto.port, prefix, air_ids, publishers, FILL_RATE, count, run_id, engine
        )
        fleet.start()
        fleet.go()
        summary = summarize(fleet.results(count / 1000 + 90))
        result.queued = summary.acked
        if summary.errors:
            result.note = "; ".join(summary.errors)
        log(f"[node-red] {summary.acked:,} queued ({summary.publish_rate:,.0f}/s); starting it")
        result.spawned_at, logged = node_red.start()
        connected, result.cpu_at_connect_s = connections.connected(
            result.spawned_at, f"pid={node_red.pid}"
        )
        result.connected_at = connected or logged
        result.logged_connected_at = logged
        cpu = CpuMeter(
            {
                "node-red": node_red.pid,
                "mosquitto": pid_of(stack.mosquitto.process),
                "influxd": pid_of(stack.influxdb.process),
            }
        )
        samples, outcome = _wait_stored(
            node_red, influx, database, result.queued, result.connected_at, log
        )
        cpu.sample()
        result.cpu_percent = cpu.percent()
        result.cpu_since_spawn_s = cpu_seconds(node_red.pid)
        result.stored = samples[-1][1] if samples else 0
    finally:
        node_red.stop()
    if outcome in ("caught_up", "idle"):
        result.lost = result.queued - result.stored
    done = next((s for s in samples if s[1] >= result.queued), None)
    if done is not None:
        result.written_at = done[0]
    log(f"[node-red] {result.line()}")
    return result


def _wait_stored(
    node_red: NodeRedProcess, influx: str, database: str, expected: int, t0: float, log: Log
) -> tuple[list[tuple[float, int]], str]:
    """(time, rows) every 0.25 s until ``expected`` rows (``caught_up``), 10 s without a new
    row (``idle``), the timeout (``timeout``) or Node-RED's death (``crashed``)."""
    samples: list[tuple[float, int]] = []
    next_print, last_change = t0 + 1.0, time.time()
    while True:
        time.sleep(POLL_S)
        now = time.time()
        if node_red.exited():
            log(f"    Node-RED exited:\n{node_red.log_tail()}")
            return samples, "crashed"
        stored = count_rows(influx, database, NOT_PROBE)
        if samples and stored != samples[-1][1]:
            last_change = now
        samples.append((now, stored))
        if now >= next_print:
            next_print += 1.0
            log(f"    t={now - t0:5.1f}s stored {stored:>9,} of {expected:,}")
        if stored >= expected:
            return samples, "caught_up"
        if now - t0 > DRAIN_TIMEOUT_S:
            return samples, "timeout"
        if now - last_change > IDLE_AFTER_S:
            return samples, "idle"


# --------------------------------------------------------------------------- both sides


def run_nodered_benchmark(
    count: int,
    publishers: int,
    stations: int,
    engine: str,
    log: Log,
    rounds: int = ROUNDS,
    profile_dir: Path | None = None,
    peer_dir: Path = PEER_DIR,
    workers: int = 0,
) -> NodeRedResult:
    """``rounds`` × (ours, Node-RED and, with ``workers``, ours in the worker layout) on one
    private broker and database, same registry and backlog; the order changes between
    rounds so no side always goes first."""
    result = NodeRedResult(versions=peer_versions(peer_dir), backlog=count, worker_count=workers)
    if result.versions["node-red"] == "not installed":
        raise RuntimeError(f"the Node-RED peer is not installed in {peer_dir}: make bench-peers")
    log(f"[node-red] peer: {', '.join(f'{k} {v}' for k, v in result.versions.items())}")
    with (
        private_stack("nodered") as stack,
        BrokerConnections(pid_of(stack.mosquitto.process), str(stack.directory)) as connections,
    ):
        registry = stack.directory / "stations.yaml"
        air_ids = write_bench_registry(registry, stations)
        log(f"[node-red] Mosquitto :{stack.mosquitto.port}, InfluxDB :{stack.influxdb.port}")
        sides = ["ours", "peer"] + (["workers"] if workers else [])
        for n in range(rounds):
            for side in sides[n % len(sides) :] + sides[: n % len(sides)]:
                if side == "workers":
                    log(f"[node-red] round {n + 1}/{rounds}: ours, {workers} ingest workers")
                    run = asyncio.run(_catch_up(
                        stack, registry, air_ids, count, publishers, engine, log, None, workers
                    ))  # fmt: skip
                    result.workers.append(ours_run(run, connections))
                    log(f"[node-red] workers: {result.workers[-1].line()}")
                elif side == "ours":
                    log(f"[node-red] round {n + 1}/{rounds}: ours (bench_catchup)")
                    ours = asyncio.run(_catch_up(
                        stack, registry, air_ids, count, publishers, engine, log, profile_dir
                    ))  # fmt: skip
                    result.ours.append(ours_run(ours, connections))
                    log(f"[node-red] ours: {result.ours[-1].line()}")
                else:
                    log(f"[node-red] round {n + 1}/{rounds}: Node-RED")
                    result.peer.append(node_red_catch_up(
                        stack, air_ids, count, publishers, engine, log, connections, peer_dir,
                        f"r{n + 1}",
                    ))  # fmt: skip
    log(format_result(result))
    return result


def format_result(result: NodeRedResult) -> str:
    lines = [f"[node-red] catch-up of {result.backlog:,} queued messages (median of rounds):"]
    for name, runs, rate, with_start in (
        ("ours", result.ours, result.ours_rate, result.ours_rate_with_start),
        ("Node-RED", result.peer, result.peer_rate, result.peer_rate_with_start),
    ):
        each = "; ".join(
            f"{r.rate:,.0f} (start {r.start_s:.2f} s, drain {r.drain_s:.2f} s, "
            f"{r.cpu_us_per_message:,.0f} µs CPU/msg)"
            for r in runs
        )
        lines.append(
            f"    {name:<9}{rate:>8,.0f} msg/s ({with_start:,.0f} from spawn)   rounds: {each}"
        )
    if result.workers:
        each = "; ".join(
            f"{r.rate:,.0f} (start {r.start_s:.2f} s, {r.cpu_us_per_message:,.0f} µs CPU/msg)"
            for r in result.workers
        )
        lines.append(
            f"    {'workers':<9}{result.workers_rate:>8,.0f} msg/s ({result.worker_count} "
            f"ingest workers + {result.worker_count} partitions)   rounds: {each}"
        )
    lines.append(
        f"    ratio ours ÷ Node-RED: {result.ratio:.2f}× connected → all written "
        f"(worker layout {result.workers_ratio:.2f}×); "
        f"{result.ratio_with_start:.2f}× from the process spawn; CPU per message "
        f"Node-RED ÷ ours {result.cpu_ratio:.2f}×"
    )
    lines.append("    " + DIFFERENCES)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_nodered")
    parser.add_argument("--backlog", type=int, default=30_000)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--engine", choices=["paho", "raw"], default="paho")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy our service")
    parser.add_argument(
        "--workers", type=int, default=2, help="ingest workers of the third side (0: none)"
    )
    args = parser.parse_args(argv if argv is not None else [])
    t0 = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {line}", flush=True)

    result = run_nodered_benchmark(
        args.backlog,
        args.publishers,
        args.stations,
        args.engine,
        log,
        args.rounds,
        args.profile,
        workers=args.workers,
    )
    return result.figures()


if __name__ == "__main__":
    import sys

    print(json.dumps(main(sys.argv[1:]), indent=1))
