"""Configuration of the analytics: limit rules, VN_AQI, forest-fire danger and anomaly checks.

A rule in its simple form (``above`` or ``below``, optional ``clear_at`` and ``severity``)
has one level; with ``thresholds`` it has up to three, one per severity, in increasing order
of severity. Either way it is read by :attr:`RuleConfig.levels`. Two more simple forms:

* a *range* (``below`` and ``above`` together, e.g. pH 5.5-9) fires outside it;
* a *licence* rule (``above_licence: max_level_m``) takes its limit, per station, from the
  station's licence in the registry (groundwater wells).

A rule for one permit (``stations`` or ``owners``) may ``replace`` a kind-wide rule at the
stations it selects, so a discharge permit's own limit wins over the default.

Besides the registry's parameters, rules may watch the values the analytics derive
(:data:`DERIVED_PARAMETERS`): e.g. ``parameter: fire_level`` on ``kinds: [weather]``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal, Self

from pydantic import Field, model_validator

from analytics.fire_danger import NESTEROV_THRESHOLDS
from ioc.messages import Severity
from ioc.section import LicenceLimit, Section, StationKind

Window = Literal["instant", "1h", "8h", "24h"]
WINDOW_HOURS: dict[str, int] = {"instant": 0, "1h": 1, "8h": 8, "24h": 24}
SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}
EARTH_RADIUS_KM = 6371.0088

#: Values the analytics compute and feed to the rules like measured parameters.
DERIVED_PARAMETERS: dict[str, str] = {
    "aqi": "hourly VN_AQI (stamped at the end of its hour)",
    "aqi_day": "daily VN_AQI of the local day so far",
    "nesterov": "Nesterov index of the local day so far",
    "fire_level": "Nesterov fire-danger level 1..5 of the local day so far",
    "fwi": "Canadian Fire Weather Index of the local day so far",
    "volume_day": "groundwater abstracted in the local day so far, m³ (from the counter)",
}


class FieldProblem(ValueError):
    """A check across fields, naming the field an editor should show it at."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Level:
    """One severity level of a rule, in the rule's direction: fires past ``value``, clears
    once back to ``clear``."""

    value: float
    clear: float
    severity: Severity


class Area(Section):
    """A bounding box (``min_lat`` .. ``max_lon``) or a circle (``lat``, ``lon``, ``radius_km``)."""

    min_lat: float | None = Field(None, ge=-90, le=90, description="Box: southern edge.")
    max_lat: float | None = Field(None, ge=-90, le=90, description="Box: northern edge.")
    min_lon: float | None = Field(None, ge=-180, le=180, description="Box: western edge.")
    max_lon: float | None = Field(None, ge=-180, le=180, description="Box: eastern edge.")
    lat: float | None = Field(None, ge=-90, le=90, description="Circle: centre latitude.")
    lon: float | None = Field(None, ge=-180, le=180, description="Circle: centre longitude.")
    radius_km: float | None = Field(None, gt=0, le=5000, description="Circle: radius in km.")

    @model_validator(mode="after")
    def _one_shape(self) -> Self:
        box = [v for v in (self.min_lat, self.max_lat, self.min_lon, self.max_lon) if v is not None]
        circle = [v for v in (self.lat, self.lon, self.radius_km) if v is not None]
        if (len(box), len(circle)) not in ((4, 0), (0, 3)):
            raise FieldProblem(
                "area",
                "area: give either min_lat, max_lat, min_lon, max_lon or lat, lon, radius_km",
            )
        if box and (box[0] >= box[1] or box[2] >= box[3]):
            raise ValueError("area: min_lat/min_lon must be below max_lat/max_lon")
        return self

    def contains(self, lat: float, lon: float) -> bool:
        south, north, west, east, centre_lat, centre_lon, radius = (
            math.nan if v is None else v
            for v in (
                self.min_lat,
                self.max_lat,
                self.min_lon,
                self.max_lon,
                self.lat,
                self.lon,
                self.radius_km,
            )
        )
        if self.radius_km is None:
            return south <= lat <= north and west <= lon <= east
        return great_circle_km(centre_lat, centre_lon, lat, lon) <= radius


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class Threshold(Section):
    """One level of a multi-level rule: ``{above: 100, severity: critical, clear_at: 90}``."""

    above: float | None = Field(None, description="Fires when the value is above this.")
    below: float | None = Field(None, description="Fires when the value is below this.")
    clear_at: float | None = Field(
        None, description="Clears only once the value is back past this (hysteresis)."
    )
    severity: Severity = Field(Severity.WARNING, description="Severity of this level.")

    @model_validator(mode="after")
    def _one_threshold(self) -> Self:
        _check_threshold(self.above, self.below, self.clear_at)
        return self


def _check_threshold(above: float | None, below: float | None, clear_at: float | None) -> None:
    if (above is None) == (below is None):
        raise FieldProblem("above", "give exactly one of `above` or `below`")
    if clear_at is not None:
        if above is not None and clear_at > above:
            raise FieldProblem("clear_at", f"clear_at {clear_at} must be <= above {above}")
        if below is not None and clear_at < below:
            raise FieldProblem("clear_at", f"clear_at {clear_at} must be >= below {below}")


class RuleConfig(Section):
    id: str = Field(pattern=r"^[a-z0-9_.-]+$", max_length=64, description="Stable rule id.")
    name: str = Field(min_length=1, description="Name shown on the wall.")
    parameter: str = Field(
        min_length=1, description="Parameter key from the registry, or a derived one."
    )
    kinds: list[StationKind] = Field(
        default_factory=list, description="Station kinds it applies to; empty = all."
    )
    stations: list[str] = Field(
        default_factory=list, description="Station ids it applies to; empty = all."
    )
    owners: list[str] = Field(
        default_factory=list,
        description="Owners it applies to (enterprise ids or `state`); empty = all.",
    )
    area: Area | None = Field(None, description="Only stations inside this area.")
    window: Window = Field(
        "instant",
        description="instant, or the last 1h/8h/24h of clock hours: for a mean the complete "
        "hours before the current one (as QCVN means are defined), for a max the current "
        "hour included.",
    )
    aggregate: Literal["mean", "max"] = Field(
        "mean",
        description="Over the window: mean of the hourly means, or the highest single value.",
    )
    above: float | None = Field(None, description="Fires when the value is above this.")
    below: float | None = Field(None, description="Fires when the value is below this.")
    clear_at: float | None = Field(
        None, description="Clears only once the value is back past this (hysteresis)."
    )
    above_licence: LicenceLimit | None = Field(
        None,
        description="Instead of above/below: fires when the value is above this limit of the "
        "station's licence (stations without it are not selected).",
    )
    severity: Severity = Field(Severity.WARNING, description="Severity of its alerts.")
    thresholds: list[Threshold] = Field(
        default_factory=list,
        max_length=3,
        description="Instead of above/below: up to 3 levels in increasing severity.",
    )
    min_duration_s: float = Field(
        0.0,
        ge=0,
        le=7 * 86_400,
        description="A level fires only once its excursion has lasted this long (event time).",
    )
    min_coverage: float = Field(
        0.75, gt=0, le=1, description="Share of the window's hours that must have data."
    )
    open_hour: bool = Field(
        False,
        description="A mean window counts the hour in progress too (an early estimate: one "
        "value can tip it), instead of being judged once its last hour has ended.",
    )
    ignore_status_missing: bool = Field(
        False,
        description="Leave out values sent without an instrument status (station files "
        "without a status column; stored flagged `status_missing`). Instant rules only.",
    )
    replaces: str | None = Field(
        None,
        pattern=r"^[a-z0-9_.-]+$",
        description="Id of a rule (same parameter) this one replaces at the stations it "
        "selects: a permit's own limit instead of the kind-wide one.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        form = "thresholds" if self.thresholds else "above_licence" if self.above_licence else ""
        if form:
            allowed = {form, "severity"} if form == "above_licence" else {form}
            others = [
                k
                for k in ("above", "below", "clear_at", "severity", "above_licence")
                if k in self.model_fields_set and getattr(self, k) is not None and k not in allowed
            ]
            if others:
                raise FieldProblem(form, f"give either `{form}` or {'/'.join(others)}, not both")
        elif self.above is not None and self.below is not None:
            if self.below >= self.above:
                raise FieldProblem("below", "a range needs `below` under `above`")
            if self.clear_at is not None:
                raise FieldProblem("clear_at", "a range (`below` and `above`) takes no clear_at")
        else:
            _check_threshold(self.above, self.below, self.clear_at)
        if self.aggregate == "max" and self.window == "instant":
            raise FieldProblem("aggregate", "aggregate `max` needs a window of 1h, 8h or 24h")
        if self.ignore_status_missing and self.window != "instant":
            raise FieldProblem(
                "ignore_status_missing",
                "ignore_status_missing needs window `instant` (the windows hold every value)",
            )
        if self.replaces == self.id:
            raise FieldProblem("replaces", "a rule cannot replace itself")
        _check_order(self.thresholds)
        return self

    @property
    def direction(self) -> Literal["above", "below", "range"]:
        if self.is_range:
            return "range"
        first = self.thresholds[0] if self.thresholds else self
        return "below" if first.below is not None else "above"

    @property
    def is_range(self) -> bool:
        return self.above is not None and self.below is not None

    @property
    def levels(self) -> tuple[Level, ...]:
        """The levels in increasing severity (a simple rule has one). A range's level is its
        upper end, a licence rule's 0 (its limit is per station)."""
        if self.thresholds:
            return tuple(_level(t) for t in self.thresholds)
        if self.above_licence:
            return (Level(0.0, 0.0, self.severity),)
        return (_level(self),)

    def worse(self, a: float, b: float) -> float:
        """The more extreme of two values in the rule's direction (an alert's peak)."""
        if self.is_range:
            assert self.above is not None and self.below is not None
            middle = (self.above + self.below) / 2
            return a if abs(a - middle) >= abs(b - middle) else b
        return min(a, b) if self.direction == "below" else max(a, b)

    @property
    def limit(self) -> float:
        return self.levels[0].value

    @property
    def hours(self) -> int:
        return WINDOW_HOURS[self.window]


def _level(t: Threshold | RuleConfig) -> Level:
    value = t.above if t.above is not None else t.below
    assert value is not None
    return Level(value, value if t.clear_at is None else t.clear_at, t.severity)


def _check_order(thresholds: list[Threshold]) -> None:
    if len({t.above is None for t in thresholds}) > 1:
        raise FieldProblem("thresholds", "thresholds: all levels must be `above` or all `below`")
    levels = [_level(t) for t in thresholds]
    sign = 1.0 if thresholds and thresholds[0].above is not None else -1.0
    for lower, higher in itertools.pairwise(levels):
        if SEVERITY_RANK[higher.severity] <= SEVERITY_RANK[lower.severity]:
            raise FieldProblem("thresholds", "thresholds: list the levels in increasing severity")
        if sign * higher.value <= sign * lower.value:
            word = "increasing" if sign > 0 else "decreasing"
            raise FieldProblem("thresholds", f"thresholds: values must be {word} with severity")
        if sign * higher.clear < sign * lower.clear:
            raise FieldProblem(
                "thresholds", "thresholds: clear_at values must be in the same order as the levels"
            )


def _water_rules() -> list[RuleConfig]:
    """Wastewater and groundwater defaults (REFERENCE §7, §8).

    Wastewater: QCVN 40:2025/BTNMT (Circular 06/2025/TT-BTNMT, in force 01/09/2025) is the
    regulation in force, but its table values are not confirmed here. The numbers below are
    **placeholders**, QCVN 40:2011 column B values, which an officer must replace with each
    discharge permit's limits (a per-permit rule with ``replaces``). Groundwater: the limits
    come from each well's licence in the registry."""
    permit = "(QCVN 40:2025 — giá trị tạm, đặt theo giấy phép xả thải)"

    def ww(id: str, name: str, parameter: str, **kw: object) -> RuleConfig:
        body = {"id": id, "name": f"{name} {permit}", "parameter": parameter}
        return RuleConfig.model_validate(body | {"kinds": ["wastewater"], **kw})

    def gw(id: str, name: str, parameter: str, **kw: object) -> RuleConfig:
        body = {"id": id, "name": name, "parameter": parameter, "kinds": ["groundwater"]}
        return RuleConfig.model_validate(body | kw)

    critical = {"severity": "critical"}
    return [
        ww("ww_ph", "pH nước thải ngoài 5,5-9", "ph", below=5.5, above=9.0, **critical),
        ww("ww_bod5", "BOD5 nước thải", "bod5", above=50.0, clear_at=48.0, **critical),
        ww("ww_cod", "COD nước thải", "cod", above=150.0, clear_at=145.0, **critical),
        ww("ww_tss", "TSS nước thải", "tss", above=100.0, clear_at=95.0, **critical),
        ww("ww_nh4", "Amoni (N) nước thải", "nh4", above=10.0, clear_at=9.5, **critical),
        ww("ww_tn", "Tổng N nước thải", "tn", above=40.0, clear_at=38.0, **critical),
        ww("ww_tp", "Tổng P nước thải", "tp", above=6.0, clear_at=5.7, **critical),
        ww("ww_temp", "Nhiệt độ nước thải", "temp", above=40.0, clear_at=39.0),
        ww("ww_color", "Độ màu nước thải", "color", above=150.0, clear_at=140.0),
        ww("ww_flow", "Lưu lượng xả TB 1h", "flow", window="1h", above=300.0, clear_at=290.0),
        gw(
            "gw_level",
            "Mực nước động sâu hơn mức cho phép (giấy phép khai thác)",
            "level",
            above_licence="max_level_m",
            severity="critical",
        ),
        gw(
            "gw_volume_day",
            "Lượng nước khai thác trong ngày vượt giấy phép",
            "volume_day",
            above_licence="permitted_m3_day",
        ),
    ]


def _qcvn_rules() -> list[RuleConfig]:
    """Shipped defaults: QCVN 05:2023 ambient air (PM2.5 24 h: 45 µg/m³ from 01/01/2026) and
    QCVN 19:2009 column B stack limits, plus alerts on bad VN_AQI and fire danger IV-V, and
    the water rules of :func:`_water_rules`."""
    air: list[StationKind] = ["air"]
    stack: list[StationKind] = ["stack"]

    def rule(id: str, name: str, parameter: str, **kw: object) -> RuleConfig:
        return RuleConfig.model_validate({"id": id, "name": name, "parameter": parameter, **kw})

    def air_rule(
        id: str, name: str, parameter: str, window: str, above: float, **kw: object
    ) -> RuleConfig:
        return rule(
            id, f"{name} (QCVN 05:2023)", parameter, kinds=air, window=window, above=above, **kw
        )

    def stack_rule(id: str, name: str, parameter: str, above: float, clear_at: float) -> RuleConfig:
        return rule(
            id,
            f"{name} ống khói (QCVN 19:2009 cột B)",
            parameter,
            kinds=stack,
            above=above,
            clear_at=clear_at,
            severity=Severity.CRITICAL,
        )

    return [
        air_rule("pm25_24h", "PM2.5 TB 24h", "pm25", "24h", 45.0, clear_at=43.0),
        air_rule("pm10_24h", "PM10 TB 24h", "pm10", "24h", 100.0, clear_at=95.0),
        air_rule("so2_1h", "SO2 TB 1h", "so2", "1h", 350.0, clear_at=330.0),
        air_rule("so2_24h", "SO2 TB 24h", "so2", "24h", 125.0, clear_at=120.0),
        air_rule("no2_1h", "NO2 TB 1h", "no2", "1h", 200.0, clear_at=190.0),
        air_rule("no2_24h", "NO2 TB 24h", "no2", "24h", 100.0, clear_at=95.0),
        air_rule("co_1h", "CO TB 1h", "co", "1h", 30_000.0),
        air_rule("co_8h", "CO TB 8h", "co", "8h", 10_000.0),
        air_rule("o3_1h", "O3 TB 1h", "o3", "1h", 200.0, clear_at=190.0),
        air_rule("o3_8h", "O3 TB 8h", "o3", "8h", 120.0, clear_at=115.0),
        stack_rule("stack_dust", "Bụi tổng", "dust", 200.0, 190.0),
        stack_rule("stack_so2", "SO2", "so2", 500.0, 480.0),
        stack_rule("stack_nox", "NOx", "nox", 850.0, 820.0),
        stack_rule("stack_co", "CO", "co", 1000.0, 950.0),
        rule(
            "aqi_bad",
            "VN_AQI giờ Xấu / Rất xấu",
            "aqi",
            kinds=air,
            thresholds=[
                {"above": 150, "clear_at": 140, "severity": "warning"},
                {"above": 200, "clear_at": 190, "severity": "critical"},
            ],
        ),
        rule(
            "fire_danger",
            "Cấp dự báo cháy rừng IV-V",
            "fire_level",
            kinds=["weather"],
            thresholds=[
                {"above": 3.5, "severity": "warning"},
                {"above": 4.5, "severity": "critical"},
            ],
        ),
        *_water_rules(),
    ]


class AqiConfig(Section):
    enabled: bool = Field(True, description="Compute hourly and daily VN_AQI (Decision 1459).")
    kinds: list[StationKind] = Field(["air"], description="Station kinds that get a VN_AQI.")
    daily_min_coverage: float = Field(
        0.75, gt=0, le=1, description="Share of the day's (elapsed) hours a PM daily mean needs."
    )


class FireConfig(Section):
    enabled: bool = Field(True, description="Compute Nesterov and FWI fire danger daily.")
    kinds: list[StationKind] = Field(["weather"], description="Forest weather station kinds.")
    rain_reset_mm: float = Field(
        5.0, gt=0, le=100, description="A day with at least this much rain restarts Nesterov."
    )
    rain_reset_mm_by_month: dict[int, float] = Field(
        default_factory=dict, description="Per-month override of rain_reset_mm, {month: mm}."
    )
    nesterov_thresholds: tuple[float, float, float, float] = Field(
        NESTEROV_THRESHOLDS, description="Upper bounds of levels I..IV (REFERENCE §4)."
    )
    nesterov_hour: int = Field(
        13, ge=1, le=24, description="Local hour whose hourly mean (hour ending) is t13/d13."
    )
    fwi_hour: int = Field(12, ge=1, le=24, description="Local 'noon' hour (hour ending) of FWI.")
    temperature: str = Field("temp", description="Parameter key of air temperature, °C.")
    humidity: str = Field("rh", description="Parameter key of relative humidity, %.")
    wind: str = Field("wind", description="Parameter key of wind speed (m/s or km/h unit).")
    rain: str = Field("rain", description="Parameter key of rain, mm per reading.")
    ffmc_start: float = Field(85.0, ge=0, le=101, description="FWI start-up FFMC.")
    dmc_start: float = Field(6.0, ge=0, description="FWI start-up DMC.")
    dc_start: float = Field(15.0, ge=0, description="FWI start-up DC.")

    @model_validator(mode="after")
    def _valid(self) -> Self:
        t = self.nesterov_thresholds
        if any(b <= a for a, b in itertools.pairwise(t)):
            raise ValueError("nesterov_thresholds must be strictly increasing")
        if any(not 1 <= m <= 12 or mm <= 0 for m, mm in self.rain_reset_mm_by_month.items()):
            raise ValueError("rain_reset_mm_by_month: months 1..12, amounts > 0")
        return self

    def reset_mm(self, month: int) -> float:
        return self.rain_reset_mm_by_month.get(month, self.rain_reset_mm)


class AbstractionConfig(Section):
    """The daily volume of groundwater wells from their cumulative counters (REFERENCE §7)."""

    enabled: bool = Field(True, description="Compute `volume_day` of the wells.")
    kinds: list[StationKind] = Field(["groundwater"], description="Station kinds of the wells.")
    counter: str = Field("volume", description="Parameter key of the cumulative volume, m³.")
    counter_max_m3: float | None = Field(
        None,
        gt=0,
        description="The counters roll over to 0 past this (e.g. 9999999 for seven digits); "
        "None: they never do, and every drop is a reset.",
    )
    rollover_band: float = Field(
        0.1,
        gt=0,
        lt=0.5,
        description="A drop from the top share of counter_max_m3 into the bottom share is a "
        "roll-over; any other drop is a reset (counted from the new value).",
    )


class ParameterChecks(Section):
    zscore: bool = Field(True, description="Robust z-score and seasonal spike checks.")
    flatline: bool = Field(True, description="Stuck-sensor check.")
    drift: bool = Field(True, description="Slow drift check on hourly means.")
    drift_threshold: float | None = Field(
        None,
        gt=0,
        description="|drift score| above this is drift on this parameter (None: the anomaly "
        "section's drift_threshold); higher where the weather moves a day's level.",
    )
    max_rate_per_min: float | None = Field(
        None,
        gt=0,
        description="Rate-of-change spike: largest plausible change per minute (set it with "
        "the sampling interval in mind: sensor noise over 5 s is a steep rate).",
    )
    low: float | None = Field(None, description="Physical range, lower end (None: registry).")
    high: float | None = Field(None, description="Physical range, upper end (None: registry).")
    mad_floor: float = Field(0.0, ge=0, description="Smallest MAD (quantised sensors).")


def _default_checks() -> dict[str, ParameterChecks]:
    calm = ParameterChecks(zscore=False, flatline=False, drift=False)  # e.g. mostly 0: rain
    return {
        "rain": calm,
        "wind": ParameterChecks(flatline=False, mad_floor=0.5),
        "rh": ParameterChecks(flatline=False, high=100.0, mad_floor=1.0),
        "temp": ParameterChecks(mad_floor=0.3),
        # PM's level moves up to ~2x from one day to the next with the weather (a drift
        # score up to 6 on ordinary stations of the simulated day): only a larger shift
        "pm25": ParameterChecks(mad_floor=1.0, drift_threshold=8.0),
        "pm10": ParameterChecks(mad_floor=1.5, drift_threshold=8.0),
        # 0 while a pump is off; a pump's rate is its operator's and a well's level follows it
        # (drawdown): a sustained change of either is the abstraction (licence rules), not drift
        "flow": ParameterChecks(flatline=False, drift=False),
        "level": ParameterChecks(drift=False),
        "volume": calm,  # a counter: steps, holds and resets are its nature
        "ph": ParameterChecks(low=0.0, high=14.0, mad_floor=0.05),
    }


def _default_offline_after_s() -> dict[StationKind, float]:
    return {"groundwater": 3600.0}


AnomalyKind = Literal[
    "spike",
    "sensor_fault",
    "pollution_event",
    "flatline",
    "out_of_range",
    "seasonal",
    "drift",
    "no_data",
    "offline",
]


class AnomalyConfig(Section):
    enabled: bool = Field(True, description="Run the anomaly checks (rule family `anomaly.*`).")
    disabled_rules: list[AnomalyKind] = Field(
        default_factory=list, description="Kinds that raise no alert (`spike` for anomaly.spike)."
    )
    severities: dict[AnomalyKind, Severity] = Field(
        default_factory=dict,
        description="Per kind, the severity of its alerts instead of the built-in one.",
    )
    zscore_window: int = Field(
        32, ge=8, le=1000, description="Samples of history the robust z-score compares with."
    )
    zscore_threshold: float = Field(8.0, gt=0, description="|robust z| above this is a spike.")
    mad_floor_ratio: float = Field(
        0.15,
        ge=0,
        le=10,
        description="The MAD counts as at least this share of the median (z-score checks).",
    )
    rising_zscore: float = Field(
        3.0, gt=0, description="A neighbour with z above this counts as rising too."
    )
    flatline_samples: int = Field(
        6,
        ge=3,
        le=1000,
        description="Identical samples in a row that mean a stuck sensor (6 × 5 min: a "
        "continuous value repeating to the last digit for 30 min; quantised or often-zero "
        "parameters have the check off in `checks`).",
    )
    flatline_tolerance: float = Field(0.0, ge=0, description="max - min still 'identical'.")
    seasonal_days: int = Field(14, ge=3, le=60, description="Days of hourly means kept.")
    seasonal_min_days: int = Field(
        5, ge=2, le=60, description="Days an hour of day needs before it is judged."
    )
    seasonal_threshold: float = Field(
        8.0, gt=0, description="|z| of an hourly mean against its hour of day."
    )
    drift_window_hours: int = Field(
        24, ge=4, le=24 * 30, description="Hours of the rolling median the drift check uses."
    )
    drift_threshold: float = Field(
        4.0,
        gt=0,
        description="|drift score| above this is drift (a parameter's checks may set its own).",
    )
    drift_pm_ratio: bool = Field(
        True,
        description="Also judge the drift of a station's PM2.5/PM10 ratio (the weather moves "
        "both together): drift of the one whose level moved more.",
    )
    offline_after_intervals: int = Field(
        3, ge=1, le=1000, description="Missed reporting intervals before offline / no data."
    )
    offline_after_s: dict[StationKind, float] = Field(
        default_factory=_default_offline_after_s,
        description="Per kind, instead of offline_after_intervals: silence (s) before offline "
        "/ no data. Groundwater: at least one record an hour (Circular 17/2021 art. 13).",
    )
    neighbour_radius_km: float = Field(
        15.0, gt=0, le=500, description="Stations this close are neighbours (cross-station)."
    )
    neighbour_window_s: float = Field(
        900.0, gt=0, le=86_400, description="A neighbour's z this recent counts."
    )
    min_neighbours_rising: int = Field(
        1, ge=1, le=100, description="Rising neighbours that make a spike a pollution event."
    )
    neighbour_kinds: list[StationKind] = Field(
        ["air", "weather"], description="Kinds whose spikes are checked against neighbours."
    )
    event_clear_after_s: float = Field(
        1800.0,
        ge=0,
        le=86_400,
        description="A spike / sensor-fault / pollution-event alert clears only once the "
        "station's values have been normal this long (s): no spike, and |z| against the level "
        "before the event at most rising_zscore (hysteresis; 0: at the first normal sample).",
    )
    fault_decision_s: float = Field(
        900.0,
        gt=0,
        le=86_400,
        description="A suspected sensor fault (a spike with quiet neighbours) is decided at the "
        "next samples: back to its level → sensor fault; still high with rising neighbours → "
        "pollution event; still high with quiet neighbours after this long (s) → spike.",
    )
    group_pollution_events: bool = Field(
        True,
        description="A pollution event at a station within neighbour_radius_km of an open one, "
        "starting at most event_spread_s after it, is the same regional incident: it keeps "
        "that alert open instead of raising its own.",
    )
    event_spread_s: float = Field(
        1800.0,
        ge=0,
        le=86_400,
        description="How long after a pollution event began a rise at a neighbour is that "
        "event spreading (group_pollution_events); a later rise nearby is a separate incident.",
    )
    defer_to_limits: bool = Field(
        True,
        description="No spike / sensor-fault / pollution-event on a parameter while an instant "
        "limit rule fires on it at the station: the limit alert is the incident.",
    )
    checks: dict[str, ParameterChecks] = Field(
        default_factory=_default_checks, description="Per-parameter settings; others: defaults."
    )

    @model_validator(mode="after")
    def _valid(self) -> Self:
        if self.seasonal_min_days > self.seasonal_days:
            raise ValueError("seasonal_min_days must be <= seasonal_days")
        if self.drift_window_hours > self.seasonal_days * 24 // 2:
            raise ValueError("drift_window_hours must be at most half of seasonal_days * 24")
        if any(not 0 < s <= 7 * 86_400 for s in self.offline_after_s.values()):
            raise ValueError("offline_after_s: silences between 0 and 7 days")
        return self

    def offline_silence_s(self, kind: str, interval_s: float) -> float:
        """Silence (s) after which a station of ``kind`` is offline."""
        for known, silence in self.offline_after_s.items():
            if known == kind:
                return silence
        return self.offline_after_intervals * interval_s

    def for_parameter(self, parameter: str) -> ParameterChecks:
        return self.checks.get(parameter) or ParameterChecks()


class AnalyticsConfig(Section):
    rules: list[RuleConfig] = Field(
        default_factory=_qcvn_rules, description="Limit rules; defaults are QCVN limits."
    )
    utc_offset_h: int = Field(
        7, ge=-12, le=14, description="Local time of days and hours (Vietnam: UTC+7, no DST)."
    )
    late_grace_s: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="A reading received this long after its clock hour ended is late: its "
        "decisions are marked retroactive.",
    )
    warmup_hours: int = Field(
        25,
        ge=0,
        le=24 * 14,
        description="At start, the windows are rebuilt from this much stored history "
        "(5-minute means), and alerts are brought in line with it. 0 = start empty.",
    )
    aqi: AqiConfig = Field(default_factory=AqiConfig)
    fire: FireConfig = Field(default_factory=FireConfig)
    abstraction: AbstractionConfig = Field(default_factory=AbstractionConfig)
    anomaly: AnomalyConfig = Field(default_factory=AnomalyConfig)

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        ids = [r.id for r in self.rules]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"duplicate rule ids: {', '.join(duplicated)}")
        reserved = sorted(i for i in ids if i.startswith("anomaly."))
        if reserved:
            raise ValueError(f"rule ids starting with `anomaly.` are reserved: {reserved}")
        return self
