"""Configuration of the cameras: the registry (id, name, kind, location, source) and, per
camera, the traffic geometry and the thresholds of the traffic, health and smoke analytics.

Geometry is in pixels of the camera's expected frame size (``width`` × ``height``, origin at
the top left, y down), as an operator would click it on a snapshot. The defaults describe the
three demo cameras that ``simulators.cameras`` renders.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator

from ioc.messages import Severity
from ioc.section import Section

CameraKind = Literal["traffic", "forest", "security"]
CameraRuleId = Literal[
    "camera.offline",
    "camera.bad_frames",
    "camera.frozen",
    "camera.dark",
    "camera.overexposed",
    "camera.blurred",
    "camera.moved",
    "camera.smoke",
    "traffic.congestion",
    "traffic.stopped_vehicle",
]
Point = tuple[float, float]


class TrafficConfig(Section):
    """Background subtraction, tracking, congestion and stopped vehicles (traffic cameras)."""

    background_tau_s: float = Field(
        60.0,
        gt=1,
        le=3600,
        description="Time constant of the background model; something standing still fades "
        "into it after about 0.7 × this (stopped vehicles are then held by the tracker).",
    )
    colour: bool = Field(
        True,
        description="Background model on colour: also sees a red car on grey asphalt (the "
        "same grey level); off: on grey, ≈0.5 ms less per frame.",
    )
    var_threshold: float = Field(
        16.0, gt=1, le=400, description="MOG2 squared distance for a pixel to be foreground."
    )
    min_blob_area: float = Field(
        120.0, gt=0, description="Smallest vehicle blob, px² (a motorbike far away)."
    )
    max_jump_px: float = Field(
        40.0, gt=0, description="Farthest a vehicle may be from its predicted position, px."
    )
    max_missed_s: float = Field(
        1.0, gt=0, le=60, description="A track not seen for this long is dropped."
    )
    line_band_px: float = Field(
        4.0, ge=0, description="Dead band either side of the counting line against jitter, px."
    )
    hold_diff: float = Field(
        14.0,
        gt=0,
        le=255,
        description="A standing vehicle is there while its patch differs from its look when "
        "it stopped by less than this RMS grey level (held when it faded into the "
        "background, dropped when only its ghost is left).",
    )
    slow_occupancy: float = Field(
        0.15, gt=0, le=1, description="Occupancy of the region from which traffic is slow."
    )
    jam_occupancy: float = Field(
        0.3, gt=0, le=1, description="Occupancy of the region from which traffic is jammed."
    )
    slow_speed_px_s: float = Field(
        60.0, gt=0, description="Median speed in the region below which traffic is slow, px/s."
    )
    jam_speed_px_s: float = Field(
        25.0,
        gt=0,
        description="Median speed below which traffic is jammed (with at least slow occupancy).",
    )
    smoothing_s: float = Field(
        5.0, gt=0, le=600, description="Time constant of the occupancy and speed averages."
    )
    congestion_after_s: float = Field(
        20.0, ge=0, le=3600, description="Jammed this long raises traffic.congestion."
    )
    congestion_clear_s: float = Field(
        30.0, ge=0, le=3600, description="Not jammed this long resolves it."
    )
    still_radius_px: float = Field(
        6.0, gt=0, description="A vehicle staying this close to one spot is standing, px."
    )
    stopped_after_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="Standing this long in the no-stopping zone raises traffic.stopped_vehicle.",
    )
    stopped_clear_s: float = Field(
        5.0, ge=0, le=3600, description="No vehicle standing there this long resolves it."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.jam_occupancy < self.slow_occupancy:
            raise ValueError("jam_occupancy must be >= slow_occupancy")
        if self.jam_speed_px_s > self.slow_speed_px_s:
            raise ValueError("jam_speed_px_s must be <= slow_speed_px_s")
        return self


class HealthConfig(Section):
    """Device health: offline, frozen, dark, overexposed, blurred or covered, moved."""

    sample_interval_s: float = Field(
        0.5, gt=0, le=60, description="Health is measured on one frame this often at most."
    )
    offline_after_s: float = Field(10.0, gt=0, le=3600, description="No frame this long: offline.")
    frozen_diff: float = Field(
        0.2,
        ge=0,
        le=255,
        description="Mean grey change between two samples below which the image did not "
        "change (live images always carry some sensor noise).",
    )
    frozen_after_s: float = Field(10.0, gt=0, le=3600, description="Unchanged this long: frozen.")
    dark_level: float = Field(20.0, ge=0, le=255, description="Mean grey below this: too dark.")
    bright_level: float = Field(
        225.0, ge=0, le=255, description="Mean grey above this: overexposed."
    )
    blur_ratio: float = Field(
        0.4,
        gt=0,
        lt=1,
        description="Sharpness (mean |Laplacian|) below this share of the camera's reference "
        "sharpness: blurred.",
    )
    covered_contrast: float = Field(
        6.0, ge=0, le=128, description="Grey standard deviation below this: covered (blurred)."
    )
    moved_px: float = Field(
        8.0, gt=0, description="Shift of the scene against the reference above this: moved, px."
    )
    reference_s: float = Field(
        5.0, gt=0, le=600, description="The reference sharpness averages this long."
    )
    reference_refresh_s: float = Field(
        600.0,
        gt=0,
        description="While the view has not moved, the reference view is renewed this often "
        "and the reference sharpness follows with this time constant (lighting, seasons).",
    )
    alert_after_s: float = Field(
        5.0, ge=0, le=3600, description="Dark, overexposed, blurred or moved this long: alert."
    )
    clear_after_s: float = Field(
        10.0, ge=0, le=3600, description="Back to normal this long: the alert resolves."
    )
    bad_after_s: float = Field(
        3.0,
        ge=0,
        le=3600,
        description="Only undecodable or wrong-size frames this long: camera.bad_frames.",
    )


class SmokeConfig(Section):
    """Smoke and fire candidates from colour, motion and growth (forest cameras)."""

    region: list[Point] | None = Field(
        None,
        description="Polygon where smoke may rise (e.g. the slopes, without the sky where "
        "clouds drift); None = the whole frame.",
    )
    background_tau_s: float = Field(
        300.0, gt=1, description="Time constant of the smoke-free reference view."
    )
    brighten: float = Field(
        8.0, gt=0, le=255, description="Grey rise over the reference that smoke causes, at least."
    )
    max_saturation: float = Field(
        0.3, gt=0, le=1, description="Smoke is greyish: HSV saturation at most this."
    )
    min_motion: float = Field(
        1.5,
        ge=0,
        description="Smoke swirls: its frame-to-frame grey change (averaged over 5 s) stands "
        "this much above the scene's noise.",
    )
    min_area: float = Field(
        0.002, gt=0, le=1, description="Candidate share of the region to consider, at least."
    )
    growth: float = Field(
        1.5, ge=1, description="The candidate must grow by this factor while confirming."
    )
    confirm_s: float = Field(
        10.0, ge=0, le=3600, description="Candidate this long (and growing): camera.smoke."
    )
    clear_after_s: float = Field(
        120.0, ge=0, le=86400, description="No candidate this long: the smoke alert resolves."
    )


class CameraConfig(Section):
    id: str = Field(
        pattern=r"^[A-Za-z0-9_.-]+$", max_length=64, description="Stable camera id (a tag)."
    )
    name: str = Field(min_length=1, description="Name shown on the wall.")
    kind: CameraKind = Field(description="traffic, forest or security (health only).")
    lat: float = Field(ge=-90, le=90, description="Latitude, WGS84.")
    lon: float = Field(ge=-180, le=180, description="Longitude, WGS84.")
    source: str = Field(
        "mqtt",
        min_length=1,
        description="`mqtt`: JPEG frames published to <prefix>/cameras/<id>/frames; otherwise "
        "a URL or path OpenCV opens (rtsp://…, http://… MJPEG, a video file).",
    )
    fps: float = Field(10.0, gt=0, le=60, description="Frames per second read from a URL source.")
    width: int = Field(640, ge=64, le=8192, description="Expected frame width, px.")
    height: int = Field(360, ge=64, le=8192, description="Expected frame height, px.")
    scale: Literal[1, 2, 4, 8] = Field(
        2, description="Analytics work at 1/scale of the frame size (JPEG decoded at that scale)."
    )
    counting_line: tuple[Point, Point] | None = Field(
        None, description="Two points; vehicles crossing between them are counted."
    )
    in_point: Point | None = Field(
        None, description="A point on the side that vehicles counted as `in` cross into."
    )
    occupancy_region: list[Point] | None = Field(
        None, description="Polygon whose occupancy gives the congestion level."
    )
    no_stopping_zone: list[Point] | None = Field(
        None, description="Polygon where a standing vehicle raises an alert."
    )
    traffic: TrafficConfig = Field(default_factory=TrafficConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    smoke: SmokeConfig = Field(default_factory=SmokeConfig)
    disabled_rules: list[CameraRuleId] = Field(
        default_factory=list, description="Rules of this camera that raise no alert."
    )
    severities: dict[CameraRuleId, Severity] = Field(
        default_factory=dict,
        description="Per rule, the severity of its alerts instead of the built-in one.",
    )

    @model_validator(mode="after")
    def _geometry(self) -> Self:
        polygons = {
            "occupancy_region": self.occupancy_region,
            "no_stopping_zone": self.no_stopping_zone,
            "smoke.region": self.smoke.region,
        }
        points = {
            "counting_line": list(self.counting_line) if self.counting_line else None,
            "in_point": [self.in_point] if self.in_point else None,
        }
        for name, polygon in {**polygons, **points}.items():
            for x, y in polygon or []:
                if not (0 <= x <= self.width and 0 <= y <= self.height):
                    raise ValueError(f"{name}: point ({x}, {y}) is outside the frame")
        for name, polygon in polygons.items():
            if polygon is not None and len(polygon) < 3:
                raise ValueError(f"{name}: a polygon needs at least 3 points")
        if self.counting_line is not None:
            (x1, y1), (x2, y2) = self.counting_line
            if math.hypot(x2 - x1, y2 - y1) < 2:
                raise ValueError("counting_line: the two points must differ")
            if self.in_point is None or line_side(self.counting_line, self.in_point) == 0:
                raise ValueError("counting_line needs an in_point off the line")
        if self.width % self.scale or self.height % self.scale:
            raise ValueError("width and height must be multiples of scale")
        return self


def line_side(line: tuple[Point, Point], point: Point) -> float:
    """Signed distance (px) of ``point`` from the line; the sign tells the side."""
    (x1, y1), (x2, y2) = line
    return ((x2 - x1) * (point[1] - y1) - (y2 - y1) * (point[0] - x1)) / math.hypot(
        x2 - x1, y2 - y1
    )


def _demo_cameras() -> list[CameraConfig]:
    """The demo province's cameras, matching ``simulators.cameras`` (road lanes at y 150–310,
    shoulder 310–340; the outbound lanes 150–230 jam; a car stops on the shoulder at x≈500)."""
    road = {
        "counting_line": ((320.0, 150.0), (320.0, 340.0)),
        "in_point": (400.0, 250.0),  # inbound traffic drives rightwards
        "occupancy_region": [(0.0, 150.0), (640.0, 150.0), (640.0, 230.0), (0.0, 230.0)],
        "no_stopping_zone": [(420.0, 310.0), (600.0, 310.0), (600.0, 340.0), (420.0, 340.0)],
    }
    forest = {
        "smoke": SmokeConfig(region=[(0.0, 150.0), (640.0, 150.0), (640.0, 360.0), (0.0, 360.0)])
    }
    return [
        CameraConfig.model_validate(
            {"id": "CAM-TRF-01", "name": "QL20 Liên Nghĩa", "kind": "traffic",
             "lat": 11.7372, "lon": 108.3741, **road}
        ),
        CameraConfig.model_validate(
            {"id": "CAM-TRF-02", "name": "Đèo Prenn (night)", "kind": "traffic",
             "lat": 11.8946, "lon": 108.4554, **road}
        ),
        CameraConfig.model_validate(
            {"id": "CAM-FOR-01", "name": "Langbiang forest watch", "kind": "forest",
             "lat": 12.0466, "lon": 108.4419, **forest}
        ),
    ]  # fmt: skip


class CamerasConfig(Section):
    cameras: list[CameraConfig] = Field(
        default_factory=_demo_cameras, description="The camera registry."
    )
    metrics_interval_s: float = Field(
        10.0, gt=0, le=3600, description="One `camera` point per camera per interval."
    )
    snapshot_interval_s: float = Field(
        5.0, gt=0, le=3600, description="Wall snapshots (with overlays) at most this often."
    )
    snapshot_dir: Path = Field(
        Path("var/snapshots"), description="Latest and event snapshots, one folder per camera."
    )
    keep_event_snapshots: int = Field(
        500, ge=1, le=1_000_000, description="Event snapshots kept per camera (oldest go)."
    )

    @model_validator(mode="after")
    def _unique(self) -> Self:
        ids = [c.id for c in self.cameras]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate camera ids: {', '.join(duplicates)}")
        return self
