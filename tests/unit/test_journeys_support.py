"""Hand-built tracks for the journey tests (no tests here: the builders the others share)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analytics.journeys import JourneyConfig, JourneyKernel, JourneyOutput, Vehicle

#: 2026-11-23 00:00 local (UTC+7), a Monday
T0 = 1_795_366_800_000
S = 1000
MIN = 60 * S
H = 60 * MIN
M_PER_DEG = 111_320.0


def config(**sections: Any) -> JourneyConfig:
    return JourneyConfig.model_validate(sections)


def kernel(cfg: JourneyConfig | None = None, classes: tuple[str, ...] = ("car",)) -> JourneyKernel:
    vehicles = [Vehicle(f"V{i}", c) for i, c in enumerate(classes)]
    return JourneyKernel(cfg or JourneyConfig(), vehicles)


@dataclass
class TrackBuilder:
    """Fixes of one vehicle, built forward in time. Positions advance east (or ``heading``
    degrees clockwise from north) at the given speed."""

    vehicle: int = 0
    t: int = T0
    lat: float = 11.0
    lon: float = 108.0
    rows: list[tuple[int, int, float, float, float, int, bool]] = field(default_factory=list)

    def fix(self, kmh: float = 0.0, *, jump: bool = False, ignition: int = -1) -> TrackBuilder:
        self.rows.append((self.vehicle, self.t, self.lat, self.lon, kmh, ignition, jump))
        return self

    def move(
        self, seconds: float, kmh: float, every: float = 30, heading: float = 90.0
    ) -> TrackBuilder:
        """Fixes every ``every`` s for ``seconds`` (the first one ``every`` s from now)."""
        steps = round(seconds / every)
        for _ in range(steps):
            self.advance(every, kmh, heading)
            self.fix(kmh)
        return self

    def advance(self, seconds: float, kmh: float = 0.0, heading: float = 90.0) -> TrackBuilder:
        metres = kmh / 3.6 * seconds
        rad = math.radians(heading)
        self.lat += metres * math.cos(rad) / M_PER_DEG
        self.lon += metres * math.sin(rad) / (M_PER_DEG * math.cos(math.radians(self.lat)))
        self.t += round(seconds * S)
        return self

    def stay(self, seconds: float, every: float = 60) -> TrackBuilder:
        return self.move(seconds, 0.0, every)

    def arrays(self) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
        return arrays(self.rows)


def arrays(rows: list[tuple[int, int, float, float, float, int, bool]]) -> dict[str, Any]:
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 7
    return {
        "vehicle": np.asarray(cols[0], dtype=np.int32),
        "t_ms": np.asarray(cols[1], dtype=np.int64),
        "lat": np.asarray(cols[2], dtype=np.float64),
        "lon": np.asarray(cols[3], dtype=np.float64),
        "speed_kmh": np.asarray(cols[4], dtype=np.float32),
        "ignition": np.asarray(cols[5], dtype=np.int8),
        "gps_jump": np.asarray(cols[6], dtype=bool),
    }


def run(k: JourneyKernel, rows: list[Any], cuts: list[int] | None = None) -> JourneyOutput:
    """Feed ``rows`` in batches split at ``cuts`` (indices), then flush; all output merged."""
    data = arrays(rows)
    edges = [0, *(cuts or []), len(rows)]
    merged = JourneyOutput()
    for a, b in itertools.pairwise(edges):
        merge(merged, k.process(**{key: col[a:b] for key, col in data.items()}))
    merge(merged, k.flush())
    return merged


def merge(into: JourneyOutput, out: JourneyOutput) -> None:
    for name in ("trips", "stops", "speeding", "driving", "signal", "zone_events"):
        getattr(into, name).extend(getattr(out, name))
    into.zone_violations.extend(out.zone_violations)
