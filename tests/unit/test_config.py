from pathlib import Path

import pytest

from ioc.cli import main
from ioc.config import IocConfig, RuleConfig, load_config
from ioc.errors import ConfigError


def test_defaults_are_valid_and_ship_qcvn_rules() -> None:
    config = IocConfig()
    rules = {r.id: r for r in config.analytics.rules}
    assert rules["pm25_24h"].window == "24h"
    assert rules["pm25_24h"].above == 45.0  # QCVN 05:2023 from 2026-01-01
    assert rules["stack_dust"].above == 200.0  # QCVN 19:2009 column B


def test_unknown_key_is_rejected_with_its_location(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("mqtt:\n  hots: broker\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.problems == [
        "mqtt.hots: unknown key (check spelling; see `ioc check-config --help`)"
    ]


def test_bounds_are_enforced(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("mqtt:\n  port: 70000\nweb:\n  heartbeat_s: 0\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert [p.split(":")[0] for p in caught.value.problems] == ["mqtt.port", "web.heartbeat_s"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"above": 0, "below": 1}, "a range needs `below` under `above`"),
        ({}, "exactly one of"),
        ({"above": 50, "clear_at": 60}, "must be <= above"),
        ({"below": 5, "clear_at": 4}, "must be >= below"),
        ({"above": 1, "window": "2h"}, "window"),
    ],
)
def test_rule_mistakes_are_explained(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RuleConfig.model_validate({"id": "r", "name": "r", "parameter": "pm25", **rule})


def test_duplicate_rule_ids_are_rejected() -> None:
    rule = {"id": "r", "name": "r", "parameter": "pm25", "above": 1}
    with pytest.raises(ValueError, match="duplicate rule ids: r"):
        IocConfig.model_validate({"analytics": {"rules": [rule, rule]}})


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("mqtt:\n  host: from-file\n  port: 1884\n")
    config = load_config(path, environ={"IOC_MQTT__HOST": "from-env", "IOC_INFLUX__TOKEN": "t"})
    assert (config.mqtt.host, config.mqtt.port) == ("from-env", 1884)
    assert config.influx.token is not None and config.influx.token.get_secret_value() == "t"


def test_check_config_accepts_the_shipped_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "-c", "config/ioc.yaml"]) == 0
    assert "OK: 159 stations" in capsys.readouterr().out


def test_check_config_prints_friendly_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "registry: config/stations.yaml\nanalytics:\n  rules:\n"
        "    - {id: x, name: X, parameter: pm1, above: 5}\n"
    )
    assert main(["check-config", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert "analytics.rules.x: parameter 'pm1' is measured by no station" in err
