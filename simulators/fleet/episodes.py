"""Ground truth: what the simulator did on purpose, for tests of the journey analytics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EpisodeKind = Literal[
    "speeding",  # sustained over-speed; band from the peak excess over the applicable limit
    "continuous_driving",  # > 4 h without a break of >= 15 min
    "daily_driving",  # > 10 h of driving in one local day
    "gap_moving",  # no fix for > 2 min while moving
    "gap_stopped",  # no fix for > 15 min while stopped
    "zone_intrusion",  # fixes inside a restricted zone at forbidden hours
    "zone_crossing",  # no fix inside, but the segment between two fixes crosses the zone
    "gps_jump",  # one fix displaced tens of km: NOT a violation (and not speeding)
    "backlog",  # fixes buffered without network, sent later as one JSON array
]
VIOLATIONS: frozenset[str] = frozenset(
    {
        "speeding",
        "continuous_driving",
        "daily_driving",
        "gap_moving",
        "gap_stopped",
        "zone_intrusion",
        "zone_crossing",
    }
)
#: Over-speed bands (km/h over the limit), as the fine bands of Decrees 100/2019, 168/2024.
BANDS: tuple[tuple[str, float, float], ...] = (
    ("5-10", 5.0, 10.0),
    ("10-20", 10.0, 20.0),
    ("20-35", 20.0, 35.0),
    (">35", 35.0, float("inf")),
)


def band_of(excess_kmh: float) -> str | None:
    """The band of an excess over the limit (None at or under 5 km/h); bounds are upper-closed."""
    for name, low, high in BANDS:
        if low < excess_kmh <= high:
            return name
    return None


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """One scripted (or geometrically certain) episode. Times are epoch milliseconds of
    *fixes*, as the analytics sees them:

    - speeding: ``start_ms``/``end_ms`` = first/last fix over the limit; every fix between
      exceeds ``limit_kmh`` + the band's lower bound; ``peak_kmh`` is the top reported speed.
    - continuous_driving / daily_driving: first moving fix after the last break (of the day) to
      the fix where the vehicle stopped; ``driving_s`` = time spent moving in between.
    - gap_moving / gap_stopped: the last fix before the gap and the first after it.
    - zone_intrusion: first/last fix inside ``zone``; zone_crossing: the two fixes whose segment
      crosses ``zone`` (neither inside).
    - gps_jump: the displaced fix (start = end); ``displacement_m``.
    - backlog: first/last buffered fix; ``sent_ms`` when the array was sent, ``count`` fixes.
    """

    kind: EpisodeKind
    vehicle: str
    start_ms: int
    end_ms: int
    band: str | None = None
    peak_kmh: float | None = None
    limit_kmh: float | None = None
    zone: str | None = None
    driving_s: float | None = None
    displacement_m: float | None = None
    sent_ms: int | None = None
    count: int | None = None

    @property
    def violation(self) -> bool:
        return self.kind in VIOLATIONS
