import stat
from pathlib import Path

import pytest

from ingest.credentials import ENTERPRISE, PUBLISHER, SERVICE, Credentials
from ioc.accounts import sha256_hex
from ioc.errors import ConfigError
from tests.factories import registry


def test_generated_accounts_round_trip_privately(tmp_path: Path) -> None:
    credentials, secrets = Credentials.generate(registry(tmp_path))
    path = tmp_path / "credentials.yaml"
    credentials.write(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Credentials.from_file(path)
    assert [(a.username, a.role) for a in loaded.accounts] == [
        ("ioc-service", SERVICE),
        ("ioc-publisher", PUBLISHER),
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
    assert first.count("new API key") == 7  # the publisher and six enterprises
    before = path.read_text()
    assert main(["credentials", "-c", "config/ioc.yaml", "--accounts", str(path)]) == 0
    assert "new API key" not in capsys.readouterr().out
    assert path.read_text() == before


def test_broker_acls_follow_roles_and_ownership(tmp_path: Path) -> None:
    from ingest.credentials import write_broker_files

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
        "topic read ioc/v1/cameras/+/frames",
        "topic write ioc/v1/rejected",
    }
    assert "topic write ioc/v1/cameras/+/frames" in blocks["ioc-publisher"]
    assert blocks["ENT-A"] == {
        "topic write ioc/v1/stations/STK-1/readings",
        "topic write ioc/v1/stations/STK-1/senml",
    }
    assert blocks["ENT-B"] == set()
    assert all(":$7$" in line for line in passwd.read_text().splitlines())  # hashed
