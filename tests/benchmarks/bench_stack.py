"""The processes a benchmark runs against: a private Mosquitto and InfluxDB in a temporary
directory on free ports (the classes the integration tests use), the service as a
subprocess (``python -m ioc serve -c <generated config>``), and per-process CPU accounting
from ``/proc`` so a run can say which process spent the machine's cores."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ioc.private_services import PrivateInfluxDB, PrivateMosquitto, free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SERVICE_START_TIMEOUT_S = 60.0
SERVICE_STOP_TIMEOUT_S = 20.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class BenchStack:
    directory: Path
    mosquitto: PrivateMosquitto
    influxdb: PrivateInfluxDB


@contextlib.contextmanager
def private_stack(label: str) -> Iterator[BenchStack]:
    """A fresh Mosquitto and InfluxDB for one benchmark, removed again afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"ioc-bench-{label}-") as tmp:
        directory = Path(tmp)
        # Mosquitto's own persistence (a save every 30 s), as the peer runs it: saving on
        # every change would measure the broker's snapshot writes (docs/protocol.md).
        mosquitto = PrivateMosquitto(directory / "mosquitto", free_port(), durable=False)
        influxdb = PrivateInfluxDB(directory / "influxdb", free_port())
        mosquitto.start()
        try:
            influxdb.start()
            try:
                yield BenchStack(directory, mosquitto, influxdb)
            finally:
                influxdb.stop()
        finally:
            mosquitto.stop()


def influx_query(url: str, database: str, influxql: str) -> list[dict[str, Any]]:
    """Rows of the first series of an InfluxQL query, straight from InfluxDB's /query."""
    query = urllib.parse.urlencode({"db": database, "q": influxql})
    with urllib.request.urlopen(f"{url}/query?{query}", timeout=30) as response:
        body = json.load(response)
    result = body["results"][0]
    if "error" in result:
        raise RuntimeError(result["error"])
    series = result.get("series") or []
    if not series:
        return []
    return [dict(zip(series[0]["columns"], values, strict=True)) for values in series[0]["values"]]


def count_rows(url: str, database: str, where: str) -> int:
    rows = influx_query(url, database, f"SELECT count(pm25) FROM reading WHERE {where}")
    return int(rows[0]["count"]) if rows else 0


def pid_of(process: subprocess.Popen[bytes] | None) -> int:
    return process.pid if process is not None else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) and of its running children
    (``ioc serve`` with workers) so far."""
    own = _stat(pid)
    if own is None:
        return 0.0
    total = own[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(pid):
            child = _stat(int(entry.name))
            if child is not None and child[0] == pid:
                total += child[1]
    return total


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


@dataclass(frozen=True, slots=True)
class StoredSample:
    t: float  # epoch s
    stored: int  # rows of the backlog in InfluxDB
    cpu_s: float  # the consumer's CPU time so far (0 before it exists)


class StoredSampler:
    """Every ``interval`` s, from a thread of the harness and the same for every consumer:
    the backlog's rows stored so far (``count_rows``) and the consumer's CPU time. Started
    before the consumer is, so the first stored rows are seen; ``pid`` says the consumer's
    process once there is one (0 before)."""

    def __init__(
        self, url: str, database: str, where: str, pid: Callable[[], int], interval: float = 0.1
    ) -> None:
        self._args = (url, database, where)
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self.samples: list[StoredSample] = []
        self._thread = threading.Thread(target=self._run, name="stored-sampler", daemon=True)

    def start(self) -> StoredSampler:
        self._thread.start()
        return self

    def stop(self) -> list[StoredSample]:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.samples

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            pid = self._pid()
            cpu = cpu_seconds(pid) if pid else 0.0
            try:
                stored = count_rows(*self._args)
            except OSError:
                continue  # the database busy past its timeout: the next sample
            self.samples.append(StoredSample(time.time(), stored, cpu))


def middle_span(
    samples: list[StoredSample], total: int, low: float = 0.1, high: float = 0.9
) -> tuple[float, float]:
    """(msg/s, consumer CPU µs per message) between the samples where ``low`` and ``high``
    of ``total`` were first stored — the issue's measure, which leaves the start-up and the
    last write out; (0, 0) when the span was not seen."""
    first = next((s for s in samples if s.stored >= low * total and s.cpu_s), None)
    last = next((s for s in samples if s.stored >= high * total), None)
    if first is None or last is None or last.t <= first.t or last.stored <= first.stored:
        return 0.0, 0.0
    rows = last.stored - first.stored
    return rows / (last.t - first.t), 1e6 * (last.cpu_s - first.cpu_s) / rows


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have spent so far (``/proc/stat``)."""
    fields = _read_first_line("/proc/stat").split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _read_first_line(path: str) -> str:
    with open(path) as f:
        return f.readline()


class CpuMeter:
    """CPU % (of one core) of named processes over an interval, plus this harness process and
    everything else on the machine (``other``: work that is not part of the benchmark)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._start = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self._latest = dict(self._start)
        self._machine = machine_busy_seconds()
        self._harness = time.process_time()
        self._t = time.monotonic()

    def sample(self) -> None:
        """Read the processes now (call while they are alive; an exited one keeps its last)."""
        for name, pid in self._pids.items():
            self._latest[name] = max(self._latest[name], cpu_seconds(pid))

    def seconds(self, name: str) -> float:
        """CPU seconds of one named process so far."""
        self.sample()
        return self._latest[name] - self._start[name]

    def percent(self, extra: dict[str, float] | None = None) -> dict[str, float]:
        """``extra``: CPU seconds of processes measured elsewhere (e.g. the publishers)."""
        self.sample()
        wall = max(1e-3, time.monotonic() - self._t)
        used = {name: self._latest[name] - self._start[name] for name in self._pids}
        used.update(extra or {})
        used["harness"] = time.process_time() - self._harness
        other = machine_busy_seconds() - self._machine - sum(used.values())
        used["other"] = max(0.0, other)
        return {name: 100 * seconds / wall for name, seconds in used.items()}


class ServiceProcess:
    """``python -m ioc serve`` with a generated config, stopped with SIGTERM like systemd."""

    def __init__(
        self,
        directory: Path,
        registry: Path,
        stack: BenchStack,
        run_id: str,
        extra: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """``extra``: more config, merged into its sections (rules, accounts, ...)."""
        self.run_id = run_id
        self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.prefix = f"bench/{run_id}/ioc/v1"
        self.database = f"bench_{run_id}"
        # Its own working directory: every relative default path (var/...) lands there.
        self.directory = directory / f"service-{run_id}"
        self.directory.mkdir(parents=True)
        self.config_path = self.directory / "ioc.yaml"
        self.log_path = self.directory / "service.log"
        config: dict[str, Any] = {
            "registry": str(registry.resolve()),
            "mqtt": {
                "host": "127.0.0.1",
                "port": stack.mosquitto.port,
                "topic_prefix": self.prefix,
                "client_id": f"bench-ioc-{run_id}",
            },
            "influx": {
                "url": stack.influxdb.url,
                "database": self.database,
                "spool_dir": str(self.directory / "spool"),
            },
            "alerts": {"database": str(self.directory / "alerts.sqlite3")},
            "access": {"database": str(self.directory / "ioc.sqlite3")},
            "web": {"host": "127.0.0.1", "port": self.web_port},
            "workers": {"ingest": 0},  # one process on any machine, unless ``extra`` says
        }
        for section, values in (extra or {}).items():
            config[section] = {**config.get(section, {}), **values}
        self.config_path.write_text(yaml.safe_dump(config))
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""  # a viewer's login, for the readings API and the websocket

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def topic(self, station_id: str) -> str:
        return f"{self.prefix}/stations/{station_id}/readings"

    def start(self) -> None:
        """Start and wait until the service is subscribed (health says connected), with a
        viewer account (:attr:`token`) to read through the API and the websocket."""
        password = "bench-viewer-password"
        subprocess.run(
            [sys.executable, "-m", "ioc", "users", "add", "bench", "--role", "viewer",
             "--password-stdin", "-c", str(self.config_path)],
            input=f"{password}\n".encode(), cwd=self.directory, check=False,
            capture_output=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ioc", "serve", "-c", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.directory,
                env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            )
        deadline = time.monotonic() + SERVICE_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited at start:\n{self.log_tail()}")
            with contextlib.suppress(OSError, ValueError):
                health = self.health()
                workers = health.get("workers", [])
                if health["mqtt"]["connected"] and all(w["ready"] for w in workers):
                    self.token = self._login("bench", password)
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"service not ready after {SERVICE_START_TIMEOUT_S:.0f}s:\n{self.log_tail()}"
        )

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=5) as response:
            result: dict[str, Any] = json.load(response)
            return result

    def _login(self, username: str, password: str) -> str:
        request = urllib.request.Request(
            f"{self.url}/api/v1/auth/token",
            data=json.dumps({"username": username, "password": password}).encode(),
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return str(json.load(response)["token"])

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=SERVICE_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def versions() -> dict[str, str]:
    """Versions of the broker and database binaries the private services run."""
    found = {}
    for name, command in [
        ("mosquitto", ["mosquitto", "-h"]),
        ("influxdb", ["influxd", "version"]),
    ]:
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=10)
            first = (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            first = "not found"
        found[name] = first
    return found


CONNECTION_POLL_S = 0.01


class BrokerConnections:
    """When clients connected to the broker, alike for both sides: a thread lists the
    broker process's sockets (``/proc/<pid>/fd``) every 10 ms and notes when a new one
    appears (an accepted connection), with the CPU time each process of the benchmark (its
    command line names ``marker``, the benchmark's directory) had used by then: what its
    start-up cost. The side's connection is the first after its process was spawned:
    nothing else connects meanwhile (ours opens its readings connection first, its camera
    frames connection about a second later). Neither side's own account will do: ours logs "MQTT
    connected" after its SUBACK, which the broker sends only after the queued backlog
    (seconds late), and its health endpoint answers late while the backlog keeps its event
    loop busy; Node-RED logs at CONNACK."""

    def __init__(self, broker_pid: int, marker: str) -> None:
        self._fd_dir = Path(f"/proc/{broker_pid}/fd")
        self._marker = marker.encode()
        self.events: list[tuple[float, dict[bytes, float]]] = []  # (time, command → CPU s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="broker-connections", daemon=True)

    def __enter__(self) -> BrokerConnections:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _sockets(self) -> set[str]:
        found = set()
        with contextlib.suppress(OSError):
            for fd in os.listdir(self._fd_dir):
                with contextlib.suppress(OSError):
                    target = os.readlink(self._fd_dir / fd)
                    if target.startswith("socket:"):
                        found.add(target)
        return found

    def _cpu_by_command(self) -> dict[bytes, float]:
        """CPU seconds of the benchmark's processes by command line; Node-RED renames its
        process (``process.title``), so it is also found by that name, keyed by its pid."""
        found = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    command = Path(f"/proc/{entry}/cmdline").read_bytes()
                    if self._marker in command or command.startswith(b"node-red"):
                        found[command + f"\0pid={entry}".encode()] = cpu_seconds(int(entry))
        return found

    def _watch(self) -> None:
        known = self._sockets()
        while not self._stop.wait(CONNECTION_POLL_S):
            now, current = time.time(), self._sockets()
            if current - known:
                self.events.append((now, self._cpu_by_command()))
            known = current

    def connected(self, after: float, command_contains: str) -> tuple[float, float]:
        """The first new connection at or after ``after``, and the CPU time by then of the
        process whose command line contains ``command_contains`` ((0.0, 0.0): none seen)."""
        wanted = command_contains.encode()
        for t, cpu in self.events:
            if t >= after:
                return t, next((s for c, s in cpu.items() if wanted in c), 0.0)
        return 0.0, 0.0
