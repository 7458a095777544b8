"""OsmAnd (Traccar's HTTP protocol): every request string of Traccar's own decoder test
(src/test/java/org/traccar/protocol/OsmAndProtocolDecoderTest.java) decodes to the values
Traccar's decoder gives, the per-device secret, speed units, and properties over any input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.osmand import OsmAndDecoder, OsmAndDevice, OsmAndRefused, hash_device_key
from ioc.messages import PositionFix, RejectReason
from ioc.vehicles_config import OsmAndDeviceConfig, VehiclesConfig

NOW = 1_795_420_800_000
DEVICES = {
    "123456": OsmAndDevice("49A12345"),
    "902064": OsmAndDevice("51LD12345"),
    "353861053849681": OsmAndDevice("29A123456"),
    "861001000719969": OsmAndDevice("30E00555"),
    "123456789012345": OsmAndDevice("49B12345"),
    "48241179": OsmAndDevice("49C12345"),
    "658765": OsmAndDevice("49D12345"),
    "8737767034": OsmAndDevice("49E12345"),
}


def ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).astimezone(UTC).timestamp() * 1000)


def decoder(config: VehiclesConfig | None = None) -> OsmAndDecoder:
    return OsmAndDecoder(config or VehiclesConfig(), DEVICES)


def query(target: str, **kwargs: object) -> PositionFix:
    return decoder().decode_request(target, b"", None, NOW, **kwargs)  # type: ignore[arg-type]


# -- Traccar's query strings (testDecodeQuery) -----------------------------------------------


def test_traccar_without_coordinates_is_refused() -> None:
    # Traccar returns a position located by its last one (or cell/wifi); here: refused.
    with pytest.raises(OsmAndRefused) as refused:
        query(
            "/?id=123456&timestamp=1377177267&cell=257,02,16,2224&cell=257,02,16,2223,-90"
            "&wifi=00-14-22-01-23-45,-80&wifi=00-1C-B3-09-85-15,-70"
        )
    assert refused.value.reason is RejectReason.MALFORMED
    assert refused.value.device_id == "123456"


def test_traccar_without_device_id_is_refused() -> None:  # Traccar: verifyNull
    with pytest.raises(OsmAndRefused) as refused:
        query("/?timestamp=1377177267&lat=60.0&lon=30.0")
    assert refused.value.reason is RejectReason.MALFORMED


def test_traccar_iso_time_hdop_altitude() -> None:
    fix = query(
        "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z"
        "&hdop=6.0&altitude=224.0&speed=0.0"
    )
    assert fix == PositionFix(
        vehicle="51LD12345",
        ts_ms=ms("2016-01-27T18:55:47+00:00"),
        lat=42.06288,
        lon=-88.23412,
        speed_kmh=0.0,
        received_ms=NOW,
        altitude_m=224.0,
        attributes=(("hdop", 6.0),),
    )


def test_traccar_time_in_milliseconds() -> None:
    fix = query(
        "/?id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0"
        "&altitude=224.0&speed=0.0"
    )
    assert fix.ts_ms == 1442068686579
    assert (fix.lat, fix.lon, fix.altitude_m, fix.speed_kmh) == (42.06288, -88.23412, 224.0, 0.0)


def test_traccar_time_without_zone_and_id_last() -> None:
    fix = query(
        "/?lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7"
        "&speed=0.0&id=353861053849681"
    )
    assert fix.vehicle == "29A123456"
    assert fix.ts_ms == ms("2014-06-04T09:10:11+00:00")  # Traccar: the server's zone (UTC)
    assert (fix.lat, fix.lon, fix.altitude_m) == (49.60688, 6.15788, 384.7)
    vietnam = OsmAndDecoder(VehiclesConfig(osmand_naive_utc_offset_min=420), DEVICES)
    later = vietnam.decode_query("id=123456&lat=1&lon=2&timestamp=2014-06-04 09:10:11", NOW)
    assert later.ts_ms == ms("2014-06-04T09:10:11+07:00")


def test_traccar_bearing_and_zero_values() -> None:
    fix = query(
        "/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0"
        "&altitude=0&hdop=0.0"
    )
    assert fix.ts_ms == 1377177267000
    assert (fix.lat, fix.lon, fix.speed_kmh, fix.heading, fix.altitude_m) == (
        60.0,
        30.0,
        0.0,
        0.0,
        0.0,
    )
    assert fix.attributes == (("hdop", 0.0),)


def test_traccar_minimal() -> None:
    fix = query("/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0")
    assert (fix.vehicle, fix.ts_ms, fix.lat, fix.lon) == ("49A12345", 1377177267000, 60.0, 30.0)
    assert fix.speed_kmh == 0.0 and fix.flags == {"no_speed"}  # Traccar: speed 0


def test_traccar_deviceid_heading_no_time() -> None:
    fix = query(
        "/?lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0&deviceid=123456"
    )
    assert fix.vehicle == "49A12345"
    assert fix.ts_ms == NOW and fix.flags == {"server_time"}  # Traccar: now
    assert fix.heading == 0.0 and fix.altitude_m == 0.0
    assert fix.attributes == (("vacc", 0.0), ("hacc", 0.0))


def test_traccar_battery() -> None:
    fix = query(
        "/?id=861001000719969&lat=41.666667&lon=-0.883333&altitude=350.059479"
        "&speed=0.000000&batt=87"
    )
    assert (fix.lat, fix.lon, fix.altitude_m, fix.speed_kmh) == (
        41.666667,
        -0.883333,
        350.059479,
        0.0,
    )
    assert fix.attributes == (("batteryLevel", 87.0),)


def test_traccar_location_pair() -> None:
    fix = query("/?id=123456&timestamp=1377177267&location=60.0,30.0")
    assert (fix.lat, fix.lon, fix.ts_ms) == (60.0, 30.0, 1377177267000)


def test_traccar_speed_in_knots_ignition_and_attributes() -> None:
    fix = query(
        "/?id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571"
        "&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24"
    )
    assert fix == PositionFix(
        vehicle="49B12345",
        ts_ms=1504763810000,
        lat=40.7232948571,
        lon=-74.0061408571,
        speed_kmh=pytest.approx(74.08),  # type: ignore[arg-type]
        received_ms=NOW,
        heading=7.19889788244,
        ignition=True,
        attributes=(("rpm", 933.0), ("fuel", 24.0)),
    )


# -- Traccar's JSON bodies (testDecodeJson) --------------------------------------------------

JSON_1 = (
    '{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,'
    '"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,'
    '"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},'
    '"activity":{"type":"still"},"extras":{},"_":"&id=48241179&lat=37.4219983&lon=-122.084'
    '&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"48241179"}'
)
JSON_2 = (
    '{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,'
    '"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,'
    '"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},'
    '"activity":{"type":"still"},"extras":{"device_string_test":"long_device_id",'
    '"device_bool_test":true,"device_bool_false_test":false,"device_integer_test":1,'
    '"device_integer_twelve_test":12,"device_double_test":1.345,'
    '"device_very_long_double_test":1763636.3442},"_":"&id=48241179&lat=37.4219983'
    '&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"48241179"}'
)
JSON_3 = (
    '{"location":{"extras":{},"mock":true,"coords":{"speed_accuracy":-1,"speed":-1,'
    '"longitude":-122.406417,"ellipsoidal_altitude":0,"floor":null,"heading_accuracy":-1,'
    '"latitude":37.785834000000001,"accuracy":5,"altitude_accuracy":-1,"altitude":0,'
    '"heading":-1},"is_moving":false,"age":188,"odometer":0,'
    '"uuid":"2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8","event":"motionchange",'
    '"battery":{"level":-1,"is_charging":false},"activity":{"type":"unknown","confidence":100},'
    '"timestamp":"2025-05-09T04:11:30.579Z"},"device_id":"658765"}'
)
JSON_4 = (
    '{"location":{"event":"motionchange","is_moving":false,'
    '"uuid":"0e9a2473-a9a7-4c00-997b-fb97d2154e75","timestamp":"2021-07-21T08:06:34.444Z",'
    '"odometer":0,"coords":{"latitude":-6.1148096,"longitude":106.6837015,"accuracy":3.8,'
    '"speed":18.67,"speed_accuracy":0.26,"heading":63,"heading_accuracy":0.28,"altitude":35.7,'
    '"altitude_accuracy":3.8},"activity":{"type":"still","confidence":100},'
    '"battery":{"is_charging":false,"level":0.79},"extras":{}},"device_id":"8737767034"}'
)


def json_fix(text: str) -> PositionFix:
    return decoder().decode_request("/", text.encode(), "application/json", NOW)


def test_traccar_json_motionchange() -> None:
    assert json_fix(JSON_1) == PositionFix(
        vehicle="49C12345",
        ts_ms=ms("2025-06-15T13:45:12.862+00:00"),
        lat=37.4219983,
        lon=-122.084,
        speed_kmh=0.0,
        received_ms=NOW,
        heading=None,  # -1: unknown
        accuracy_m=5.0,
        altitude_m=5.0,
        odometer_km=0.0,
        attributes=(
            ("event", "motionchange"),
            ("motion", False),
            ("activity", "still"),
            ("batteryLevel", 100),
        ),
    )


def test_traccar_json_extras() -> None:
    attributes = dict(json_fix(JSON_2).attributes)
    assert attributes["device_integer_twelve_test"] == 12  # Traccar: 12L
    assert attributes | {} == {
        "event": "motionchange",
        "motion": False,
        "activity": "still",
        "batteryLevel": 100,
        "device_string_test": "long_device_id",
        "device_bool_test": True,
        "device_bool_false_test": False,
        "device_integer_test": 1,
        "device_integer_twelve_test": 12,
        "device_double_test": 1.345,
        "device_very_long_double_test": 1763636.3442,
    }


def test_traccar_json_unknown_speed_and_battery() -> None:
    fix = json_fix(JSON_3)
    assert fix.vehicle == "49D12345"
    assert fix.ts_ms == ms("2025-05-09T04:11:30.579+00:00")
    assert (fix.lat, fix.lon, fix.accuracy_m, fix.altitude_m) == (
        37.785834000000001,
        -122.406417,
        5.0,
        0.0,
    )
    assert fix.speed_kmh == 0.0 and fix.flags == {"no_speed"} and fix.heading is None
    assert dict(fix.attributes) == {
        "event": "motionchange",
        "motion": False,
        "mock": True,
        "activity": "unknown",
    }


def test_traccar_json_speed_in_metres_per_second() -> None:
    fix = json_fix(JSON_4)
    assert fix.vehicle == "49E12345"
    assert fix.ts_ms == ms("2021-07-21T08:06:34.444+00:00")
    assert (fix.lat, fix.lon, fix.accuracy_m, fix.altitude_m, fix.heading) == (
        -6.1148096,
        106.6837015,
        3.8,
        35.7,
        63.0,
    )
    assert fix.speed_kmh == pytest.approx(18.67 * 3.6)  # Traccar: 36.29 kn
    assert dict(fix.attributes)["batteryLevel"] == 79


# -- forms, units, secrets -------------------------------------------------------------------


def test_form_body_when_the_url_has_no_parameters() -> None:
    fix = decoder().decode_request(
        "/", b"id=123456&lat=10.5&lon=106.5&speed=10&timestamp=1795420770", None, NOW
    )
    assert (fix.lat, fix.lon, fix.speed_kmh, fix.ts_ms) == (10.5, 106.5, 18.52, 1795420770000)


@pytest.mark.parametrize(
    ("unit", "kmh"), [("kn", 18.52), ("kmh", 10.0), ("mps", 36.0), ("mph", 16.09344)]
)
def test_speed_units_per_device_or_configured(unit: str, kmh: float) -> None:
    devices = {"d1": OsmAndDevice("49A12345", speed_unit=unit)}  # type: ignore[arg-type]
    fix = OsmAndDecoder(VehiclesConfig(), devices).decode_query("id=d1&lat=1&lon=2&speed=10", NOW)
    assert fix.speed_kmh == pytest.approx(kmh)
    configured = OsmAndDecoder(VehiclesConfig(osmand_speed_unit=unit), DEVICES)  # type: ignore[arg-type]
    assert configured.decode_query("id=123456&lat=1&lon=2&speed=10", NOW).speed_kmh == (
        pytest.approx(kmh)
    )


def test_driver_door_odometer_valid() -> None:
    fix = query(
        "/?id=123456&lat=1&lon=2&driverUniqueId=790123456789&door=false&odometer=12500"
        "&valid=false&charge=true&note=hello+world"
    )
    assert (fix.driver, fix.door, fix.odometer_km) == ("790123456789", False, 12.5)
    assert "device_invalid" in fix.flags
    assert dict(fix.attributes) == {"charge": True, "note": "hello world"}


SECRET = "s3cret-token"
KEYED = {"k1": OsmAndDevice("49A12345", key_sha256=hash_device_key(SECRET))}


def test_a_device_with_a_secret_must_send_it() -> None:
    keyed = OsmAndDecoder(VehiclesConfig(), KEYED)
    fix = keyed.decode_query(f"id=k1&lat=1&lon=2&key={SECRET}", NOW)
    assert fix.vehicle == "49A12345"
    assert all(name != "key" for name, _ in fix.attributes)  # never stored
    assert keyed.decode_query("id=k1&lat=1&lon=2", NOW, key=SECRET).vehicle == "49A12345"
    for target in ("id=k1&lat=1&lon=2", "id=k1&lat=1&lon=2&key=guess"):
        with pytest.raises(OsmAndRefused) as refused:
            keyed.decode_query(target, NOW)
        assert refused.value.reason is RejectReason.UNAUTHORIZED
        assert SECRET not in refused.value.detail


def test_json_takes_the_secret_from_the_url() -> None:
    keyed = OsmAndDecoder(VehiclesConfig(), KEYED)
    body = json.dumps(
        {
            "device_id": "k1",
            "location": {
                "timestamp": "2026-11-23T08:00:00Z",
                "coords": {"latitude": 10.0, "longitude": 106.0, "speed": 10},
            },
        }
    ).encode()
    fix = keyed.decode_request(f"/?key={SECRET}", body, "application/json; charset=utf-8", NOW)
    assert fix.speed_kmh == 36.0 and fix.ts_ms == NOW
    with pytest.raises(OsmAndRefused) as refused:
        keyed.decode_request("/", body, "application/json", NOW)
    assert refused.value.reason is RejectReason.UNAUTHORIZED


def test_unknown_devices_and_bad_values() -> None:
    cases = [
        ("id=nobody&lat=1&lon=2", RejectReason.UNKNOWN_VEHICLE),
        ("id=123456&lat=north&lon=2", RejectReason.NOT_NUMERIC),
        ("id=123456&lat=nan&lon=2", RejectReason.NOT_NUMERIC),
        ("id=123456&lat=1&lon=2&speed=fast", RejectReason.NOT_NUMERIC),
        ("id=123456&lat=1&lon=2&timestamp=yesterday", RejectReason.BAD_TIMESTAMP),
        ("id=123456&lat=1&lon=2&timestamp=9999999999999999999", RejectReason.BAD_TIMESTAMP),
        ("id=&lat=1&lon=2", RejectReason.MALFORMED),
        ("&".join(f"k{i}=1" for i in range(300)), RejectReason.TOO_LARGE),
    ]
    for target, reason in cases:
        with pytest.raises(OsmAndRefused) as refused:
            query(f"/?{target}")
        assert refused.value.reason is reason, target


def test_devices_from_configuration() -> None:
    config = VehiclesConfig(
        osmand_devices={
            "123": OsmAndDeviceConfig(vehicle="49a-123.45", key_sha256=hash_device_key("x"))
        }
    )
    fix = OsmAndDecoder(config).decode_query("id=123&lat=1&lon=2&key=x", NOW)
    assert fix.vehicle == "49A12345"
    with pytest.raises(ValueError, match="plate"):
        OsmAndDeviceConfig(vehicle="not a plate")
    with pytest.raises(ValueError, match="hex"):
        OsmAndDeviceConfig(vehicle="49A12345", key_sha256="secret")


# -- properties ------------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "id",
        "deviceid",
        "timestamp",
        "lat",
        "lon",
        "location",
        "speed",
        "bearing",
        "altitude",
        "accuracy",
        "hdop",
        "batt",
        "charge",
        "valid",
        "driverUniqueId",
        "ignition",
        "door",
        "odometer",
        "key",
        "x",
    ]
)
VALUES = st.one_of(
    st.sampled_from(["123456", "1.5", "-1", "true", "0", "nan", "1e400", "2026-11-23T08:00:00Z"]),
    st.text(max_size=30),
)


@given(st.text(max_size=300))
def test_any_query_gives_a_fix_or_a_refusal(text: str) -> None:
    try:
        fix = query(text)
    except OsmAndRefused as refused:
        assert isinstance(refused.reason, RejectReason) and refused.detail
    else:
        assert isinstance(fix, PositionFix)


@given(st.lists(st.tuples(KEYS, VALUES), max_size=12))
def test_any_parameters_give_a_fix_or_a_refusal(pairs: list[tuple[str, str]]) -> None:
    try:
        fix = query("/?" + urlencode(pairs))
    except OsmAndRefused as refused:
        assert isinstance(refused.reason, RejectReason) and refused.detail
    else:
        assert fix.vehicle == "49A12345"


@given(st.binary(max_size=300), st.sampled_from([None, "application/json", "text/plain"]))
def test_any_body_gives_a_fix_or_a_refusal(body: bytes, content_type: str | None) -> None:
    try:
        decoder().decode_request("/", body, content_type, NOW)
    except OsmAndRefused as refused:
        assert isinstance(refused.reason, RejectReason)


@given(
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.floats(0, 150),
    st.integers(10**9, SECONDS_BELOW := 2**31 - 2),
    st.floats(0, 359.9),
)
def test_query_values_round_trip(
    lat: float, lon: float, knots: float, ts: int, heading: float
) -> None:
    target = "/?" + urlencode(
        {
            "id": "123456",
            "lat": lat,
            "lon": lon,
            "speed": knots,
            "timestamp": ts,
            "bearing": heading,
        }
    )
    fix = query(target)
    assert (fix.lat, fix.lon, fix.ts_ms, fix.heading) == (lat, lon, ts * 1000, heading)
    assert fix.speed_kmh == pytest.approx(knots * 1.852)


def test_fractional_unix_times_are_accepted() -> None:
    assert query("/?id=123456&lat=1&lon=2&timestamp=1504763810.5").ts_ms == 1504763810500
    assert query("/?id=123456&lat=1&lon=2&timestamp=1504763810500.0").ts_ms == 1504763810500
    with pytest.raises(OsmAndRefused) as refused:
        query("/?id=123456&lat=1&lon=2&timestamp=1e400")
    assert refused.value.reason is RejectReason.BAD_TIMESTAMP
