"""Line protocol for vehicle positions (transport journey monitoring, issue #13).

Measurement ``position``, tag ``vehicle`` (the normalised plate), fields ``lat``, ``lon``,
``speed`` (km/h), and when sent ``heading``, ``accuracy``, ``altitude`` (m), ``odometer``
(km), ``ignition``, ``door`` (booleans), ``driver`` (licence number); ``flags`` (a string,
comma-separated, e.g. ``gps_jump,late``) and the boolean ``gps_jump`` when flagged, so that a
query can leave jumps out; ``attributes`` (a JSON object as a string field) for the other keys
a device sent. Attributes are one string, not one field each: InfluxDB refuses a field whose
type differs from what the shard already holds (a device sending ``fuel=24`` and later
``fuel="low"`` would have its points refused), and every distinct key would be a new field.

Refused fixes go to the dead-letter measurement ``rejected`` in the shape of the stations'
(store.lines.rejection_line): tags ``reason``, ``source`` and ``vehicle`` (only for a vehicle
in the registry: made-up ids must not become series; else the field ``sent_vehicle``), fields
``detail``, ``parameter``, ``payload`` and ``index`` (the fix's place in a batch).

By hand, with store.lines' escaping (no client library on the write path).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

import orjson

from ioc.messages import PositionFix, PositionRejection

if TYPE_CHECKING:
    from ingest.driver_images import DriverImage
from store.lines import _string, _tag

FLAG_GPS_JUMP = "gps_jump"


PREFIX_CACHE_SIZE = 100_000  # vehicles whose escaped measurement and tag are kept
_prefixes: dict[str, str] = {}
_SWITCH = {True: "=true", False: "=false"}


def position_line(fix: PositionFix) -> str:
    """One fix as a ``position`` point at its event time (ms precision)."""
    prefix = _prefixes.get(fix.vehicle)
    if prefix is None:
        prefix = _vehicle_prefix(fix.vehicle)
    line = f"{prefix}lat={fix.lat!r},lon={fix.lon!r},speed={fix.speed_kmh!r}"
    value = fix.heading
    if value is not None:
        line += f",heading={value!r}"
    value = fix.accuracy_m
    if value is not None:
        line += f",accuracy={value!r}"
    value = fix.altitude_m
    if value is not None:
        line += f",altitude={value!r}"
    value = fix.odometer_km
    if value is not None:
        line += f",odometer={value!r}"
    switch = fix.ignition
    if switch is not None:
        line += f",ignition{_SWITCH[switch]}"
    switch = fix.door
    if switch is not None:
        line += f",door{_SWITCH[switch]}"
    if fix.driver is not None:
        line += f',driver="{_string(fix.driver)}"'
    if fix.flags:
        line += f',flags="{_string(",".join(sorted(fix.flags)))}"'
        if FLAG_GPS_JUMP in fix.flags:
            line += ",gps_jump=true"
    if fix.attributes:
        line += f',attributes="{_string(_json(dict(fix.attributes)))}"'
    return f"{line} {fix.ts_ms}"


def _vehicle_prefix(vehicle: str) -> str:
    if len(_prefixes) >= PREFIX_CACHE_SIZE:
        _prefixes.clear()
    prefix = _prefixes[vehicle] = f"position,vehicle={_tag(vehicle)} "
    return prefix


def _json(attributes: dict[str, object]) -> str:
    try:
        return orjson.dumps(attributes).decode()
    except TypeError:  # a lone surrogate (JSON may carry "\udcff"), an int beyond 64 bits
        return json.dumps(attributes)


def driver_image_line(image: DriverImage) -> str:
    """A kept driver image as a ``driver_image`` point (the file is named by its time)."""
    fields = f"width={image.width}i,height={image.height}i,bytes={len(image.jpeg)}i"
    if image.driver is not None:
        fields += f',driver="{_string(image.driver)}"'
    if image.lat is not None and image.lon is not None:
        fields += f",lat={image.lat!r},lon={image.lon!r}"
    return f"driver_image,vehicle={_tag(image.vehicle)} {fields} {image.ts_ms}"


def position_lines(fixes: Iterable[PositionFix]) -> list[str]:
    return [position_line(fix) for fix in fixes]


def position_rejection_line(rejection: PositionRejection, ts_ms: int, tagged: bool = True) -> str:
    """The dead-letter record of a refused fix at ``ts_ms`` (the arrival time, spread like the
    stations' by ingest.rejections); ``tagged`` only when the vehicle is in the registry."""
    vehicle = rejection.vehicle or ""
    tag = f",vehicle={_tag(vehicle)}" if vehicle and tagged else ""
    sent = f'sent_vehicle="{_string(vehicle)}",' if vehicle and not tagged else ""
    index = f"index={rejection.index}i," if rejection.index is not None else ""
    return (
        f"rejected,reason={rejection.reason.value},source={_tag(rejection.source)}{tag} "
        f'detail="{_string(rejection.detail)}",{index}'
        f'parameter="{_string(rejection.parameter or "")}",'
        f'{sent}payload="{_string(rejection.payload)}" {ts_ms}'
    )
