"""Line protocol of vehicle positions and of refused fixes."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from ioc.messages import PositionFix, PositionRejection, Rejection, RejectReason
from store.lines import rejection_line
from store.position_lines import position_line, position_lines, position_rejection_line

NOW = 1_795_420_800_000


def test_a_minimal_fix() -> None:
    line = position_line(PositionFix("49A12345", NOW, 10.5, 106.25, 42.0))
    assert line == f"position,vehicle=49A12345 lat=10.5,lon=106.25,speed=42.0 {NOW}"


def test_every_field_flags_and_attributes() -> None:
    fix = PositionFix(
        "51LD12345",
        NOW,
        10.5,
        106.25,
        42.0,
        heading=90.0,
        accuracy_m=4.5,
        altitude_m=12.0,
        ignition=True,
        door=False,
        driver='79"0\\1',
        odometer_km=12.5,
        attributes=(("fuel", 24), ("note", 'say "hi"'), ("charge", True)),
        flags=frozenset({"late", "gps_jump"}),
    )
    line = position_line(fix)
    assert line.startswith("position,vehicle=51LD12345 lat=10.5,lon=106.25,speed=42.0,")
    assert ",heading=90.0,accuracy=4.5,altitude=12.0,odometer=12.5," in line
    assert ",ignition=true,door=false," in line
    assert r',driver="79\"0\\1",' in line
    assert ',flags="gps_jump,late",gps_jump=true,' in line
    attributes = re.search(r'attributes="(.*)" \d+$', line)
    assert attributes is not None
    unescaped = attributes.group(1).replace('\\"', '"').replace("\\\\", "\\")
    assert json.loads(unescaped) == {"fuel": 24, "note": 'say "hi"', "charge": True}
    assert line.endswith(f" {NOW}")
    assert position_lines([fix, fix]) == [line, line]


def test_refusals_have_the_stations_shape() -> None:
    station = Rejection("mqtt", RejectReason.OUT_OF_RANGE, "too fast", NOW, "AIR-1", "pm25", "{}")
    vehicle = PositionRejection(
        "mqtt", RejectReason.OUT_OF_RANGE, "too fast", NOW, "49A12345", "speed", None, "{}"
    )
    assert position_rejection_line(vehicle, NOW) == rejection_line(station, NOW).replace(
        "station=AIR-1", "vehicle=49A12345"
    ).replace('parameter="pm25"', 'parameter="speed"')


def test_unknown_vehicles_are_no_tag_and_batches_carry_the_index() -> None:
    refused = PositionRejection(
        "osmand", RejectReason.UNKNOWN_VEHICLE, 'device "x"', NOW, "x y,z", None, 3, "a\nb"
    )
    line = position_rejection_line(refused, NOW + 1, tagged=False)
    assert line == (
        "rejected,reason=unknown_vehicle,source=osmand "
        'detail="device \\"x\\"",index=3i,parameter="",sent_vehicle="x y,z",payload="a\nb" '
        f"{NOW + 1}"
    )
    tagged = position_rejection_line(refused, NOW, tagged=True)
    assert tagged.startswith(r"rejected,reason=unknown_vehicle,source=osmand,vehicle=x\ y\,z ")


@given(
    st.text(max_size=20),
    st.text(max_size=40),
    st.dictionaries(st.text(max_size=10), st.text(max_size=10) | st.integers(), max_size=4),
)
def test_any_text_is_escaped(vehicle: str, driver: str, attributes: dict[str, object]) -> None:
    fix = PositionFix(
        vehicle or "x",
        NOW,
        1.0,
        2.0,
        3.0,
        driver=driver,
        attributes=tuple(attributes.items()),  # type: ignore[arg-type]
    )
    line = position_line(fix)
    head, _, rest = line.partition(" lat=")
    assert head.startswith("position,vehicle=")
    assert line.endswith(f" {NOW}")
    # every quote inside a string field is escaped: the quotes that delimit fields pair up
    unescaped = re.sub(r"\\.", "", rest)
    assert unescaped.count('"') % 2 == 0
