"""Hostile input against every parser: known poison messages are refused with their reason,
and Hypothesis properties over reading JSON, SenML, HTTP bodies, station files, timestamps and
status say that decoding never raises, every refusal has a reason, and valid neighbours
survive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.decode import (
    decode_reading,
    decode_senml,
    instrument_status,
    loads,
    parse_json,
    parse_timestamp,
)
from ingest.station_files import ingest_station_file
from ingest.validate import Origin, ReadingValidator
from ioc.config import DEFAULT_FILE_SYMBOLS, IngestConfig
from ioc.messages import InstrumentStatus, Reading, Rejection, RejectReason
from tests.factories import fresh_ts, now_ms, registry
from tests.reliability import scale

pytestmark = pytest.mark.adversarial

DEEP = b"[" * 100_000 + b"]" * 100_000
BIG = "9" * 400


def validator(tmp_path: Path) -> ReadingValidator:
    return ReadingValidator(registry(tmp_path), IngestConfig())


@pytest.fixture(scope="module")
def checker(tmp_path_factory: pytest.TempPathFactory) -> ReadingValidator:
    """One validator for all the examples of a property (a fresh one each is slow)."""
    return validator(tmp_path_factory.mktemp("registry"))


def decode(validator: ReadingValidator, body: bytes) -> tuple[Reading | None, list[Rejection]]:
    """A reading message of AIR-1, as MQTT delivers it."""
    rejections: list[Rejection] = []
    origin = Origin("mqtt", now_ms(), body)
    parsed = parse_json(origin, body, rejections)
    if parsed is None:
        return None, rejections
    return decode_reading(validator, origin, "AIR-1", parsed, rejections), rejections


def reading_body(ts: str, values: str = '{"pm25": 5}', status: str = "{}") -> bytes:
    return f'{{"ts": {ts}, "values": {values}, "status": {status}}}'.encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (DEEP, RejectReason.MALFORMED),
        (b'{"ts": 1, "values": {"pm25": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}", "malformed"),
        (reading_body("1e308"), RejectReason.BAD_TIMESTAMP),
        (reading_body("-1e308"), RejectReason.BAD_TIMESTAMP),
        (reading_body(BIG), RejectReason.BAD_TIMESTAMP),
        (reading_body("-" + BIG), RejectReason.BAD_TIMESTAMP),
        (reading_body('"0001-01-01T00:00:00+07:00"'), RejectReason.BAD_TIMESTAMP),
        (reading_body('"9999-12-31T23:59:59-07:00"'), RejectReason.BAD_TIMESTAMP),
        (reading_body("{ts}", '{"pm25": ' + BIG + "}"), RejectReason.OUT_OF_RANGE),
        (reading_body("{ts}", '{"pm25": -' + BIG + "}"), RejectReason.OUT_OF_RANGE),
    ],
)
def test_poison_reading_messages_are_refused_with_their_reason(
    tmp_path: Path, body: bytes, reason: RejectReason
) -> None:
    reading, rejections = decode(validator(tmp_path), body.replace(b"{ts}", b"%.3f" % fresh_ts()))
    assert reading is None
    assert [r.reason for r in rejections] == [reason]


@pytest.mark.parametrize("code", ["²", "١", "0" * 5000, "9" * 5000, "3", "-1", ""])
def test_odd_status_codes_are_no_status(code: str) -> None:
    assert instrument_status({"pm25": code}) == {}


def test_status_codes_by_digits_and_names() -> None:
    status = instrument_status({"a": "01", "b": 2, "c": "CALIBRATING", "d": "0", "e": "001"})
    assert status == {
        "a": InstrumentStatus.CALIBRATING,
        "b": InstrumentStatus.DEVICE_ERROR,
        "c": InstrumentStatus.CALIBRATING,
        "e": InstrumentStatus.CALIBRATING,
    }


@pytest.mark.parametrize(
    "pack",
    [
        [{"bn": "AIR-1:", "bt": 1e308, "n": "pm25", "t": 1e308, "v": 1}],
        [{"bn": "AIR-1:", "bt": -1e308, "n": "pm25", "t": -1e308, "v": 1}],
        [{"bn": "AIR-1:", "bt": int(BIG), "n": "pm25", "v": 1}],
        [{"n": "AIR-1:pm25", "t": int(BIG), "v": 1}],
    ],
)
def test_senml_times_that_overflow_are_bad_timestamps(tmp_path: Path, pack: list[Any]) -> None:
    rejections: list[Rejection] = []
    origin = Origin("http", now_ms(), b"")
    assert decode_senml(validator(tmp_path), origin, pack, rejections) == []
    assert [r.reason for r in rejections] == [RejectReason.BAD_TIMESTAMP]


# Properties -------------------------------------------------------------------------------

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
timestamps = (
    st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.datetimes().map(lambda d: d.isoformat() + "+07:00")
    | json_value
)
reading_objects = st.fixed_dictionaries(
    {},
    optional={
        "ts": timestamps,
        "values": st.dictionaries(st.sampled_from(["pm25", "pm10", "no2", "x"]), json_value)
        | json_value,
        "units": st.dictionaries(st.sampled_from(["pm25", "pm10"]), json_value) | json_value,
        "status": st.dictionaries(st.sampled_from(["pm25", "pm10"]), json_value) | json_value,
        "station_id": st.sampled_from(["AIR-1", "AIR-2", "NOPE"]) | json_value,
    },
)
FUZZ = settings(
    max_examples=scale(200, 1_000), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def well_formed(refusals: list[Rejection]) -> bool:
    return all(isinstance(r.reason, RejectReason) and r.detail for r in refusals)


@FUZZ
@given(ts=timestamps)
def test_any_timestamp_is_parsed_or_explained(ts: object) -> None:
    ts_ms, problem = parse_timestamp(ts)
    assert problem or -(2**63) < ts_ms * 1_000_000 < 2**63


# Integers of 64 bits (orjson reads bigger ones as floats: a value or time that big is out of
# range either way, see tests/unit/test_decode.py), strings with lone surrogates.
json_value_64 = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(st.characters(categories=["L", "N", "P", "Cc", "Cs"]), max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@FUZZ
@given(value=json_value_64, ensure_ascii=st.booleans())
def test_json_is_parsed_as_the_standard_library_parses_it(
    value: object, ensure_ascii: bool
) -> None:
    """orjson with the standard library behind it (ingest.decode.loads): the same values,
    NaN, infinities and lone surrogates included."""
    text = json.dumps(value, ensure_ascii=ensure_ascii)
    payload = text.encode("utf-8", "surrogatepass")
    assert repr(loads(payload)) == repr(json.loads(payload))


@FUZZ
@given(raw=json_value)
def test_any_status_object_gives_known_statuses(raw: object) -> None:
    assert all(isinstance(s, InstrumentStatus) for s in instrument_status(raw).values())


@FUZZ
@given(body=reading_objects | json_value, noise=st.binary(max_size=30))
def test_any_reading_message_is_decoded_or_refused_with_a_reason(
    checker: ReadingValidator, body: object, noise: bytes
) -> None:
    for payload in (json.dumps(body).encode(), noise, json.dumps(body).encode()[:-1] + noise):
        reading, rejections = decode(checker, payload)
        assert reading is not None or rejections
        assert well_formed(rejections)


@FUZZ
@given(records=st.lists(st.dictionaries(st.sampled_from(list("nvtbu")) | st.text(), json_value)))
def test_any_senml_pack_keeps_its_valid_neighbour(
    checker: ReadingValidator, records: list[Any]
) -> None:
    """A valid record after anything: its value is accepted (or refused as a duplicate of
    an identical one in the pack), and every other refusal has a reason."""
    good = {"bn": "AIR-2:", "bt": fresh_ts(), "bu": "ug/m3", "n": "no2", "v": 7, "t": 0}
    rejections: list[Rejection] = []
    origin = Origin("http", now_ms(), b"")
    readings = decode_senml(checker, origin, [*records, good], rejections)
    assert well_formed(rejections)
    assert any(r.station_id == "AIR-2" and r.values.get("no2") == 7.0 for r in readings)


@FUZZ
@given(lines=st.lists(st.text(max_size=60) | st.just("PM10 1e400 ug/m3 {ts} 00"), max_size=8))
def test_any_station_file_gives_every_line_a_result(
    checker: ReadingValidator, lines: list[str]
) -> None:
    from tests.unit.test_station_files import local_stamp

    ts = local_stamp(600)
    good = f"NO2 7 ug/m3 {ts} 00"
    text = "\n".join([*(line.replace("{ts}", ts) for line in lines), good])
    origin = Origin("file", now_ms(), text.encode())
    name = f"AIR-2_{ts}.txt"
    result = ingest_station_file(checker, origin, name, text.encode(), DEFAULT_FILE_SYMBOLS)
    numbers = [line.line for line in result.lines]
    assert numbers == sorted(set(numbers))
    assert len(numbers) == sum(1 for line in text.splitlines() if line.split())
    assert all(line.accepted or line.reason for line in result.lines)
    assert well_formed(result.rejections)
    assert result.lines[-1].accepted or result.lines[-1].reason == "duplicate"


TRICKY = [
    "",
    " ",
    "a b",
    "a,b",
    "a=b",
    'say "hi"',
    "back\\slash",
    "ends\\",
    "new\nline",
    "tab\t",
    "cr\r",
    "Hà Nội µg/m³ ²",
    "=",
    ",",
    "\\",
    '"',
    '\\"',
    "emoji 🌫",
]


def point_line(rejection: Rejection, ts_ms: int) -> str:
    """What influxdb_client's Point writes for a rejection (the reference)."""
    from influxdb_client.client.write.point import Point
    from influxdb_client.domain.write_precision import WritePrecision

    point = (
        Point("rejected")
        .tag("source", rejection.source)
        .tag("reason", rejection.reason.value)
        .tag("station", rejection.station_id or "")
        .field("parameter", rejection.parameter or "")
        .field("detail", rejection.detail)
        .field("payload", rejection.payload)
        .time(ts_ms, WritePrecision.MS)
    )
    return str(point.to_line_protocol())


@pytest.mark.parametrize("text", TRICKY)
def test_rejection_lines_escape_like_influxdb_client(text: str) -> None:
    from store.lines import rejection_line

    rejection = Rejection("http", RejectReason.MALFORMED, text, 1, text or None, text, text)
    assert rejection_line(rejection, 1_795_000_000_123) == point_line(rejection, 1_795_000_000_123)


@FUZZ
@given(
    station=st.none() | st.text(),
    parameter=st.none() | st.text(),
    detail=st.text(min_size=1),
    payload=st.text(),
    reason=st.sampled_from(RejectReason),
)
def test_any_rejection_line_is_what_point_writes(
    station: str | None, parameter: str | None, detail: str, payload: str, reason: RejectReason
) -> None:
    from store.lines import rejection_line

    rejection = Rejection("mqtt", reason, detail, 5, station, parameter, payload)
    assert rejection_line(rejection, 7) == point_line(rejection, 7)


def test_lone_surrogates_from_json_escapes_are_written_as_replacement_characters() -> None:
    from store.lines import rejection_line

    text = json.loads('"A\\udcffB\\ud800"')
    line = rejection_line(Rejection("http", RejectReason.MALFORMED, text, 1, text, text, text), 2)
    assert "A\ufffdB\ufffd" in line.encode().decode() and "\udcff" not in line


def test_seconds_with_milliseconds_round_to_the_millisecond_they_name() -> None:
    """1796427756.387 is stored as 1796427756.3869998 in binary: truncating it would give
    ...386 and make the next millisecond's reading a false duplicate."""
    assert parse_timestamp(1796427756.3869998) == (1796427756387, "")
    assert parse_timestamp(1796427756.387) == (1796427756387, "")


@FUZZ
@given(
    text=st.text(),
    value=st.floats(allow_nan=True, allow_infinity=True),
    limit=st.floats(allow_nan=False, allow_infinity=False),
)
def test_alert_lines_say_what_influxdb_client_would(text: str, value: float, limit: float) -> None:
    """The hand-written alert record is what Point writes (tags and fields sorted, whole
    floats without ".0", what is not finite left out)."""
    from influxdb_client.client.write.point import Point
    from influxdb_client.domain.write_precision import WritePrecision

    from ioc.messages import Alert, AlertState, Severity
    from store.lines import alert_line

    alert = Alert(
        text or "a",
        f"rule {text}",
        f"st,{text}",
        "pm25",
        Severity.CRITICAL,
        AlertState.OPEN,
        1,
        value,
        limit,
    )
    reference = (
        Point("alert")
        .tag("rule", alert.rule_id)
        .tag("station", alert.station_id)
        .tag("severity", alert.severity.value)
        .tag("event", "opened")
        .field("alert_id", alert.id)
        .field("value", alert.value)
        .field("limit", alert.limit)
        .time(7, WritePrecision.MS)
    )
    assert alert_line("opened", alert, 7) == str(reference.to_line_protocol())
