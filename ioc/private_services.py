"""Private Mosquitto and InfluxDB for ``make run`` and the tests: real Debian binaries,
started on free ports with their data, config and logs under one directory, and stopped
again. Nothing here is used when an external broker or database is configured.

One directory, one process: a leftover of an earlier run on the same directory (its parent
was SIGKILLed) is stopped before a new one starts — two influxd on one data directory would
corrupt it, and nothing in influxd locks it. Leftovers are found by their command line, which
names the directory's config file, so those of any earlier version are found too. The
services also get SIGTERM when the thread that started them dies (PR_SET_PDEATHSIG), so a
killed ``ioc dev`` normally leaves none behind."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from ioc.errors import ServiceStartError

log = logging.getLogger(__name__)
START_TIMEOUT_S = 30.0
LEFTOVER_STOP_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
#: Mosquitto 2.0 keeps its state (sessions, queued QoS 1 messages) only in the snapshot it
#: rewrites on each autosave: after every change here, so a broker crash loses at most what it
#: acknowledged in its last event-loop pass (docs/protocol.md, "Broker security and
#: persistence"); the default, every 30 s, lost up to 30 s of acknowledged readings. Saving the
#: whole snapshot on every change costs throughput (hundreds of QoS 1 messages a second, less
#: as the queue grows): benchmarks opt out (``durable=False``), as a do-it-yourself stack on
#: Mosquitto's defaults runs.
AUTOSAVE = ("autosave_on_changes true", "autosave_interval 1")
AUTOSAVE_DEFAULT = ("autosave_interval 30",)


#: Where free_port() looks first: below the kernel's ephemeral range, whose ports the kernel
#: also gives to outgoing connections, which could take a port between free_port() closing its
#: probe and the service binding it.
LOWEST_PRIVATE_PORT = 10000
PORT_TRIES = 100


def ephemeral_ports() -> tuple[int, int]:
    """The kernel's range of local ports for outgoing connections (Linux's default if unknown)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(preferred: int | None = None) -> int:
    """``preferred`` if nothing listens there, otherwise a free port outside the ephemeral range."""
    if preferred and _bindable(preferred):
        return preferred
    low, high = ephemeral_ports()
    spans = [(LOWEST_PRIVATE_PORT, low - 1), (high + 1, 65535)]
    ports = [port for first, last in spans if first <= last for port in range(first, last + 1)]
    for port in random.sample(ports, min(PORT_TRIES, len(ports))):
        if _bindable(port):
            return port
    raise ServiceStartError("port", "no free TCP port outside the ephemeral range")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _binary(name: str, package: str) -> str:
    found = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
    )
    if found is None:
        raise ServiceStartError(
            name, f"not installed (Debian package {package!r}; `make setup` installs it)"
        )
    return found


def _processes_running(command: list[str]) -> list[int]:
    """Live processes whose command line is exactly ``command``."""
    wanted = "\0".join(command).encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "cmdline").read_bytes() == wanted:
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return found


def _gone(pid: int) -> bool:
    """Exited (a zombie counts: it holds no files); our own children are reaped."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _stopped(pid: int, sig: signal.Signals) -> bool:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + LEFTOVER_STOP_TIMEOUT_S
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _stop_leftovers(name: str, command: list[str], directory: Path) -> None:
    for pid in _processes_running(command):
        log.warning(
            "%s: stopping a leftover %s (pid %d) of an earlier run still using %s",
            name,
            name,
            pid,
            directory,
        )
        if not (_stopped(pid, signal.SIGTERM) or _stopped(pid, signal.SIGKILL)):
            raise ServiceStartError(name, f"leftover process {pid} on {directory} did not stop")


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the thread that started it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class _PrivateService:
    name = ""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / f"{self.name}.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        return _port_open(self.port)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = self._command()
        _stop_leftovers(self.name, command, self.directory)
        with self.log_path.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceStartError(
                    self.name, f"exited with {self.process.returncode}", _log_tail(self.log_path)
                )
            if self._ready():
                return
            time.sleep(0.1)
        self.stop()
        raise ServiceStartError(
            self.name, f"not ready after {START_TIMEOUT_S:.0f}s", _log_tail(self.log_path)
        )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL, for outage tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class PrivateMosquitto(_PrivateService):
    """With ``auth`` = (password file, ACL file) anonymous clients are refused."""

    name = "mosquitto"

    def __init__(
        self,
        directory: Path,
        port: int,
        auth: tuple[Path, Path] | None = None,
        durable: bool = True,
    ) -> None:
        super().__init__(directory, port)
        self.auth = auth
        self.autosave = AUTOSAVE if durable else AUTOSAVE_DEFAULT

    def _command(self) -> list[str]:
        binary = _binary("mosquitto", "mosquitto")
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {data}/",
            *self.autosave,
            # QoS 1 bursts (a station backlog, a benchmark) must not be dropped: the default
            # limit of 1000 queued messages per client would drop them.
            "max_queued_messages 1000000",
            "max_queued_bytes 0",
            # Unlimited in-flight QoS 1 messages towards a subscriber: the service acknowledges
            # only after its spool fsync, and a small window would starve its batches.
            "max_inflight_messages 0",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if self.auth is None:
            lines.append("allow_anonymous true")
        else:
            passwd, acl = self.auth
            lines += [
                "allow_anonymous false",
                f"password_file {passwd}",
                f"acl_file {acl}",
                # The client id becomes the user name: no account can take over another's
                # persistent session (Mosquitto does not bind client ids to accounts).
                "use_username_as_clientid true",
            ]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise it drops to `mosquitto` and cannot read files
        conf.write_text("\n".join(lines) + "\n")
        return [binary, "-c", str(conf)]


class PrivateInfluxDB(_PrivateService):
    name = "influxd"

    def __init__(self, directory: Path, port: int, rpc_port: int | None = None) -> None:
        super().__init__(directory, port)
        self._own_rpc_port = rpc_port is None
        self.rpc_port = rpc_port or free_port()

    def start(self) -> None:
        """As for every service; a free port for the internal RPC listener taken by another
        process meanwhile (free_port() can only say it was free) is chosen again, twice."""
        for attempt in range(3):
            try:
                super().start()
                return
            except ServiceStartError as exc:
                taken = f"127.0.0.1:{self.rpc_port}: bind: address already in use"
                if not self._own_rpc_port or attempt == 2 or taken not in str(exc):
                    raise
                self.rpc_port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=0.5) as response:
                return bool(response.status == 204)
        except OSError:
            return False

    def _command(self) -> list[str]:
        binary = _binary("influxd", "influxdb")
        d = self.directory
        conf = d / "influxdb.conf"
        conf.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "1m"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  max-body-size = 0
[continuous_queries]
  enabled = false
"""
        )
        return [binary, "-config", str(conf)]
