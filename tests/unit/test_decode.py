import json
from pathlib import Path

import pytest

from ingest.decode import StationMessageDecoder, parse_timestamp
from ioc.config import IngestConfig
from ioc.messages import InstrumentStatus, Rejection, RejectReason
from tests.factories import now_ms, payload, raw, registry


@pytest.fixture
def decoder(tmp_path: Path) -> StationMessageDecoder:
    return StationMessageDecoder(registry(tmp_path), IngestConfig(), source="mqtt")


def decode(decoder: StationMessageDecoder, station: str, body: bytes):  # type: ignore[no-untyped-def]
    rejections: list[Rejection] = []
    reading = decoder.decode(station, raw(station, body), rejections)
    return reading, rejections


def test_valid_message_becomes_a_reading(decoder: StationMessageDecoder) -> None:
    reading, rejections = decode(decoder, "AIR-1", payload({"pm25": 35.2, "pm10": 50}))
    assert rejections == []
    assert reading is not None and reading.values == {"pm25": 35.2, "pm10": 50.0}


def test_iso_timestamps_with_offset_are_stored_in_utc(decoder: StationMessageDecoder) -> None:
    reading, _ = decode(decoder, "AIR-1", payload({"pm25": 1}, ts="2026-11-23T15:00:00+07:00"))
    assert reading is not None
    assert reading.ts_ms == parse_timestamp("2026-11-23T08:00:00Z")[0]


@pytest.mark.parametrize(
    ("station", "body", "reason", "detail"),
    [
        ("NOPE", payload({"pm25": 1}), RejectReason.UNKNOWN_STATION, "not in the registry"),
        ("AIR-1", b"{not json", RejectReason.MALFORMED, "not JSON"),
        ("AIR-1", b"[1, 2]", RejectReason.MALFORMED, "JSON object"),
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
    decoder: StationMessageDecoder, station: str, body: bytes, reason: RejectReason, detail: str
) -> None:
    reading, rejections = decode(decoder, station, body)
    assert reading is None
    assert [r.reason for r in rejections] == [reason]
    assert detail in rejections[0].detail
    assert rejections[0].payload == body.decode(errors="replace")


def test_bad_values_are_refused_one_by_one_and_the_rest_kept(
    decoder: StationMessageDecoder,
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


def test_wrong_unit_and_non_finite_values(decoder: StationMessageDecoder) -> None:
    body = b'{"ts": %d, "values": {"pm25": 5, "pm10": NaN, "no2": 3}, "units": {"pm25": "mg/m3"}}'
    reading, rejections = decode(decoder, "AIR-1", body % (now_ms() // 1000))
    assert reading is not None and reading.values == {"no2": 3.0}
    reasons = {r.parameter: r.reason for r in rejections}
    assert reasons == {"pm25": RejectReason.WRONG_UNIT, "pm10": RejectReason.NOT_NUMERIC}
    assert "registry expects 'ug/m3'" in next(r.detail for r in rejections if r.parameter == "pm25")


def test_booleans_are_not_numbers(decoder: StationMessageDecoder) -> None:
    reading, rejections = decode(decoder, "AIR-1", payload({"pm25": True}))
    assert reading is None and rejections[0].reason is RejectReason.NOT_NUMERIC


def test_instrument_status_is_kept_with_the_value(decoder: StationMessageDecoder) -> None:
    body = payload({"pm25": 5, "pm10": 9}, status={"pm25": "calibrating", "pm10": "00"})
    reading, _ = decode(decoder, "AIR-1", body)
    assert reading is not None and reading.status == {"pm25": InstrumentStatus.CALIBRATING}


def test_unknown_top_level_fields_are_ignored(decoder: StationMessageDecoder) -> None:
    reading, rejections = decode(decoder, "AIR-1", payload({"pm25": 5}, firmware="2.1"))
    assert reading is not None and rejections == []
