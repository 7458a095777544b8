"""Typed messages that cross stage boundaries: ingest → store → analytics → alerts → wall.

Small frozen, slotted dataclasses. Each stage takes and returns these, so a stage can later
move to its own process behind an MQTT shared subscription without changing its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class InstrumentStatus(IntEnum):
    """Instrument status a station logger records with each value (codes 00/01/02)."""

    MEASURING = 0
    CALIBRATING = 1
    DEVICE_ERROR = 2


class RejectReason(StrEnum):
    """Why an incoming message or value was refused. The value is the wire name."""

    MALFORMED = "malformed"  # not JSON, not an object, missing fields
    UNKNOWN_STATION = "unknown_station"
    UNKNOWN_PARAMETER = "unknown_parameter"
    WRONG_UNIT = "wrong_unit"
    NOT_NUMERIC = "not_numeric"  # includes NaN and infinity
    OUT_OF_RANGE = "out_of_range"  # outside the parameter's plausible physical range
    BAD_TIMESTAMP = "bad_timestamp"  # unparsable, too far in the future or too old
    DUPLICATE = "duplicate"  # same station and timestamp already received
    NOT_OWNER = "not_owner"  # the caller may not write this station


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A message as it arrived, before decoding."""

    topic: str
    payload: bytes
    received_ms: int


@dataclass(frozen=True, slots=True)
class Reading:
    """Validated values of one station at one instant. ``ts_ms`` is UTC epoch milliseconds.

    ``status`` lists only the values whose instrument was not measuring normally.
    """

    station_id: str
    ts_ms: int
    values: dict[str, float]
    received_ms: int
    status: dict[str, InstrumentStatus] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused message (``parameter`` is None) or a refused value inside a message."""

    source: str
    reason: RejectReason
    detail: str
    received_ms: int
    station_id: str | None = None
    parameter: str | None = None
    payload: str = ""


class AlertState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class RuleTransition:
    """A rule started (``firing``), changed severity, or stopped holding for one station.

    ``retroactive`` marks a decision taken on late data (the reading's hour was already past).
    """

    rule_id: str
    station_id: str
    parameter: str
    firing: bool
    value: float
    limit: float
    ts_ms: int
    severity: Severity = Severity.WARNING
    retroactive: bool = False


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert of a rule at a station, as the wall and the API show it."""

    id: str
    rule_id: str
    station_id: str
    parameter: str
    severity: Severity
    state: AlertState
    opened_ms: int
    value: float
    limit: float
    resolved_ms: int | None = None
