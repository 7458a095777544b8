"""Accounts of the ingest front door: who may log in to the broker, and with which API key
over HTTP, and the Mosquitto password and ACL files made from them and the registry.

The accounts file (``ioc credentials init``) is YAML, mode 0600::

    accounts:
      - {username: ioc-service, role: service, password: ...}     # the IOC's subscriber
      - {username: ioc-cameras, role: camera-feed, password: ...} # the IOC's frame subscriber
      - {username: ioc-service-live, role: live-lane, password: ...} # its live lane
      - {username: ioc-publisher, role: publisher, password: ..., api_key_sha256: ...}
      - {username: ioc-camera-publisher, role: camera-publisher, password: ...}
      - {username: ENT-01, role: enterprise, enterprise: ENT-01, password: ..., api_key_sha256: ...}
      - {username: VT-01, role: transport-company, enterprise: VT-01, password: ...}

Passwords are kept as text because clients and the broker file are made from them; API keys
only as SHA-256 hashes (shown once, when made). An enterprise account may publish to, and post
for, its own stations only; the publisher account (state stations, the station simulator) to
all; the camera publisher only camera frames; a transport company (the fleet registry) the
positions and driver images of its own vehicles. Only the IOC's three subscribers read anything.

The broker uses each account's user name as its client id (``use_username_as_clientid``), so
no account can take over another's persistent session — and every connection that must stay
up alongside the others needs an account of its own.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ioc.accounts import sha256_hex
from ioc.config import MqttConfig, WorkersConfig, friendly_errors
from ioc.errors import ConfigError, ServiceStartError
from ioc.fleet import FleetRegistry
from ioc.registry import StationRegistry
from ioc.yaml_text import safe_load

Role = Literal[
    "service",
    "camera-feed",
    "live-lane",
    "publisher",
    "camera-publisher",
    "fleet-publisher",
    "enterprise",
    "transport-company",
]
SERVICE: Role = "service"
CAMERA_FEED: Role = "camera-feed"
LIVE_LANE: Role = "live-lane"  # the service's live readings while it catches up a backlog
PUBLISHER: Role = "publisher"
CAMERA_PUBLISHER: Role = "camera-publisher"
FLEET_PUBLISHER: Role = "fleet-publisher"  # the simulated fleet's positions
ENTERPRISE: Role = "enterprise"
COMPANY: Role = "transport-company"  # its vehicles' devices; ``enterprise`` holds its id
#: Roles that post readings over HTTP too, and so have an API key.
SENDERS: frozenset[Role] = frozenset({PUBLISHER, ENTERPRISE})


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    role: Role
    password: str = Field(min_length=12)
    enterprise: str | None = None
    api_key_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class _AccountsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    accounts: list[Account]


@dataclass(frozen=True, slots=True)
class NewSecrets:
    """Plain API keys of freshly made accounts: shown once, never stored."""

    api_keys: dict[str, str]


class Credentials:
    def __init__(self, accounts: list[Account]) -> None:
        self.accounts = accounts

    def first(self, role: Role) -> Account | None:
        return next((a for a in self.accounts if a.role == role), None)

    def login_of(self, role: Role) -> tuple[str, SecretStr]:
        """User name and password of the first account of ``role``."""
        account = self.first(role)
        if account is None:
            raise ConfigError("accounts file", [f"no {role} account (run `ioc credentials`)"])
        return account.username, SecretStr(account.password)

    def complete_mqtt(self, mqtt: MqttConfig) -> MqttConfig:
        """``mqtt`` with the passwords of its user names taken from the accounts, where the
        configuration names an account but not its password (as the Docker setup does)."""
        passwords = {a.username: SecretStr(a.password) for a in self.accounts}
        update: dict[str, SecretStr] = {}
        if mqtt.username in passwords and mqtt.password is None:
            update["password"] = passwords[mqtt.username]
        if mqtt.cameras_username in passwords and mqtt.cameras_password is None:
            update["cameras_password"] = passwords[mqtt.cameras_username]
        if mqtt.live_username in passwords and mqtt.live_password is None:
            update["live_password"] = passwords[mqtt.live_username]
        return mqtt.model_copy(update=update)

    @classmethod
    def generate(
        cls,
        registry: StationRegistry,
        existing: Credentials | None = None,
        fleet: FleetRegistry | None = None,
    ) -> tuple[Credentials, NewSecrets]:
        """Accounts for the service's three subscribers, the publishers, every enterprise of
        the registry and every transport company of ``fleet``; those ``existing`` already has
        are kept as they are."""
        accounts = list(existing.accounts) if existing else []
        have = {a.username for a in accounts}
        keys: dict[str, str] = {}
        wanted: list[tuple[str, Role, str | None]] = [
            ("ioc-service", SERVICE, None),
            ("ioc-cameras", CAMERA_FEED, None),
            ("ioc-service-live", LIVE_LANE, None),
            ("ioc-publisher", PUBLISHER, None),
            ("ioc-camera-publisher", CAMERA_PUBLISHER, None),
            ("ioc-fleet-publisher", FLEET_PUBLISHER, None),
            *((e, ENTERPRISE, e) for e in registry.enterprises),
            *((c, COMPANY, c) for c in (fleet.companies if fleet else ())),
        ]
        for username, role, enterprise in wanted:
            if username in have:
                continue
            key_hash = None
            if role in SENDERS:
                keys[username] = f"ioc_{secrets.token_urlsafe(24)}"
                key_hash = sha256_hex(keys[username])
            accounts.append(
                Account(
                    username=username,
                    role=role,
                    password=_secret(),
                    enterprise=enterprise,
                    api_key_sha256=key_hash,
                )
            )
        return cls(accounts), NewSecrets(keys)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "# IOC accounts: keep private. Made by `ioc credentials init`.\n" + yaml.safe_dump(
            {"accounts": [a.model_dump(exclude_none=True) for a in self.accounts]},
            sort_keys=False,
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)

    @classmethod
    def from_file(cls, path: Path) -> Credentials:
        try:
            raw = safe_load(path.read_text(encoding="utf-8"))
            return cls(_AccountsFile.model_validate(raw).accounts)
        except OSError as exc:
            raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from exc
        except yaml.YAMLError as exc:
            raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from exc
        except ValidationError as exc:
            raise ConfigError(str(path), friendly_errors(exc)) from exc


def write_broker_files(
    credentials: Credentials,
    registry: StationRegistry,
    topic_prefix: str,
    directory: Path,
    fleet: FleetRegistry | None = None,
    layout: WorkersConfig | None = None,
) -> tuple[Path, Path]:
    """Mosquitto ``password_file`` (hashed by ``mosquitto_passwd``) and ``acl_file``. An
    enterprise may write its stations' topics, a transport company its vehicles' (plates as
    ``fleet`` has them). With a worker ``layout``, every service account also gets one
    account per connection of the layout, ``<user>-<connection>`` with the same password and
    rights (MqttConfig.connection): the broker makes the user name the client id, so each
    connection that stays up beside the others needs a name of its own."""
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if not Path(tool).exists():
        raise ServiceStartError("mosquitto_passwd", "not installed (Debian package mosquitto)")
    directory.mkdir(parents=True, exist_ok=True)
    suffixes = layout.connection_suffixes() if layout else []
    accounts = [
        *credentials.accounts,
        *(
            a.model_copy(update={"username": f"{a.username}-{suffix}"})
            for a in credentials.accounts
            if a.role == SERVICE
            for suffix in suffixes
        ),
    ]
    passwd = directory / "mosquitto.passwd"
    passwd.write_text("".join(f"{a.username}:{a.password}\n" for a in accounts))
    passwd.chmod(0o600)
    subprocess.run([tool, "-U", str(passwd)], check=True, capture_output=True)
    stations, frames = f"{topic_prefix}/stations", f"{topic_prefix}/cameras/+/frames"
    positions = f"{topic_prefix}/vehicles/+/positions"
    images = f"{topic_prefix}/vehicles/+/images"
    lines = ["# Generated from the station registry and the accounts file: do not edit."]
    for account in accounts:
        lines.append(f"\nuser {account.username}")
        if account.role == SERVICE:
            lines += [
                f"topic read {stations}/+/readings",
                f"topic read {stations}/+/senml",
                f"topic read {positions}",
                f"topic read {images}",
                f"topic write {topic_prefix}/rejected",
                # the worker layout's stage boundaries (ioc.partitions), its account only
                f"topic readwrite {topic_prefix}/internal/#",
            ]
        elif account.role == CAMERA_FEED:
            lines.append(f"topic read {frames}")
        elif account.role == LIVE_LANE:
            lines += [f"topic read {stations}/+/readings", f"topic read {stations}/+/senml"]
        elif account.role == PUBLISHER:
            lines += [f"topic write {stations}/+/readings", f"topic write {stations}/+/senml"]
        elif account.role == CAMERA_PUBLISHER:
            lines.append(f"topic write {frames}")
        elif account.role == FLEET_PUBLISHER:
            lines += [f"topic write {positions}", f"topic write {images}"]
        elif account.role == COMPANY:
            for vehicle in fleet.vehicles.values() if fleet else ():
                if vehicle.company == account.enterprise:
                    lines += [
                        f"topic write {topic_prefix}/vehicles/{vehicle.id}/positions",
                        f"topic write {topic_prefix}/vehicles/{vehicle.id}/images",
                    ]
        else:
            for station in registry:
                if station.owner == account.enterprise:
                    lines += [
                        f"topic write {stations}/{station.id}/readings",
                        f"topic write {stations}/{station.id}/senml",
                    ]
    acl = directory / "mosquitto.acl"
    acl.write_text("\n".join(lines) + "\n")
    return passwd, acl


def _secret() -> str:
    return secrets.token_urlsafe(18)
