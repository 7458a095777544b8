"""Catch-up against the do-it-yourself peers: the same backlog worked off by ``ioc serve``,
by a Node-RED flow doing the minimum of the same job and by a bare-Python floor, on the same
broker and database.

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

The floor (issue #15) is the least a Python consumer can do for the same job, the flow's
work in plain Python: ``tests/benchmarks/peers/bare_python.py``, its own process with this
interpreter — a paho-mqtt network thread (QoS 1, persistent session, acknowledging on receipt
like mqtt.js), ``json.loads`` and one line of line protocol per message, and a thread POSTing
``/write`` (keep-alive) every 1,000 lines or 0.5 s, as the flow's ``join`` batches.

Every side gets the treatment of bench_catchup, one after the other in one run, with the same
registry (~1000 air stations), the same publishers and messages, the same backlog size and
one private Mosquitto + InfluxDB: start once (registers the persistent subscription), stop,
queue ``count`` messages in the broker, start again and time it. All are timed alike:
process spawned (``/proc``) → connected (a new socket on the broker:
:class:`BrokerConnections`) → every queued message a row in InfluxDB (ours: its health
endpoint says everything is processed and written; Node-RED and the floor, which have no
such endpoint: their own database counted every 0.25 s). Before its catch-up each peer is
checked end to end with one probe message, so a broken flow fails fast instead of timing
out. The order of the sides rotates from round to round. :func:`peer_catch_up` is that
procedure for any :class:`PeerProcess` (Node-RED's, the floor's).

The ratio is ours msg/s ÷ Node-RED msg/s (connected → everything written, medians of the
rounds): above 1, ours catches up faster; a second ratio counts from the process spawn.
Next to it, ours ÷ the floor: how far ours is from the least Python can do. They do not do
the same work: see ``DIFFERENCES``, printed next to the figures.
``python -m tests.benchmarks.bench_nodered --backlog 30000 --rounds 3`` runs it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
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
    StoredSampler,
    count_rows,
    cpu_seconds,
    middle_span,
    pid_of,
    private_stack,
)

PEER_DIR = Path(os.environ.get("IOC_BENCH_NODE_RED_DIR", PROJECT_ROOT / "var/peers/node-red"))
BARE_PYTHON = Path(__file__).resolve().parent / "peers" / "bare_python.py"  # the floor
BATCH_POINTS = 1_000  # the join node's count: points per InfluxDB write
BATCH_TIMEOUT_S = 0.5  # ... or what arrived within this (as our store's flush interval)
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
DRAIN_TIMEOUT_S = 120.0
IDLE_AFTER_S = 10.0
ROUNDS = 3  # the sides' order rotates from round to round; medians reported
BACKLOG = 60_000  # queued messages per side, as issue #15 measures
STATIONS = 100  # air stations of the registry, as issue #15 measures
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
    "write is lost. The bare-Python floor does exactly what the flow does, in one Python "
    "process (paho, json, line protocol, batched POST /write), with the same losses."
)


@dataclass
class SideRun:
    """One catch-up of one side, timed alike for all: process spawned → connected to the
    broker (its own log line: ours "MQTT connected", Node-RED "Connected to broker", the
    floor "connected") → every queued message a row in InfluxDB (polled every 0.25 s)."""

    side: str  # "ours", "node-red" or "floor"
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
    # the measure: between 10 % and 90 % of the backlog stored (start-up and the last
    # write left out), from the same sampling of InfluxDB and /proc for every side
    middle_rate: float = 0.0
    middle_us_per_message: float = 0.0
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
            f"{self.rate:,.0f} msg/s ({self.rate_with_start:,.0f} from spawn; 10–90 % stored: "
            f"{self.middle_rate:,.0f}/s at {self.middle_us_per_message:,.0f} µs/message), "
            f"lost {lost}, "
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
        middle_rate=result.middle_rate,
        middle_us_per_message=result.middle_us_per_message,
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
    """Rounds of (ours, Node-RED, the bare-Python floor[, workers]); the figures are medians
    over the rounds."""

    ours: list[SideRun] = field(default_factory=list)
    peer: list[SideRun] = field(default_factory=list)
    floor: list[SideRun] = field(default_factory=list)  # bare Python: paho + json + POST
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
    def floor_rate(self) -> float:
        return _median([r.rate for r in self.floor])

    @property
    def floor_ratio(self) -> float:
        """Ours msg/s ÷ the bare-Python floor's (connected → all written; 0: not measurable):
        how close ours comes to the least a Python consumer can do."""
        return self.ours_rate / self.floor_rate if self.ours_rate and self.floor_rate else 0.0

    @property
    def floor_cpu_ratio(self) -> float:
        """The floor's CPU per message ÷ ours (after start-up), in the sense of
        :attr:`cpu_ratio`: below 1, the floor is cheaper per message."""
        ours = _median([r.cpu_us_per_message for r in self.ours])
        floor = _median([r.cpu_us_per_message for r in self.floor])
        return floor / ours if ours and floor else 0.0

    @property
    def workers_rate(self) -> float:
        return _median([r.rate for r in self.workers])

    @property
    def workers_ratio(self) -> float:
        """The worker layout's msg/s ÷ Node-RED's."""
        rate, peer = self.workers_rate, self.peer_rate
        return rate / peer if rate and peer else 0.0

    def middle(self, runs: list[SideRun]) -> tuple[float, float]:
        """(msg/s, CPU µs per message) between 10 % and 90 % of the backlog stored, medians
        over the rounds: the issue's measure."""
        return (
            _median([r.middle_rate for r in runs if r.middle_rate]),
            _median([r.middle_us_per_message for r in runs if r.middle_rate]),
        )

    def middle_by_side(self) -> list[tuple[str, float, float]]:
        """(side, msg/s, CPU µs per message) between 10 % and 90 % stored, for every side that
        ran (not the worker layout: its rows count its ingest only, before its analytics)."""
        sides = (("ours", self.ours), ("Node-RED", self.peer), ("bare-Python floor", self.floor))
        return [(name, *self.middle(runs)) for name, runs in sides if runs]

    @property
    def middle_ratio(self) -> float:
        """Ours ÷ Node-RED, msg/s between 10 % and 90 % stored."""
        ours, peer = self.middle(self.ours)[0], self.middle(self.peer)[0]
        return ours / peer if ours and peer else 0.0

    def middle_figures(self) -> dict[str, float]:
        figures: dict[str, float] = {"middle_ratio_ours_over_node_red": self.middle_ratio}
        for name, runs in (
            ("ours", self.ours),
            ("node_red", self.peer),
            ("floor", self.floor),
        ):
            if runs:
                rate, cpu = self.middle(runs)
                figures[f"{name}_middle_msg_per_s"] = rate
                figures[f"{name}_middle_cpu_us_per_message"] = cpu
        return figures

    def figures(self) -> dict[str, float]:
        """Flat figures (medians over the rounds)."""
        workers = {
            "ratio_workers_over_node_red": self.workers_ratio,
            "workers_msg_per_s": self.workers_rate,
            "workers_msg_per_s_with_start": _median([r.rate_with_start for r in self.workers]),
            "workers_cpu_us_per_message": _median([r.cpu_us_per_message for r in self.workers]),
            "workers_start_s": _median([r.start_s for r in self.workers]),
        }
        floor = {
            "ratio_ours_over_floor": self.floor_ratio,
            "cpu_ratio_floor_over_ours": self.floor_cpu_ratio,
            "floor_msg_per_s": self.floor_rate,
            "floor_msg_per_s_with_start": _median([r.rate_with_start for r in self.floor]),
            "floor_start_s": _median([r.start_s for r in self.floor]),
            "floor_cpu_us_per_message": _median([r.cpu_us_per_message for r in self.floor]),
            "floor_cpu_since_spawn_s": _median([r.cpu_since_spawn_s for r in self.floor]),
        }
        return {
            **self.middle_figures(),
            **(workers if self.workers else {}),
            **(floor if self.floor else {}),
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
    """Node.js and the installed Node-RED packages (``not installed`` when missing), and
    the Python and paho-mqtt of the bare-Python floor."""
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
    found["python (floor)"] = sys.version.split()[0]
    try:
        found["paho-mqtt (floor)"] = importlib.metadata.version("paho-mqtt")
    except importlib.metadata.PackageNotFoundError:
        found["paho-mqtt (floor)"] = "not installed"
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


class PeerProcess:
    """A peer run as its own process, stopped with SIGTERM: what the catch-up procedure
    (:func:`peer_catch_up`) needs of it. ``start`` spawns it and waits for its own log line
    saying its MQTT client is connected."""

    name = "peer"

    def __init__(self, command: list[str], log_path: Path, cwd: Path, env: dict[str, str]):
        self.command, self.log_path, self.cwd, self.env = command, log_path, cwd, env
        self.process: subprocess.Popen[bytes] | None = None

    def is_connected_line(self, line: str) -> bool:
        raise NotImplementedError

    @property
    def pid(self) -> int:
        return pid_of(self.process)

    def _connected_lines(self) -> int:
        return sum(1 for line in self._log().splitlines() if self.is_connected_line(line))

    def start(self) -> tuple[float, float]:
        """Start and wait until its MQTT client is connected (its log line, polled every
        20 ms); returns when it was spawned and when it connected."""
        seen = self._connected_lines()
        spawned = time.time()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.cwd, env=self.env,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            if self._connected_lines() > seen:
                return spawned, time.time()
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(
            f"{self.name} not connected after {START_TIMEOUT_S:.0f}s:\n{self.log_tail()}"
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


class NodeRedProcess(PeerProcess):
    """``node node-red/red.js --userDir DIR`` with a generated flow, stopped with SIGTERM."""

    name = "Node-RED"

    def __init__(self, user_dir: Path, port: int, flows: Any, peer_dir: Path = PEER_DIR) -> None:
        red_js = peer_dir / "node_modules" / "node-red" / "red.js"
        node = shutil.which("node")
        if node is None or not red_js.exists():
            raise RuntimeError(
                f"the Node-RED peer is not installed in {peer_dir} (run `make bench-peers`)"
            )
        user_dir.mkdir(parents=True, exist_ok=True)
        (user_dir / "settings.js").write_text(SETTINGS_JS % {"port": port})
        (user_dir / "flows.json").write_text(json.dumps(flows, indent=1))
        command = [node, str(red_js), "--userDir", str(user_dir),
                   "--settings", str(user_dir / "settings.js")]  # fmt: skip
        env = {**os.environ, "NODE_ENV": "production"}
        super().__init__(command, user_dir / "node-red.log", user_dir, env)

    def is_connected_line(self, line: str) -> bool:
        return CONNECTED_LINE in line


class BarePythonProcess(PeerProcess):
    """``python tests/benchmarks/peers/bare_python.py ...``: the bare-Python floor (paho
    thread + json + line protocol + batched POST /write), with this interpreter."""

    name = "bare Python"

    def __init__(self, directory: Path, target: PeerTarget, broker_port: int, influx_url: str):
        directory.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, str(BARE_PYTHON), "--port", str(broker_port),
            "--prefix", target.prefix, "--client-id", target.client_id,
            "--influx-url", influx_url, "--database", target.database,
            "--batch-points", str(BATCH_POINTS), "--batch-timeout", str(BATCH_TIMEOUT_S),
            "--label", str(directory),  # BrokerConnections finds its process by this
        ]  # fmt: skip
        super().__init__(command, directory / "bare_python.log", directory, dict(os.environ))

    def is_connected_line(self, line: str) -> bool:
        return line.strip() == "connected"


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


@dataclass
class PeerTarget:
    """Where one peer run reads and writes: its own topic prefix, client id and database on
    the shared broker and InfluxDB."""

    run_id: str
    prefix: str
    client_id: str
    database: str


def peer_target(stack: BenchStack, name: str, label: str) -> PeerTarget:
    """A fresh prefix, client id and (created) database for one run of a peer."""
    run_id = f"{name}-{int(time.time())}{label}"
    database = f"bench_{run_id.replace('-', '_')}"
    _influx_post(stack.influxdb.url, f'CREATE DATABASE "{database}"')
    return PeerTarget(run_id, f"bench/{run_id}/ioc/v1", f"bench-{run_id}", database)


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
    """bench_catchup's procedure with Node-RED in the place of the service."""
    target = peer_target(stack, "nodered", label)
    flows = flow(
        target.prefix, stack.mosquitto.port, target.client_id, stack.influxdb.port, target.database
    )
    node_red = NodeRedProcess(stack.directory / target.run_id, free_port(), flows, peer_dir)
    return peer_catch_up(
        "node-red", node_red, target, stack, air_ids, count, publishers, engine, log, connections
    )


def floor_catch_up(
    stack: BenchStack,
    air_ids: list[str],
    count: int,
    publishers: int,
    engine: str,
    log: Log,
    connections: BrokerConnections,
    label: str = "",
) -> SideRun:
    """bench_catchup's procedure with the bare-Python floor in the place of the service."""
    target = peer_target(stack, "floor", label)
    floor = BarePythonProcess(
        stack.directory / target.run_id, target, stack.mosquitto.port, stack.influxdb.url
    )
    return peer_catch_up(
        "floor", floor, target, stack, air_ids, count, publishers, engine, log, connections
    )


def peer_catch_up(
    side: str,
    peer: PeerProcess,
    target: PeerTarget,
    stack: BenchStack,
    air_ids: list[str],
    count: int,
    publishers: int,
    engine: str,
    log: Log,
    connections: BrokerConnections,
) -> SideRun:
    """bench_catchup's procedure with a peer process in the place of the service: start it
    (registers the persistent subscription), check with a probe message that it stores,
    stop it, queue the backlog, start it again and time connected → every message a row."""
    result = SideRun(side)
    influx = stack.influxdb.url
    samples: list[tuple[float, int]] = []
    outcome = "crashed"
    try:
        peer.start()  # registers the persistent subscription
        # Again every 2 s: the first may come before the broker has the new subscription.
        deadline, next_probe = time.monotonic() + PROBE_TIMEOUT_S, 0.0
        while count_rows(influx, target.database, f"station = '{PROBE_STATION}'") < 1:
            if time.monotonic() > deadline or peer.exited():
                raise RuntimeError(f"{peer.name} did not store a probe:\n{peer.log_tail()}")
            if time.monotonic() >= next_probe:
                _publish_probe(stack.mosquitto.port, readings_topic(target.prefix, PROBE_STATION))
                next_probe = time.monotonic() + 2.0
            time.sleep(0.1)
        peer.stop()
        log(f"[{side}] probe stored, stopped; queueing {count:,} messages in the broker")
        fleet = PublisherFleet(
            stack.mosquitto.port, target.prefix, air_ids, publishers, FILL_RATE, count,
            target.run_id, engine,
        )  # fmt: skip
        fleet.start()
        fleet.go()
        summary = summarize(fleet.results(count / 1000 + 90))
        result.queued = summary.acked
        if summary.errors:
            result.note = "; ".join(summary.errors)
        log(f"[{side}] {summary.acked:,} queued ({summary.publish_rate:,.0f}/s); starting it")
        sampler = StoredSampler(influx, target.database, NOT_PROBE, lambda: peer.pid).start()
        try:
            result.spawned_at, logged = peer.start()
        except BaseException:
            sampler.stop()
            raise
        result.connected_at = result.logged_connected_at = logged
        cpu = CpuMeter(
            {
                side: peer.pid,
                "mosquitto": pid_of(stack.mosquitto.process),
                "influxd": pid_of(stack.influxdb.process),
            }
        )
        samples, outcome = _wait_stored(peer, influx, target.database, result.queued, logged, log)
        result.middle_rate, result.middle_us_per_message = middle_span(
            sampler.stop(), result.queued
        )
        cpu.sample()
        result.cpu_percent = cpu.percent()
        result.cpu_since_spawn_s = cpu_seconds(peer.pid)
        result.stored = samples[-1][1] if samples else 0
        # Looked up only now: the connection watcher records a connection some ms after it
        # appears, later than a fast peer (the floor: < 0.1 s) logs its own CONNACK.
        connected, result.cpu_at_connect_s = connections.connected(
            result.spawned_at, f"pid={peer.pid}"
        )
        result.connected_at = connected or logged
    finally:
        peer.stop()
    if outcome in ("caught_up", "idle"):
        result.lost = result.queued - result.stored
    done = next((s for s in samples if s[1] >= result.queued), None)
    if done is not None:
        result.written_at = done[0]
    log(f"[{side}] {result.line()}")
    return result


def _wait_stored(
    peer: PeerProcess, influx: str, database: str, expected: int, t0: float, log: Log
) -> tuple[list[tuple[float, int]], str]:
    """(time, rows) every 0.25 s until ``expected`` rows (``caught_up``), 10 s without a new
    row (``idle``), the timeout (``timeout``) or the peer's death (``crashed``)."""
    samples: list[tuple[float, int]] = []
    next_print, last_change = t0 + 1.0, time.time()
    while True:
        time.sleep(POLL_S)
        now = time.time()
        if peer.exited():
            log(f"    {peer.name} exited:\n{peer.log_tail()}")
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
    """``rounds`` × (ours, Node-RED, the bare-Python floor and, with ``workers``, ours in the
    worker layout) on one private broker and database, same registry and backlog; the order
    rotates between rounds so no side always goes first."""
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
        sides = ["ours", "peer", "floor"] + (["workers"] if workers else [])
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
                elif side == "floor":
                    log(f"[node-red] round {n + 1}/{rounds}: the bare-Python floor")
                    result.floor.append(floor_catch_up(
                        stack, air_ids, count, publishers, engine, log, connections, f"r{n + 1}"
                    ))  # fmt: skip
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
    if result.floor:
        each = "; ".join(
            f"{r.rate:,.0f} (start {r.start_s:.2f} s, drain {r.drain_s:.2f} s, "
            f"{r.cpu_us_per_message:,.0f} µs CPU/msg)"
            for r in result.floor
        )
        floor_start = _median([r.rate_with_start for r in result.floor])
        lines.append(
            f"    bare Python floor (paho thread + json + line protocol + batched POST /write): "
            f"{result.floor_rate:,.0f} msg/s ({floor_start:,.0f} from spawn), "
            f"{_median([r.cpu_us_per_message for r in result.floor]):,.0f} µs CPU/msg; "
            f"ours ÷ floor {result.floor_ratio:.2f}×, CPU per message floor ÷ ours "
            f"{result.floor_cpu_ratio:.2f}×   rounds: {each}"
        )
    middle = [
        f"{name} {rate:,.0f} msg/s at {cpu:,.0f} µs" for name, rate, cpu in result.middle_by_side()
    ]
    lines.append(
        f"    between 10 % and 90 % of the backlog stored (the issue's measure): "
        f"{', '.join(middle)} CPU/msg → ours ÷ Node-RED {result.middle_ratio:.2f}× (not for the "
        "worker layout: its ingest workers store before its partitions analyse, so its rows "
        "count the ingest only)"
    )
    lines.append("    " + DIFFERENCES)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_nodered")
    parser.add_argument("--backlog", type=int, default=BACKLOG)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--stations", type=int, default=STATIONS)
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
