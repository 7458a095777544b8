"""Decode and validate station messages (docs/protocol.md) against the station registry.

Tolerant of what devices send: unknown top-level fields are dropped. Strict about what is
stored: every refused message or value becomes a :class:`Rejection` with its reason, and the
valid values of a partly bad message are kept.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from ioc.config import IngestConfig
from ioc.messages import InstrumentStatus, RawMessage, Reading, Rejection, RejectReason
from ioc.registry import StationRegistry, normalize_unit

PAYLOAD_KEPT_CHARS = 4_096
_STATUS_NAMES = {s.name.lower(): s for s in InstrumentStatus}


class StationMessageDecoder:
    """Turns ``<prefix>/stations/<id>/readings`` messages into readings and rejections."""

    def __init__(self, registry: StationRegistry, config: IngestConfig, source: str) -> None:
        self._registry = registry
        self._max_future_ms = int(config.max_future_s * 1000)
        self._max_age_ms = int(config.max_age_s * 1000)
        self._source = source

    def decode(
        self, station_id: str, message: RawMessage, rejections: list[Rejection]
    ) -> Reading | None:
        """Return the reading (if any value survived); append every refusal to ``rejections``."""
        now_ms = message.received_ms

        def reject(reason: RejectReason, detail: str, parameter: str | None = None) -> None:
            rejections.append(
                Rejection(
                    source=self._source,
                    reason=reason,
                    detail=detail,
                    received_ms=now_ms,
                    station_id=station_id or None,
                    parameter=parameter,
                    payload=message.payload[:PAYLOAD_KEPT_CHARS].decode("utf-8", "replace"),
                )
            )

        station = self._registry.get(station_id)
        if station is None:
            reject(RejectReason.UNKNOWN_STATION, f"station {station_id!r} is not in the registry")
            return None
        try:
            body = json.loads(message.payload)
        except (ValueError, UnicodeDecodeError) as exc:
            reject(RejectReason.MALFORMED, f"payload is not JSON: {exc}")
            return None
        if not isinstance(body, dict):
            reject(RejectReason.MALFORMED, "payload must be a JSON object")
            return None
        values = body.get("values")
        if not isinstance(values, dict) or not values:
            reject(RejectReason.MALFORMED, "`values` must be a non-empty object")
            return None
        ts_ms, problem = parse_timestamp(body.get("ts"))
        if problem:
            reject(RejectReason.BAD_TIMESTAMP, problem)
            return None
        if ts_ms - now_ms > self._max_future_ms:
            reject(RejectReason.BAD_TIMESTAMP, f"timestamp {body['ts']!r} is in the future")
            return None
        if now_ms - ts_ms > self._max_age_ms:
            reject(RejectReason.BAD_TIMESTAMP, f"timestamp {body['ts']!r} is too old")
            return None
        units = body.get("units")
        units = units if isinstance(units, dict) else {}

        kept: dict[str, float] = {}
        specs = station.parameters
        for key, value in values.items():
            spec = specs.get(key)
            if spec is None:
                reject(
                    RejectReason.UNKNOWN_PARAMETER,
                    f"station {station_id} has no parameter {key!r} "
                    f"(known: {', '.join(sorted(specs))})",
                    key,
                )
                continue
            if type(value) is not float and (type(value) is not int):
                reject(RejectReason.NOT_NUMERIC, f"{key}={value!r} is not a number", key)
                continue
            if not math.isfinite(value):
                reject(RejectReason.NOT_NUMERIC, f"{key}={value!r} is not finite", key)
                continue
            unit = units.get(key)
            if unit is not None and (
                not isinstance(unit, str) or normalize_unit(unit) != normalize_unit(spec.unit)
            ):
                reject(
                    RejectReason.WRONG_UNIT,
                    f"{key} sent in {unit!r}, the registry expects {spec.unit!r}",
                    key,
                )
                continue
            if not spec.low <= value <= spec.high:
                reject(
                    RejectReason.OUT_OF_RANGE,
                    f"{key}={value} outside the plausible range {spec.low}..{spec.high} "
                    f"{spec.unit}",
                    key,
                )
                continue
            kept[key] = float(value)
        if not kept:
            return None
        return Reading(
            station_id=station_id,
            ts_ms=ts_ms,
            values=kept,
            received_ms=now_ms,
            status=_instrument_status(body.get("status"), kept),
        )


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


def _instrument_status(raw: object, kept: dict[str, float]) -> dict[str, InstrumentStatus]:
    """``{"pm25": "calibrating"}`` or ``{"pm25": 1}`` → statuses of kept, non-normal values."""
    if not isinstance(raw, dict):
        return {}
    result: dict[str, InstrumentStatus] = {}
    for key, code in raw.items():
        if key not in kept:
            continue
        status: InstrumentStatus | None = None
        if isinstance(code, str):
            status = _STATUS_NAMES.get(code.lower())
            if status is None and code.isdigit():
                code = int(code)
        if isinstance(code, int) and code in InstrumentStatus._value2member_map_:
            status = InstrumentStatus(code)
        if status is not None and status is not InstrumentStatus.MEASURING:
            result[key] = status
    return result
