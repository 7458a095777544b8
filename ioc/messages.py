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
    DUPLICATE = "duplicate"  # same station, timestamp and parameter already received
    NOT_OWNER = "not_owner"  # the caller may not write this station
    TOO_LARGE = "too_large"  # a station file above ingest.max_file_bytes
    INTERNAL_ERROR = "internal_error"  # a bug while processing: the message is kept here
    # vehicles (transport journey monitoring)
    UNKNOWN_VEHICLE = "unknown_vehicle"  # not in the vehicle registry (or an unknown device)
    INVALID_PLATE = "invalid_plate"  # the vehicle id is no Vietnamese number plate
    OUTSIDE_AREA = "outside_area"  # a fix outside the configured area and its margin
    UNAUTHORIZED = "unauthorized"  # a device's secret missing or wrong (OsmAnd)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A message as it arrived, before decoding. ``mid``/``qos``/``session`` identify it for
    the acknowledgement sent once its content is durable."""

    topic: str
    payload: bytes
    received_ms: int
    mid: int = 0
    qos: int = 0
    session: int = 0


@dataclass(frozen=True, slots=True)
class Reading:
    """Validated values of one station at one instant. ``ts_ms`` is UTC epoch milliseconds.

    ``status`` lists only the values whose instrument was not measuring normally;
    ``status_missing`` the values sent without a status (taken as measuring: a rule may
    choose to leave them out). ``sent_units`` keeps, for audit, the unit a value arrived in
    when it was converted to the registry's unit.
    """

    station_id: str
    ts_ms: int
    values: dict[str, float]
    received_ms: int
    status: dict[str, InstrumentStatus] = field(default_factory=dict)
    status_missing: frozenset[str] = frozenset()
    sent_units: dict[str, str] = field(default_factory=dict)


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
    """open → acknowledged → resolved → closed; resolved also straight from open (the
    condition cleared, or by hand). A resolved alert whose rule fires again soon reopens."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class RuleTransition:
    """A rule started (``firing``), changed severity, or stopped holding for one station.

    ``retroactive`` marks a decision taken on late data (the reading's hour was already past).
    ``baseline``: for an anomaly, the level the value was judged against (the robust median
    before the event, the hour-of-day median, the drift's reference); ``limit`` is then the
    detector's threshold (a score), not a level. None for limit rules.
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
    baseline: float | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert of a rule at a station, as the wall and the API show it.

    Times are UTC epoch ms. ``opened_ms``, ``last_seen_ms`` and a ``resolved_ms`` set by the
    rule are data times (the readings' timestamps); ``raised_ms`` and the times of operator
    actions are wall-clock times. alerts.lifecycle.AlertBook sets every field; the defaults
    describe an alert that fired once and was not touched.
    """

    id: str
    rule_id: str
    station_id: str
    parameter: str
    severity: Severity
    state: AlertState
    opened_ms: int
    value: float
    limit: float
    baseline: float | None = None  # anomaly alerts: the level judged against (RuleTransition)
    resolved_ms: int | None = None
    raised_ms: int | None = None  # when the book raised it: escalation counts from here
    last_seen_ms: int | None = None  # data time of the latest firing transition
    peak: float | None = None  # worst value while firing (highest above, lowest below a limit)
    count: int = 1  # firing transitions: the opening one and every re-trigger
    flaps: int = 0  # times it fired again soon after clearing and was reopened
    flapping: bool = False  # reopened too often lately: its changes are not notified
    silenced: bool = False  # its latest firing fell in a silence: recorded, not notified
    escalated: bool = False  # critical and unacknowledged for too long (happens once)
    retroactive: bool = False  # raised on late data
    acknowledged_ms: int | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None  # None: resolved because the condition cleared
    closed_ms: int | None = None
    incident_id: str = ""  # the incident it belongs to (alerts.incidents); "": its own id
    incident_kind: str = ""  # that incident's classification, as the book last decided it

    def __post_init__(self) -> None:
        if not self.incident_id:
            object.__setattr__(self, "incident_id", self.id)


@dataclass(frozen=True, slots=True)
class PositionFix:
    """One GPS fix of a vehicle (transport journey monitoring, issue #13).

    ``vehicle`` is the normalised number plate (ingest.plates: ``49A12345``); ``ts_ms`` the
    fix time, UTC epoch ms; ``speed_kmh`` km/h whatever unit the device sent; ``heading``
    degrees clockwise from north in [0, 360); ``odometer_km`` the device's odometer.
    ``attributes`` keeps other keys the device sent, as (key, value) pairs in arrival order
    (bounded in count and size by the decoder). ``flags`` marks what validation noticed
    without refusing the fix, e.g. ``gps_jump`` (implausible move from the previous fix: the
    fix is stored but never counts as speeding).
    """

    vehicle: str
    ts_ms: int
    lat: float
    lon: float
    speed_kmh: float
    received_ms: int = 0
    heading: float | None = None
    accuracy_m: float | None = None
    altitude_m: float | None = None
    ignition: bool | None = None
    door: bool | None = None
    driver: str | None = None  # driver-licence number
    odometer_km: float | None = None
    attributes: tuple[tuple[str, str | int | float | bool], ...] = ()
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PositionRejection:
    """A refused vehicle fix (``parameter`` None) or a refused field of one, in the shape of
    :class:`Rejection`. ``vehicle`` is the id as sent (normalised when it was a valid plate,
    or an OsmAnd device id); ``index`` the fix's place in a batch (a JSON array), if any."""

    source: str
    reason: RejectReason
    detail: str
    received_ms: int
    vehicle: str | None = None
    parameter: str | None = None
    index: int | None = None
    payload: str = ""
