"""Decoding of what stations send, into the shared validator (ingest/validate.py).

- Reading JSON (docs/protocol.md): ``{"ts": ..., "values": {...}, "units": {...},
  "status": {...}}``; on MQTT the station comes from the topic, over HTTP from
  ``"station_id"``.
- SenML JSON (RFC 8428): records resolved with their base fields; record name
  ``<station_id>:<parameter>`` (or just ``<parameter>`` when the topic names the station);
  records of one station at one time form one reading.

Tolerant of what devices send: unknown fields are dropped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ingest.validate import Origin, ReadingValidator, message_rejection
from ioc.messages import InstrumentStatus, Reading, Rejection, RejectReason

_STATUS_NAMES = {s.name.lower(): s for s in InstrumentStatus}
SENML_RELATIVE_LIMIT_S = 2**28  # RFC 8428 §4.5.3: smaller times are relative to now


def parse_json(origin: Origin, payload: bytes, rejections: list[Rejection]) -> Any | None:
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        rejections.append(message_rejection(origin, RejectReason.MALFORMED, f"not JSON: {exc}"))
        return None


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
        t = record.get("t", 0)
        if not _is_number(t) or not _is_number(base_time):
            detail = f"record {index}: time is not a number"
            reason = RejectReason.BAD_TIMESTAMP
            rejections.append(message_rejection(origin, reason, detail, station))
            continue
        ts_s = float(base_time) + float(t)
        if ts_s < SENML_RELATIVE_LIMIT_S:
            ts_s += now_s
        values, units = groups.setdefault((station, int(ts_s * 1000)), ({}, {}))
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


def _is_number(value: object) -> bool:
    return (type(value) is int or type(value) is float) and math.isfinite(value)


def parse_timestamp(ts: object) -> tuple[int, str]:
    """``ts`` as epoch seconds (number) or ISO 8601 with an offset → (UTC epoch ms, problem)."""
    if type(ts) is int or type(ts) is float:
        if not math.isfinite(ts):
            return 0, f"timestamp {ts!r} is not finite"
        return int(ts * 1000), ""
    if isinstance(ts, str):
        try:
            parsed = datetime.fromisoformat(ts)
        except ValueError:
            return 0, f"timestamp {ts!r} is not ISO 8601"
        if parsed.tzinfo is None:
            return 0, f"timestamp {ts!r} has no UTC offset (add Z or +07:00)"
        return int(parsed.timestamp() * 1000), ""
    return 0, "`ts` is missing (epoch seconds or ISO 8601 with offset)"


def instrument_status(raw: object) -> dict[str, InstrumentStatus]:
    """``{"pm25": "calibrating"}``, ``{"pm25": 1}`` or ``{"pm25": "01"}`` → non-normal ones."""
    if not isinstance(raw, Mapping):
        return {}
    result: dict[str, InstrumentStatus] = {}
    for key, code in raw.items():
        status: InstrumentStatus | None = None
        if isinstance(code, str):
            status = _STATUS_NAMES.get(code.lower())
            if status is None and code.isdigit():
                code = int(code)
        if type(code) is int and code in InstrumentStatus._value2member_map_:
            status = InstrumentStatus(code)
        if status is not None and status is not InstrumentStatus.MEASURING:
            result[key] = status
    return result
