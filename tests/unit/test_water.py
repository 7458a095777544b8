"""Wastewater and groundwater monitoring (REFERENCE §7, §8): the pH range, the opt-out of
values sent without a status, per-permit rules, licence rules of wells, the daily volume from
a cumulative counter, silence over an hour, implausible values, the licence block of the
registry and a backtest of a wastewater rule."""

from __future__ import annotations

import copy
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import ValidationError

from analytics.config import AnalyticsConfig, RuleConfig
from analytics.engine import AnalyticsEngine
from analytics.limits import rule_problems
from analytics.series import HOUR_MS
from ingest.validate import ReadingValidator
from ioc import appkeys
from ioc.config import IngestConfig
from ioc.errors import ConfigError
from ioc.messages import Reading, RejectReason, RuleTransition
from ioc.registry import StationRegistry
from simulators.models import StationModel
from tests.factories import REGISTRY_DOC, payload
from tests.unit.test_analytics_backtest import FakeStore, iso, rows_of
from tests.unit.test_analytics_engine import DAY0, MINUTE
from tests.unit.test_decode import decode
from web.analytics_api import ANALYTICS, add_analytics_routes

WASTEWATER = {
    p: {"unit": u, "min": 0, "max": m}
    for p, u, m in [("ph", "pH", 14), ("cod", "mg/L", 10_000), ("flow", "m3/h", 50_000)]
}
GROUNDWATER = {
    "level": {"unit": "m", "min": 0, "max": 100},
    "volume": {"unit": "m3", "min": 0, "max": 1_000_000_000},
    "temp": {"unit": "C", "min": 10, "max": 42},
}


def site(id: str, kind: str, owner: str, parameters: str, **extra: Any) -> dict[str, Any]:
    body = {"id": id, "name": id, "kind": kind, "owner": owner, "lat": 11.9, "lon": 108.4}
    return body | {"parameters": parameters, "interval_s": 300} | extra


def water_document() -> dict[str, Any]:
    """The factories' registry plus two wastewater outlets, two licensed production wells
    (GW-1: 500 m³/day and 30 m; GW-2: 20 m only) and a state monitoring well without one."""
    doc = copy.deepcopy(REGISTRY_DOC)
    doc["parameter_sets"] |= {"wastewater": WASTEWATER, "groundwater": GROUNDWATER}
    doc["stations"] += [
        site("WW-1", "wastewater", "ENT-A", "wastewater"),
        site("WW-2", "wastewater", "ENT-B", "wastewater"),
        site(
            "GW-1",
            "groundwater",
            "ENT-A",
            "groundwater",
            interval_s=3600,
            licence={"number": "7/GP", "permitted_m3_day": 500, "max_level_m": 30},
        ),
        site("GW-2", "groundwater", "ENT-B", "groundwater", licence={"max_level_m": 20}),
        site("GWM-1", "groundwater", "state", "groundwater"),
    ]
    return doc


def water_registry(tmp_path: Path, doc: dict[str, Any] | None = None) -> StationRegistry:
    path = tmp_path / "water.yaml"
    path.write_text(yaml.safe_dump(water_document() if doc is None else doc))
    return StationRegistry.from_file(path)


def engine(tmp_path: Path, *rules: dict[str, Any], **config: Any) -> AnalyticsEngine:
    base: dict[str, Any] = {"rules": list(rules), "anomaly": {"enabled": False}}
    return AnalyticsEngine(AnalyticsConfig.model_validate(base | config), water_registry(tmp_path))


def rule(id: str, parameter: str, **kw: Any) -> dict[str, Any]:
    return {"id": id, "name": id, "parameter": parameter} | kw


def feed(
    e: AnalyticsEngine, station: str, values: list[float], parameter: str, **reading: Any
) -> list[RuleTransition]:
    out: list[RuleTransition] = []
    for i, v in enumerate(values):
        ts = DAY0 + i * MINUTE
        out += e.evaluate([Reading(station, ts, {parameter: v}, ts, **reading)]).transitions
    return out


def seen(transitions: list[RuleTransition]) -> list[tuple[str, str, bool, float, float]]:
    return [(t.rule_id, t.station_id, t.firing, t.value, t.limit) for t in transitions]


# --------------------------------------------------------------------------- wastewater


def test_a_ph_range_fires_below_and_above_it(tmp_path: Path) -> None:
    e = engine(tmp_path, rule("ph", "ph", kinds=["wastewater"], below=5.5, above=9))
    transitions = feed(e, "WW-1", [7.0, 5.0, 5.5, 7.2, 9.5, 10.0, 4.0, 9.0], "ph")
    assert seen(transitions) == [
        ("ph", "WW-1", True, 5.0, 5.5),
        # 5.5 is the range's edge: inside
        ("ph", "WW-1", False, 5.5, 5.5),
        ("ph", "WW-1", True, 9.5, 9.0),
        # 10 and 4 stay outside: the same excursion; 9 is the edge again
        ("ph", "WW-1", False, 9.0, 9.0),
    ]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"below": 9, "above": 5.5}, "below", "a range needs `below` under `above`"),
        ({"below": 5.5, "above": 9, "clear_at": 8}, "clear_at", "takes no clear_at"),
        ({"above_licence": "max_level_m", "above": 3}, "above_licence", "not both"),
        ({"above_licence": "max_level_m", "window": "1h", "ignore_status_missing": True}, "", ""),
    ],
)
def test_rule_forms_that_do_not_hold(fields: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        RuleConfig.model_validate(rule("r", "ph") | fields)
    text = str(error.value)
    assert message in text and (not field or field in text)


def test_values_without_a_status_can_be_left_out_by_a_rule(tmp_path: Path) -> None:
    e = engine(
        tmp_path,
        rule("cod_all", "cod", kinds=["wastewater"], above=150),
        rule("cod_confirmed", "cod", kinds=["wastewater"], above=150, ignore_status_missing=True),
    )
    unconfirmed = feed(e, "WW-1", [200.0], "cod", status_missing=frozenset({"cod"}))
    assert [t.rule_id for t in unconfirmed] == ["cod_all"]
    ts = DAY0 + HOUR_MS
    confirmed = e.evaluate([Reading("WW-1", ts, {"cod": 210.0}, ts)]).transitions
    assert [t.rule_id for t in confirmed] == ["cod_confirmed"]  # cod_all fires already


def test_a_permit_rule_replaces_the_kind_wide_one_at_its_station(tmp_path: Path) -> None:
    e = engine(
        tmp_path,
        rule("ww_cod", "cod", kinds=["wastewater"], above=150),
        rule("ww_cod_ww1", "cod", stations=["WW-1"], above=75, replaces="ww_cod"),
    )
    assert seen(feed(e, "WW-1", [100.0, 200.0], "cod")) == [
        ("ww_cod_ww1", "WW-1", True, 100.0, 75.0)
    ]
    assert seen(feed(e, "WW-2", [100.0, 200.0], "cod")) == [("ww_cod", "WW-2", True, 200.0, 150)]


def test_a_rule_may_replace_only_a_rule_of_its_parameter(tmp_path: Path) -> None:
    rules = [
        RuleConfig.model_validate(r)
        for r in (
            rule("ww_cod", "cod", kinds=["wastewater"], above=150),
            rule("ww_ph_ww1", "ph", stations=["WW-1"], below=6, above=9, replaces="ww_cod"),
            rule("ww_x", "cod", stations=["WW-1"], above=80, replaces="nothing"),
        )
    ]
    assert rule_problems(rules, water_registry(tmp_path)) == {
        "ww_ph_ww1": "replaces 'ww_cod', which is no rule of parameter 'ph'",
        "ww_x": "replaces 'nothing', which is no rule of parameter 'cod'",
    }


def test_the_shipped_wastewater_rules_cover_what_loggers_send() -> None:
    rules = {r.parameter: r for r in AnalyticsConfig().rules if r.kinds == ["wastewater"]}
    assert sorted(rules) == sorted(
        ["ph", "cod", "bod5", "tss", "nh4", "tn", "tp", "temp", "color", "flow"]
    )
    assert (rules["ph"].below, rules["ph"].above, rules["ph"].direction) == (5.5, 9.0, "range")
    assert all("QCVN 40:2025" in r.name for r in rules.values())


# --------------------------------------------------------------------------- groundwater


def test_the_level_limit_comes_from_each_wells_licence(tmp_path: Path) -> None:
    e = engine(
        tmp_path, rule("gw_level", "level", kinds=["groundwater"], above_licence="max_level_m")
    )
    assert seen(feed(e, "GW-1", [25.0, 31.5, 29.0], "level")) == [
        ("gw_level", "GW-1", True, 31.5, 30.0),
        ("gw_level", "GW-1", False, 29.0, 30.0),
    ]
    assert seen(feed(e, "GW-2", [25.0], "level")) == [("gw_level", "GW-2", True, 25.0, 20.0)]
    assert feed(e, "GWM-1", [99.0], "level") == []  # no licence: not selected


COUNTER_DAY = [  # (minutes after local midnight, counter m³, volume_day m³ by hand)
    (30, 9_000.0, 0.0),  # the first value: nothing counted yet
    (6 * 60, 9_400.0, 400.0),
    (12 * 60, 9_900.0, 900.0),
    (13 * 60, 200.0, 1_200.0),  # roll-over at 10 000: 100 + 200
    (14 * 60, 50.0, 1_200.0),  # a drop from low in the range: a reset, counted from 50
    (15 * 60, 80.0, 1_230.0),
    (24 * 60 + 30, 100.0, 20.0),  # next local day: its interval counts for the new day
]


def counter_readings() -> list[Reading]:
    return [
        Reading("GW-1", DAY0 + m * MINUTE, {"volume": v}, DAY0 + m * MINUTE)
        for m, v, _ in COUNTER_DAY
    ]


def volume_lines(lines: list[str]) -> list[float]:
    return [float(x.split("volume_day=")[1].split()[0]) for x in lines if x.startswith("abstr")]


def test_daily_volume_from_a_counter_with_a_roll_over_and_a_reset(tmp_path: Path) -> None:
    counter = {"counter_max_m3": 10_000}
    one_by_one = engine(tmp_path, abstraction=counter)
    totals = [
        one_by_one.evaluate([r]).station_metrics["GW-1"]["volume_day"] for r in counter_readings()
    ]
    assert totals == [expected for _, _, expected in COUNTER_DAY]
    in_one_batch = engine(tmp_path, abstraction=counter).evaluate(counter_readings())
    assert volume_lines(in_one_batch.lines) == totals


def test_without_a_counter_maximum_every_drop_is_a_reset(tmp_path: Path) -> None:
    out = engine(tmp_path).evaluate(counter_readings())
    assert volume_lines(out.lines) == [0.0, 400.0, 900.0, 900.0, 900.0, 930.0, 20.0]


def test_a_late_counter_value_is_left_out(tmp_path: Path) -> None:
    e = engine(tmp_path)
    readings = counter_readings()
    e.evaluate(readings[:3])
    assert volume_lines(e.evaluate([readings[1]]).lines) == []
    assert (
        e.evaluate([readings[5]]).station_metrics["GW-1"]["volume_day"] == 900.0
    )  # 9 900 → 80: a reset


def test_daily_volume_above_the_licence(tmp_path: Path) -> None:
    e = engine(
        tmp_path,
        rule("gw_day", "volume_day", kinds=["groundwater"], above_licence="permitted_m3_day"),
        abstraction={"counter_max_m3": 10_000},
    )
    transitions = [t for r in counter_readings() for t in e.evaluate([r]).transitions]
    assert seen(transitions) == [
        ("gw_day", "GW-1", True, 900.0, 500.0),
        ("gw_day", "GW-1", False, 20.0, 500.0),
    ]


def test_a_well_silent_for_more_than_an_hour_is_offline(tmp_path: Path) -> None:
    e = engine(tmp_path, anomaly={"enabled": True})
    e.tick(DAY0)
    ts = DAY0 + 10 * MINUTE
    e.evaluate([Reading("GW-1", ts, {"level": 12.0}, ts)])

    def offline(now: int) -> list[tuple[bool, float]]:
        out = e.tick(now).transitions
        return [
            (t.firing, t.limit)
            for t in out
            if (t.rule_id, t.station_id) == ("anomaly.offline", "GW-1")
        ]

    assert offline(ts + HOUR_MS) == []  # one hour is allowed (interval_s 3600: 3 h otherwise)
    assert offline(ts + HOUR_MS + 1000) == [(True, 3600.0)]


def test_implausible_well_values_are_refused(tmp_path: Path) -> None:
    validator = ReadingValidator(water_registry(tmp_path), IngestConfig())
    for temp in (0.0, 83.39):  # the sensor faults of a real utility's data
        reading, rejections = decode(validator, "GW-1", payload({"temp": temp, "level": 12.5}))
        assert reading is not None and reading.values == {"level": 12.5}
        assert [(r.parameter, r.reason) for r in rejections] == [
            ("temp", RejectReason.OUT_OF_RANGE)
        ]


def test_the_licence_block_is_checked(tmp_path: Path) -> None:
    def problems(licence: object, kind: str = "groundwater") -> str:
        doc = water_document()
        doc["stations"][-1] = doc["stations"][-1] | {"kind": kind, "licence": licence}
        with pytest.raises(ConfigError) as error:
            water_registry(tmp_path, doc)
        return "\n".join(error.value.problems)

    assert "licence.max_depth: unknown key" in problems({"max_level_m": 30, "max_depth": 40})
    assert "greater than 0" in problems({"max_level_m": 0})
    assert "less than or equal to 500" in problems({"max_level_m": 600})
    assert "less than or equal to 1000000" in problems({"permitted_m3_day": 2e6})
    assert "permitted_m3_day, max_level_m or both" in problems({"number": "1/GP"})
    assert "only groundwater wells have a licence" in problems({"max_level_m": 30}, "wastewater")
    well = water_registry(tmp_path).get("GW-1")
    assert well is not None and well.licence is not None
    assert (well.licence.permitted_m3_day, well.licence.max_level_m) == (500, 30)


# --------------------------------------------------------------------------- backtest

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(
    tmp_path: Path, aiohttp_client: Callable[[web.Application], Awaitable[Client]]
) -> Client:
    """The backtest API over two days of WW-1 pH every 5 minutes, acid (4.8) from hour 10 to
    11 on the first day and alkaline (9.6) from hour 30 to 30:30."""
    readings = []
    for i in range(2 * 24 * 12):
        ts = DAY0 + i * 5 * MINUTE
        ph = 4.8 if 120 <= i < 132 else 9.6 if 360 <= i < 366 else 7.1
        readings.append(Reading("WW-1", ts, {"ph": ph}, ts))
    live = AnalyticsEngine(AnalyticsConfig(), water_registry(tmp_path))
    app = web.Application()
    app[ANALYTICS] = lambda: live
    app[appkeys.STORE] = FakeStore(rows_of(readings))  # type: ignore[assignment]
    add_analytics_routes(app)
    return await aiohttp_client(app)


async def test_backtest_of_the_shipped_ph_rule(client: Client) -> None:
    ph_rule = next(r for r in AnalyticsConfig().rules if r.id == "ww_ph")
    body = {
        "rule": ph_rule.model_dump(mode="json", exclude_defaults=True),
        "start": iso(DAY0),
        "end": iso(DAY0 + 48 * HOUR_MS),
    }
    response = await client.post("/api/v1/rules/backtest", json=body)
    out = await response.json()
    assert response.status == 200, out
    assert [(e["firing"], e["value"], e["limit"], e["time"]) for e in out["events"]] == [
        (True, 4.8, 5.5, iso(DAY0 + 10 * HOUR_MS)),
        (False, 7.1, 5.5, iso(DAY0 + 11 * HOUR_MS)),  # a clear names the end crossed
        (True, 9.6, 9.0, iso(DAY0 + 30 * HOUR_MS)),
        (False, 7.1, 9.0, iso(DAY0 + 30 * HOUR_MS + 30 * MINUTE)),
    ]
    assert (out["summary"]["stations"], out["summary"]["stations_alerted"]) == (2, 1)


# --------------------------------------------------------------------------- demo province


def test_the_demo_province_has_the_seeds_groundwater_network() -> None:
    reg = StationRegistry.from_file(Path("config/stations.yaml"))
    wells = [s for s in reg if s.kind == "groundwater"]
    licensed = {s.owner for s in wells if s.licence is not None}
    assert len(licensed) == 18 and "state" not in licensed
    assert [s.id for s in wells if s.owner == "state"] == ["GWM-01", "GWM-02", "GWM-03"]
    assert all(s.licence is None and "volume" not in s.parameters for s in wells[-3:])


def test_the_well_model_counts_up_and_now_and_then_resets() -> None:
    model = StationModel("groundwater", random.Random(4), 3, parameters=GROUNDWATER)
    days = [model.values(DAY0 / 1000 + i * 3600) for i in range(24 * 120)]  # hourly, 120 days
    assert {tuple(sorted(d)) for d in days} == {("level", "temp", "volume")}
    volume = np.array([d["volume"] for d in days])
    drops = np.flatnonzero(np.diff(volume) < 0)
    assert 1 <= len(drops) <= 10  # about monthly
    assert all(0 <= d["level"] <= 34 and 10 <= d["temp"] <= 42 for d in days)
