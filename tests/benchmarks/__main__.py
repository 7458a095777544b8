"""``make bench`` = ``.venv/bin/python -m tests.benchmarks``: run every benchmark with
progress output, then rewrite docs/benchmarks.md.

1. Analytics (bench_analytics): the analytics kernels and streaming engine in process.
   Wall (bench_wall): alert latency under load and websocket fan-out.
   HTTP (bench_http): POST /api/v1/ingest in batches of 500 into InfluxDB.
   Cameras (bench_cameras): traffic pipeline frames/s, counting accuracy, smoke detection.
   Pipeline (bench_pipeline): CPU per message of ``Pipeline.process`` (batches of 500).
   MQTT receive (bench_mqtt_receive): CPU per message of the receive path, ours vs paho.
   Start-up (bench_startup): ``ioc serve`` process start → MQTT subscribed → first stored point.
   Journeys (bench_journeys): the transport journey kernel, positions/s on one core.
   Vehicle pipeline (bench_vehicle_pipeline): CPU per fix of the vehicle data path.
   Vehicles (bench_vehicles): positions/s through ``ioc serve`` (catch-up, sustained).
   Vehicle alerts (bench_vehicle_alerts): speeding fix → wall alert frame latency.
   Alert quality (bench_alert_quality): precision, recall, time to alert and alerts per
   hour of each alert family on a scripted simulated day with ground truth (stations,
   clips of the demo cameras, the demo fleet).
   All are other modules' ``main()``, which return flat dicts of figures.
2. Raw broker ceiling (bench_broker): publishers → Mosquitto → a bare counting subscriber.
3. Catch-up (bench_catchup): a backlog queued in the broker while the service was down,
   worked off by ``ioc serve`` with no publisher competing: the service's own ceiling.
   Catch-up against Node-RED (bench_nodered): the same backlog worked off by ``ioc serve``,
   by a Node-RED flow (the do-it-yourself peer, ``make bench-peers``) and by a bare-Python
   floor (paho + json + batched POST /write), in rotation, on one broker and database;
   ours ÷ Node-RED and ours ÷ floor as ratios.
4. MQTT ingest (bench_ingest): publishers → Mosquitto → ``ioc serve`` → InfluxDB at rising
   offered rates, with zero-loss check and publish → queryable lag probes.

All but the analytics start their own Mosquitto and InfluxDB on free ports in a temporary
directory. With the defaults the whole run takes about 5–8 minutes on 2 cores (every wait is
bounded); ``--skip wall`` or ``--only ...`` for less.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from tests.benchmarks.bench_broker import run_broker_benchmark
from tests.benchmarks.bench_catchup import run_catchup_benchmark
from tests.benchmarks.bench_ingest import run_ingest_benchmark
from tests.benchmarks.bench_nodered import BACKLOG as NODERED_BACKLOG
from tests.benchmarks.bench_nodered import ROUNDS as NODERED_ROUNDS
from tests.benchmarks.bench_nodered import STATIONS as NODERED_STATIONS
from tests.benchmarks.bench_nodered import run_nodered_benchmark
from tests.benchmarks.bench_report import DOC_PATH, BenchRun, write

DEFAULT_RATES = "1000,2000,5000,10000,20000"
FIGURES_BENCHMARKS = {  # name → module whose main() returns {figure: value}
    "analytics": "tests.benchmarks.bench_analytics",
    "wall": "tests.benchmarks.bench_wall",
    "http": "tests.benchmarks.bench_http",
    "cameras": "tests.benchmarks.bench_cameras",
    "pipeline": "tests.benchmarks.bench_pipeline",
    "mqtt_receive": "tests.benchmarks.bench_mqtt_receive",
    "startup": "tests.benchmarks.bench_startup",
    "journeys": "tests.benchmarks.bench_journeys",
    "wall_vehicles": "tests.benchmarks.bench_wall_vehicles",
    "vehicle_pipeline": "tests.benchmarks.bench_vehicle_pipeline",
    "vehicles": "tests.benchmarks.bench_vehicles",
    "vehicle_alerts": "tests.benchmarks.bench_vehicle_alerts",
    "alert_quality": "tests.benchmarks.bench_alert_quality",
}
BENCHMARKS = [*FIGURES_BENCHMARKS, "broker", "catchup", "nodered", "ingest"]
T = TypeVar("T")


def _rates(text: str) -> list[int]:
    try:
        rates = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not rates or min(rates) < 1 or max(rates) > 200_000:
        raise argparse.ArgumentTypeError("rates must be between 1 and 200,000 msg/s")
    return rates


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown benchmark(s): {', '.join(unknown)}")
    return names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", choices=BENCHMARKS, help="run one benchmark only")
    parser.add_argument(
        "--skip", type=_names, default=[], metavar="NAMES",
        help=f"comma-separated benchmarks to leave out ({', '.join(BENCHMARKS)})",
    )  # fmt: skip
    parser.add_argument(
        "--rates", type=_rates, default=_rates(DEFAULT_RATES),
        help=f"offered ingest rates in msg/s (default {DEFAULT_RATES})",
    )  # fmt: skip
    parser.add_argument(
        "--duration", type=float, default=15.0,
        help="seconds of publishing per ingest rate (default 15)",
    )  # fmt: skip
    parser.add_argument(
        "--broker-rates", type=_rates, default=None,
        help="offered rates of the raw broker benchmark (default: the highest ingest rate)",
    )  # fmt: skip
    parser.add_argument(
        "--broker-duration", type=float, default=5.0,
        help="seconds of publishing per broker rate (default 5)",
    )  # fmt: skip
    parser.add_argument(
        "--backlog", type=int, default=30_000,
        help="messages queued for the catch-up benchmark (default 30,000)",
    )  # fmt: skip
    parser.add_argument(
        "--peer-backlog", type=int, default=NODERED_BACKLOG,
        help=f"messages queued for each side of the nodered benchmark (default "
        f"{NODERED_BACKLOG:,}, as issue #15 sets it)",
    )  # fmt: skip
    parser.add_argument(
        "--peer-stations", type=int, default=NODERED_STATIONS,
        help=f"air stations of the nodered benchmark's registry (default {NODERED_STATIONS})",
    )  # fmt: skip
    parser.add_argument(
        "--peer-rounds", type=int, default=NODERED_ROUNDS,
        help=f"rounds of (ours, Node-RED, floor) catch-up in the nodered benchmark (default "
        f"{NODERED_ROUNDS}; medians reported)",
    )  # fmt: skip
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes (default 2)")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="ingest workers of the worker-layout side of the nodered benchmark (0: none)",
    )
    parser.add_argument(
        "--engine", choices=["paho", "raw"], default="paho",
        help="publisher implementation: paho-mqtt (default) or pre-encoded packets on a raw "
        "socket (~10x less CPU, leaves the cores to the system under test)",
    )  # fmt: skip
    parser.add_argument(
        "--stations", type=int, default=1000, help="air stations in the registry (default 1000)"
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR",
        help="sample the service with py-spy during each ingest rate; stacks go to DIR",
    )  # fmt: skip
    doc = parser.add_mutually_exclusive_group()
    doc.add_argument(
        "--write-doc", action="store_true", help=f"rewrite {DOC_PATH} even after --only"
    )
    doc.add_argument("--no-doc", action="store_true", help=f"do not rewrite {DOC_PATH}")
    return parser


def run_figures_benchmark(name: str, log: Callable[[str], None]) -> tuple[dict[str, float], str]:
    """Another module's ``main()`` returning a flat dict of figures, imported only now and
    fenced off: a failure there is reported and does not cost the other benchmarks."""
    module_name = FIGURES_BENCHMARKS[name]
    log(f"[{name}] {module_name}.main()")
    try:
        figures: dict[str, float] = importlib.import_module(module_name).main()
    except Exception as exc:
        log(f"[{name}] FAILED: {type(exc).__name__}: {exc}")
        return {}, f"{type(exc).__name__}: {exc}"
    return figures, ""


def guarded(
    run: BenchRun, name: str, log: Callable[[str], None], benchmark: Callable[[], T], failed: T
) -> T:
    """Run one benchmark; a failure is logged and recorded for the report, and the next
    benchmark still runs. Returns the benchmark's result, or ``failed``."""
    try:
        return benchmark()
    except Exception as exc:
        log(f"[{name}] FAILED: {type(exc).__name__}: {exc}")
        run.errors[name] = f"{type(exc).__name__}: {exc}"
        return failed


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.duration <= 0 or args.duration > 120 or args.broker_duration <= 0:
        print("--duration must be in (0, 120] s", file=sys.stderr)
        return 2
    if not 1_000 <= args.backlog <= 1_000_000:
        print("--backlog must be 1,000..1,000,000", file=sys.stderr)
        return 2
    if not 1 <= args.peer_rounds <= 10:
        print("--peer-rounds must be 1..10", file=sys.stderr)
        return 2
    if not 1 <= args.publishers <= 16:
        print("--publishers must be 1..16", file=sys.stderr)
        return 2
    started, t0 = datetime.now(UTC), time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {line}", flush=True)

    arguments = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "tests.benchmarks", *arguments])
    broker_rates = args.broker_rates or [max(args.rates)]
    run = BenchRun(command=command, started=started, seconds=0.0)
    run.settings = {
        "Publishers": f"{args.publishers} processes, engine `{args.engine}`, QoS 1",
        "Registry": f"{args.stations} air stations (+ the shipped non-air stations and a "
        "probe station)",
        "Ingest": f"offered {', '.join(f'{r:,}' for r in args.rates)} msg/s, "
        f"{args.duration:.0f} s each",
        "Catch-up": f"{args.backlog:,} messages queued while the service is down",
        "Catch-up against Node-RED": f"{args.peer_backlog:,} messages for "
        f"{args.peer_stations} stations, {args.peer_rounds} rounds "
        "of ours, Node-RED and the bare-Python floor in rotation, medians",
        "Broker ceiling": f"offered {', '.join(f'{r:,}' for r in broker_rates)} msg/s, "
        f"{args.broker_duration:.0f} s each",
    }
    log(f"benchmarks: {run.settings}")

    def selected(name: str) -> bool:
        return (args.only is None or args.only == name) and name not in args.skip

    for name in FIGURES_BENCHMARKS:
        if selected(name):
            figures, error = run_figures_benchmark(name, log)
            run.figures[name] = figures
            if error:
                run.errors[name] = error
    if selected("broker"):
        run.broker = guarded(run, "broker", log, lambda: run_broker_benchmark(
            broker_rates, args.broker_duration, args.publishers, args.stations, log, args.engine
        ), failed=[])  # fmt: skip
    if selected("catchup"):
        run.catchup = guarded(run, "catchup", log, lambda: run_catchup_benchmark(
            args.backlog, args.publishers, args.stations, args.engine, log, args.profile
        ), failed=None)  # fmt: skip
    if selected("nodered"):
        run.nodered = guarded(run, "nodered", log, lambda: run_nodered_benchmark(
            args.peer_backlog, args.publishers, args.peer_stations, args.engine, log,
            args.peer_rounds, workers=args.workers,
        ), failed=None)  # fmt: skip
    if selected("ingest"):
        run.ingest = guarded(run, "ingest", log, lambda: run_ingest_benchmark(
            args.rates, args.duration, args.publishers, args.stations, log, args.profile,
            args.engine,
        ), failed=[])  # fmt: skip
    run.seconds = time.monotonic() - t0
    if not args.no_doc and ((args.only is None and not args.skip) or args.write_doc):
        log(f"wrote {write(run)}")
    sustained = [s.target_rate for s in run.ingest if s.sustained]
    if run.ingest:
        log(
            "highest sustained ingest rate: "
            + (f"{max(sustained):,} msg/s" if sustained else "none of the offered rates")
        )
    log(f"done in {run.seconds / 60:.1f} min")
    return 1 if run.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
