import json
from pathlib import Path

import pytest

from ingest.decode import decode_reading, decode_senml, parse_json, parse_timestamp
from ingest.validate import Origin, ReadingValidator
from ioc.config import IngestConfig
from ioc.messages import InstrumentStatus, Rejection, RejectReason
from tests.factories import now_ms, payload, raw, registry


@pytest.fixture
def decoder(tmp_path: Path) -> ReadingValidator:
    return ReadingValidator(registry(tmp_path), IngestConfig())


def decode(validator: ReadingValidator, station: str, body: bytes, owner: str | None = None):  # type: ignore[no-untyped-def]
    rejections: list[Rejection] = []
    message = raw(station, body)
    origin = Origin("mqtt", message.received_ms, message.payload, owner)
    parsed = parse_json(origin, body, rejections)
    reading = None
    if parsed is not None:
        reading = decode_reading(validator, origin, station, parsed, rejections)
    return reading, rejections


def test_valid_message_becomes_a_reading(decoder: ReadingValidator) -> None:
    reading, rejections = decode(decoder, "AIR-1", payload({"pm25": 35.2, "pm10": 50}))
    assert rejections == []
    assert reading is not None and reading.values == {"pm25": 35.2, "pm10": 50.0}


def test_iso_timestamps_with_offset_are_stored_in_utc(decoder: ReadingValidator) -> None:
    reading, _ = decode(decoder, "AIR-1", payload({"pm25": 1}, ts="2026-11-23T15:00:00+07:00"))
    assert reading is not None
    assert reading.ts_ms == parse_timestamp("2026-11-23T08:00:00Z")[0]


@pytest.mark.parametrize(
    ("station", "body", "reason", "detail"),
    [
        ("NOPE", payload({"pm25": 1}), RejectReason.UNKNOWN_STATION, "not in the registry"),
        ("AIR-1", b"{not json", RejectReason.MALFORMED, "not JSON"),
        ("AIR-1", b"[1, 2]", RejectReason.MALFORMED, "JSON object"),
        ("STK-1", payload({"dust": 1}), RejectReason.NOT_OWNER, "ENT-B may not write"),
        ("AIR-1", payload({}), RejectReason.MALFORMED, "non-empty"),
        ("AIR-1", payload({"pm25": 1}, ts="yesterday"), RejectReason.BAD_TIMESTAMP, "ISO 8601"),
        (
            "AIR-1",
            payload({"pm25": 1}, ts="2026-11-23T08:00:00"),
            RejectReason.BAD_TIMESTAMP,
            "no UTC offset",
        ),
        ("AIR-1", payload({"pm25": 1}, ts=4_000_000_000), RejectReason.BAD_TIMESTAMP, "future"),
        ("AIR-1", payload({"pm25": 1}, ts=1_000_000_000), RejectReason.BAD_TIMESTAMP, "too old"),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(
    decoder: ReadingValidator, station: str, body: bytes, reason: RejectReason, detail: str
) -> None:
    reading, rejections = decode(
        decoder, station, body, owner="ENT-B" if station == "STK-1" else None
    )
    assert reading is None
    assert [r.reason for r in rejections] == [reason]
    assert detail in rejections[0].detail
    assert rejections[0].payload == body.decode(errors="replace")


def test_bad_values_are_refused_one_by_one_and_the_rest_kept(
    decoder: ReadingValidator,
) -> None:
    body = json.dumps(
        {
            "ts": now_ms() / 1000,
            "values": {"pm25": 12.5, "pm1": 3, "pm10": "high", "no2": 99999, "x": None},
            "units": {"pm25": "µg/m³"},
        }
    ).encode()
    reading, rejections = decode(decoder, "AIR-1", body)
    assert reading is not None and reading.values == {"pm25": 12.5}
    assert {(r.parameter, r.reason) for r in rejections} == {
        ("pm1", RejectReason.UNKNOWN_PARAMETER),
        ("pm10", RejectReason.NOT_NUMERIC),
        ("no2", RejectReason.OUT_OF_RANGE),
        ("x", RejectReason.UNKNOWN_PARAMETER),
    }


def test_wrong_unit_and_non_finite_values(decoder: ReadingValidator) -> None:
    body = b'{"ts": %d, "values": {"pm25": 5, "pm10": NaN, "no2": 3}, "units": {"pm25": "ppm"}}'
    reading, rejections = decode(decoder, "AIR-1", body % (now_ms() // 1000))
    assert reading is not None and reading.values == {"no2": 3.0}
    reasons = {r.parameter: r.reason for r in rejections}
    assert reasons == {"pm25": RejectReason.WRONG_UNIT, "pm10": RejectReason.NOT_NUMERIC}
    detail = next(r.detail for r in rejections if r.parameter == "pm25")
    assert detail.startswith("pm25 sent in 'ppm', the registry expects 'ug/m3': a volume fraction")


def test_a_convertible_unit_is_converted_and_the_sent_unit_kept(
    decoder: ReadingValidator,
) -> None:
    units = {"pm25": "mg/Nm3", "pm10": "ug/Nm3"}
    reading, rejections = decode(
        decoder, "AIR-1", payload({"pm25": 0.035, "pm10": 40}, units=units)
    )
    assert rejections == [] and reading is not None
    assert reading.values == {"pm25": pytest.approx(35.0), "pm10": 40.0}
    assert reading.sent_units == {"pm25": "mg/Nm3"}  # ug/Nm3 is the registry's unit: not kept


def test_booleans_are_not_numbers(decoder: ReadingValidator) -> None:
    reading, rejections = decode(decoder, "AIR-1", payload({"pm25": True}))
    assert reading is None and rejections[0].reason is RejectReason.NOT_NUMERIC


def test_instrument_status_is_kept_with_the_value(decoder: ReadingValidator) -> None:
    body = payload({"pm25": 5, "pm10": 9}, status={"pm25": "calibrating", "pm10": "00"})
    reading, _ = decode(decoder, "AIR-1", body)
    assert reading is not None and reading.status == {"pm25": InstrumentStatus.CALIBRATING}


def test_unknown_top_level_fields_are_ignored(decoder: ReadingValidator) -> None:
    reading, rejections = decode(decoder, "AIR-1", payload({"pm25": 5}, firmware="2.1"))
    assert reading is not None and rejections == []


def test_the_same_value_twice_is_a_duplicate(decoder: ReadingValidator) -> None:
    body = payload({"pm25": 5, "pm10": 9}, ts=1_795_000_000)
    assert decode(decoder, "AIR-1", body)[0] is not None
    reading, rejections = decode(decoder, "AIR-1", payload({"pm25": 5, "no2": 1}, ts=1_795_000_000))
    assert reading is not None and reading.values == {"no2": 1.0}
    assert [(r.parameter, r.reason) for r in rejections] == [("pm25", RejectReason.DUPLICATE)]


def test_an_enterprise_writes_its_own_station(decoder: ReadingValidator) -> None:
    reading, rejections = decode(decoder, "STK-1", payload({"dust": 50}), owner="ENT-A")
    assert rejections == [] and reading is not None


def senml(validator: ReadingValidator, pack: object, station: str | None = None):  # type: ignore[no-untyped-def]
    rejections: list[Rejection] = []
    origin = Origin("http", now_ms(), json.dumps(pack).encode())
    return decode_senml(validator, origin, pack, rejections, station), rejections


def test_senml_records_resolve_base_fields_and_group_by_time(decoder: ReadingValidator) -> None:
    pack = [
        {"bn": "AIR-1:", "bt": 1_795_000_000, "bu": "ug/m3", "n": "pm25", "v": 20.5},
        {"n": "pm10", "v": 40},
        {"n": "pm25", "t": 60, "v": 22},
        {"bn": "AIR-2/", "n": "no2", "u": "m3/h", "v": 1},
    ]
    readings, rejections = senml(decoder, pack)
    assert sorted((r.station_id, r.ts_ms, tuple(sorted(r.values.items()))) for r in readings) == [
        ("AIR-1", 1_795_000_000_000, (("pm10", 40.0), ("pm25", 20.5))),
        ("AIR-1", 1_795_000_060_000, (("pm25", 22.0),)),
    ]
    assert [(r.station_id, r.reason) for r in rejections] == [("AIR-2", RejectReason.WRONG_UNIT)]


def test_senml_on_a_station_topic_and_relative_times(decoder: ReadingValidator) -> None:
    readings, rejections = senml(decoder, [{"n": "pm25", "t": -5, "v": 3}], station="AIR-1")
    assert rejections == [] and len(readings) == 1
    assert abs(readings[0].ts_ms - (now_ms() - 5000)) < 2000


@pytest.mark.parametrize(
    ("pack", "detail"),
    [
        ({"n": "x"}, "non-empty JSON array"),
        ([1], "not an object"),
        ([{"n": "pm25", "v": 1}], "not <station>:<parameter>"),
        ([{"n": "AIR-1:pm25", "t": "now", "v": 1}], "time is not a number"),
    ],
)
def test_senml_mistakes_are_explained(decoder: ReadingValidator, pack: object, detail: str) -> None:
    readings, rejections = senml(decoder, pack)
    assert readings == [] and detail in rejections[0].detail


# JSON is parsed by orjson, and what orjson refuses by the standard library (ingest.decode):
# the refusals are those of json.loads, whichever library parsed the message.


@pytest.mark.parametrize(
    ("literal", "reason"),
    [
        (b"NaN", RejectReason.NOT_NUMERIC),
        (b"Infinity", RejectReason.NOT_NUMERIC),
        (b"-Infinity", RejectReason.NOT_NUMERIC),
        (b"1e400", RejectReason.NOT_NUMERIC),  # orjson: "number is infinity"
        (b"123456789012345678901234567890", RejectReason.OUT_OF_RANGE),  # beyond 64 bits
    ],
)
def test_numbers_orjson_refuses_or_widens_are_refused_per_value(
    decoder: ReadingValidator, literal: bytes, reason: RejectReason
) -> None:
    body = b'{"ts": %d, "values": {"pm25": 5, "pm10": %s}}' % (now_ms() // 1000, literal)
    reading, rejections = decode(decoder, "AIR-1", body)
    assert reading is not None and reading.values == {"pm25": 5.0}
    assert [(r.parameter, r.reason) for r in rejections] == [("pm10", reason)]


@pytest.mark.parametrize(
    ("body", "values"),
    [
        (b'{"ts": %d, "values": {"pm25": 1, "pm25": 2}}', {"pm25": 2.0}),  # the last one wins
        (b'\xef\xbb\xbf{"ts": %d, "values": {"pm25": 3}}', {"pm25": 3.0}),  # UTF-8 BOM
        (b'{"ts": %d, "values": {"pm25": 4}, "x": ' + b"[" * 900 + b"]" * 900 + b"}", None),
    ],
)
def test_json_the_standard_library_took_is_still_taken(
    decoder: ReadingValidator, body: bytes, values: dict[str, float] | None
) -> None:
    """Duplicate keys, a byte order mark (orjson refuses it) and deep nesting in a field that
    is ignored (orjson takes up to 1024 levels, json.loads about 990)."""
    ts = b"%d" % (now_ms() // 1000)
    reading, rejections = decode(decoder, "AIR-1", body.replace(b"%d", ts))
    assert rejections == []
    assert reading is not None and reading.values == (values or {"pm25": 4.0})


def test_a_lone_surrogate_names_an_unknown_parameter_not_a_malformed_message(
    decoder: ReadingValidator,
) -> None:
    body = b'{"ts": %d, "values": {"pm25": 5, "pm\\udcff": 1}}' % (now_ms() // 1000)
    reading, rejections = decode(decoder, "AIR-1", body)
    assert reading is not None and reading.values == {"pm25": 5.0}
    assert [r.reason for r in rejections] == [RejectReason.UNKNOWN_PARAMETER]


@pytest.mark.parametrize(
    "body",
    [b"\xff{}", b'{"ts": 1, "values": {"pm25": 5}', b"[" * 5000 + b"]" * 5000, b""],
)
def test_what_neither_library_parses_is_malformed(decoder: ReadingValidator, body: bytes) -> None:
    reading, rejections = decode(decoder, "AIR-1", body)
    assert reading is None
    assert [r.reason for r in rejections] == [RejectReason.MALFORMED]
    assert rejections[0].detail.startswith("not JSON")
