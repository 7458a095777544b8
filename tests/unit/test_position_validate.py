"""Validation of vehicle fixes: registry, owner, time, area, speed, duplicates, late backlogs
and GPS jumps; properties over random fixes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.position_validate import PositionValidator, distance_m
from ingest.positions import PositionDecoder
from ingest.validate import Origin
from ioc.messages import PositionFix, PositionRejection, RejectReason
from ioc.vehicles_config import AreaConfig, VehiclesConfig

NOW = 1_795_420_800_000
HCM = (10.7769, 106.7009)  # Ho Chi Minh City


@dataclass(frozen=True)
class Vehicle:
    owner: str | None = None


VEHICLES = {"49A12345": Vehicle("ENT-01"), "51LD12345": Vehicle()}


def fix(
    ts_ms: int = NOW - 60_000,
    lat: float = HCM[0],
    lon: float = HCM[1],
    speed: float = 40.0,
    vehicle: str = "49A12345",
) -> PositionFix:
    return PositionFix(vehicle, ts_ms, lat, lon, speed, received_ms=NOW)


def check(
    validator: PositionValidator, *fixes: PositionFix, owner: str | None = None
) -> tuple[list[PositionFix], list[PositionRejection]]:
    rejections: list[PositionRejection] = []
    kept = validator.validate_all(Origin("mqtt", NOW, b"{}", owner), fixes, rejections)
    return kept, rejections


@pytest.fixture
def validator() -> PositionValidator:
    return PositionValidator(VEHICLES, VehiclesConfig())


def reasons(rejections: list[PositionRejection]) -> list[RejectReason]:
    return [r.reason for r in rejections]


def test_a_good_fix_is_kept_as_it_is(validator: PositionValidator) -> None:
    one = fix()
    kept, rejections = check(validator, one)
    assert kept == [one] and kept[0] is one and rejections == []


@pytest.mark.parametrize(
    ("bad", "reason", "parameter"),
    [
        (fix(vehicle="99Z99999"), RejectReason.UNKNOWN_VEHICLE, None),
        (fix(ts_ms=NOW + 301_000), RejectReason.BAD_TIMESTAMP, "ts"),
        (fix(ts_ms=NOW - 8 * 86_400_000), RejectReason.BAD_TIMESTAMP, "ts"),
        (fix(lat=91.0), RejectReason.OUT_OF_RANGE, None),
        (fix(lat=0.0, lon=0.0), RejectReason.OUTSIDE_AREA, None),
        (fix(lat=35.68, lon=139.69), RejectReason.OUTSIDE_AREA, None),
        (fix(speed=250.5), RejectReason.OUT_OF_RANGE, "speed"),
        (fix(speed=-1.0), RejectReason.OUT_OF_RANGE, "speed"),
        (fix(speed=float("nan")), RejectReason.OUT_OF_RANGE, "speed"),
    ],
)
def test_refusals_have_their_reason(
    validator: PositionValidator, bad: PositionFix, reason: RejectReason, parameter: str | None
) -> None:
    kept, rejections = check(validator, bad)
    assert kept == []
    assert [(r.reason, r.parameter, r.vehicle) for r in rejections] == [
        (reason, parameter, bad.vehicle)
    ]


def test_the_area_margin(validator: PositionValidator) -> None:
    config = VehiclesConfig(
        area=AreaConfig(min_lat=10.0, max_lat=11.0, min_lon=106.0, max_lon=107.0, margin_km=10)
    )
    strict = PositionValidator(VEHICLES, config)
    inside, _ = check(strict, fix(lat=9.95, ts_ms=NOW - 1000))  # 5.6 km south of the box
    outside, rejections = check(strict, fix(lat=9.8, ts_ms=NOW - 2000))  # 22 km south
    assert len(inside) == 1 and outside == []
    assert reasons(rejections) == [RejectReason.OUTSIDE_AREA]


def test_owner_must_match_for_enterprises(validator: PositionValidator) -> None:
    assert check(validator, fix(), owner="ENT-01")[1] == []
    _, rejections = check(validator, fix(ts_ms=NOW - 1000), owner="ENT-02")
    assert reasons(rejections) == [RejectReason.NOT_OWNER]


def test_duplicates_are_refused_late_fixes_accepted_and_flagged(
    validator: PositionValidator,
) -> None:
    kept, _ = check(validator, fix(NOW - 60_000), fix(NOW - 30_000))
    assert [f.flags for f in kept] == [frozenset(), frozenset()]
    kept, rejections = check(validator, fix(NOW - 30_000), fix(NOW - 45_000), fix(NOW - 90_000))
    assert reasons(rejections) == [RejectReason.DUPLICATE]
    assert [(f.ts_ms, f.flags) for f in kept] == [
        (NOW - 45_000, {"late"}),
        (NOW - 90_000, {"late"}),
    ]
    # another vehicle at the same time is no duplicate
    assert check(validator, fix(NOW - 30_000, vehicle="51LD12345"))[1] == []


def test_forget_lets_a_fix_come_again(validator: PositionValidator) -> None:
    kept, _ = check(validator, fix())
    validator.forget(kept)
    assert check(validator, fix())[1] == []


def test_a_gps_jump_is_flagged_and_kept_and_does_not_spoil_the_next_fix(
    validator: PositionValidator,
) -> None:
    # 30 s apart: 100 m is fine, 20 km (2,400 km/h) is a jump
    kept, rejections = check(
        validator,
        fix(NOW - 90_000),
        fix(NOW - 60_000, lat=HCM[0] + 0.18),  # ~20 km north
        fix(NOW - 30_000, lat=HCM[0] + 0.001),  # back near the first one
    )
    assert rejections == []
    assert [f.flags for f in kept] == [frozenset(), {"gps_jump"}, frozenset()]


def test_a_real_relocation_flags_only_its_first_fix(validator: PositionValidator) -> None:
    far = HCM[0] + 0.5  # 55 km
    kept, _ = check(
        validator,
        fix(NOW - 120_000),
        fix(NOW - 90_000, lat=far),
        fix(NOW - 60_000, lat=far + 0.001),
        fix(NOW - 30_000, lat=far + 0.002),
    )
    assert [f.flags for f in kept] == [frozenset(), {"gps_jump"}, frozenset(), frozenset()]


def test_a_long_gap_is_no_jump(validator: PositionValidator) -> None:
    kept, _ = check(
        validator, fix(NOW - 3_600_000), fix(NOW - 1_800_000, lat=HCM[0] + 0.5)
    )  # 55 km in 30 min: 111 km/h
    assert [f.flags for f in kept] == [frozenset(), frozenset()]


def test_a_late_fix_is_checked_against_its_predecessor_in_event_time(
    validator: PositionValidator,
) -> None:
    check(validator, fix(NOW - 120_000), fix(NOW - 60_000))
    kept, _ = check(validator, fix(NOW - 90_000, lat=HCM[0] + 0.3))
    assert kept[0].flags == {"late", "gps_jump"}


def test_the_dedup_window_is_bounded() -> None:
    small = PositionValidator(VEHICLES, VehiclesConfig(dedup_window_fixes=3))
    check(small, *(fix(NOW - i * 30_000) for i in range(10, 0, -1)))
    assert check(small, fix(NOW - 30_000))[1] != []  # still remembered
    assert check(small, fix(NOW - 300_000))[1] == []  # forgotten: stored again


def test_distance() -> None:
    assert distance_m(10.0, 106.0, 11.0, 106.0) == pytest.approx(111_195, rel=1e-3)
    assert distance_m(*HCM, *HCM) == 0.0


@given(
    st.lists(
        st.tuples(
            st.integers(NOW - 86_400_000, NOW + 60_000),
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(-10, 400),
            st.sampled_from(["49A12345", "51LD12345", "30E00555"]),
        ),
        max_size=20,
    )
)
def test_every_fix_is_kept_or_refused_with_a_reason(
    rows: list[tuple[int, float, float, float, str]],
) -> None:
    validator = PositionValidator(VEHICLES, VehiclesConfig())
    fixes = [fix(ts, lat, lon, speed, vehicle) for ts, lat, lon, speed, vehicle in rows]
    kept, rejections = check(validator, *fixes)
    assert len(kept) + len(rejections) == len(fixes)
    for one in kept:
        assert 0 <= one.speed_kmh <= 250 and one.vehicle in VEHICLES
        assert one.flags <= {"gps_jump", "late"}
    seen = [(f.vehicle, f.ts_ms) for f in kept]
    assert len(seen) == len(set(seen))


def test_configuration_rejects_unknown_keys_and_bad_bounds() -> None:
    with pytest.raises(ValueError, match="extra"):
        VehiclesConfig(speed_limit=80)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        VehiclesConfig(max_speed_kmh=0)
    with pytest.raises(ValueError, match="min_lat < max_lat"):
        AreaConfig(min_lat=12, max_lat=11)
    assert VehiclesConfig.model_validate({"area": {"margin_km": 5}}).area.margin_km == 5


@given(st.binary(max_size=400))
def test_decode_then_validate_never_raises(payload: bytes) -> None:
    rejections: list[PositionRejection] = []
    origin = Origin("mqtt", NOW, payload)
    config = VehiclesConfig()
    fixes = PositionDecoder(config).decode_message(
        origin, "ioc/v1/vehicles/49A12345/positions", rejections
    )
    kept = PositionValidator(VEHICLES, config).validate_all(origin, fixes, rejections)
    assert len(kept) <= len(fixes)
    assert all(isinstance(r.reason, RejectReason) for r in rejections)


def test_a_refusal_in_a_batch_keeps_the_fix_not_the_whole_batch(
    validator: PositionValidator,
) -> None:
    rejections: list[PositionRejection] = []
    origin = Origin("mqtt", NOW, b' [{"ts": 1}, "many more fixes"]')
    validator.validate(origin, fix(speed=300.0), rejections)
    assert rejections[0].payload == (
        f'{{"ts":{NOW - 60_000},"lat":{HCM[0]},"lon":{HCM[1]},"speed":300.0}}'
    )
    single: list[PositionRejection] = []
    validator.validate(Origin("mqtt", NOW, b'{"speed": 300}'), fix(speed=300.0), single)
    assert single[0].payload == '{"speed": 300}'
