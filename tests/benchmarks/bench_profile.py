"""Optional sampling profile of the service under benchmark load (``--profile DIR``).

py-spy (``pip install py-spy``; not a project dependency) samples the service subprocess at
100 Hz while the publishers run and writes collapsed stacks (``service-<rate>.txt``, open in
speedscope.app or flamegraph.pl). py-spy leaves out threads it sees idle (the event loop
in ``epoll_wait``); samples of executor threads (``concurrent.futures``: the spool's
``fsync`` and idle workers, which py-spy cannot tell apart from work) are counted apart and
left out of the shares, so the shares are those of the event-loop thread's busy time,
system calls included. The summary attributes each sample to a stage of the data
path by the innermost frame that belongs to one, so time spent in, e.g., ``json.loads``
called from the decoder counts as JSON decoding, and asyncio internals or shared aiohttp
modules count towards the stage that called them; what is left in asyncio is the event
loop's own overhead (select, callback dispatch, task creation).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

SAMPLE_RATE_HZ = 100

# (stage, pattern on "function (file:line)") checked from the innermost frame outwards.
STAGES: list[tuple[str, re.Pattern[str]]] = [
    ("JSON decode (json.loads)", re.compile(r"\(.*json/(decoder|__init__)\.py")),
    ("line protocol (store/lines.py)", re.compile(r"\(.*store/lines\.py")),
    ("disk spool (store/spool.py)", re.compile(r"\(.*store/spool\.py")),
    (
        "InfluxDB writes (store/influx.py + aiohttp client)",
        re.compile(r"\(.*(store/influx\.py|aiohttp/(client|connector))"),
    ),
    ("validation (ingest/decode.py, validate.py)", re.compile(r"\(.*ingest/(decode|validate)\.py")),
    ("analytics (analytics/*, numpy)", re.compile(r"\(.*analytics/")),
    ("alerts (alerts/*)", re.compile(r"\(.*alerts/")),
    ("wall (station board, broadcast)", re.compile(r"\(.*web/(station_board|broadcast)\.py")),
    (
        "HTTP API answering the benchmark (aiohttp web)",
        re.compile(r"\(.*(aiohttp/web|web/routes\.py)"),
    ),
    ("MQTT: paho (publishers, live lane)", re.compile(r"\(.*(paho/mqtt/|aiomqtt/)")),
    (
        "MQTT receive (ingest/mqtt_source, mqtt_connection, mqtt_wire)",
        re.compile(r"\(.*ingest/mqtt_(source|connection|wire)\.py"),
    ),
    ("pipeline loop (ioc/pipeline.py)", re.compile(r"\(.*ioc/pipeline\.py")),
]
# Event-loop machinery counts only when no stage above calls it: the loop's own overhead.
EVENT_LOOP = ("asyncio event loop (select, callbacks, tasks)", re.compile(r"\(.*asyncio/"))
OTHER = "other"
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:]+):(?P<line>\d+)\)$")


def py_spy() -> str | None:
    beside_python = Path(sys.executable).parent / "py-spy"
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


class ServiceProfiler:
    def __init__(self, pid: int, directory: Path | None, name: str) -> None:
        self.pid = pid
        self.directory = directory or Path(".")
        self.output = self.directory / f"{name}.txt"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, duration_s: float) -> None:
        binary = py_spy()
        if binary is None:
            raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                "record",
                "--subprocesses",  # the worker layout's children too
                "--pid",
                str(self.pid),
                "--rate",
                str(SAMPLE_RATE_HZ),
                "--duration",
                str(max(1, int(duration_s))),
                "--format",
                "raw",
                "--output",
                str(self.output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        """End the recording now (py-spy writes what it has on SIGINT)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def result(self) -> Profile | None:
        """The summarized profile, once py-spy has finished; None if it wrote nothing."""
        self.stop()
        return summarize_collapsed(self.output) if self.output.exists() else None


EXECUTOR_THREAD = re.compile(r"\(.*concurrent/futures/thread\.py")


class Profile:
    def __init__(self) -> None:
        self.samples = 0
        self.executor_samples = 0  # left out of the shares, see the module docstring
        self.stages: Counter[str] = Counter()
        self.self_time: Counter[str] = Counter()


def summarize_collapsed(path: Path) -> Profile:
    """Stage shares and per-function self time from py-spy's collapsed ("raw") output."""
    profile = Profile()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any(EXECUTOR_THREAD.search(frame) for frame in frames[:4]):
            profile.executor_samples += count
            continue
        profile.samples += count
        profile.self_time[_short(frames[-1])] += count
        profile.stages[_stage(frames)] += count
    return profile


def _stage(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, pattern in STAGES:
            if pattern.search(frame):
                return stage
    stage, pattern = EVENT_LOOP
    return stage if any(pattern.search(frame) for frame in frames) else OTHER


def _short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = match["file"]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match['func']} ({file})"


def format_profile(profile: Profile, source: Path, top: int = 15) -> str:
    if not profile.samples:
        return f"    (empty profile {source})"
    lines = [
        f"    service profile ({profile.samples} event-loop samples, "
        f"{profile.executor_samples} executor-thread samples left out; {source}):"
    ]
    lines += [
        f"      {100 * n / profile.samples:5.1f}%  {stage}"
        for stage, n in profile.stages.most_common()
    ]
    lines.append("    top functions by self time:")
    lines += [
        f"      {100 * n / profile.samples:5.1f}%  {name}"
        for name, n in profile.self_time.most_common(top)
    ]
    return "\n".join(lines)
