"""The OsmAnd protocol as Traccar speaks it (Traccar Client, OsmAnd, phone apps and trackers
that post to Traccar's port 5055), decoded into :class:`PositionFix`. Pure functions: the
HTTP route that calls them is the wiring step's.

Three forms, as Traccar reads them:

- a query string, ``/?id=...&timestamp=...&lat=...&lon=...&speed=...``;
- the same parameters as a form body (``application/x-www-form-urlencoded``), used when the
  URL has none;
- JSON (``Content-Type: application/json``, the Transistorsoft background-geolocation format
  of Traccar Client 9+): ``{"device_id", "location": {"timestamp", "coords": {"latitude",
  "longitude", "speed" (m/s), "heading", "accuracy", "altitude"}, "is_moving", "odometer"
  (m), "event", "activity", "battery": {"level" (0..1), "is_charging"}, "extras": {...}}}``.

Query and form keys: ``id``/``deviceid``; ``timestamp`` (Unix seconds below 2^31, else
milliseconds, a fraction allowed, or ISO 8601, or ``yyyy-MM-dd HH:mm:ss`` in
``vehicles.osmand_naive_utc_offset_min``; missing: the arrival time, flagged
``server_time``); ``lat`` and ``lon`` or ``location=lat,lon``; ``speed`` in knots unless the
device's or the configured unit says ``kmh``, ``mps`` or ``mph`` (missing: 0, flagged
``no_speed``); ``bearing``/``heading`` (degrees); ``altitude`` (m); ``accuracy`` (m);
``valid`` (``false``/``0`` flags ``device_invalid``); ``driverUniqueId`` (the driver's licence
number); ``ignition``, ``door`` (``true``/``false``); ``odometer`` (metres, as Traccar
stores it); ``hdop``, ``batt`` (→ ``batteryLevel``), ``charge`` and every other key become
attributes (a number, ``true``/``false``, or the text). Where Traccar takes a missing position
from the device's last one, or locates it by ``cell``/``wifi``, a fix without coordinates is
refused here (``malformed``).

**Per-device secret.** OsmAnd has no authentication: anyone who knows (or guesses) a device
id could post positions for it. Each device configured in ``vehicles.osmand_devices`` may
therefore carry the SHA-256 of a secret (:func:`hash_device_key`); the device then sends the
secret as one more URL parameter, ``&key=<secret>`` (apps that only let one edit the server
URL take ``http://host:5055/?key=<secret>`` and append their parameters), or the route passes
it from a path segment (``/osmand/<secret>``). A device with a secret configured and a request
without it, or with another, is refused ``unauthorized``; the ``key`` parameter is never
stored or echoed. An unknown device id is ``unknown_vehicle`` (Traccar answers 400).

What stays exposed: the secret travels in the URL, so it ends up in access logs (ours, a
reverse proxy's, the device's) and anyone on the path of a plain-HTTP device reads it
(many trackers cannot do TLS: put them on a private APN or VPN); it is a bearer secret with
no replay protection, so a captured request can be posted again (an identical one is then a
``duplicate``); device ids and the fact that a device reports are visible on the wire.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl

from ingest.decode import loads
from ingest.positions import (
    FLAG_ATTRIBUTES_TRUNCATED,
    FLAG_DEVICE_INVALID,
    FLAG_NO_SPEED,
    FLAG_SERVER_TIME,
    SECONDS_BELOW,
    TS_LIMIT_MS,
    AttributeBag,
    number,
)
from ioc.messages import PositionFix, RejectReason
from ioc.vehicles_config import SpeedUnit, VehiclesConfig

KMH_PER_UNIT: dict[str, float] = {"kn": 1.852, "kmh": 1.0, "mps": 3.6, "mph": 1.609344}
MAX_FIELDS = 200  # parameters of one request at most
MAX_BODY_BYTES = 65_536
MAX_DEVICE_ID_CHARS = 64
MAX_DRIVER_CHARS = 32
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DIGITS = re.compile(r"-?[0-9]{1,19}")
_NAIVE_FORMAT = "%Y-%m-%d %H:%M:%S"
_NOT_ATTRIBUTES = frozenset(
    (
        "id",
        "deviceid",
        "key",
        "timestamp",
        "lat",
        "lon",
        "location",
        "speed",
        "bearing",
        "heading",
        "altitude",
        "accuracy",
        "valid",
        "driverUniqueId",
        "ignition",
        "door",
        "odometer",
        "notificationToken",
    )
)
_RENAMED = {"batt": "batteryLevel"}


@dataclass(frozen=True, slots=True)
class OsmAndDevice:
    """A device that may post: its vehicle (normalised plate), the SHA-256 (hex) of its
    secret (None: it sends none) and the unit of its ``speed`` (None: the configured one)."""

    vehicle: str
    key_sha256: str | None = None
    speed_unit: SpeedUnit | None = None


class OsmAndRefused(Exception):  # a refusal, not a bug
    """A request that gives no fix: the reason, why, and the device id as sent (if any)."""

    def __init__(self, reason: RejectReason, detail: str, device_id: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.device_id = device_id


def hash_device_key(key: str) -> str:
    """The SHA-256 (hex) of a device's secret, as ``vehicles.osmand_devices.*.key_sha256``.
    Unsalted: secrets must be random (e.g. ``secrets.token_urlsafe(24)``), not chosen words,
    so the configured hash cannot be reversed by guessing."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def devices_from_config(config: VehiclesConfig) -> dict[str, OsmAndDevice]:
    return {
        device_id: OsmAndDevice(d.vehicle, d.key_sha256, d.speed_unit)
        for device_id, d in config.osmand_devices.items()
    }


class OsmAndDecoder:
    def __init__(
        self, config: VehiclesConfig, devices: Mapping[str, OsmAndDevice] | None = None
    ) -> None:
        """``devices``: device id → :class:`OsmAndDevice` (default: the configured ones; a
        mapping that changes in place is followed)."""
        self._devices = devices_from_config(config) if devices is None else devices
        self._unit = config.osmand_speed_unit
        self._naive = timezone(timedelta(minutes=config.osmand_naive_utc_offset_min))
        self._min_accuracy = config.osmand_min_accuracy_m
        self._max_attributes = config.max_attributes
        self._max_chars = config.max_attribute_chars

    # -- the three forms -------------------------------------------------------------------

    def decode_request(
        self,
        target: str,
        body: bytes,
        content_type: str | None,
        received_ms: int,
        key: str | None = None,
    ) -> PositionFix:
        """A request as Traccar dispatches it: JSON by content type, else the query string
        of ``target`` (``/?id=...``), else the form body. ``key`` is a secret the route took
        from elsewhere (a path segment); a ``key`` URL parameter counts too."""
        query = target.partition("?")[2]
        if content_type is not None and content_type.lower().startswith("application/json"):
            if key is None and query:
                key = dict(_pairs(query)).get("key")
            return self.decode_json(body, received_ms, key)
        if _pairs(query):
            return self.decode_query(query, received_ms, key)
        return self.decode_form(body, received_ms, key)

    def decode_query(self, query: str, received_ms: int, key: str | None = None) -> PositionFix:
        """The parameters of a URL (``/?id=..&lat=..`` or ``id=..&lat=..``)."""
        if "?" in query:
            query = query.partition("?")[2]
        return self._decode_params(_pairs(query), received_ms, key)

    def decode_form(self, body: bytes, received_ms: int, key: str | None = None) -> PositionFix:
        """An ``application/x-www-form-urlencoded`` body."""
        if len(body) > MAX_BODY_BYTES:
            raise OsmAndRefused(RejectReason.TOO_LARGE, f"body above {MAX_BODY_BYTES} bytes")
        return self._decode_params(_pairs(body.decode("utf-8", "replace")), received_ms, key)

    def decode_json(self, body: bytes, received_ms: int, key: str | None = None) -> PositionFix:
        """The JSON form (``device_id`` and ``location``)."""
        if len(body) > MAX_BODY_BYTES:
            raise OsmAndRefused(RejectReason.TOO_LARGE, f"body above {MAX_BODY_BYTES} bytes")
        try:
            root = loads(body)
        except (ValueError, RecursionError) as exc:
            raise OsmAndRefused(RejectReason.MALFORMED, f"not JSON: {exc}") from None
        if not isinstance(root, dict):
            raise OsmAndRefused(RejectReason.MALFORMED, "the body must be a JSON object")
        sent_id = root.get("device_id")
        if type(sent_id) is int:
            sent_id = str(sent_id)
        if not isinstance(sent_id, str):
            raise OsmAndRefused(RejectReason.MALFORMED, "`device_id` is missing")
        device = self._device(sent_id, key)
        location = root.get("location")
        if not isinstance(location, dict):
            raise OsmAndRefused(RejectReason.MALFORMED, "`location` is missing", sent_id)
        stamp = location.get("timestamp")
        if not isinstance(stamp, str):
            raise OsmAndRefused(RejectReason.BAD_TIMESTAMP, "`timestamp` is missing", sent_id)
        ts_ms = self._text_time(stamp, sent_id)
        coords = location.get("coords")
        if not isinstance(coords, dict):
            raise OsmAndRefused(RejectReason.MALFORMED, "`coords` is missing", sent_id)
        lat, lon = coords.get("latitude"), coords.get("longitude")
        lat_f, lon_f = number(lat), number(lon)
        if lat_f is None or lon_f is None:
            reason = RejectReason.MALFORMED if lat is None or lon is None else None
            raise OsmAndRefused(
                reason or RejectReason.NOT_NUMERIC,
                "`coords.latitude` and `coords.longitude` must be numbers",
                sent_id,
            )
        flags: list[str] = []
        speed_mps = number(coords.get("speed"))
        if speed_mps is None or speed_mps < 0:  # -1: unknown
            speed_kmh = 0.0
            flags.append(FLAG_NO_SPEED)
        else:
            speed_kmh = speed_mps * 3.6
        heading = number(coords.get("heading"))
        if heading is not None and not 0 <= heading <= 360:
            heading = None  # -1: unknown
        accuracy = number(coords.get("accuracy"))
        if accuracy is not None and (accuracy < self._min_accuracy or accuracy < 0):
            accuracy = None
        bag = AttributeBag(self._max_attributes, self._max_chars)
        for name, attribute in (
            ("event", location.get("event")),
            ("motion", location.get("is_moving")),
            ("mock", location.get("mock")),
        ):
            bag.add(name, attribute)
        activity = location.get("activity")
        if isinstance(activity, dict):
            bag.add("activity", activity.get("type"))
        battery = location.get("battery")
        if isinstance(battery, dict):
            level = number(battery.get("level"))
            if level is not None and level >= 0:
                bag.add("batteryLevel", int(level * 100))
            if battery.get("is_charging") is True:
                bag.add("charge", True)
        alarm = location.get("alarm")
        bag.add("alarm", alarm)
        extras = location.get("extras")
        if isinstance(extras, dict):
            for name, extra in extras.items():
                if name == "alarm" and alarm is not None:
                    continue
                if extra is None or isinstance(extra, dict | list):
                    continue  # Traccar keeps numbers, booleans and strings
                bag.add(name, extra)
        odometer_m = number(location.get("odometer"))
        if bag.truncated:
            flags.append(FLAG_ATTRIBUTES_TRUNCATED)
        return PositionFix(
            vehicle=device.vehicle,
            ts_ms=ts_ms,
            lat=lat_f,
            lon=lon_f,
            speed_kmh=speed_kmh,
            received_ms=received_ms,
            heading=heading,
            accuracy_m=accuracy,
            altitude_m=number(coords.get("altitude")),
            odometer_km=None if odometer_m is None else odometer_m / 1000,
            attributes=tuple(bag.items),
            flags=frozenset(flags),
        )

    # -- query and form parameters ---------------------------------------------------------

    def _decode_params(
        self, pairs: list[tuple[str, str]], received_ms: int, key: str | None
    ) -> PositionFix:
        params: dict[str, str] = {}
        for name, value in pairs:  # a repeated key: the last one counts (as in Traccar)
            params[name] = value
        sent_id = params.get("id", params.get("deviceid"))
        if sent_id is None:
            raise OsmAndRefused(RejectReason.MALFORMED, "no device id (`id` or `deviceid`)")
        device = self._device(sent_id, params.get("key", key) if key is None else key)
        flags: list[str] = []

        stamp = params.get("timestamp")
        if stamp is None:
            ts_ms = received_ms
            flags.append(FLAG_SERVER_TIME)
        elif _DIGITS.fullmatch(stamp):
            sent = int(stamp)
            ts_ms = sent * 1000 if sent < SECONDS_BELOW - 1 else sent
            if not -TS_LIMIT_MS <= ts_ms <= TS_LIMIT_MS:
                detail = f"timestamp {stamp!r} is out of range (years 1677 to 2262)"
                raise OsmAndRefused(RejectReason.BAD_TIMESTAMP, detail, sent_id)
        elif _NUMBER.fullmatch(stamp):  # fractional Unix time, which Traccar refuses
            sent_time = float(stamp)
            if abs(sent_time) < SECONDS_BELOW - 1:
                sent_time *= 1000
            if not -TS_LIMIT_MS <= sent_time <= TS_LIMIT_MS:  # also false for infinity
                detail = f"timestamp {stamp[:40]!r} is out of range (years 1677 to 2262)"
                raise OsmAndRefused(RejectReason.BAD_TIMESTAMP, detail, sent_id)
            ts_ms = round(sent_time)
        else:
            ts_ms = self._text_time(stamp, sent_id)

        if "location" in params:
            lat_text, _, lon_text = params["location"].partition(",")
            lon_text = lon_text.partition(",")[0]
        else:
            lat_text, lon_text = params.get("lat", ""), params.get("lon", "")
        if not lat_text or not lon_text:
            detail = "no position (`lat` and `lon`, or `location=lat,lon`)"
            raise OsmAndRefused(RejectReason.MALFORMED, detail, sent_id)
        lat = _float(lat_text, "lat", sent_id)
        lon = _float(lon_text, "lon", sent_id)

        speed_text = params.get("speed")
        if speed_text is None:
            speed_kmh = 0.0
            flags.append(FLAG_NO_SPEED)
        else:
            unit = device.speed_unit or self._unit
            speed_kmh = _float(speed_text, "speed", sent_id) * KMH_PER_UNIT[unit]

        heading = _optional(params.get("bearing", params.get("heading")), "heading", flags)
        if heading is not None and not 0 <= heading <= 360:
            heading = None
        accuracy = _optional(params.get("accuracy"), "accuracy", flags)
        if accuracy is not None and accuracy < 0:
            accuracy = None
        altitude = _optional(params.get("altitude"), "altitude", flags)
        odometer_m = _optional(params.get("odometer"), "odometer", flags)
        valid = params.get("valid")
        if valid is not None and not (valid.lower() == "true" or valid == "1"):
            flags.append(FLAG_DEVICE_INVALID)
        driver = params.get("driverUniqueId")
        if driver is not None:
            driver = driver.strip()
            if not 0 < len(driver) <= MAX_DRIVER_CHARS:
                flags.append("invalid_driver")
                driver = None

        bag = AttributeBag(self._max_attributes, self._max_chars)
        for name, text in params.items():
            if name not in _NOT_ATTRIBUTES:
                bag.add(_RENAMED.get(name, name), _attribute(name, text))
        if bag.truncated:
            flags.append(FLAG_ATTRIBUTES_TRUNCATED)
        return PositionFix(
            vehicle=device.vehicle,
            ts_ms=ts_ms,
            lat=lat,
            lon=lon,
            speed_kmh=speed_kmh,
            received_ms=received_ms,
            heading=heading,
            accuracy_m=accuracy,
            altitude_m=altitude,
            ignition=_switch(params.get("ignition"), "ignition", flags),
            door=_switch(params.get("door"), "door", flags),
            driver=driver,
            odometer_km=None if odometer_m is None else odometer_m / 1000,
            attributes=tuple(bag.items),
            flags=frozenset(flags),
        )

    # -- shared ----------------------------------------------------------------------------

    def _device(self, sent_id: str, key: str | None) -> OsmAndDevice:
        if not sent_id or len(sent_id) > MAX_DEVICE_ID_CHARS:
            raise OsmAndRefused(RejectReason.MALFORMED, "the device id is empty or too long")
        device = self._devices.get(sent_id)
        if device is None:
            detail = f"device {sent_id!r} is not configured (vehicles.osmand_devices)"
            raise OsmAndRefused(RejectReason.UNKNOWN_VEHICLE, detail, sent_id)
        if device.key_sha256 is not None:
            sent = hash_device_key(key) if key is not None else ""
            if not hmac.compare_digest(sent, device.key_sha256):
                what = "without its secret" if key is None else "with a wrong secret"
                raise OsmAndRefused(RejectReason.UNAUTHORIZED, f"{what} (`key`)", sent_id)
        return device

    def _text_time(self, stamp: str, sent_id: str) -> int:
        """ISO 8601 (``2016-01-27T18:55:47Z``) or ``2014-06-04 09:10:11``, a time without an
        offset taken in the configured one → epoch ms."""
        try:
            if "T" in stamp or "t" in stamp:
                parsed = datetime.fromisoformat(stamp.strip())
            else:
                parsed = datetime.strptime(stamp.strip(), _NAIVE_FORMAT)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=self._naive)
            seconds = parsed.astimezone(UTC).timestamp()
        except (ValueError, OverflowError):
            detail = f"timestamp {stamp[:40]!r} is no Unix time, ISO 8601 or yyyy-MM-dd HH:mm:ss"
            raise OsmAndRefused(RejectReason.BAD_TIMESTAMP, detail, sent_id) from None
        ts_ms = round(seconds * 1000)
        if not -TS_LIMIT_MS <= ts_ms <= TS_LIMIT_MS:
            detail = f"timestamp {stamp[:40]!r} is out of range (years 1677 to 2262)"
            raise OsmAndRefused(RejectReason.BAD_TIMESTAMP, detail, sent_id)
        return ts_ms


def _pairs(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise OsmAndRefused(RejectReason.TOO_LARGE, f"more than {MAX_FIELDS} parameters") from None


def _float(text: str, name: str, sent_id: str) -> float:
    value = _number(text)
    if value is None:
        detail = f"`{name}`={text[:40]!r} is not a finite number"
        raise OsmAndRefused(RejectReason.NOT_NUMERIC, detail, sent_id)
    return value


def _number(text: str) -> float | None:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _optional(text: str | None, name: str, flags: list[str]) -> float | None:
    if text is None or not text.strip():
        return None
    value = _number(text)
    if value is None:
        flags.append(f"invalid_{name}")
    return value


def _switch(text: str | None, name: str, flags: list[str]) -> bool | None:
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    flags.append(f"invalid_{name}")
    return None


def _attribute(name: str, text: str) -> str | float | bool:
    """As Traccar: a number, ``true``/``false``, or the text."""
    if name == "charge":
        return text.strip().lower() == "true"
    value = _number(text)
    if value is not None:
        return value
    if text == "true":
        return True
    if text == "false":
        return False
    return text
