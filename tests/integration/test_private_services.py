"""One private service per directory: a leftover of an earlier run is stopped before a new one
starts there, and the services die with the process that started them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ioc.private_services import PrivateInfluxDB, PrivateMosquitto, free_port

pytestmark = pytest.mark.adversarial

Factory = Callable[[Path], PrivateMosquitto | PrivateInfluxDB]
SERVICES: dict[str, Factory] = {
    "mosquitto": lambda directory: PrivateMosquitto(directory, free_port()),
    "influxd": lambda directory: PrivateInfluxDB(directory, free_port()),
}


def processes_using(directory: Path) -> list[int]:
    """Live (not zombie) processes with ``directory`` on their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
            zombie = (entry / "stat").read_text().rpartition(")")[2].split()[0] == "Z"
        except OSError:
            continue
        if str(directory).encode() in cmdline and not zombie:
            found.append(int(entry.name))
    return found


def wait_until(condition: Callable[[], bool], within_s: float = 15.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"condition not met within {within_s}s"
        time.sleep(0.05)


@pytest.mark.parametrize("name", SERVICES)
def test_a_leftover_on_the_same_directory_is_stopped_first(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    leftover = SERVICES[name](tmp_path)
    leftover.start()  # …and forgotten, as by a SIGKILLed `ioc dev`
    assert leftover.process is not None
    successor = SERVICES[name](tmp_path)
    try:
        successor.start()
        assert successor.process is not None
        assert processes_using(tmp_path) == [successor.process.pid]
        assert f"leftover {name} (pid {leftover.process.pid})" in caplog.text
    finally:
        successor.stop()
        leftover.kill()


def test_private_services_die_with_the_process_that_started_them(tmp_path: Path) -> None:
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; "
            "from ioc.private_services import PrivateMosquitto, free_port; "
            "broker = PrivateMosquitto(Path(sys.argv[1]), free_port()); broker.start(); "
            "print(broker.process.pid, flush=True); sys.stdin.read()",
            str(tmp_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(Path.cwd())},
    )
    assert starter.stdout is not None
    broker_pid = int(starter.stdout.readline())
    assert broker_pid in processes_using(tmp_path)
    starter.send_signal(signal.SIGKILL)
    starter.wait()
    wait_until(lambda: processes_using(tmp_path) == [])


def test_influxdb_takes_another_rpc_port_when_its_own_was_taken_meanwhile(
    tmp_path: Path,
) -> None:
    """free_port() only says a port was free: another process may bind it before influxd
    does (seen in `make bench`). The internal RPC port is then chosen again."""
    database = PrivateInfluxDB(tmp_path / "influxdb", free_port())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        database.rpc_port = taken.getsockname()[1]
        database.start()
        try:
            assert database.running and database.rpc_port != taken.getsockname()[1]
        finally:
            database.stop()
