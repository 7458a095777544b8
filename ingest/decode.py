"""Decoding of what stations send, into the shared validator (ingest/validate.py).

- Reading JSON (docs/protocol.md): ``{"ts": ..., "values": {...}, "units": {...},
  "status": {...}}``; on MQTT the station comes from the topic, over HTTP from
  ``"station_id"``.
- SenML JSON (RFC 8428): records resolved with their base fields; record name
  ``<station_id>:<parameter>`` (or just ``<parameter>`` when the topic names the station);
  records of one station at one time form one reading.

Tolerant of what devices send: unknown fields are dropped.

JSON is parsed by orjson (≈0.5 µs for a reading of six values, the standard library ≈3.5 µs).
orjson is strict RFC 8259; what it refuses is parsed again by the standard library, so its
extensions keep today's meaning: ``NaN``/``Infinity`` literals and ``1e400`` reach the
validator as non-finite numbers (refused per value), lone surrogates, UTF-16/32 and a byte
order mark are accepted as before, and only what neither takes is malformed. orjson reads
integers beyond 64 bits as floats: a value or time that big is out of range either way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from ingest.validate import Origin, ReadingValidator, message_rejection
from ioc.messages import InstrumentStatus, Reading, Rejection, RejectReason

_STATUS_NAMES = {s.name.lower(): s for s in InstrumentStatus}
_STATUS_CODES = {str(s.value): s for s in InstrumentStatus}
SENML_RELATIVE_LIMIT_S = 2**28  # RFC 8428 §4.5.3: smaller times are relative to now
TS_LIMIT_S = 9_223_372_036  # InfluxDB's nanosecond int64: years 1677 to 2262


def parse_json(
    origin: Origin, payload: bytes, rejections: list[Rejection], station_id: str | None = None
) -> Any | None:
    """The JSON value of ``payload``; None (refused as malformed) when it is not JSON or null."""
    try:
        body = loads(payload)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        detail = f"not JSON: {exc}"
        rejections.append(message_rejection(origin, RejectReason.MALFORMED, detail, station_id))
        return None
    if body is None:
        detail = "the JSON is null"
        rejections.append(message_rejection(origin, RejectReason.MALFORMED, detail, station_id))
    return body


def loads(payload: bytes) -> Any:
    """``json.loads(payload)``, fast: orjson first, the standard library for what orjson
    refuses (see the module docstring). Raises ValueError (UnicodeDecodeError for bytes that
    are no text) or RecursionError (nested too deeply) like ``json.loads``."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)


def decode_reading(
    validator: ReadingValidator,
    origin: Origin,
    station_id: str,
    body: object,
    rejections: list[Rejection],
) -> Reading | None:
    """One reading object (already parsed JSON) of ``station_id``."""
    if not isinstance(body, dict):
        detail = "a reading must be a JSON object"
        rejections.append(message_rejection(origin, RejectReason.MALFORMED, detail, station_id))
        return None
    values = body.get("values")
    if not isinstance(values, dict) or not values:
        detail = "`values` must be a non-empty object"
        rejections.append(message_rejection(origin, RejectReason.MALFORMED, detail, station_id))
        return None
    ts_ms, problem = parse_timestamp(body.get("ts"))
    if problem:
        rejections.append(
            message_rejection(origin, RejectReason.BAD_TIMESTAMP, problem, station_id)
        )
        return None
    units = body.get("units")
    return validator.validate(
        origin,
        station_id,
        ts_ms,
        values,
        rejections,
        units=units if isinstance(units, dict) else None,
        status=instrument_status(body.get("status")),
    )


def decode_senml(
    validator: ReadingValidator,
    origin: Origin,
    records: object,
    rejections: list[Rejection],
    station_id: str | None = None,
) -> list[Reading]:
    """A SenML pack; ``station_id`` given when the transport names the station (MQTT topic)."""
    if not isinstance(records, list) or not records:
        detail = "a SenML pack must be a non-empty JSON array"
        rejections.append(message_rejection(origin, RejectReason.MALFORMED, detail, station_id))
        return []
    now_s = origin.received_ms / 1000
    groups: dict[tuple[str, int], tuple[dict[str, object], dict[str, object]]] = {}
    base_name, base_time, base_unit = "", 0.0, None
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            detail = f"record {index} is not an object"
            rejections.append(message_rejection(origin, RejectReason.MALFORMED, detail))
            continue
        base_name = record.get("bn", base_name)
        base_time = record.get("bt", base_time)
        base_unit = record.get("bu", base_unit)
        name = f"{base_name}{record.get('n', '')}"
        station, parameter = _split_name(name, station_id)
        if not station or not parameter:
            detail = f"record {index}: name {name!r} is not <station>:<parameter>"
            rejections.append(message_rejection(origin, RejectReason.MALFORMED, detail))
            continue
        ts_ms, problem = _senml_time(base_time, record.get("t", 0), now_s)
        if problem:
            detail = f"record {index}: {problem}"
            reason = RejectReason.BAD_TIMESTAMP
            rejections.append(message_rejection(origin, reason, detail, station))
            continue
        values, units = groups.setdefault((station, ts_ms), ({}, {}))
        values[parameter] = record.get("v", record.get("vs", record.get("vb", record.get("vd"))))
        unit = record.get("u", base_unit)
        if unit is not None:
            units[parameter] = unit
    readings = []
    for (station, ts_ms), (values, units) in groups.items():
        reading = validator.validate(origin, station, ts_ms, values, rejections, units=units)
        if reading is not None:
            readings.append(reading)
    return readings


def _split_name(name: str, station_id: str | None) -> tuple[str, str]:
    if station_id is not None:
        for separator in (":", "/"):
            prefix = f"{station_id}{separator}"
            if name.startswith(prefix):
                return station_id, name[len(prefix) :]
        return station_id, name
    for separator in (":", "/"):
        station, found, parameter = name.rpartition(separator)
        if found:
            return station.removeprefix("urn:ioc:station:"), parameter
    return "", ""


def _senml_time(base_time: object, t: object, now_s: float) -> tuple[int, str]:
    """``bt + t`` (epoch seconds, or relative to now when small) → (epoch ms, problem)."""
    if not _is_time(t) or not _is_time(base_time):
        return 0, "time is not a number between years 1677 and 2262"
    ts_s: float = base_time + t  # type: ignore[operator]  # both numbers (_is_time)
    if not -TS_LIMIT_S <= ts_s <= TS_LIMIT_S:
        return 0, "time is out of range (years 1677 to 2262)"
    if ts_s < SENML_RELATIVE_LIMIT_S:
        ts_s += now_s
    return round(ts_s * 1000), ""


def _is_time(value: object) -> bool:
    """An int or float of at most :data:`TS_LIMIT_S` either way (false for NaN)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return -TS_LIMIT_S <= value <= TS_LIMIT_S


def parse_timestamp(ts: object) -> tuple[int, str]:
    """``ts`` as epoch seconds (number) or ISO 8601 with an offset → (UTC epoch ms, problem)."""
    if type(ts) is int or type(ts) is float:
        if not -TS_LIMIT_S <= ts <= TS_LIMIT_S:  # also false for NaN
            return 0, f"timestamp {repr(ts)[:40]} is out of range (years 1677 to 2262)"
        return round(ts * 1000), ""
    if isinstance(ts, str):
        try:
            parsed = datetime.fromisoformat(ts)
            if parsed.tzinfo is None:
                return 0, f"timestamp {ts[:40]!r} has no UTC offset (add Z or +07:00)"
            seconds = parsed.timestamp()
        except (ValueError, OverflowError):  # OverflowError: beyond year 1..9999 in UTC
            return 0, f"timestamp {ts[:40]!r} is not a valid ISO 8601 time"
        if not -TS_LIMIT_S <= seconds <= TS_LIMIT_S:
            return 0, f"timestamp {ts[:40]!r} is out of range (years 1677 to 2262)"
        return round(seconds * 1000), ""
    return 0, "`ts` is missing (epoch seconds or ISO 8601 with offset)"


def instrument_status(raw: object) -> dict[str, InstrumentStatus]:
    """``{"pm25": "calibrating"}``, ``{"pm25": 1}`` or ``{"pm25": "01"}`` → non-normal ones."""
    if not isinstance(raw, Mapping):
        return {}
    result: dict[str, InstrumentStatus] = {}
    for key, code in raw.items():
        status: InstrumentStatus | None = None
        if isinstance(code, str):  # a name or decimal digits ("²" is a digit to str.isdigit)
            status = _STATUS_NAMES.get(code.lower()) or _STATUS_CODES.get(code.lstrip("0") or "0")
        elif type(code) is int and code in InstrumentStatus._value2member_map_:
            status = InstrumentStatus(code)
        if status is not None and status is not InstrumentStatus.MEASURING:
            result[key] = status
    return result
