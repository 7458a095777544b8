"""The production broker (docker/) requires a login, binds client ids to accounts, saves its
state on every change, and gets its password and ACL files from `ioc broker-files`."""

from pathlib import Path
from typing import Any

import yaml

DOCKER = Path(__file__).parents[2] / "docker"


def broker_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (DOCKER / "mosquitto.conf").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            settings.setdefault(key, []).append(value.strip())
    return settings


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    return document


def test_the_docker_broker_requires_a_login_and_binds_client_ids() -> None:
    settings = broker_settings()
    assert settings["allow_anonymous"] == ["false"]
    assert settings["password_file"] == ["/mosquitto/auth/mosquitto.passwd"]
    assert settings["acl_file"] == ["/mosquitto/auth/mosquitto.acl"]
    assert settings["use_username_as_clientid"] == ["true"]
    assert (settings["autosave_on_changes"], settings["autosave_interval"]) == (["true"], ["1"])


def test_compose_generates_the_auth_files_before_the_broker_starts() -> None:
    services = compose()["services"]
    init = services["broker-files"]
    script = " ".join(init["command"])
    assert "ioc credentials" in script
    assert "ioc broker-files -c config/ioc.yaml --out /mosquitto/auth" in script
    assert "mosquitto-auth:/mosquitto/auth" in init["volumes"]
    broker = services["mosquitto"]
    assert broker["depends_on"]["broker-files"] == {"condition": "service_completed_successfully"}
    assert "mosquitto-auth:/mosquitto/auth:ro" in broker["volumes"]
    assert "./mosquitto.conf:/mosquitto/config/mosquitto.conf:ro" in broker["volumes"]


def test_every_connection_logs_in_with_its_own_account() -> None:
    services = compose()["services"]
    logins = [
        (
            services[name]["environment"]["IOC_MQTT__USERNAME"],
            services[name]["environment"]["IOC_MQTT__CAMERAS_USERNAME"],
        )
        for name in ("ioc", "simulators")
    ]
    assert logins == [("ioc-service", "ioc-cameras"), ("ioc-publisher", "ioc-camera-publisher")]
    for name in ("broker-files", "ioc", "simulators"):
        environment = services[name]["environment"]
        assert environment["IOC_INGEST__CREDENTIALS_FILE"] == "/app/var/credentials.yaml"


def unit_settings(unit: str = "ioc.service") -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (DOCKER / "systemd" / unit).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_the_systemd_unit_runs_commands_the_cli_has_with_the_compose_settings() -> None:
    from ioc.cli import _parser

    unit = unit_settings()
    [check], [serve] = unit["ExecStartPre"], unit["ExecStart"]
    for line, command in ((check, "check-config"), (serve, "serve")):
        assert line.split()[0].endswith("/bin/ioc")
        assert _parser().parse_args(line.split()[1:]).command == command
    assert check.split()[2:] == serve.split()[2:] == ["-c", "/etc/ioc/ioc.yaml"]
    assert unit["KillSignal"] == ["SIGTERM"]  # ioc.runner stops cleanly on it
    tz = compose()["services"]["ioc"]["environment"]["TZ"]
    assert unit["Environment"] == [f"TZ={tz}"]
    assert unit["WorkingDirectory"] == unit["ReadWritePaths"]  # var/... is writable


def test_a_worker_elsewhere_runs_a_command_the_cli_has() -> None:
    from ioc.cli import _parser

    unit = unit_settings("ioc-worker@.service")
    [start] = unit["ExecStart"]
    args = _parser().parse_args(start.replace("%i", "ingest-2").split()[1:])
    assert (args.command, args.name) == ("worker", "ingest-2")
    assert unit["WorkingDirectory"] == unit_settings()["WorkingDirectory"]
    document: dict[str, Any] = yaml.safe_load((DOCKER / "docker-compose.worker.yml").read_text())
    worker = document["services"]["worker"]
    command = [
        part.replace("${IOC_WORKER:?ingest-<i> or analytics-<p>}", "analytics-1")
        for part in worker["command"]
    ]
    args = _parser().parse_args(command[1:])
    assert (args.command, args.name) == ("worker", "analytics-1")
    assert (
        worker["environment"]["IOC_MQTT__USERNAME"]
        == compose()["services"]["ioc"]["environment"]["IOC_MQTT__USERNAME"]
    )
