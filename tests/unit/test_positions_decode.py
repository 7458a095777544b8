"""MQTT vehicle positions: topic, one fix or a backlog, per-fix refusals, attributes, and
properties over any bytes and any fix object."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.positions import PositionDecoder, fix_time, topic_vehicle
from ingest.validate import Origin
from ioc.messages import PositionFix, PositionRejection, RejectReason
from ioc.vehicles_config import VehiclesConfig

TOPIC = "ioc/v1/vehicles/49A-123.45/positions"
NOW = 1_795_420_800_000  # 2026-11-23T08:00:00Z
FIX = {"ts": NOW - 30_000, "lat": 10.77, "lon": 106.70, "speed": 42.5}


def decode(
    payload: bytes, topic: str = TOPIC, config: VehiclesConfig | None = None
) -> tuple[list[PositionFix], list[PositionRejection]]:
    rejections: list[PositionRejection] = []
    decoder = PositionDecoder(config or VehiclesConfig())
    fixes = decoder.decode_message(Origin("mqtt", NOW, payload), topic, rejections)
    return fixes, rejections


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_one_fix_with_every_field() -> None:
    fix = FIX | {
        "heading": 90,
        "accuracy": 4.5,
        "altitude": 12,
        "ignition": True,
        "door": False,
        "driver": "790123456789",
        "odometer": 12345.6,
    }
    fixes, rejections = decode(body(fix))
    assert rejections == []
    assert fixes == [
        PositionFix(
            vehicle="49A12345",
            ts_ms=NOW - 30_000,
            lat=10.77,
            lon=106.70,
            speed_kmh=42.5,
            received_ms=NOW,
            heading=90.0,
            accuracy_m=4.5,
            altitude_m=12.0,
            ignition=True,
            door=False,
            driver="790123456789",
            odometer_km=12345.6,
        )
    ]


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (NOW, NOW),
        (NOW // 1000, NOW),  # seconds (below 2^31)
        ("2026-11-23T15:00:00+07:00", NOW),
        ("2026-11-23T08:00:00Z", NOW),
        (1_795_420_800.5, NOW + 500),
    ],
)
def test_times_in_ms_seconds_or_iso(ts: object, expected: int) -> None:
    assert fix_time(ts) == (expected, "")


@pytest.mark.parametrize(
    "ts", [None, "2026-11-22T15:00:00", "yesterday", True, [1], 1e300, float("nan")]
)
def test_bad_times_are_refused(ts: object) -> None:
    _, problem = fix_time(ts)
    assert problem and "`ts`" in problem


def test_a_backlog_keeps_good_fixes_and_refuses_bad_ones_with_their_index() -> None:
    batch = [
        FIX,
        FIX | {"ts": NOW - 20_000, "lat": "ten"},
        "not a fix",
        FIX | {"ts": NOW - 10_000},
        {"lat": 1, "lon": 2, "speed": 3},
        FIX | {"ts": NOW, "speed": None},
    ]
    fixes, rejections = decode(body(batch))
    assert [f.ts_ms for f in fixes] == [NOW - 30_000, NOW - 10_000]
    assert [(r.index, r.reason, r.parameter) for r in rejections] == [
        (1, RejectReason.NOT_NUMERIC, "lat"),
        (2, RejectReason.MALFORMED, None),
        (4, RejectReason.BAD_TIMESTAMP, "ts"),
        (5, RejectReason.MALFORMED, "speed"),
    ]
    assert all(r.vehicle == "49A12345" for r in rejections)
    assert json.loads(rejections[0].payload)["lat"] == "ten"  # the fix, not the whole batch
    assert rejections[0].detail.startswith("fix 1: ")


def test_a_batch_above_the_limit_refuses_the_rest() -> None:
    batch = [FIX | {"ts": NOW - i * 1000} for i in range(5)]
    fixes, rejections = decode(body(batch), config=VehiclesConfig(max_batch_fixes=3))
    assert len(fixes) == 3
    assert [r.reason for r in rejections] == [RejectReason.TOO_LARGE]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", RejectReason.MALFORMED),
        (b"null", RejectReason.MALFORMED),
        (b"[]", RejectReason.MALFORMED),
        (b"42", RejectReason.MALFORMED),
        (b"\xff\xfe\xfa", RejectReason.MALFORMED),
    ],
)
def test_unreadable_messages_are_refused_whole(payload: bytes, reason: RejectReason) -> None:
    fixes, rejections = decode(payload)
    assert fixes == []
    assert [r.reason for r in rejections] == [reason]


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("ioc/v1/vehicles/XYZ/positions", RejectReason.INVALID_PLATE),
        ("ioc/v1/vehicles/49A12345/readings", RejectReason.MALFORMED),
        ("other/vehicles/49A12345/positions", RejectReason.MALFORMED),
    ],
)
def test_bad_topics(topic: str, reason: RejectReason) -> None:
    fixes, rejections = decode(body(FIX), topic)
    assert fixes == [] and [r.reason for r in rejections] == [reason]


def test_topic_vehicle_is_normalised() -> None:
    assert topic_vehicle("ioc/v1/vehicles/51ld-123.45/positions") == ("51LD12345", None, "")
    assert topic_vehicle("x/vehicles/29A1234/positions", "x")[0] == "29A1234"


def test_unknown_keys_become_bounded_attributes() -> None:
    fix = FIX | {
        "fuel": 24,
        "rpm": 933.5,
        "engine": "on",
        "alarm": False,
        "nested": {"a": 1},
        "nothing": None,
        "long": "x" * 300,
    }
    [decoded], rejections = decode(body(fix))
    assert rejections == []
    assert decoded.attributes == (("fuel", 24), ("rpm", 933.5), ("engine", "on"), ("alarm", False))
    assert decoded.flags == {"attributes_truncated"}

    many = FIX | {f"k{i}": i for i in range(50)}
    [decoded], _ = decode(body(many), config=VehiclesConfig(max_attributes=10))
    assert len(decoded.attributes) == 10 and "attributes_truncated" in decoded.flags


def test_unreadable_optional_fields_are_left_out_and_flagged() -> None:
    fix = FIX | {
        "heading": 400,
        "accuracy": -1,
        "altitude": "high",
        "ignition": "yes",
        "door": 1,
        "driver": "",
        "odometer": -5,
    }
    [decoded], rejections = decode(body(fix))
    assert rejections == []
    assert (decoded.heading, decoded.accuracy_m, decoded.altitude_m) == (None, None, None)
    assert (decoded.ignition, decoded.door, decoded.driver, decoded.odometer_km) == (
        None,
        True,
        None,
        None,
    )
    assert decoded.flags == {
        "invalid_heading",
        "invalid_altitude",
        "invalid_ignition",
        "invalid_driver",
        "invalid_odometer",
    }


def test_heading_360_is_north_and_a_negative_heading_unknown() -> None:
    [north], _ = decode(body(FIX | {"heading": 360}))
    [unknown], _ = decode(body(FIX | {"heading": -1}))
    assert north.heading == 0.0 and unknown.heading is None and not unknown.flags


def test_nan_and_huge_numbers_are_not_numeric() -> None:
    fixes, rejections = decode(b'{"ts": 1795420770000, "lat": NaN, "lon": 1, "speed": 1}')
    assert fixes == [] and rejections[0].reason is RejectReason.NOT_NUMERIC
    fixes, rejections = decode(b'{"ts": 1795420770000, "lat": 1, "lon": 1, "speed": 1e400}')
    assert fixes == [] and rejections[0].reason is RejectReason.NOT_NUMERIC


# -- properties ------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    [
        "ts",
        "lat",
        "lon",
        "speed",
        "heading",
        "accuracy",
        "altitude",
        "ignition",
        "door",
        "driver",
        "odometer",
        "other",
    ]
)


@given(st.binary(max_size=300))
def test_any_bytes_give_fixes_or_reasons(payload: bytes) -> None:
    fixes, rejections = decode(payload)
    assert all(isinstance(f, PositionFix) for f in fixes)
    assert all(isinstance(r.reason, RejectReason) and r.detail for r in rejections)


@given(st.lists(st.dictionaries(FIELDS, JSON) | JSON, max_size=6))
def test_any_batch_accounts_for_every_fix(batch: list[Any]) -> None:
    try:
        payload = json.dumps(batch, allow_nan=True).encode()
    except (ValueError, TypeError):
        return
    fixes, rejections = decode(payload)
    if not batch:
        assert [r.reason for r in rejections] == [RejectReason.MALFORMED]
        return
    refused = {r.index for r in rejections}
    assert len(fixes) + len(refused) == len(batch)
    for fix in fixes:
        assert isinstance(fix.lat, float) and isinstance(fix.speed_kmh, float)
        assert fix.vehicle == "49A12345"


@given(
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.floats(0, 300),
    st.integers(NOW - 10**9, NOW + 10**9),
)
def test_valid_fixes_round_trip(lat: float, lon: float, speed: float, ts: int) -> None:
    [fix], rejections = decode(body({"ts": ts, "lat": lat, "lon": lon, "speed": speed}))
    assert rejections == []
    assert (fix.ts_ms, fix.lat, fix.lon, fix.speed_kmh) == (ts, lat, lon, speed)
