"""Configuration of the journey analytics (issue #13): trips and stops, speeding, driving
time, lost signal, zones and the company KPI. Every section rejects unknown keys.

Defaults follow docs/REFERENCE §6: Traccar's trip rules (moving above 0.01 kn, a trip needs
≥ 200 m and ≥ 180 s, a stop ≥ 300 s, a gap > 1 h is lost data), over-speed from 5 km/h above
the limit in the fine bands 5-10, 10-20, 20-35, > 35 km/h, at most 4 h continuous / 10 h a day
/ 48 h a week of driving (warning 5 min before, QCVN 31), the 30 s / 15 min sending cadence.
Times of day are local: Vietnam has one fixed offset (UTC+7, no daylight saving).
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, field_validator, model_validator

from ioc.section import Section

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def minute_of_day(text: str) -> int:
    """``"06:30"`` → 390."""
    match = _HHMM.match(text)
    if not match:
        raise ValueError(f"not a time of day HH:MM: {text!r}")
    return int(match[1]) * 60 + int(match[2])


class TripConfig(Section):
    moving_speed_kmh: float = Field(
        0.0185, ge=0, le=30, description="A fix is moving when its speed is above this "
        "(Traccar: 0.01 kn). A fix with the ignition off is never moving."
    )  # fmt: skip
    min_trip_distance_m: float = Field(200.0, ge=0, le=100_000, description="Shortest trip.")
    min_trip_duration_s: float = Field(180.0, ge=0, le=86_400, description="Shortest trip.")
    min_stop_duration_s: float = Field(
        300.0, gt=0, le=86_400,
        description="A stationary spell this long is a stop (and ends the trip before it); "
        "shorter ones are part of the trip.",
    )  # fmt: skip
    max_gap_s: float = Field(
        3600.0, gt=0, le=7 * 86_400,
        description="No fix for longer than this is lost data: it ends the trip (or stop) "
        "at the last fix before it and is neither a stop nor driving.",
    )  # fmt: skip


class SpeedingConfig(Section):
    class_limits_kmh: dict[str, float] = Field(
        default_factory=lambda: {
            "car": 90.0, "bus": 80.0, "truck": 80.0, "tractor": 70.0, "special": 60.0,
        },
        description="Speed limit of each vehicle class (a vehicle's class must be listed). "
        "A zone with a lower limit lowers it inside the zone.",
    )  # fmt: skip
    tolerance_kmh: float = Field(
        5.0, ge=0, le=50, description="A fix is over the limit at limit + this or more."
    )
    min_duration_s: float = Field(
        20.0, ge=0, le=3600,
        description="An episode counts as a violation once its first and last over-limit "
        "fixes are this far apart ...",
    )  # fmt: skip
    min_fixes: int = Field(2, ge=1, le=100, description="... and it has this many fixes.")
    max_gap_s: float = Field(
        120.0, gt=0, le=3600,
        description="Over-limit fixes further apart than this are separate episodes; an open "
        "episode of a vehicle silent this long is closed by tick().",
    )  # fmt: skip
    band_edges_kmh: tuple[float, float, float] = Field(
        (10.0, 20.0, 35.0),
        description="Upper edges of the first three bands of the peak excess (Decrees "
        "100/2019, 168/2024: 5-10, 10-20, 20-35, > 35 km/h over).",
    )

    @model_validator(mode="after")
    def _sorted(self) -> Self:
        a, b, c = self.band_edges_kmh
        if not self.tolerance_kmh < a < b < c:
            raise ValueError("band_edges_kmh must increase and start above tolerance_kmh")
        if any(v <= 0 for v in self.class_limits_kmh.values()):
            raise ValueError("class_limits_kmh: limits must be positive")
        return self


class DrivingConfig(Section):
    continuous_max_h: float = Field(4.0, gt=0, le=24, description="Continuous driving cap.")
    daily_max_h: float = Field(10.0, gt=0, le=24, description="Driving cap per local day.")
    weekly_max_h: float | None = Field(
        48.0, gt=0, le=168, description="Driving cap per local ISO week (Mon-Sun); null: off."
    )
    warn_before_min: float = Field(
        5.0, ge=0, le=120,
        description="A warning this long before each cap is reached (QCVN 31: 5 min before "
        "4 h continuous); 0: no warnings.",
    )  # fmt: skip
    min_break_min: float = Field(
        15.0, gt=0, le=600, description="A break this long or longer ends continuous driving."
    )


class SignalConfig(Section):
    moving_max_gap_s: float = Field(
        120.0, gt=0, le=86_400, description="Lost signal: no fix this long after a moving fix."
    )
    stopped_max_gap_s: float = Field(
        900.0, gt=0, le=86_400, description="Lost signal: no fix this long after a stopped fix."
    )


class CircleConfig(Section):
    lat: float = Field(ge=-90, le=90, description="Centre latitude.")
    lon: float = Field(ge=-180, le=180, description="Centre longitude.")
    radius_m: float = Field(gt=0, le=50_000, description="Radius in metres.")


class ForbiddenHours(Section):
    classes: list[str] = Field(min_length=1, description="Vehicle classes the ban applies to.")
    start: str = Field(description="Local start HH:MM (inclusive).")
    end: str = Field(description="Local end HH:MM (exclusive); before start: over midnight.")

    @field_validator("start", "end")
    @classmethod
    def _time(cls, value: str) -> str:
        minute_of_day(value)
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("forbidden hours: start and end must differ")
        return self

    def covers(self, minute: int) -> bool:
        start, end = minute_of_day(self.start), minute_of_day(self.end)
        return start <= minute < end if start < end else minute >= start or minute < end


class ZoneConfig(Section):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64, description="Stable zone id.")
    name: str = Field("", description="Name shown on the wall.")
    polygon: list[tuple[float, float]] | None = Field(
        None, min_length=3, description="Vertices as [lat, lon] (not closed; a few km across)."
    )
    circle: CircleConfig | None = Field(None, description="Or a circle.")
    speed_limit_kmh: float | None = Field(
        None, gt=0, le=200, description="Limit inside the zone for every class (if lower)."
    )
    class_speed_limits_kmh: dict[str, float] = Field(
        default_factory=dict, description="Limit inside the zone per class (if lower)."
    )
    forbidden: list[ForbiddenHours] = Field(
        default_factory=list, description="Hours some classes must not be inside (restricted)."
    )

    @model_validator(mode="after")
    def _one_shape(self) -> Self:
        if (self.polygon is None) == (self.circle is None):
            raise ValueError(f"zone {self.id}: give exactly one of polygon or circle")
        for lat, lon in self.polygon or ():
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"zone {self.id}: vertex ({lat}, {lon}) is not [lat, lon]")
        return self


class KpiConfig(Section):
    per_km: float = Field(1000.0, gt=0, description="Violations are counted per this distance.")
    flag_at: float = Field(
        5.0, gt=0, description="A company-month at this rate or above is flagged (badge revoked)."
    )


class JourneyConfig(Section):
    utc_offset_h: int = Field(7, ge=-12, le=14, description="Local time (Asia/Ho_Chi_Minh).")
    trips: TripConfig = Field(default_factory=TripConfig)
    speeding: SpeedingConfig = Field(default_factory=SpeedingConfig)
    driving: DrivingConfig = Field(default_factory=DrivingConfig)
    signal: SignalConfig = Field(default_factory=SignalConfig)
    zones: list[ZoneConfig] = Field(default_factory=list)
    kpi: KpiConfig = Field(default_factory=KpiConfig)

    @model_validator(mode="after")
    def _known(self) -> Self:
        ids = [z.id for z in self.zones]
        if len(ids) != len(set(ids)):
            raise ValueError("zone ids must be unique")
        known = set(self.speeding.class_limits_kmh)
        for zone in self.zones:
            named = set(zone.class_speed_limits_kmh).union(*(f.classes for f in zone.forbidden))
            if named - known:
                raise ValueError(f"zone {zone.id}: unknown classes {sorted(named - known)}")
        return self
