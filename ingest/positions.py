"""Decoding of vehicle positions sent over MQTT (transport journey monitoring, issue #13).

Topic ``<prefix>/vehicles/{vehicle}/positions``: ``{vehicle}`` is the number plate, written
any way ingest.plates accepts (``49A-123.45``, ``49a12345``) and normalised (``49A12345``).
The payload is one fix (a JSON object) or a device's backlog (a JSON array of fixes):

``{"ts": ..., "lat": .., "lon": .., "speed": km/h, "heading": deg, "accuracy": m,
"altitude": m, "ignition": bool, "door": bool, "driver": "licence id", "odometer": km}``

- ``ts``: epoch milliseconds, or epoch seconds when below 2^31 (year 2038; what devices that
  count in seconds send), or ISO 8601 with an offset.
- ``lat``, ``lon`` (WGS84 degrees), ``ts`` and ``speed`` are required: a fix without them is
  refused (``malformed``; ``not_numeric`` when one is not a finite number).
- An optional field that cannot be read is left out and the fix flagged ``invalid_<field>``;
  a negative ``heading`` or ``accuracy`` means unknown (what many SDKs send) and is left out.
- Other keys are kept as attributes (numbers, strings, booleans; at most
  ``vehicles.max_attributes`` keys of at most ``vehicles.max_attribute_chars`` characters);
  what is left out flags the fix ``attributes_truncated``.

Per-fix errors are isolated: a bad fix in a batch refuses only that fix, with its reason and
its index in the array; its neighbours are kept. Ranges, the area, duplicates and GPS jumps
are checked afterwards by ingest.position_validate.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from ingest.decode import loads, parse_timestamp
from ingest.plates import PlateError, normalise_plate
from ingest.validate import PAYLOAD_KEPT_CHARS, Origin
from ioc.messages import PositionFix, PositionRejection, RejectReason
from ioc.vehicles_config import VehiclesConfig

SECONDS_BELOW = 2**31  # a numeric time below this is in seconds (as Traccar reads it)
TS_LIMIT_MS = 9_223_372_036_000  # InfluxDB's nanosecond int64: years 1677 to 2262
MAX_DRIVER_CHARS = 32
TOPIC_CACHE_SIZE = 100_000  # topics whose plate is remembered (cleared when full)

# Flags a decoder sets (ingest.position_validate adds gps_jump and late).
FLAG_ATTRIBUTES_TRUNCATED = "attributes_truncated"
FLAG_SERVER_TIME = "server_time"  # the device sent no time: the arrival time is used
FLAG_NO_SPEED = "no_speed"  # the device sent no speed: 0 is stored
FLAG_DEVICE_INVALID = "device_invalid"  # the device marked the fix not valid (no GPS lock)

_KNOWN = frozenset(
    (
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
    )
)
AttributeValue = str | int | float | bool
_NO_FLAGS: frozenset[str] = frozenset()


def topic_vehicle(
    topic: str, prefix: str = "ioc/v1", kind: str = "positions"
) -> tuple[str, RejectReason | None, str]:
    """``<prefix>/vehicles/{vehicle}/<kind>`` → (normalised plate, refusal reason, why)."""
    head, tail = f"{prefix}/vehicles/", f"/{kind}"
    if not topic.startswith(head) or not topic.endswith(tail) or len(topic) <= len(head + tail):
        detail = f"topic {topic[:100]!r} is not {head}<plate>{tail}"
        return "", RejectReason.MALFORMED, detail
    sent = topic[len(head) : -len(tail)]
    try:
        return normalise_plate(sent), None, ""
    except PlateError as error:
        return "", RejectReason.INVALID_PLATE, str(error)


class AttributeBag:
    """Collects a fix's other keys within the configured bounds."""

    __slots__ = ("_max_chars", "_max_count", "items", "truncated")

    def __init__(self, max_count: int, max_chars: int) -> None:
        self._max_count = max_count
        self._max_chars = max_chars
        self.items: list[tuple[str, AttributeValue]] = []
        self.truncated = False

    def add(self, key: str, value: object) -> None:
        """Keeps ``value`` if it is a finite number, a boolean or a short string; ``None`` is
        skipped silently, anything else (objects, arrays, too much) marks truncation."""
        if value is None:
            return
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):  # type: ignore[arg-type]
                self.truncated = True
                return
        elif kind is int:
            if not -(2**63) <= value < 2**63:  # type: ignore[operator]
                self.truncated = True
                return
        elif kind is str:
            if len(value) > self._max_chars:  # type: ignore[arg-type]
                self.truncated = True
                return
        elif kind is not bool:
            self.truncated = True
            return
        if len(self.items) >= self._max_count or len(key) > self._max_chars or not key:
            self.truncated = True
            return
        self.items.append((key, value))  # type: ignore[arg-type]  # checked above


def fix_time(ts: object) -> tuple[int, str]:
    """``ts`` as epoch ms, epoch s (below 2^31) or ISO 8601 with offset → (epoch ms, problem)."""
    kind = type(ts)
    if kind is int or kind is float:
        number: float = ts  # type: ignore[assignment]
        if not -TS_LIMIT_MS <= number <= TS_LIMIT_MS:  # also false for NaN
            return 0, f"`ts` {repr(ts)[:40]} is out of range (years 1677 to 2262)"
        if -SECONDS_BELOW < number < SECONDS_BELOW:
            number *= 1000
        return round(number), ""
    if isinstance(ts, str):
        ts_ms, problem = parse_timestamp(ts)
        return ts_ms, problem.replace("timestamp", "`ts`", 1)
    if ts is None:
        return 0, "`ts` is missing (epoch ms, or ISO 8601 with offset)"
    return 0, "`ts` must be epoch ms or an ISO 8601 text with offset"


def number(value: object) -> float | None:
    """A finite int or float (not a bool) as float, else None."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type,return-value]
    if kind is int:
        try:
            return float(value)  # type: ignore[arg-type]
        except OverflowError:
            return None
    return None


def fix_payload(body: object) -> str:
    """A refused fix as JSON text (its first 4 KB), for the dead-letter record."""
    try:
        text = orjson.dumps(body).decode()
    except (TypeError, orjson.JSONEncodeError):  # an integer beyond 64 bits
        text = json.dumps(body, default=str)
    return text[:PAYLOAD_KEPT_CHARS]


class PositionDecoder:
    """Fixes of MQTT position messages; refusals appended to the list passed in."""

    def __init__(self, config: VehiclesConfig, prefix: str = "ioc/v1") -> None:
        self._prefix = prefix
        self._max_batch = config.max_batch_fixes
        self._max_attributes = config.max_attributes
        self._max_chars = config.max_attribute_chars
        self._topics: dict[str, tuple[str, RejectReason | None, str]] = {}  # topic_vehicle's

    def decode_message(
        self, origin: Origin, topic: str, rejections: list[PositionRejection]
    ) -> list[PositionFix]:
        """A whole MQTT message: the topic names the vehicle, ``origin.payload`` the fixes."""
        known = self._topics.get(topic)
        if known is None:
            known = topic_vehicle(topic, self._prefix)
            if len(self._topics) >= TOPIC_CACHE_SIZE:
                self._topics.clear()
            self._topics[topic] = known
        vehicle, reason, problem = known
        if reason is not None:
            rejections.append(refusal(origin, reason, problem))
            return []
        return self.decode_payload(origin, vehicle, origin.payload, rejections)

    def decode_payload(
        self, origin: Origin, vehicle: str, payload: bytes, rejections: list[PositionRejection]
    ) -> list[PositionFix]:
        """One fix (JSON object) or a batch (JSON array) of ``vehicle`` (normalised plate)."""
        try:
            body = loads(payload)
        except (ValueError, RecursionError) as exc:
            rejections.append(refusal(origin, RejectReason.MALFORMED, f"not JSON: {exc}", vehicle))
            return []
        if isinstance(body, dict):
            fix = self.decode_fix(origin, vehicle, body, rejections)
            return [] if fix is None else [fix]
        if not isinstance(body, list) or not body:
            detail = "a position message must be a fix (JSON object) or a non-empty array of them"
            rejections.append(refusal(origin, RejectReason.MALFORMED, detail, vehicle))
            return []
        fixes = []
        for index, item in enumerate(body[: self._max_batch]):
            fix = self.decode_fix(origin, vehicle, item, rejections, index)
            if fix is not None:
                fixes.append(fix)
        if len(body) > self._max_batch:
            detail = (
                f"{len(body)} fixes in one message, at most {self._max_batch}: "
                f"fixes {self._max_batch} to {len(body) - 1} are refused"
            )
            rejections.append(refusal(origin, RejectReason.TOO_LARGE, detail, vehicle))
        return fixes

    def decode_fix(
        self,
        origin: Origin,
        vehicle: str,
        body: object,
        rejections: list[PositionRejection],
        index: int | None = None,
    ) -> PositionFix | None:
        """One fix object (already parsed JSON); None when refused (the reason appended).

        The hot path of vehicle ingest (every fix, tens of thousands a second in a
        catch-up): one lookup per key, no call for an absent optional key, and the refusal
        built only when there is one."""
        if not isinstance(body, dict):
            _refuse_fix(origin, vehicle, body, rejections, index, RejectReason.MALFORMED,
                        "a fix must be a JSON object")  # fmt: skip
            return None
        get = body.get
        ts_ms, problem = fix_time(get("ts"))
        if problem:
            _refuse_fix(origin, vehicle, body, rejections, index, RejectReason.BAD_TIMESTAMP,
                        problem, "ts")  # fmt: skip
            return None
        lat, lon, speed = number(get("lat")), number(get("lon")), number(get("speed"))
        if lat is None or lon is None or speed is None:  # the first one that is not
            key = next(k for k in ("lat", "lon", "speed") if number(get(k)) is None)
            if get(key) is None:
                reason, detail = RejectReason.MALFORMED, f"`{key}` is missing"
            else:
                reason, detail = RejectReason.NOT_NUMERIC, f"`{key}` is not a finite number"
            _refuse_fix(origin, vehicle, body, rejections, index, reason, detail, key)
            return None
        flags: list[str] = []
        raw = get("heading")
        heading = None if raw is None else _optional_value(raw, "heading", flags, True, high=360.0)
        raw = get("accuracy")
        accuracy = None if raw is None else _optional_value(raw, "accuracy", flags, True)
        raw = get("altitude")
        altitude = None if raw is None else _optional_value(raw, "altitude", flags)
        raw = get("odometer")
        odometer = None if raw is None else _optional_value(raw, "odometer", flags, low=0.0)
        if heading == 360.0:
            heading = 0.0
        ignition = get("ignition")
        if not (ignition is None or ignition is True or ignition is False):
            ignition = _switch_value(ignition, "ignition", flags)
        door = get("door")
        if not (door is None or door is True or door is False):
            door = _switch_value(door, "door", flags)
        driver = get("driver")
        if driver is not None:
            if type(driver) is int and driver >= 0:
                driver = str(driver)
            elif not isinstance(driver, str):
                flags.append("invalid_driver")
                driver = None
            else:
                stripped = driver.strip()
                if 0 < len(stripped) <= MAX_DRIVER_CHARS:
                    driver = stripped
                else:
                    flags.append("invalid_driver")
                    driver = None
        attributes: tuple[tuple[str, AttributeValue], ...] = ()
        if not _KNOWN.issuperset(body):
            bag = None
            for key, value in body.items():
                if key not in _KNOWN:
                    if bag is None:
                        bag = AttributeBag(self._max_attributes, self._max_chars)
                    bag.add(key, value)
            if bag is not None:
                attributes = tuple(bag.items)
                if bag.truncated:
                    flags.append(FLAG_ATTRIBUTES_TRUNCATED)
        # Positional, in PositionFix's field order: vehicle, ts_ms, lat, lon, speed_kmh,
        # received_ms, heading, accuracy_m, altitude_m, ignition, door, driver, odometer_km,
        # attributes, flags.
        return PositionFix(
            vehicle, ts_ms, lat, lon, speed, origin.received_ms, heading, accuracy, altitude,
            ignition, door, driver, odometer, attributes,
            frozenset(flags) if flags else _NO_FLAGS,
        )  # fmt: skip


def _refuse_fix(
    origin: Origin,
    vehicle: str,
    body: object,
    rejections: list[PositionRejection],
    index: int | None,
    reason: RejectReason,
    detail: str,
    parameter: str | None = None,
) -> None:
    """A refused fix: the message as sent, or for a fix of a batch the fix and its index."""
    shown = None if index is None else fix_payload(body)
    rejections.append(
        refusal(origin, reason, detail, vehicle, parameter=parameter, index=index, payload=shown)
    )


def _optional(
    body: dict[str, Any],
    key: str,
    flags: list[str],
    unknown_below_zero: bool = False,
    low: float = -math.inf,
    high: float = math.inf,
) -> float | None:
    raw = body.get(key)
    if raw is None:
        return None
    return _optional_value(raw, key, flags, unknown_below_zero, low, high)


def _optional_value(
    raw: object,
    key: str,
    flags: list[str],
    unknown_below_zero: bool = False,
    low: float = -math.inf,
    high: float = math.inf,
) -> float | None:
    """An optional number that is present (not None): the value, or None (flagged
    ``invalid_<key>`` unless negative meaning unknown)."""
    value = number(raw)
    if value is None:
        flags.append(f"invalid_{key}")
        return None
    if unknown_below_zero and value < 0:
        return None
    if not low <= value <= high:
        flags.append(f"invalid_{key}")
        return None
    return value


def _switch(body: dict[str, Any], key: str, flags: list[str]) -> bool | None:
    raw = body.get(key)
    if raw is None or raw is True or raw is False:
        return raw
    return _switch_value(raw, key, flags)


def _switch_value(raw: object, key: str, flags: list[str]) -> bool | None:
    """A switch sent as something else than a boolean: 0 or 1, or flagged and left out."""
    if type(raw) is int and raw in (0, 1):
        return raw == 1
    flags.append(f"invalid_{key}")
    return None


def refusal(
    origin: Origin,
    reason: RejectReason,
    detail: str,
    vehicle: str | None = None,
    *,
    parameter: str | None = None,
    index: int | None = None,
    payload: str | None = None,
) -> PositionRejection:
    """A refusal of a position message, an OsmAnd request, or of fix ``index`` of a batch
    (``payload``: that fix; default the message's beginning)."""
    if payload is None:
        payload = origin.payload[:PAYLOAD_KEPT_CHARS].decode("utf-8", "replace")
    return PositionRejection(
        source=origin.source,
        reason=reason,
        detail=detail if index is None else f"fix {index}: {detail}",
        received_ms=origin.received_ms,
        vehicle=vehicle,
        parameter=parameter,
        index=index,
        payload=payload,
    )
