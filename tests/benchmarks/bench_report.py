"""docs/benchmarks.md, generated: the machine, the date, the figures and how to reproduce
them. Written by ``python -m tests.benchmarks`` after every full run."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path

from tests.benchmarks.bench_broker import BrokerStep
from tests.benchmarks.bench_catchup import CatchUpResult
from tests.benchmarks.bench_ingest import DRAIN_TIMEOUT_S as INGEST_DRAIN_S
from tests.benchmarks.bench_ingest import IngestStep
from tests.benchmarks.bench_nodered import BATCH_POINTS, DIFFERENCES, NodeRedResult, SideRun
from tests.benchmarks.bench_stack import PROJECT_ROOT, versions

DOC_PATH = PROJECT_ROOT / "docs" / "benchmarks.md"
INGEST_CPU = ("service", "mosquitto", "influxd", "publishers", "harness", "other")
CATCHUP_CPU = ("service", "mosquitto", "influxd", "harness", "other")
BROKER_CPU = ("mosquitto", "subscriber", "publishers", "harness", "other")


@dataclass
class BenchRun:
    command: str
    started: datetime
    seconds: float
    ingest: list[IngestStep] = field(default_factory=list)
    broker: list[BrokerStep] = field(default_factory=list)
    figures: dict[str, dict[str, float]] = field(default_factory=dict)  # benchmark → figures
    catchup: CatchUpResult | None = None
    nodered: NodeRedResult | None = None
    errors: dict[str, str] = field(default_factory=dict)  # benchmark → why it failed
    settings: dict[str, str] = field(default_factory=dict)


def machine() -> dict[str, str]:
    cpuinfo = _read("/proc/cpuinfo")
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown",
    )  # fmt: skip
    mem_kb = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
         if line.startswith("MemTotal:")),
        0,
    )  # fmt: skip
    tools = versions()
    libraries = ", ".join(
        f"{name} {_version(name)}" for name in ("paho-mqtt", "aiomqtt", "aiohttp")
    )
    return {
        "CPU": model,
        "Cores": f"{os.cpu_count()} logical CPUs (everything below shares them)",
        "RAM": f"{mem_kb / 1024**2:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Mosquitto": tools["mosquitto"],
        "InfluxDB": tools["influxdb"],
        "Libraries": libraries,
        "Project revision": _revision(),
        "Load average at the end": " / ".join(_read("/proc/loadavg").split()[:3])
        + " (1 / 5 / 15 min)",
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _revision() -> str:
    """The checked-out commit, read from .git without running git."""
    git = PROJECT_ROOT / ".git"
    head = _read(str(git / "HEAD")).strip()
    if head.startswith("ref: "):
        ref = head[5:]
        commit = _read(str(git / ref)).strip()
        if not commit:
            packed = _read(str(git / "packed-refs")).splitlines()
            commit = next((ln.split()[0] for ln in packed if ln.endswith(" " + ref)), "")
        head = f"{commit[:12] or 'unknown'} ({ref.removeprefix('refs/heads/')})"
    return f"{head or 'unknown'}, plus whatever was uncommitted in the working tree"


# --------------------------------------------------------------------------- rendering


def _n(value: float) -> str:
    return "–" if not math.isfinite(value) or value <= 0 else f"{value:,.0f}"


def _ms(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:,.0f} ms"


def _cpu(cpu: dict[str, float], names: tuple[str, ...]) -> str:
    return " / ".join(f"{cpu[name]:.0f}" if name in cpu else "–" for name in names)


def ingest_table(steps: list[IngestStep]) -> list[str]:
    rows = [
        "| Offered msg/s | Published msg/s | Stored / published | Lost | Ingested msg/s "
        "(peak 2 s) | All written after last publish | Lag p50 / p99 (probes) | "
        "Service CPU per message (messages per batch) | "
        "CPU % service / mosquitto / influxd / publishers / harness / other | Verdict |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in steps:
        if s.skipped:
            rows.append(f"| {s.target_rate:,} | | | | | | | | | {s.note} |")
            continue
        lost = "n/a" if s.lost is None else f"{s.lost:,}"
        catch_up = (
            f"{s.catch_up_s:.1f} s" if math.isfinite(s.catch_up_s)
            else f"not within {INGEST_DRAIN_S:.0f} s"
        )  # fmt: skip
        verdict = "**sustained**" if s.sustained else f"not sustained: {s.note}"
        rows.append(
            f"| {s.target_rate:,} | {_n(s.publish_rate)} | {s.stored:,} / {s.published:,} | "
            f"{lost} | {_n(s.ingest_rate)} ({_n(s.peak_rate)}) | {catch_up} | "
            f"{_ms(s.lag_percentile(0.5))} / {_ms(s.lag_percentile(0.99))} ({len(s.lag_ms)}) | "
            f"{s.service_us_per_message:,.0f} µs ({s.mean_batch:,.0f}) | "
            f"{_cpu(s.cpu_percent, INGEST_CPU)} | "
            f"{verdict} |"
        )
    return rows


def broker_table(steps: list[BrokerStep]) -> list[str]:
    rows = [
        "| Offered msg/s | Published msg/s | Received / published | Lost | Received msg/s | "
        "CPU % mosquitto / subscriber / publishers / harness / other |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for s in steps:
        rows.append(
            f"| {s.target_rate:,} | {_n(s.publish_rate)} | {s.received:,} / {s.published:,} | "
            f"{s.lost:,} | {_n(s.receive_rate)} | "
            f"{_cpu(s.cpu_percent, BROKER_CPU)} |" + (f" {s.note}" if s.note else "")
        )
    return rows


FIGURES_SECTIONS = {  # benchmark → (title, module that defines the figures)
    "analytics": ("Analytics (in process, one core)", "tests/benchmarks/bench_analytics.py"),
    "wall": ("Wall: alert latency and websocket fan-out", "tests/benchmarks/bench_wall.py"),
    "mqtt_receive": (
        "MQTT receive path: CPU per message, ours vs paho (in process)",
        "tests/benchmarks/bench_mqtt_receive.py",
    ),
    "vehicle_pipeline": (
        "Vehicle pipeline: CPU per fix (in process)",
        "tests/benchmarks/bench_vehicle_pipeline.py",
    ),
    "vehicles": (
        "Vehicles through the service: positions/s, catch-up and sustained",
        "tests/benchmarks/bench_vehicles.py",
    ),
    "vehicle_alerts": (
        "Vehicles: speeding alert latency on the wall",
        "tests/benchmarks/bench_vehicle_alerts.py",
    ),
    "alert_quality": (
        "Alert quality: precision, recall and alert budget on a simulated day",
        "tests/benchmarks/bench_alert_quality.py",
    ),
}


def figures_section(run: BenchRun, name: str) -> list[str]:
    title, source = FIGURES_SECTIONS.get(name, (name, f"tests/benchmarks/bench_{name}.py"))
    lines = ["", f"## {title}", ""]
    figures = run.figures.get(name)
    if name in run.errors:
        return lines + _failed(run, name)
    if not figures:
        return [*lines, "(not run)"]
    lines += [
        f"What each figure measures: `{source}` (its docstring).",
        "",
        "| Figure | Value |",
        "|---|---:|",
    ]
    lines += [f"| `{figure}` | {_figure(value)} |" for figure, value in figures.items()]
    return lines


def _figure(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return "–" if not math.isfinite(value) else f"{value:,.2f}"


def _failed(run: BenchRun, name: str) -> list[str]:
    error = run.errors.get(name)
    return [f"Failed: `{' '.join(error.split())[:500]}`"] if error else []


def catchup_table(result: CatchUpResult | None) -> list[str]:
    if result is None:
        return ["(not run)"]
    lost = "n/a" if result.lost is None else f"{result.lost:,}"
    return [
        "| Queued | Stored | Lost | Service start → connected | Connected → all written | "
        "msg/s (peak 2 s) | Service CPU per message | Messages per batch | "
        "CPU % service / mosquitto / influxd / harness / other |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {result.queued:,} | {result.stored:,} | {lost} | {result.start_s:.1f} s | "
        f"{result.drain_s:.1f} s | {_n(result.rate)} ({_n(result.peak_rate)}) | "
        f"{result.service_us_per_message:,.0f} µs | {result.mean_batch:,.0f} | "
        f"{_cpu(result.cpu_percent, CATCHUP_CPU)} |" + (f" {result.note}" if result.note else ""),
    ]


NODERED_CPU = ("mosquitto", "influxd", "harness", "other")


def nodered_section(result: NodeRedResult | None) -> list[str]:
    """Ours against the Node-RED flow and the bare-Python floor: the ratios, every side's
    rounds, what differs."""
    if result is None:
        return ["(not run)"]
    versions = ", ".join(f"{name} {version}" for name, version in result.versions.items())
    middle = " · ".join(
        f"{name} {_n(rate)} msg/s at {cpu:,.0f} µs CPU per message"
        for name, rate, cpu in result.middle_by_side()
    )
    lines = [
        f"**Between 10 % and 90 % of the backlog stored (issue #15's measure; start-up and "
        f"the last write left out): ours ÷ Node-RED {result.middle_ratio:.2f}×** — {middle}. "
        "Every side sampled alike every 0.1 s by the harness: its rows in InfluxDB and its "
        "CPU time from `/proc`; medians over the rounds. Not for the worker layout: its ingest "
        "workers store before its partitions analyse, so its rows count the ingest only "
        "(its figures are connected → all written, below).",
        "",
        f"**Ours ÷ Node-RED: {result.ratio:.2f}×** (connected → all written; "
        f"{result.ratio_with_start:.2f}× from the process spawn, start-up included; CPU per "
        f"message after start-up, Node-RED ÷ ours: {result.cpu_ratio:.2f}×). "
        f"{result.backlog:,} messages queued while each was down, "
        f"{max(len(result.ours), len(result.peer))} rounds, order rotating, medians. Peers: "
        f"{versions}; flow `mqtt in` (QoS 1, persistent session) → `function` → `join` "
        f"({BATCH_POINTS:,} points or 0.5 s) → `influxdb batch` (1.x).",
        *(
            [
                "",
                f"**Ours ÷ the bare-Python floor: {result.floor_ratio:.2f}×** (CPU per message "
                f"after start-up, floor ÷ ours: {result.floor_cpu_ratio:.2f}×). The floor is the "
                "least a Python consumer can do for the same job: "
                "`tests/benchmarks/peers/bare_python.py`, a paho-mqtt network thread (QoS 1, "
                "persistent session, acknowledging on receipt) → `json.loads` → one line of "
                f"line protocol per message → a thread POSTing `/write` every {BATCH_POINTS:,} "
                "lines or 0.5 s (keep-alive).",
            ]
            if result.floor
            else []
        ),
        "",
        "| Side | msg/s connected → all written | msg/s from spawn | Start (spawn → "
        "connected) | Connected → all written | Stored / queued | Lost | Own CPU since spawn "
        "(of it start-up) | Own CPU per message after start-up | "
        "CPU % own / mosquitto / influxd / harness / other (while draining) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    sides = [("ours (`ioc serve`)", result.ours), ("Node-RED", result.peer)]
    if result.floor:
        sides.append(("bare Python floor", result.floor))
    for name, runs in sides:
        for n, r in enumerate(runs, 1):
            lines.append(_side_row(f"{name}, round {n}", r))
        lines.append(
            f"| **{name}, median** | **{_n(_median([r.rate for r in runs]))}** | "
            f"{_n(_median([r.rate_with_start for r in runs]))} | "
            f"{_median([r.start_s for r in runs]):.2f} s | "
            f"{_median([r.drain_s for r in runs]):.2f} s | | | "
            f"{_median([r.cpu_since_spawn_s for r in runs]):.2f} s | "
            f"**{_median([r.cpu_us_per_message for r in runs]):,.0f} µs** | |"
        )
    return [*lines, "", DIFFERENCES]


def _side_row(label: str, r: SideRun) -> str:
    lost = "n/a" if r.lost is None else f"{r.lost:,}"
    own = next(iter(r.cpu_percent.values()), float("nan"))
    cpu = f"{own:.0f} / " + _cpu(r.cpu_percent, NODERED_CPU)
    return (
        f"| {label} | {_n(r.rate)} | {_n(r.rate_with_start)} | {r.start_s:.2f} s | "
        f"{r.drain_s:.2f} s | {r.stored:,} / {r.queued:,} | {lost} | "
        f"{r.cpu_since_spawn_s:.2f} s ({r.cpu_at_connect_s:.2f} s) | "
        f"{r.cpu_us_per_message:,.0f} µs | {cpu} |" + (f" {r.note}" if r.note else "")
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def profile_section(run: BenchRun) -> list[str]:
    entries = [
        (f"at {s.target_rate:,} msg/s offered", s.profile, s.profile_path, s.service_us_per_message)
        for s in run.ingest
    ]
    if run.catchup is not None:
        c = run.catchup
        entries.append(("while catching up", c.profile, c.profile_path, c.service_us_per_message))
    lines: list[str] = []
    for label, profile, source, us in entries:
        if profile is None or source is None or not profile.samples:
            continue
        lines += [
            f"### Where the service's CPU goes {label}",
            "",
            f"py-spy, 100 Hz: {profile.samples:,} busy samples of the service's event-loop "
            f"thread ({profile.executor_samples:,} executor-thread samples — spool `fsync`, "
            f"idle workers — left out; collapsed stacks: `{source.name}`). Each sample is "
            "attributed to the innermost frame that belongs to a stage of the data path"
            + (f"; µs = share × the service's {us:,.0f} µs of CPU per message." if us else "."),
            "",
            "| Share of samples | µs per message | Stage |",
            "|---:|---:|---|",
        ]
        lines += [
            f"| {100 * n / profile.samples:.1f} % | "
            f"{f'{us * n / profile.samples:,.1f}' if us else '–'} | {stage} |"
            for stage, n in profile.stages.most_common()
        ]
        lines += ["", "| Self time | Function |", "|---:|---|"]
        lines += [
            f"| {100 * n / profile.samples:.1f} % | `{name}` |"
            for name, n in profile.self_time.most_common(12)
        ]
        lines.append("")
    return lines


def _contention_warning(run: BenchRun) -> list[str]:
    """A line when other work on the machine took a noticeable share of the cores."""
    measured = [s.cpu_percent for s in run.ingest] + [s.cpu_percent for s in run.broker]
    if run.catchup is not None:
        measured.append(run.catchup.cpu_percent)
    if run.nodered is not None:
        sides = run.nodered.ours + run.nodered.peer + run.nodered.floor
        measured += [r.cpu_percent for r in sides]
    others = [cpu["other"] for cpu in measured if "other" in cpu]
    mean = sum(others) / len(others) if others else 0.0
    if mean < 20:
        return []
    return [
        f"* **Other work on the machine took {mean:.0f} % of a core on average** during the "
        "MQTT benchmarks (column *other*): these figures are pessimistic; rerun on an idle "
        "machine to compare."
    ]


def render(run: BenchRun) -> str:
    sustained = [s.target_rate for s in run.ingest if s.sustained]
    best = (
        f"**{max(sustained):,} msg/s** (the highest offered rate written completely, with "
        "zero loss)"
        if sustained
        else "**none of the offered rates** was sustained with zero loss"
    )
    measured = [s for s in run.ingest if not s.skipped and s.ingest_rate]
    top_ingest = max((s.ingest_rate for s in measured), default=0.0)
    top_broker = max((s.receive_rate for s in run.broker), default=0.0)
    out = [
        "# Benchmarks",
        "",
        "<!-- Generated by `make bench` (.venv/bin/python -m tests.benchmarks). Do not edit: "
        "rerun it. -->",
        "",
        f"Run on {run.started:%Y-%m-%d %H:%M} UTC, {run.seconds / 60:.1f} min, with "
        f"`{run.command}`.",
        "",
        "## Summary",
        "",
        f"* Highest sustained ingest rate through the service: {best}.",
        f"* Best ingest throughput seen: {top_ingest:,.0f} msg/s (stored rows over the time "
        "from the first publish to the last write).",
        f"* Raw broker ceiling (bare paho subscriber, no service): {top_broker:,.0f} msg/s.",
        *(
            [
                f"* Catch-up (backlog queued while the service was down, no publisher "
                f"competing): {run.catchup.rate:,.0f} msg/s, "
                f"{run.catchup.service_us_per_message:,.0f} µs of service CPU per message "
                f"(→ at most ~{1e6 / run.catchup.service_us_per_message:,.0f} msg/s per "
                "fully used core)."
            ]
            if run.catchup and run.catchup.service_us_per_message
            else []
        ),
        *(
            [
                f"* Catch-up against the do-it-yourself peer (Node-RED + "
                f"node-red-contrib-influxdb, {run.nodered.backlog:,} messages, same broker and "
                f"database), between 10 % and 90 % stored: ours "
                f"{run.nodered.middle(run.nodered.ours)[0]:,.0f} msg/s at "
                f"{run.nodered.middle(run.nodered.ours)[1]:,.0f} µs CPU per message, Node-RED "
                f"{run.nodered.middle(run.nodered.peer)[0]:,.0f} msg/s at "
                f"{run.nodered.middle(run.nodered.peer)[1]:,.0f} µs → "
                f"**{run.nodered.middle_ratio:.2f}×**; connected → all written: ours "
                f"{run.nodered.ours_rate:,.0f} msg/s, Node-RED {run.nodered.peer_rate:,.0f} "
                f"msg/s → **{run.nodered.ratio:.2f}×** ({run.nodered.ratio_with_start:.2f}× "
                "counting the start-up); ours validates and alerts, the flow does not."
                + (
                    f" The bare-Python floor (paho + json + batched POST /write) "
                    f"{run.nodered.floor_rate:,.0f} msg/s → ours ÷ floor "
                    f"**{run.nodered.floor_ratio:.2f}×**."
                    if run.nodered.floor
                    else ""
                )
            ]
            if run.nodered and run.nodered.ratio
            else []
        ),
        *_contention_warning(run),
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {k} | {v} |" for k, v in machine().items()]
    out += ["", "Settings of this run:", ""]
    out += [f"* {k}: {v}" for k, v in run.settings.items()]
    for name in run.figures:
        out += figures_section(run, name)
    out += ["", "## Catch-up after an outage (backlog queued in the broker)", ""]
    out += _failed(run, "catchup") or catchup_table(run.catchup)
    out += ["", "## Catch-up against the do-it-yourself peers (Node-RED, bare Python)", ""]
    out += _failed(run, "nodered") or nodered_section(run.nodered)
    out += ["", "## MQTT ingest through the service", ""]
    out += _failed(run, "ingest") or (ingest_table(run.ingest) if run.ingest else ["(not run)"])
    out += ["", "## Raw broker ceiling (no service)", ""]
    out += _failed(run, "broker") or (broker_table(run.broker) if run.broker else ["(not run)"])
    out.append("")
    out += profile_section(run)
    out += METHOD.splitlines()
    return "\n".join(out).rstrip() + "\n"


def write(run: BenchRun, path: Path = DOC_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(run), encoding="utf-8")
    return path


_CORES = os.cpu_count() or 1
METHOD = f"""## How the figures are measured

The analytics and wall benchmarks are described in their own modules
(`tests/benchmarks/bench_analytics.py`, `bench_wall.py`). Every MQTT benchmark starts its own
Mosquitto and InfluxDB (the Debian binaries, through `ioc.private_services`) in a temporary
directory on free ports on 127.0.0.1, and removes them afterwards. Nothing touches `var/` or
a running `make run`.

* **Load.** Publisher processes (`multiprocessing`, spawn) publish station messages as
  docs/protocol.md defines them — `{{"ts": <epoch s, ms resolution>, "values": {{"pm25", "pm10",
  "so2", "no2", "co", "o3"}}}}` on `<prefix>/stations/<id>/readings` — for the ~1000 air
  stations of a generated registry (the shipped `config/stations.yaml` plus generated
  `BENCH-AIR-nnnn` stations), at QoS 1, paced every millisecond, for a fixed count
  (`rate × duration`). The default `paho` engine is paho-mqtt with `loop_start()` and
  unlimited in-flight messages (`max_inflight_messages_set(0)`: with a finite limit paho
  scans all outstanding messages on every PUBACK, which makes a fast publisher quadratic).
  The `raw` engine writes pre-encoded MQTT 3.1.1 PUBLISH packets in one `sendall` per
  millisecond and counts PUBACKs in a thread: same messages, ~10× less CPU, so the load
  generator does not take the cores away from the system under test. Every message has a
  timestamp unique per station (InfluxDB keeps one point per series and time), which is what
  makes "rows stored == messages published" a valid zero-loss check.
* **Service.** `python -m ioc serve -c <generated config>` as a subprocess with the shipped
  defaults (batch sizes, flush interval, rules), its own topic prefix, client id, database
  and working directory per offered rate.
* **Ingested rate.** The service's `/api/v1/health` is polled every 0.25 s; the run ends
  when `pipeline.messages` covers every published message and probe and the store has
  nothing pending (everything written to InfluxDB). Ingested msg/s = rows in InfluxDB /
  (first publish → that moment). Peak = the best 2 s of `pipeline.messages`.
* **Zero loss.** At the end `SELECT count(pm25) FROM reading` is run against InfluxDB's own
  `/query` (probe station excluded) and compared with the messages the broker acknowledged.
  A service that has not caught up {INGEST_DRAIN_S:.0f} s after the last publish is reported
  with its backlog (loss is then not verifiable).
* **Sustained** = zero loss, publishers reached ≥ 95 % of the offered rate, and everything
  was written ≤ 2 s after the last publish (the store flushes every 0.5 s). Once a rate is
  not sustained, higher rates are skipped.
* **Lag.** Every 0.5 s a probe reading (`pm25` = sequence number) is published on the
  station `BENCH-PROBE`, which no publisher uses, and `/api/v1/readings?station=BENCH-PROBE`
  is polled every 25 ms until it appears: publish → stored and queryable, including the
  queue behind the load and the 0.5 s flush interval (±25 ms polling resolution). With
  2 probes per second of publishing (30 at the default 15 s), p99 is close to the maximum.
* **CPU %** is user + system time from `/proc/<pid>/stat` over the run, in % of one core
  (the machine has {_CORES} in all, so the columns can add up to {100 * _CORES} %).
  *harness* is this benchmark's own process (health polling, lag probe); *other* is
  everything else the machine ran meanwhile (from `/proc/stat`): when it is not near 0, other
  work competed for the cores and the figures are pessimistic.
* **Catch-up.** The service starts once (registering its persistent QoS 1 subscription)
  and stops; the publishers put the backlog into the broker as fast as they can; the service
  starts again. Start → connected (its TCP connection appears on the broker: it works the
  backlog off from its CONNACK on, before it answers health), connected → everything written
  (rows counted in InfluxDB), and the service's CPU time per message after connecting: with
  no publisher competing, this is
  the service's own ceiling on the machine, and how fast it recovers from an outage.
  *Messages per batch* is `pipeline.messages / pipeline.batches` from the health endpoint.
* **Against Node-RED.** `tests/benchmarks/bench_nodered.py`: the catch-up above, and the
  same with a Node-RED flow in the service's place — what a user would wire instead: `mqtt
  in` (QoS 1, clean session off, fixed client id) → a `function` mapping topic and JSON to a
  point → `join` ({BATCH_POINTS:,} points or 0.5 s) → `influxdb batch` (InfluxDB 1.x). Node-RED
  and node-red-contrib-influxdb are installed by `make bench-peers` with `npm ci` into
  `var/peers/node-red`, pinned by `tests/benchmarks/peers/node-red/package-lock.json`; the flow
  and `settings.js` are generated, no editor. One broker and database, the same registry,
  publishers and backlog; rounds alternate which side goes first. Both sides are timed alike:
  spawn (from `/proc`) → connected (a new socket on the broker, seen every 10 ms) → every
  message a row in InfluxDB (ours: health says written; Node-RED: its database counted
  every 0.25 s). The headline is issue #15's measure: 60,000 messages for 100 stations, the
  rate and CPU between 10 % and 90 % of the backlog stored, from one sampler in the harness
  (rows in InfluxDB and the side's `/proc` CPU time every 0.1 s) that treats every side
  alike; `--peer-backlog` and `--peer-stations` change the set-up. *CPU per message after
  start-up* (each process's CPU time from `/proc` at its broker connection and at the end)
  is the figure least moved by other work on the machine. The service's own "connected" (its health
  endpoint, its log) comes only after its SUBACK, which the broker sends behind the whole
  queued backlog: the catch-up table above, timed from there, leaves out the time spent
  receiving the backlog and so shows a higher rate than this section for the same service.
  The flow does much less per message (see the section): the ratio compares our whole job
  with a bare MQTT → InfluxDB pipe. The bare-Python floor (issue #15) is that pipe in plain
  Python, run and timed the same way as Node-RED: `tests/benchmarks/peers/bare_python.py`, a
  paho-mqtt thread (QoS 1, persistent session, ack on receipt like mqtt.js), `json.loads`,
  line protocol, and a thread POSTing `/write` every {BATCH_POINTS:,} lines or 0.5 s.
* **Raw broker ceiling.** The same publishers and a bare paho subscriber process (QoS 1,
  persistent session like the service) that only counts messages, no service. Received
  msg/s = messages / (first publish → last message received).

## Reproduce

```sh
make setup                               # once: venv, mosquitto and influxdb packages
make bench                               # = .venv/bin/python -m tests.benchmarks
.venv/bin/python -m tests.benchmarks --help
# one benchmark, or all but some (the document is then left alone unless --write-doc):
.venv/bin/python -m tests.benchmarks --only catchup --backlog 60000
.venv/bin/python -m tests.benchmarks --skip wall,analytics
# ours against the Node-RED peer alone (make bench-peers installs it):
.venv/bin/python -m tests.benchmarks.bench_nodered --backlog 100000 --rounds 3
# the service at given rates, with the light publishers:
.venv/bin/python -m tests.benchmarks --only ingest --engine raw --rates 2000,5000,10000
# with a CPU profile of the service (py-spy is not a project dependency):
.venv/bin/pip install py-spy
.venv/bin/python -m tests.benchmarks --only catchup --engine raw --profile /tmp/ioc-profile
```

The figures depend on everything else the machine runs: close other work first, and compare
runs on the same machine only.
"""
