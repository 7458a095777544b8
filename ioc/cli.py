"""The ``ioc`` command.

ioc serve         run the service against the configured broker and database
ioc worker NAME   one child of the worker layout (ingest-<i>, analytics-<p>) on another machine
ioc dev           private Mosquitto + InfluxDB under ./var, the service and the simulators
ioc simulate      run the simulated station network against the configured broker
ioc check-config  validate a configuration file and its station registry
ioc users         add, list, disable users and reset passwords (the first admin)
ioc watch         follow the wall's alerts in the terminal (over the websocket)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from pathlib import Path

from analytics.limits import rule_problems
from ioc.config import CHILD_NAME, IocConfig, load_config
from ioc.errors import ConfigError, IocError
from ioc.registry import StationRegistry
from ioc.users_cli import add_users_parser, users_command
from ioc.watch import add_watch_parser, watch_command
from simulators.fleet.config import FleetConfig

DEFAULT_CONFIG = Path("config/ioc.yaml")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ioc", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in [
        ("serve", "run the service (external broker and database from the config)"),
        ("worker", "run one child of the worker layout here (not in workers.run_here)"),
        ("dev", "start private Mosquitto/InfluxDB, the service and the simulators"),
        ("simulate", "publish the simulated station network"),
        ("simulate-fleet", "publish the simulated vehicle fleet's positions"),
        ("check-config", "validate a config file and its station registry"),
        ("credentials", "make or complete the accounts file (var/credentials.yaml)"),
        ("broker-files", "write Mosquitto password_file and acl_file"),
        ("users", "add, list, disable users and set passwords"),
        ("watch", "follow the wall's alerts in the terminal"),
    ]:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument(
            "-c",
            "--config",
            type=Path,
            default=None,
            help=f"YAML config file (default: {DEFAULT_CONFIG} if it exists)",
        )
        if name in ("credentials", "broker-files"):
            sub.add_argument(
                "--accounts",
                type=Path,
                default=None,
                help="accounts file (default: ingest.credentials_file, else var/credentials.yaml)",
            )
        if name == "users":
            add_users_parser(sub)
        if name == "watch":
            add_watch_parser(sub)
        if name == "serve":
            sub.add_argument(
                "--workers",
                type=_workers,
                default=None,
                metavar="N|auto",
                help="ingest worker processes (and as many analytics partitions): 0 = one "
                "process; auto = one per core (default: workers.ingest of the config)",
            )
        if name == "worker":
            sub.add_argument(
                "name", type=_child_name, help="ingest-<i> or analytics-<p>, as in workers.run_here"
            )
        if name == "broker-files":
            sub.add_argument("--out", type=Path, required=True, help="directory to write to")
        if name == "dev":
            sub.add_argument(
                "--var",
                type=Path,
                default=Path("var"),
                help="directory for the private services' data (default: ./var)",
            )
            sub.add_argument(
                "--no-simulators", action="store_true", help="do not start the simulated stations"
            )
    return parser


def _workers(text: str) -> int | str:
    if text == "auto":
        return text
    if not text.isdigit() or int(text) > 64:
        raise argparse.ArgumentTypeError("a number from 0 to 64, or auto")
    return int(text)


def _child_name(text: str) -> str:
    if not re.fullmatch(CHILD_NAME, text):
        raise argparse.ArgumentTypeError("ingest-<i> or analytics-<p>, e.g. ingest-1")
    return text


def fleet_config(config: IocConfig) -> FleetConfig:
    """The simulated fleet of ``config``: its size, and history caught up 60 times faster."""
    simulator = config.simulator
    return FleetConfig(
        vehicles=max(simulator.vehicles, 1), history_s=simulator.vehicle_history_s, speedup=60
    )


def load_config_and_registry(path: Path | None) -> tuple[IocConfig, StationRegistry]:
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    config = load_config(path)
    registry = StationRegistry.from_file(config.registry)
    problems = [
        f"analytics.rules.{rule_id}: {problem}"
        for rule_id, problem in rule_problems(config.analytics.rules, registry).items()
    ]
    if problems:
        raise ConfigError(str(path or "(defaults)"), problems)
    return config, registry


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if args.command == "watch":  # a client: the config's address at most, no registry
        try:
            return watch_command(args)
        except ConfigError as exc:
            print(f"Configuration error in {exc.path}: {'; '.join(exc.problems)}", file=sys.stderr)
            return 2
    try:
        if args.command == "worker":  # the stations come from the broker (ioc.layout_feed)
            config = load_config(
                args.config or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
            )
            if config.ingest.credentials_file:
                config = _with_account_passwords(config)
            return _worker_command(config, args.name)
        config, registry = load_config_and_registry(args.config)
        if args.command == "check-config":
            print(
                f"OK: {len(registry)} stations, {len(config.analytics.rules)} rules, "
                f"broker {config.mqtt.host}:{config.mqtt.port}, database {config.influx.url}"
            )
            return 0
        if args.command == "users":
            return users_command(args, config, registry)
        if args.command in ("credentials", "broker-files"):
            return _accounts_command(args, config, registry)
        if (
            args.command in ("serve", "simulate", "simulate-fleet")
            and config.ingest.credentials_file
        ):
            config = _with_account_passwords(config)
        if args.command == "serve":
            from ioc.runner import serve

            if args.workers is not None:
                workers = config.workers.model_copy(update={"ingest": args.workers})
                config = config.model_copy(update={"workers": workers})

            asyncio.run(serve(config, registry))
        elif args.command == "simulate":
            from simulators.runner import simulate

            asyncio.run(simulate(config, registry))
        elif args.command == "simulate-fleet":
            from simulators.fleet import publish_fleet

            asyncio.run(publish_fleet(config.mqtt, fleet_config(config)))
        elif args.command == "dev":
            from ioc.devstack import run_dev

            return run_dev(args.config, args.var, simulators=not args.no_simulators)
    except ConfigError as exc:
        print(f"Configuration error in {exc.path}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    except IocError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _worker_command(config: IocConfig, name: str) -> int:
    from ioc.workers import run_elsewhere

    workers = config.workers
    if name not in workers.child_names():
        children = ", ".join(workers.child_names()) or "none (workers.ingest is 0)"
        print(f"error: the layout has no {name}; its children: {children}", file=sys.stderr)
        return 2
    if name in workers.local_children():
        print(
            f"error: the service starts {name} itself; list the children it starts in "
            "workers.run_here, and run the others with `ioc worker`",
            file=sys.stderr,
        )
        return 2
    role, index = name.split("-")
    return asyncio.run(run_elsewhere(config, role, int(index)))


def _accounts_command(
    args: argparse.Namespace, config: IocConfig, registry: StationRegistry
) -> int:
    from ingest.credentials import Credentials, write_broker_files
    from ioc.fleet import FleetRegistry

    path = args.accounts or config.ingest.credentials_file or Path("var/credentials.yaml")
    existing = Credentials.from_file(path) if path.exists() else None
    fleet_file = config.vehicles.fleet
    fleet = FleetRegistry.from_file(fleet_file) if fleet_file is not None else None
    if args.command == "broker-files":
        if existing is None:
            print(f"error: no accounts file {path} (run `ioc credentials` first)", file=sys.stderr)
            return 1
        prefix = config.mqtt.topic_prefix
        passwd, acl = write_broker_files(
            existing, registry, prefix, args.out, fleet, config.workers
        )
        print(f"wrote {passwd} and {acl}")
        return 0
    credentials, secrets = Credentials.generate(registry, existing, fleet)
    credentials.write(path)
    print(f"{path}: {len(credentials.accounts)} accounts")
    for username, key in secrets.api_keys.items():
        print(f"  new API key for {username}: {key}   (shown once; only its hash is kept)")
    return 0


def _with_account_passwords(config: IocConfig) -> IocConfig:
    """MQTT passwords from the accounts file for user names configured without one."""
    from ingest.credentials import Credentials

    path = config.ingest.credentials_file
    if path is None or not path.exists():
        return config
    mqtt = Credentials.from_file(path).complete_mqtt(config.mqtt)
    return config.model_copy(update={"mqtt": mqtt})
