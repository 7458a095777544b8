"""Configuration of vehicle position input (transport journey monitoring, issue #13): the
``vehicles`` section. Read by ingest.positions, ingest.osmand and ingest.position_validate."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, Field, field_validator, model_validator

from ingest.plates import PlateError, normalise_plate
from ioc.section import Section

SpeedUnit = Literal["kn", "kmh", "mps", "mph"]
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class AreaConfig(Section):
    """The area vehicles are expected in (WGS84 degrees); default: Vietnam."""

    min_lat: float = Field(8.0, ge=-90, le=90, description="Southern edge.")
    max_lat: float = Field(23.5, ge=-90, le=90, description="Northern edge.")
    min_lon: float = Field(102.0, ge=-180, le=180, description="Western edge.")
    max_lon: float = Field(110.0, ge=-180, le=180, description="Eastern edge.")
    margin_km: float = Field(
        20.0,
        ge=0,
        le=1_000,
        description="Fixes up to this far outside the box are accepted (vehicles cross the "
        "border, GPS errs); further out they are refused as `outside_area`.",
    )

    @model_validator(mode="after")
    def _edges_in_order(self) -> AreaConfig:
        if self.min_lat >= self.max_lat or self.min_lon >= self.max_lon:
            raise ValueError("the area needs min_lat < max_lat and min_lon < max_lon")
        return self


class OsmAndDeviceConfig(Section):
    """One device speaking the OsmAnd protocol (Traccar Client, phones, trackers)."""

    vehicle: str = Field(description="The vehicle's plate (normalised on load: 49A-123.45).")
    key_sha256: str | None = Field(
        None,
        description="SHA-256 (hex) of the device's secret, sent as `key=` in the URL "
        "(ingest.osmand.hash_device_key). None: the device sends no secret, acceptable only "
        "on a network where nobody else can reach the port.",
    )
    speed_unit: SpeedUnit | None = Field(
        None, description="Unit of `speed` in the query form; None: `osmand_speed_unit`."
    )

    @field_validator("vehicle")
    @classmethod
    def _plate(cls, value: str) -> str:
        try:
            return normalise_plate(value)
        except PlateError as error:
            raise ValueError(str(error)) from None

    @field_validator("key_sha256")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256_HEX.fullmatch(value):
            raise ValueError("key_sha256 must be 64 lower-case hex digits")
        return value


class DriverImagesConfig(Section):
    """Driver images (ingest.driver_images): what is taken, where it is kept, how long."""

    directory: Path = Field(Path("var/vehicle-images"), description="Where images are kept.")
    keep_days: int = Field(
        92, ge=1, le=3_650, description="Images are kept this long (the law: >= 3 months)."
    )
    min_width: int = Field(640, ge=1, le=10_000, description="Narrowest image taken (px).")
    min_height: int = Field(480, ge=1, le=10_000, description="Lowest image taken (px).")
    max_message_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Largest image message."
    )
    required_types: list[str] = Field(
        default_factory=lambda: ["bus", "coach", "tractor"],
        description="Vehicle types that must send images (passenger >= 8 seats, tractors).",
    )
    max_gap_s: float = Field(
        900.0,
        gt=0,
        le=86_400,
        description="A vehicle of those types moving this long without an image is a "
        "violation (`journey.no_driver_image`).",
    )


class ForwardTarget(Section):
    """Where accepted positions are forwarded (store.forwarding), within 2 minutes."""

    url: AnyHttpUrl = Field(description="Receives POSTed JSON batches of positions.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Sent with each POST (e.g. an Authorization token)."
    )
    every_s: float = Field(
        30.0, gt=0, le=120, description="Seconds between two sends (the law: within 2 min)."
    )
    batch_max: int = Field(5_000, ge=1, le=100_000, description="Positions per POST at most.")
    queue_max: int = Field(
        200_000,
        ge=100,
        le=10_000_000,
        description="Positions kept while the target is away; beyond, the oldest are dropped "
        "(counted in health).",
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="A POST's time limit.")


class VehiclesConfig(Section):
    fleet: Path | None = Field(
        None,
        description="Transport registry file (ioc.fleet; the demo's is config/fleet.yaml): its "
        "companies, vehicles, drivers, zones and speed limits seed the configuration database "
        "once (then edited in the console), its towns, roads and routes are read at each start. "
        "None: no road data, and no vehicles unless added in the console.",
    )
    max_speed_kmh: float = Field(
        250.0,
        gt=0,
        le=1_000,
        description="Fixes reporting a higher speed are refused (`out_of_range`).",
    )
    jump_speed_kmh: float = Field(
        300.0,
        gt=0,
        le=5_000,
        description="A fix whose distance from the previous one (in event time) implies a "
        "faster move is flagged `gps_jump`: stored, never counted as speeding.",
    )
    jump_tolerance_m: float = Field(
        100.0,
        ge=0,
        le=10_000,
        description="GPS noise allowed before the implied speed is computed (two fixes a "
        "second apart 50 m off are not a 180 km/h move).",
    )
    max_future_s: float = Field(
        300.0, ge=0, le=86_400, description="Fixes stamped further in the future are refused."
    )
    max_age_s: float = Field(
        7 * 86_400.0,
        gt=0,
        le=400 * 86_400.0,
        description="Fixes older than this are refused (a device's backlog after a long time "
        "without coverage).",
    )
    dedup_window_fixes: int = Field(
        256,
        ge=2,
        le=100_000,
        description="Fixes remembered per vehicle to refuse duplicates (same vehicle and "
        "time) and to find the previous fix of a late one; 256 fixes are about 2 h at one fix "
        "every 30 s. Older duplicates are stored again (InfluxDB keeps one point per time).",
    )
    max_batch_fixes: int = Field(
        1_000,
        ge=1,
        le=100_000,
        description="Fixes in one MQTT message (a JSON array, a device's backlog) at most; "
        "the rest are refused (`too_large`).",
    )
    max_attributes: int = Field(
        32, ge=0, le=1_000, description="Other keys of a fix kept as attributes, at most."
    )
    max_attribute_chars: int = Field(
        256,
        ge=1,
        le=65_536,
        description="Longest attribute key or string value kept; longer ones are left out "
        "(the fix is flagged `attributes_truncated`).",
    )
    area: AreaConfig = Field(default_factory=AreaConfig, description="Expected area.")
    forward: list[ForwardTarget] = Field(
        default_factory=list,
        description="Forward accepted positions to these systems (e.g. the national one).",
    )
    images: DriverImagesConfig = Field(
        default_factory=DriverImagesConfig, description="Driver images: checks and keeping."
    )
    osmand_speed_unit: SpeedUnit = Field(
        "kn",
        description="Unit of `speed` in OsmAnd query and form requests, unless the device "
        "says otherwise (knots, as Traccar expects).",
    )
    osmand_naive_utc_offset_min: int = Field(
        0,
        ge=-720,
        le=840,
        description="UTC offset of OsmAnd times written without one (`2014-06-04 09:10:11`); "
        "420 for devices set to Vietnam time.",
    )
    osmand_min_accuracy_m: float = Field(
        0.0, ge=0, description="OsmAnd JSON accuracies below this are left out (as Traccar)."
    )
    osmand_devices: dict[str, OsmAndDeviceConfig] = Field(
        default_factory=dict,
        description="OsmAnd device id (`id`/`deviceid`/`device_id`) → its vehicle and secret.",
    )
    journeys_database: str = Field(
        "var/journeys.sqlite3",
        min_length=1,
        description="SQLite file of the journey journal (store.journey_book): trips, stops and "
        "violations, for the trips, violations and company summary routes; `:memory:` keeps "
        "them in memory only. Without `fleet` the journal is in memory whatever this says.",
    )
    journeys_retention_days: int = Field(
        400,
        ge=365,
        le=36_500,
        description="Journey rows older than this are deleted once a day; the law keeps "
        "journey data at least a year (Circular 09/2015, 71/2024).",
    )
