import stat
from pathlib import Path

import pytest

from ingest.credentials import (
    CAMERA_FEED,
    CAMERA_PUBLISHER,
    COMPANY,
    ENTERPRISE,
    FLEET_PUBLISHER,
    LIVE_LANE,
    PUBLISHER,
    SERVICE,
    Account,
    Credentials,
    write_broker_files,
)
from ioc.accounts import sha256_hex
from ioc.config import MqttConfig, WorkersConfig
from ioc.errors import ConfigError
from tests.factories import registry, two_companies


def test_generated_accounts_round_trip_privately(tmp_path: Path) -> None:
    credentials, secrets = Credentials.generate(registry(tmp_path))
    path = tmp_path / "credentials.yaml"
    credentials.write(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Credentials.from_file(path)
    assert [(a.username, a.role) for a in loaded.accounts] == [
        ("ioc-service", SERVICE),
        ("ioc-cameras", CAMERA_FEED),
        ("ioc-service-live", LIVE_LANE),
        ("ioc-publisher", PUBLISHER),
        ("ioc-camera-publisher", CAMERA_PUBLISHER),
        ("ioc-fleet-publisher", FLEET_PUBLISHER),
        ("ENT-A", ENTERPRISE),
        ("ENT-B", ENTERPRISE),
    ]
    by_key = {a.api_key_sha256: a for a in loaded.accounts if a.api_key_sha256}
    account = by_key.get(sha256_hex(secrets.api_keys["ENT-A"]))
    assert account is not None and account.enterprise == "ENT-A"
    assert by_key.get(sha256_hex("ioc_guess")) is None
    assert secrets.api_keys["ENT-A"] not in path.read_text()  # only its hash is kept


def test_a_broken_accounts_file_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("accounts:\n  - {username: x, role: boss, password: short}\n")
    with pytest.raises(ConfigError) as caught:
        Credentials.from_file(path)
    assert {p.split(":")[0] for p in caught.value.problems} == {
        "accounts.0.role",
        "accounts.0.password",
    }


def test_the_credentials_command_completes_without_replacing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ioc.cli import main

    path = tmp_path / "accounts.yaml"
    assert main(["credentials", "-c", "config/ioc.yaml", "--accounts", str(path)]) == 0
    first = capsys.readouterr().out
    assert first.count("new API key") == 19  # the publisher and 18 enterprises
    before = path.read_text()
    assert main(["credentials", "-c", "config/ioc.yaml", "--accounts", str(path)]) == 0
    assert "new API key" not in capsys.readouterr().out
    assert path.read_text() == before


def test_broker_acls_follow_roles_and_ownership(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    credentials, _ = Credentials.generate(reg)
    passwd, acl = write_broker_files(credentials, reg, "ioc/v1", tmp_path / "broker")
    blocks = {
        block.split("\n")[0].removeprefix("user "): set(block.split("\n")[1:]) - {""}
        for block in acl.read_text().split("\n\n")[1:]
    }
    assert blocks["ioc-service"] == {
        "topic read ioc/v1/stations/+/readings",
        "topic read ioc/v1/stations/+/senml",
        "topic read ioc/v1/vehicles/+/positions",
        "topic read ioc/v1/vehicles/+/images",
        "topic write ioc/v1/rejected",
        "topic readwrite ioc/v1/internal/#",  # the worker layout's internal topics
    }
    assert blocks["ioc-cameras"] == {"topic read ioc/v1/cameras/+/frames"}
    assert blocks["ioc-service-live"] == {  # stations only: no positions, no rejections
        "topic read ioc/v1/stations/+/readings",
        "topic read ioc/v1/stations/+/senml",
    }
    assert blocks["ioc-publisher"] == {
        "topic write ioc/v1/stations/+/readings",
        "topic write ioc/v1/stations/+/senml",
    }
    assert blocks["ioc-camera-publisher"] == {"topic write ioc/v1/cameras/+/frames"}
    assert blocks["ioc-fleet-publisher"] == {
        "topic write ioc/v1/vehicles/+/positions",
        "topic write ioc/v1/vehicles/+/images",
    }
    assert blocks["ENT-A"] == {
        "topic write ioc/v1/stations/STK-1/readings",
        "topic write ioc/v1/stations/STK-1/senml",
    }
    assert blocks["ENT-B"] == set()
    assert all(":$7$" in line for line in passwd.read_text().splitlines())  # hashed


def test_a_worker_layout_gets_one_service_account_per_connection(tmp_path: Path) -> None:
    reg = registry(tmp_path)
    credentials, _ = Credentials.generate(reg)
    layout = WorkersConfig(ingest=1)
    passwd, acl = write_broker_files(credentials, reg, "ioc/v1", tmp_path / "b", layout=layout)
    users = [line.split(":")[0] for line in passwd.read_text().splitlines()]
    layout_users = [
        f"ioc-service-{suffix}"
        for suffix in (
            "layout",
            "analytics-0",
            "analytics-0-out",
            "analytics-0-layout",
            "ingest-0",
            "ingest-0-out",
            "ingest-0-layout",
        )
    ]
    assert users == [a.username for a in credentials.accounts] + layout_users
    blocks = {
        block.split("\n")[0].removeprefix("user "): set(block.split("\n")[1:]) - {""}
        for block in acl.read_text().split("\n\n")[1:]
    }
    assert all(blocks[user] == blocks["ioc-service"] for user in layout_users)
    # the names are the ones the connections use (MqttConfig.connection)
    mqtt = MqttConfig(username="ioc-service")
    assert mqtt.connection("ingest-0").connection("out").username == "ioc-service-ingest-0-out"
    assert WorkersConfig(ingest=0).connection_suffixes() == []


def test_an_older_accounts_file_gets_the_missing_accounts_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    service = Account(username="ioc-service", role=SERVICE, password="kept-password-1")
    publisher = Account(
        username="ioc-publisher",
        role=PUBLISHER,
        password="kept-password-2",
        api_key_sha256="a" * 64,
    )
    completed, secrets = Credentials.generate(registry(tmp_path), Credentials([service, publisher]))
    by_name = {a.username: a for a in completed.accounts}
    assert by_name["ioc-service"] == service and by_name["ioc-publisher"] == publisher
    assert {"ioc-cameras", "ioc-service-live", "ioc-camera-publisher", "ENT-A"} <= set(by_name)
    assert set(secrets.api_keys) == {"ENT-A", "ENT-B"}  # subscribers and cameras post nothing


def test_configured_user_names_get_their_passwords_from_the_accounts(tmp_path: Path) -> None:
    credentials, _ = Credentials.generate(registry(tmp_path))
    mqtt = credentials.complete_mqtt(
        MqttConfig(
            username="ioc-service",
            cameras_username="ioc-cameras",
            live_username="ioc-service-live",
        )
    )
    passwords = {a.username: a.password for a in credentials.accounts}
    assert mqtt.password is not None and mqtt.cameras_password is not None
    assert mqtt.password.get_secret_value() == passwords["ioc-service"]
    assert mqtt.cameras_login() == ("ioc-cameras", passwords["ioc-cameras"])
    assert mqtt.live_login() == ("ioc-service-live", passwords["ioc-service-live"])


def test_the_live_lane_has_an_account_of_its_own_or_does_not_run() -> None:
    with pytest.raises(ValueError, match="live_username must differ"):
        MqttConfig(username="ioc-service", cameras_username="c", live_username="ioc-service")
    with pytest.raises(ValueError, match="live_username must differ"):
        MqttConfig(username="s", cameras_username="ioc-cameras", live_username="ioc-cameras")
    assert MqttConfig(username="s", cameras_username="c").live_login() is None  # older setups
    assert MqttConfig().live_login() == (None, None)  # an anonymous broker
    assert MqttConfig(live_lane=False).live_login() is None


def test_camera_frames_never_share_the_ingest_account() -> None:
    with pytest.raises(ConfigError, match="cameras_username"):
        MqttConfig(username="ioc-service").cameras_login()
    with pytest.raises(ValueError, match="take over"):
        MqttConfig(username="ioc-service", cameras_username="ioc-service")
    assert MqttConfig().cameras_login() == (None, None)  # an anonymous broker


def test_a_transport_company_may_write_only_its_own_vehicles(tmp_path: Path) -> None:
    reg, fleet = registry(tmp_path), two_companies()
    credentials, secrets = Credentials.generate(reg, fleet=fleet)
    by_name = {a.username: a for a in credentials.accounts}
    assert (by_name["VT-A"].role, by_name["VT-A"].enterprise) == (COMPANY, "VT-A")
    assert "VT-A" not in secrets.api_keys  # devices publish over MQTT (or OsmAnd secrets)
    _, acl = write_broker_files(credentials, reg, "ioc/v1", tmp_path / "broker", fleet)
    blocks = {
        block.split("\n")[0].removeprefix("user "): set(block.split("\n")[1:]) - {""}
        for block in acl.read_text().split("\n\n")[1:]
    }
    assert blocks["VT-A"] == {  # the plate as the registry normalised it
        "topic write ioc/v1/vehicles/49A11111/positions",
        "topic write ioc/v1/vehicles/49A11111/images",
    }
    assert blocks["VT-B"] == {
        "topic write ioc/v1/vehicles/49C22222/positions",
        "topic write ioc/v1/vehicles/49C22222/images",
    }
