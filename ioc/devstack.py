"""``ioc dev`` (what ``make run`` starts): a private Mosquitto and InfluxDB with their data
under ``./var``, the IOC service, and the simulated stations in a second process. Ctrl-C
stops everything it started, in reverse order.

An external broker or database is used instead of the private one when the config file names
a host other than this machine, or the environment sets ``IOC_MQTT__HOST`` /
``IOC_INFLUX__URL``.

The wall and the console require a login: demo accounts (admin, officer, operator, viewer,
one per enterprise and one per transport company: vt-01 ...) are made once, with their
passwords in ``./var/dev-logins.txt``.

The private broker requires a login: accounts are made once in ``./var/credentials.yaml``
(the service's two subscribers, the two simulators, one per enterprise; accounts added since
are added to an existing file), and the broker's password and ACL files are made from them and
the registry at every start.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from contextlib import ExitStack, suppress
from pathlib import Path
from urllib.parse import urlsplit

from ingest.credentials import (
    CAMERA_FEED,
    CAMERA_PUBLISHER,
    FLEET_PUBLISHER,
    LIVE_LANE,
    PUBLISHER,
    SERVICE,
    Credentials,
    write_broker_files,
)
from ioc.accounts import AccountBook, Role
from ioc.cli import DEFAULT_CONFIG, fleet_config, load_config_and_registry
from ioc.config import IocConfig
from ioc.config_store import VEHICLE, ConfigStore
from ioc.database import open_database
from ioc.fleet import FleetRegistry
from ioc.private_services import PrivateInfluxDB, PrivateMosquitto, free_port
from ioc.registry import StationRegistry
from ioc.runner import serve
from simulators.fleet import write_registry

PREFERRED_MQTT_PORT = 18830
PREFERRED_INFLUX_PORT = 18086
PREFERRED_WEB_PORT = 8080


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1", "")


def _say(text: str) -> None:
    print(f"[ioc dev] {text}", flush=True)


def run_dev(config_path: Path | None, var: Path, simulators: bool) -> int:
    config, registry = load_config_and_registry(config_path)
    external_mqtt = "IOC_MQTT__HOST" in os.environ or not _is_loopback(config.mqtt.host)
    external_influx = "IOC_INFLUX__URL" in os.environ or not _is_loopback(
        urlsplit(config.influx.url).hostname or ""
    )
    env = dict(os.environ)
    credentials_path = config.ingest.credentials_file or var / "credentials.yaml"
    credentials = _ensure_credentials(credentials_path, registry)
    ingest_update: dict[str, object] = {"credentials_file": credentials_path}
    if config.ingest.drop_folder is None:
        ingest_update["drop_folder"] = var / "drop"
    config = config.model_copy(update={"ingest": config.ingest.model_copy(update=ingest_update)})
    fleet_env = env
    with ExitStack() as stack:
        if not external_mqtt:
            auth = write_broker_files(
                credentials,
                registry,
                config.mqtt.topic_prefix,
                var / "mosquitto",
                layout=config.workers,
            )
            broker = PrivateMosquitto(var / "mosquitto", free_port(PREFERRED_MQTT_PORT), auth)
            _say(f"starting Mosquitto on 127.0.0.1:{broker.port} (data in {broker.directory})")
            broker.start()
            stack.callback(_stopping, broker)
            # One account per connection: the broker uses the user name as client id.
            service, service_password = credentials.login_of(SERVICE)
            feed, feed_password = credentials.login_of(CAMERA_FEED)
            live, live_password = credentials.login_of(LIVE_LANE)
            publisher, publisher_password = credentials.login_of(PUBLISHER)
            cameras, cameras_password = credentials.login_of(CAMERA_PUBLISHER)
            fleet, fleet_password = credentials.login_of(FLEET_PUBLISHER)
            config = config.model_copy(
                update={
                    "mqtt": config.mqtt.model_copy(
                        update={
                            "host": "127.0.0.1",
                            "port": broker.port,
                            "username": service,
                            "password": service_password,
                            "cameras_username": feed,
                            "cameras_password": feed_password,
                            "live_username": live,
                            "live_password": live_password,
                        }
                    )
                }
            )
            env |= {
                "IOC_MQTT__HOST": "127.0.0.1",
                "IOC_MQTT__PORT": str(broker.port),
                "IOC_MQTT__USERNAME": publisher,
                "IOC_MQTT__PASSWORD": publisher_password.get_secret_value(),
                "IOC_MQTT__CAMERAS_USERNAME": cameras,
                "IOC_MQTT__CAMERAS_PASSWORD": cameras_password.get_secret_value(),
            }
            fleet_env = env | {
                "IOC_MQTT__USERNAME": fleet,
                "IOC_MQTT__PASSWORD": fleet_password.get_secret_value(),
            }
        else:
            _say(f"using the configured broker {config.mqtt.host}:{config.mqtt.port}")
        if not external_influx:
            database = PrivateInfluxDB(var / "influxdb", free_port(PREFERRED_INFLUX_PORT))
            _say(f"starting InfluxDB on {database.url} (data in {database.directory})")
            database.start()
            stack.callback(_stopping, database)
            config = config.model_copy(
                update={"influx": config.influx.model_copy(update={"url": database.url})}
            )
        else:
            _say(f"using the configured database {config.influx.url}")
        config = config.model_copy(
            update={
                "influx": config.influx.model_copy(update={"spool_dir": var / "spool"}),
                "alerts": config.alerts.model_copy(
                    update={"database": str(var / "alerts.sqlite3")}
                ),
                "access": config.access.model_copy(update={"database": var / "ioc.sqlite3"}),
                "cameras": config.cameras.model_copy(update={"snapshot_dir": var / "snapshots"}),
                "vehicles": config.vehicles.model_copy(
                    update={
                        "journeys_database": str(var / "journeys.sqlite3"),
                        "images": config.vehicles.images.model_copy(
                            update={"directory": var / "vehicle-images"}
                        ),
                    }
                ),
            }
        )
        if simulators and config.simulator.vehicles:
            config = _with_simulated_fleet(config, var)
        logins = _ensure_dev_logins(config, registry, var / "dev-logins.txt")
        if simulators:
            _warn_if_simulated_stations_unknown(config, registry)
        web_port = free_port(config.web.port or PREFERRED_WEB_PORT)
        config = config.model_copy(update={"web": config.web.model_copy(update={"port": web_port})})
        if simulators:
            command = [sys.executable, "-m", "simulators"]
            if config_path is not None or DEFAULT_CONFIG.exists():
                command += ["-c", str(config_path or DEFAULT_CONFIG)]
            _say(f"starting simulators for {len(registry)} stations")
            simulator = subprocess.Popen(command, env=env, start_new_session=True)
            stack.callback(_stop_process, simulator)
            if config.simulator.vehicles:
                _warn_if_simulated_vehicles_unknown(config)
                _say(f"starting the simulated fleet of {config.simulator.vehicles} vehicles")
                fleet_command = [sys.executable, "-m", "ioc", "simulate-fleet", *command[3:]]
                fleet_sim = subprocess.Popen(fleet_command, env=fleet_env, start_new_session=True)
                stack.callback(_stop_process, fleet_sim)

        def ready(url: str) -> None:
            _say(f"wall:    {url}")
            _say(f"console: {url.removesuffix('/wall')}/console   portal: /portal")
            _say(f"logins ({var / 'dev-logins.txt'}):")
            for name, password in logins.items():
                _say(f"  {name:<14} {password}")
            _say(f"health: {url.removesuffix('/wall')}/api/v1/health")
            _say("Ctrl-C stops everything")

        with suppress(KeyboardInterrupt):
            asyncio.run(serve(config, registry, on_ready=ready))
        _say("stopping")
    _say("stopped")
    return 0


def _with_simulated_fleet(config: IocConfig, var: Path) -> IocConfig:
    """``config`` reading a fleet registry that has the simulated vehicles: the configured
    one when it has as many, else one written under ``var`` for this count."""
    wanted = config.simulator.vehicles
    path = config.vehicles.fleet
    if path is None or len(FleetRegistry.from_file(path).vehicles) != wanted:
        path = write_registry(var / f"fleet-{wanted}.yaml", fleet_config(config))
    return config.model_copy(
        update={"vehicles": config.vehicles.model_copy(update={"fleet": path})}
    )


def _ensure_credentials(path: Path, registry: StationRegistry) -> Credentials:
    """The accounts file, made (or completed with new accounts) on first use."""
    existing = Credentials.from_file(path) if path.exists() else None
    credentials, secrets = Credentials.generate(registry, existing)
    if existing is None or len(credentials.accounts) != len(existing.accounts):
        credentials.write(path)
    if secrets.api_keys:
        _say(f"accounts written to {path}; API keys (shown once, only hashes are kept):")
        for username, key in secrets.api_keys.items():
            _say(f"  {username:<14} {key}")
    return credentials


def _ensure_dev_logins(config: IocConfig, registry: StationRegistry, path: Path) -> dict[str, str]:
    """Demo accounts, one per role, enterprise and transport company (with vehicles
    configured: ``vt-01`` ...), made once; passwords kept in ``path``."""
    logins: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, _, password = line.partition(" ")
            logins[name] = password.strip()
    wanted: dict[str, tuple[Role, str | None]] = {
        role.value: (role, None) for role in Role if role != Role.ENTERPRISE
    }
    wanted |= {e.lower(): (Role.ENTERPRISE, e) for e in registry.enterprises}
    if config.vehicles.fleet is not None:
        companies = FleetRegistry.from_file(config.vehicles.fleet).companies
        wanted |= {c.lower(): (Role.ENTERPRISE, c) for c in companies if c.lower() not in wanted}
    db = open_database(config.access.database)
    try:
        accounts = AccountBook(db, config.access)
        for name, (role, enterprise) in wanted.items():
            if accounts.user(name) is None:
                logins[name] = secrets.token_urlsafe(9)
                accounts.add_user(name, role, logins[name], enterprise)
    finally:
        db.close()
    path.write_text("".join(f"{n} {p}\n" for n, p in logins.items()), encoding="utf-8")
    path.chmod(0o600)
    return {name: logins.get(name, "(set before; see ioc users)") for name in wanted}


def _warn_if_simulated_stations_unknown(config: IocConfig, registry: StationRegistry) -> None:
    """The configuration database, once seeded, is the registry in force (officers edit it):
    say so when it lacks stations the simulators send, instead of a wall full of refusals."""
    db = open_database(config.access.database)
    try:
        settings = ConfigStore(db)
        if settings.is_empty():
            return
        in_force = {station.id for station in settings.current().registry}
    finally:
        db.close()
    missing = sorted({station.id for station in registry} - in_force)
    if missing:
        _say(
            f"warning: {len(missing)} simulated stations (e.g. {', '.join(missing[:3])}) are "
            f"not in the configuration database {config.access.database}; their readings "
            "will be refused as unknown_station. Add them in the console, or remove that "
            "file to seed it again from the station files."
        )


def _warn_if_simulated_vehicles_unknown(config: IocConfig) -> None:
    """As for stations: the transport registry, once seeded, is the database's, and a fleet
    file written later for another number of vehicles does not change it."""
    if config.vehicles.fleet is None:
        return
    db = open_database(config.access.database)
    try:
        in_force = set(ConfigStore(db).items(VEHICLE))
    finally:
        db.close()
    if not in_force:
        return  # seeded from the file at start
    missing = sorted(set(FleetRegistry.from_file(config.vehicles.fleet).vehicles) - in_force)
    if missing:
        _say(
            f"warning: {len(missing)} simulated vehicles (e.g. {', '.join(missing[:3])}) are "
            f"not in the configuration database {config.access.database}; their positions "
            "will be refused as unknown_vehicle. Add them in the console, or remove that "
            "file to seed it again from the fleet file."
        )


def _stopping(service: PrivateMosquitto | PrivateInfluxDB) -> None:
    _say(f"stopping {service.name}")
    service.stop()


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    _say("stopping simulators")
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
