import pytest
from pydantic import ValidationError

from analytics.config import AnalyticsConfig, Area, Level, RuleConfig
from ioc.messages import Severity
from tests.factories import TEST_RULES


def rule(**fields: object) -> RuleConfig:
    return RuleConfig.model_validate({"id": "r", "name": "r", "parameter": "pm25", **fields})


def test_the_simple_form_is_one_level() -> None:
    rules = [RuleConfig.model_validate(r) for r in TEST_RULES]
    assert rules[0].levels == (Level(100.0, 80.0, Severity.CRITICAL),)
    assert rules[1].levels == (Level(45.0, 43.0, Severity.WARNING),)
    assert (rules[1].hours, rules[1].limit, rules[1].direction) == (24, 45.0, "above")
    assert rule(below=5).levels == (Level(5.0, 5.0, Severity.WARNING),)


def test_thresholds_give_levels_in_increasing_severity() -> None:
    r = rule(
        window="1h",
        thresholds=[
            {"above": 50, "severity": "info"},
            {"above": 100, "clear_at": 90, "severity": "warning"},
            {"above": 200, "clear_at": 180, "severity": "critical"},
        ],
    )
    assert [(lv.value, lv.clear, lv.severity.value) for lv in r.levels] == [
        (50, 50, "info"),
        (100, 90, "warning"),
        (200, 180, "critical"),
    ]
    low = rule(
        thresholds=[{"below": 6, "severity": "warning"}, {"below": 4, "severity": "critical"}]
    )
    assert low.direction == "below"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"above": 0, "below": 1}, "a range needs `below` under `above`"),
        ({}, "exactly one of"),
        ({"above": 50, "clear_at": 60}, "must be <= above"),
        ({"above": 1, "window": "2h"}, "window"),
        ({"above": 1, "aggregate": "max"}, "needs a window"),
        (
            {
                "thresholds": [
                    {"above": 100, "severity": "warning"},
                    {"above": 50, "severity": "critical"},
                ]
            },
            "values must be increasing",
        ),
        (
            {
                "thresholds": [
                    {"above": 50, "severity": "critical"},
                    {"above": 100, "severity": "warning"},
                ]
            },
            "increasing severity",
        ),
        (
            {
                "thresholds": [
                    {"above": 50, "severity": "info"},
                    {"below": 10, "severity": "warning"},
                ]
            },
            "must be `above` or all `below`",
        ),
        (
            {
                "thresholds": [
                    {"above": 50, "clear_at": 45, "severity": "info"},
                    {"above": 100, "clear_at": 40, "severity": "warning"},
                ]
            },
            "clear_at values",
        ),
        ({"above": 5, "thresholds": [{"above": 50}]}, "either `thresholds` or above"),
        ({"severity": "info", "thresholds": [{"above": 50}]}, "either `thresholds` or severity"),
        ({"above": 1, "min_duration_s": -1}, "min_duration_s"),
        ({"above": 1, "colour": "red"}, "colour"),
    ],
)
def test_rule_mistakes_are_explained(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rule(**fields)


def test_area_is_a_box_or_a_circle() -> None:
    box = Area(min_lat=11.0, max_lat=12.0, min_lon=108.0, max_lon=109.0)
    assert box.contains(11.5, 108.5) and not box.contains(12.5, 108.5)
    circle = Area(lat=11.9, lon=108.4, radius_km=10)
    assert circle.contains(11.95, 108.45)  # about 7.6 km away
    assert not circle.contains(12.0, 108.5)  # about 15 km away
    with pytest.raises(ValidationError, match="either min_lat"):
        Area(lat=11.9, lon=108.4)
    with pytest.raises(ValidationError, match="below max_lat"):
        Area(min_lat=12.0, max_lat=11.0, min_lon=108.0, max_lon=109.0)


def test_defaults_ship_qcvn_limits() -> None:
    rules = {r.id: r for r in AnalyticsConfig().rules}
    assert rules["pm25_24h"].above == 45.0  # QCVN 05:2023, from 01/01/2026
    assert (rules["o3_8h"].window, rules["o3_8h"].above) == ("8h", 120.0)
    assert rules["stack_dust"].severity is Severity.CRITICAL
    assert [lv.severity for lv in rules["fire_danger"].levels] == [
        Severity.WARNING,
        Severity.CRITICAL,
    ]


def test_config_rejects_duplicate_and_reserved_ids() -> None:
    simple = {"id": "r", "name": "r", "parameter": "pm25", "above": 1}
    with pytest.raises(ValidationError, match="duplicate rule ids: r"):
        AnalyticsConfig.model_validate({"rules": [simple, simple]})
    with pytest.raises(ValidationError, match="reserved"):
        AnalyticsConfig.model_validate({"rules": [simple | {"id": "anomaly.x"}]})
    with pytest.raises(ValidationError, match="strictly increasing"):
        AnalyticsConfig.model_validate({"fire": {"nesterov_thresholds": [1, 3, 2, 4]}})
