"""What the journey kernel reports: small frozen dataclasses, each naming its vehicle (id and
index into the vehicle table), its times (UTC ms) and a place, enough to raise an alert and to
draw it on the wall."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A row of the vehicle table: ``vehicle_class`` picks the speed limit and zone bans."""

    id: str
    vehicle_class: str
    company: str = ""


@dataclass(frozen=True, slots=True)
class Trip:
    vehicle: str
    index: int
    start_ms: int
    end_ms: int
    start_lat: float
    start_lon: float
    end_lat: float
    end_lon: float
    distance_m: float
    #: why it ended: a stop began, or data was lost (gap), or flush()
    ended_by: Literal["stop", "gap", "flush"]

    @property
    def duration_s(self) -> float:
        return (self.end_ms - self.start_ms) / 1000


@dataclass(frozen=True, slots=True)
class Stop:
    vehicle: str
    index: int
    start_ms: int
    end_ms: int
    lat: float
    lon: float

    @property
    def duration_s(self) -> float:
        return (self.end_ms - self.start_ms) / 1000


SpeedBand = Literal["5-10", "10-20", "20-35", ">35"]


@dataclass(frozen=True, slots=True)
class SpeedingViolation:
    vehicle: str
    index: int
    start_ms: int
    end_ms: int  # the last over-limit fix
    peak_kmh: float
    limit_kmh: float  # the limit at the peak
    excess_kmh: float  # the largest speed - limit of the episode
    band: SpeedBand
    fixes: int
    distance_m: float
    lat: float  # at the peak
    lon: float
    peak_ms: int


@dataclass(frozen=True, slots=True)
class DrivingTimeViolation:
    vehicle: str
    index: int
    rule: Literal["continuous", "daily", "weekly"]
    kind: Literal["warning", "violation"]
    at_ms: int  # when the driving time reached the threshold (interpolated between fixes)
    threshold_h: float
    period_start_ms: int  # start of the local day / week; for continuous: first driving
    lat: float  # the fix at or after at_ms
    lon: float


@dataclass(frozen=True, slots=True)
class SignalLost:
    vehicle: str
    index: int
    last_ms: int  # the last fix before the silence
    lat: float
    lon: float
    moving: bool  # at the last fix (which threshold applied)
    #: None while still silent (found by tick); the next fix's time once it came (a gap)
    restored_ms: int | None

    @property
    def ongoing(self) -> bool:
        return self.restored_ms is None


@dataclass(frozen=True, slots=True)
class SignalResumed:
    """A vehicle the clock had found silent (:class:`SignalLost` with ``restored_ms`` None)
    sent again: its first fix since. Whether the silence was a gap in its records is the
    kernel's :class:`SignalLost` (restored) of the same batch, or none when a buffered
    backlog filled it."""

    vehicle: str
    index: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class ZoneEvent:
    vehicle: str
    index: int
    zone: str
    kind: Literal["enter", "exit"]
    at_ms: int
    lat: float
    lon: float
    between_fixes: bool  # interpolated on the segment between two fixes


@dataclass(frozen=True, slots=True)
class ZoneViolation:
    """A vehicle of a banned class inside a restricted zone (or crossing it) at a forbidden
    hour: one per stay in the zone."""

    vehicle: str
    index: int
    zone: str
    at_ms: int
    lat: float
    lon: float
    vehicle_class: str
    hours: str  # e.g. "06:00-20:00"


def _no_late() -> npt.NDArray[np.int64]:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class JourneyOutput:
    """Everything one batch, tick or flush produced, each list in time order per vehicle.
    ``late``: indices (into the batch's arrays) of fixes not processed because their vehicle
    had already processed a fix at or after their time."""

    trips: list[Trip] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)
    speeding: list[SpeedingViolation] = field(default_factory=list)
    driving: list[DrivingTimeViolation] = field(default_factory=list)
    signal: list[SignalLost] = field(default_factory=list)
    resumed: list[SignalResumed] = field(default_factory=list)
    zone_events: list[ZoneEvent] = field(default_factory=list)
    zone_violations: list[ZoneViolation] = field(default_factory=list)
    late: npt.NDArray[np.int64] = field(default_factory=_no_late)
