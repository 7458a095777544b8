"""Validation shared by every input (MQTT JSON, SenML, HTTP, station files): a station's
values at one timestamp are checked against the registry and become a :class:`Reading`;
every refusal becomes a :class:`Rejection` with its reason, and the valid values of a partly
bad message are kept.

Checks, in order: station known; caller may write it (enterprise ownership); timestamp within
``[now - max_age, now + max_future]``; per value: parameter known, a finite number, a unit
that is the registry's or converts to it (ingest.units: the value is converted, the unit it
arrived in kept in ``Reading.sent_units``), inside the plausible range, not already received
(same station, timestamp and parameter).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ingest.units import ReferenceConditions, UnitConverter, UnitRefused
from ioc.clock import iso_utc
from ioc.config import IngestConfig
from ioc.messages import InstrumentStatus, Reading, Rejection, RejectReason
from ioc.registry import StationRegistry

PAYLOAD_KEPT_CHARS = 4_096
DEDUP_TIMESTAMPS_PER_STATION = 4_096
SHOWN_CHARS = 60  # of a sent value quoted in a refusal's detail


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message came from, carried into its rejections."""

    source: str  # "mqtt", "http", "file", ...
    received_ms: int
    payload: bytes = b""  # decoded only when something is rejected
    owner: str | None = None  # the enterprise that sent it; None = trusted (state, service)


def message_rejection(
    origin: Origin, reason: RejectReason, detail: str, station_id: str | None = None
) -> Rejection:
    """A refusal of a whole message (it could not be read far enough to validate values)."""
    return Rejection(
        source=origin.source,
        reason=reason,
        detail=detail,
        received_ms=origin.received_ms,
        station_id=station_id,
        payload=origin.payload[:PAYLOAD_KEPT_CHARS].decode("utf-8", "replace"),
    )


def internal_error(origin: Origin, station_id: str | None = None) -> Rejection:
    """The refusal of a message that met a bug: kept in the dead-letter store to replay."""
    detail = "internal error while processing; the message is kept here"
    return message_rejection(origin, RejectReason.INTERNAL_ERROR, detail, station_id)


class ReadingValidator:
    def __init__(self, registry: StationRegistry, config: IngestConfig) -> None:
        self._registry = registry
        self._max_future_ms = int(config.max_future_s * 1000)
        self._max_age_ms = int(config.max_age_s * 1000)
        reference = ReferenceConditions(
            config.reference_temperature_c, config.reference_pressure_kpa
        )
        self._units = UnitConverter(reference, config.gas_molar_masses_g_mol)
        self.received = ReceivedValues()

    def validate(
        self,
        origin: Origin,
        station_id: str,
        ts_ms: int,
        values: Mapping[str, object],
        rejections: list[Rejection],
        units: Mapping[str, object] | None = None,
        status: Mapping[str, InstrumentStatus] | None = None,
        status_missing: frozenset[str] = frozenset(),
    ) -> Reading | None:
        def reject(reason: RejectReason, detail: str, parameter: str | None = None) -> None:
            rejection = message_rejection(origin, reason, detail, station_id or None)
            rejections.append(replace(rejection, parameter=parameter) if parameter else rejection)

        station = self._registry.get(station_id)
        if station is None:
            reject(
                RejectReason.UNKNOWN_STATION, f"station {_shown(station_id)} is not in the registry"
            )
            return None
        if origin.owner is not None and station.owner != origin.owner:
            reject(RejectReason.NOT_OWNER, f"{origin.owner} may not write station {station_id}")
            return None
        if ts_ms - origin.received_ms > self._max_future_ms:
            reject(RejectReason.BAD_TIMESTAMP, f"timestamp {_iso(ts_ms)} is in the future")
            return None
        if origin.received_ms - ts_ms > self._max_age_ms:
            reject(RejectReason.BAD_TIMESTAMP, f"timestamp {_iso(ts_ms)} is too old")
            return None
        if not values:
            reject(RejectReason.MALFORMED, "no values")
            return None

        received = self.received.of(station_id)
        mask = received.get(ts_ms, 0)
        kept: dict[str, float] = {}
        sent_units: dict[str, str] = {}
        specs = station.parameters
        bits = self.received.bits
        for key, sent in values.items():
            spec = specs.get(key)
            if spec is None:
                known = ", ".join(sorted(specs))
                reject(
                    RejectReason.UNKNOWN_PARAMETER,
                    f"station {station_id} has no parameter {_shown(key)} (known: {known})",
                    key,
                )
                continue
            if type(sent) is float:
                if not math.isfinite(sent):
                    reject(RejectReason.NOT_NUMERIC, f"{key}={sent!r} is not finite", key)
                    continue
                value = sent
            elif type(sent) is int:  # of any size, finite: the range decides
                value = _as_float(sent)
            else:
                reject(RejectReason.NOT_NUMERIC, f"{key}={_shown(sent)} is not a number", key)
                continue
            unit = units.get(key) if units else None
            if unit is not None:
                try:
                    if not isinstance(unit, str):
                        raise UnitRefused("not a unit")
                    conversion = self._units.conversion(key, unit, spec.unit)
                except UnitRefused as refusal:
                    reject(
                        RejectReason.WRONG_UNIT,
                        f"{key} sent in {_shown(unit)}, the registry expects {spec.unit!r}: "
                        f"{refusal}",
                        key,
                    )
                    continue
                if not conversion.identity:
                    try:
                        value = conversion.apply(value)
                    except OverflowError:
                        value = math.inf  # refused as out of range below
                    sent_units[key] = unit
            if not spec.low <= value <= spec.high:
                shown = _shown(sent if sent_units.get(key) is None else value)
                reject(
                    RejectReason.OUT_OF_RANGE,
                    f"{key}={shown} outside the plausible range {spec.low}..{spec.high} "
                    f"{spec.unit}",
                    key,
                )
                continue
            bit = bits.get(key) or self.received.bit(key)
            if mask & bit:
                reject(
                    RejectReason.DUPLICATE,
                    f"{key} of {station_id} at {_iso(ts_ms)} was already received",
                    key,
                )
                continue
            mask |= bit
            kept[key] = value
        if not kept:
            return None
        ReceivedValues.record(received, ts_ms, mask)
        if sent_units:
            sent_units = {k: u for k, u in sent_units.items() if k in kept}
        return Reading(
            station_id,
            ts_ms,
            kept,
            origin.received_ms,
            {k: s for k, s in status.items() if k in kept} if status else {},
            status_missing & kept.keys() if status_missing else status_missing,
            sent_units,
        )

    def forget(self, readings: list[Reading]) -> None:
        """Unmark the values of ``readings`` as received: they were validated but could not be
        stored (full spool), so when they come again they are not duplicates."""
        self.received.forget(readings)


class ReceivedValues:
    """Which values of each station were received: station → {ts_ms: bit mask of the
    parameters}, oldest first, bounded per station. A mask (one int) instead of a set of
    names keeps a full window ~7× smaller. The validator's duplicate check, and in the worker
    layout the analytics partition's, which owns the station (ioc.partitions)."""

    def __init__(self) -> None:
        self._received: dict[str, dict[int, int]] = {}
        self.bits: dict[str, int] = {}  # parameter name → its bit in the masks

    def of(self, station_id: str) -> dict[int, int]:
        received = self._received.get(station_id)
        if received is None:
            received = self._received[station_id] = {}
        return received

    def bit(self, parameter: str) -> int:
        bit = self.bits.get(parameter)
        if bit is None:
            bit = self.bits[parameter] = 1 << len(self.bits)
        return bit

    @staticmethod
    def record(received: dict[int, int], ts_ms: int, mask: int) -> None:
        if ts_ms not in received and len(received) >= DEDUP_TIMESTAMPS_PER_STATION:
            del received[next(iter(received))]
        received[ts_ms] = mask

    def keep_new(self, readings: list[Reading], rejections: list[Rejection]) -> list[Reading]:
        """``readings`` without the values already received (each refused as a duplicate)."""
        kept = []
        for reading in readings:
            received = self.of(reading.station_id)
            mask = received.get(reading.ts_ms, 0)
            values = {}
            for key, value in reading.values.items():
                bit = self.bit(key)
                if mask & bit:
                    origin = Origin("mqtt", reading.received_ms)
                    detail = (
                        f"{key} of {reading.station_id} at {_iso(reading.ts_ms)} "
                        "was already received"
                    )
                    rejection = message_rejection(
                        origin, RejectReason.DUPLICATE, detail, reading.station_id
                    )
                    rejections.append(replace(rejection, parameter=key))
                    continue
                mask |= bit
                values[key] = value
            self.record(received, reading.ts_ms, mask)
            if len(values) == len(reading.values):
                kept.append(reading)
            elif values:
                kept.append(replace(reading, values=values))
        return kept

    def forget(self, readings: list[Reading]) -> None:
        for reading in readings:
            received = self._received.get(reading.station_id, {})
            if reading.ts_ms in received:
                for key in reading.values:
                    received[reading.ts_ms] &= ~self.bits.get(key, 0)


def _as_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:  # an int beyond any float: refused as out of range
        return math.inf if value > 0 else -math.inf


def _iso(ts_ms: int) -> str:
    return iso_utc(ts_ms) or ""


def _shown(value: object) -> str:
    """A sent value in a refusal's detail: short, whatever it is (the payload has it all)."""
    if isinstance(value, list | dict):
        return f"<JSON {'array' if isinstance(value, list) else 'object'}>"
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}…"
