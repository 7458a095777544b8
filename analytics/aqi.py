"""Vietnamese air quality index (VN_AQI), Decision 1459/QĐ-TCMT of 12/11/2019.

Pure, vectorised numpy kernels: every function takes arrays (one value per station, or any
leading shape) and never loops over stations.  All concentrations are in µg/m³, CO included.

Source of every rule here: Decision 1459/QĐ-TCMT as summarised in
``shared/domain/REFERENCE.md`` §2 (breakpoint table 2, interpolation formula, NowCast,
hourly and daily aggregation, colour bands).  VN_AQI is *not* the US EPA AQI: the same
concentration gives a different index (35 µg/m³ PM2.5 ≈ 60 here, ≈ 99 on the EPA scale).

Conventions
-----------
* NaN means "no data".  Sub-indices and AQI values are float arrays with NaN for "no value";
  bands are int arrays with -1 for "no value".
* A concentration above the top breakpoint (500) is reported as 500 (the scale is capped;
  the decision tabulates nothing above it).  O3 8-hour is the exception: its table stops at
  400 µg/m³ (index 300) and the decision says to use the 1-hour value above that, so the
  8-hour sub-index is NaN there.
* Rounding of the final AQI is half-up (``floor(x + 0.5)``), not numpy's half-to-even.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Index values I_i of the breakpoint rows (Decision 1459, table 2).
INDEX_LEVELS: tuple[float, ...] = (0.0, 50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0)

#: Concentration breakpoints BP_i in µg/m³ matching :data:`INDEX_LEVELS` row by row.
#: ``o3_8h`` stops at index 300 (no breakpoints above 400 µg/m³).
BREAKPOINTS: Mapping[str, tuple[float, ...]] = MappingProxyType(
    {
        "o3_1h": (0, 160, 200, 300, 400, 800, 1000, 1200),
        "o3_8h": (0, 100, 120, 170, 210, 400),
        "co": (0, 10_000, 30_000, 45_000, 60_000, 90_000, 120_000, 150_000),
        "so2": (0, 125, 350, 550, 800, 1600, 2100, 2630),
        "no2": (0, 100, 200, 700, 1200, 2350, 3100, 3850),
        "pm10": (0, 50, 150, 250, 350, 420, 500, 600),
        "pm25": (0, 25, 50, 80, 150, 250, 350, 500),
    }
)

#: Pollutants whose sub-index is capped at 500 above the top breakpoint (all but O3 8h).
_CAPPED_AT_500 = frozenset(BREAKPOINTS) - {"o3_8h"}

#: Number of hourly means the NowCast uses.
NOWCAST_HOURS = 12


@dataclass(frozen=True, slots=True)
class AqiBand:
    """One VN_AQI category: inclusive index range, labels and display colour."""

    low: int
    high: int
    label_vi: str
    label_en: str
    rgb: tuple[int, int, int]


#: The six VN_AQI bands (Decision 1459, table 4), index 0 = "Tốt" ... 5 = "Nguy hại".
BANDS: tuple[AqiBand, ...] = (
    AqiBand(0, 50, "Tốt", "Good", (0, 228, 0)),
    AqiBand(51, 100, "Trung bình", "Moderate", (255, 255, 0)),
    AqiBand(101, 150, "Kém", "Poor", (255, 126, 0)),
    AqiBand(151, 200, "Xấu", "Bad", (255, 0, 0)),
    AqiBand(201, 300, "Rất xấu", "Very bad", (143, 63, 151)),
    AqiBand(301, 500, "Nguy hại", "Hazardous", (126, 0, 35)),
)

#: hourly_aqi() input key -> breakpoint column (O3 uses its 1-hour column).
_HOURLY_KEYS: Mapping[str, str] = MappingProxyType(
    {"pm25": "pm25", "pm10": "pm10", "so2": "so2", "co": "co", "no2": "no2", "o3": "o3_1h"}
)


def sub_index(pollutant: str, concentration: npt.ArrayLike) -> FloatArray:
    """Sub-index AQI_x of one pollutant, by linear interpolation inside its bracket.

    ``AQI_x = (I_{i+1} - I_i) / (BP_{i+1} - BP_i) * (C_x - BP_i) + I_i`` with
    ``BP_i <= C_x <= BP_{i+1}`` (Decision 1459, formula 2).  An exact breakpoint maps to
    exactly its index value.  Not rounded.

    NaN or negative concentration -> NaN.  Above the top breakpoint -> 500, except
    ``"o3_8h"`` where anything above 400 µg/m³ -> NaN (use the 1-hour sub-index instead).

    Raises:
        KeyError: unknown pollutant (valid keys are those of :data:`BREAKPOINTS`).
    """
    if pollutant not in BREAKPOINTS:
        raise KeyError(f"unknown pollutant {pollutant!r}; expected one of {sorted(BREAKPOINTS)}")
    bp = np.asarray(BREAKPOINTS[pollutant], dtype=np.float64)
    levels = np.asarray(INDEX_LEVELS[: bp.size], dtype=np.float64)
    c = np.asarray(concentration, dtype=np.float64)

    # Bracket i such that bp[i] <= c < bp[i+1]; the top breakpoint itself uses the last bracket.
    i = np.clip(np.searchsorted(bp, c, side="right") - 1, 0, bp.size - 2)
    lo_bp, hi_bp = bp[i], bp[i + 1]
    lo_i, hi_i = levels[i], levels[i + 1]
    out = (hi_i - lo_i) / (hi_bp - lo_bp) * (c - lo_bp) + lo_i

    above = c > bp[-1]
    out = np.where(above, 500.0 if pollutant in _CAPPED_AT_500 else np.nan, out)
    out = np.where(np.isnan(c) | (c < 0), np.nan, out)
    return np.asarray(out, dtype=np.float64)


def nowcast(hourly: npt.ArrayLike) -> FloatArray:
    """NowCast of the last 12 hourly means (PM10 / PM2.5), Decision 1459 §2.

    ``hourly`` has shape ``(..., 12)``; index 0 is the latest hour ``c1``, index 11 is
    ``c12`` (11 hours earlier).  NaN (or a negative value, treated as invalid) = missing hour.

    * ``w* = min / max`` over the present hours; ``w = max(w*, 0.5)``; if every present hour
      is 0 the result is 0.
    * ``NowCast = Σ w^(i-1) c_i / Σ w^(i-1)`` over present hours (a missing hour weighs 0).
    * NaN unless at least 2 of ``c1, c2, c3`` are present.

    The decision (like the US EPA NowCast it copies) also prints ``Σ 0.5^i c_i`` for the case
    ``w = 0.5``; that equals the normalised formula up to 0.02 % when all 12 hours are present
    and is wrong when hours are missing, so the normalised form is used throughout.

    Returns an array of shape ``(...)``.
    """
    c = np.asarray(hourly, dtype=np.float64)
    if c.ndim == 0 or c.shape[-1] != NOWCAST_HOURS:
        raise ValueError(f"nowcast needs a last axis of {NOWCAST_HOURS} hours, got {c.shape}")
    present = np.isfinite(c) & (c >= 0)
    cz = np.where(present, c, 0.0)

    cmax = np.max(np.where(present, c, -np.inf), axis=-1)
    cmin = np.min(np.where(present, c, np.inf), axis=-1)
    safe_max = np.where(cmax > 0, cmax, 1.0)
    w_star = np.where(cmax > 0, cmin / safe_max, 1.0)
    w = np.maximum(w_star, 0.5)

    powers = w[..., None] ** np.arange(NOWCAST_HOURS, dtype=np.float64)
    weights = np.where(present, powers, 0.0)
    den = weights.sum(axis=-1)
    num = (weights * cz).sum(axis=-1)

    enough_recent = present[..., :3].sum(axis=-1) >= 2
    out = np.where(enough_recent, num / np.where(den > 0, den, 1.0), np.nan)
    return np.asarray(out, dtype=np.float64)


def _round_half_up(x: FloatArray) -> FloatArray:
    return np.asarray(np.floor(x + 0.5), dtype=np.float64)


def _combine(subs: Mapping[str, FloatArray]) -> FloatArray:
    """Max of the available sub-indices, rounded; NaN unless a PM sub-index is present."""
    names = list(subs)
    stacked = np.stack(np.broadcast_arrays(*(subs[n] for n in names)), axis=0)
    have_any = np.any(~np.isnan(stacked), axis=0)
    pm_rows = [k for k, n in enumerate(names) if n in ("pm25", "pm10")]
    have_pm = np.any(~np.isnan(stacked[pm_rows]), axis=0) if pm_rows else np.zeros_like(have_any)
    best = np.max(np.where(np.isnan(stacked), -np.inf, stacked), axis=0)
    out = np.where(have_any & have_pm, _round_half_up(best), np.nan)
    return np.asarray(out, dtype=np.float64)


def hourly_aqi(values: Mapping[str, npt.ArrayLike]) -> FloatArray:
    """Hourly VN_AQI (Decision 1459 §2, "AQI giờ").

    ``values`` keys (all optional, a station without an instrument just leaves it out or
    passes NaN):

    * ``"pm25"``, ``"pm10"``: shape ``(..., 12)`` hourly means, index 0 = latest hour;
      the NowCast (:func:`nowcast`) is applied here.
    * ``"so2"``, ``"co"``, ``"no2"``, ``"o3"``: shape ``(...)`` latest 1-hour means
      (O3 uses its 1-hour breakpoints).

    Returns ``max`` of the available sub-indices rounded half-up to an integer, as a float
    array of shape ``(...)``; NaN where neither the PM10 nor the PM2.5 sub-index exists.

    Raises:
        ValueError: unknown key, or no key at all.
    """
    unknown = set(values) - set(_HOURLY_KEYS)
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; expected {sorted(_HOURLY_KEYS)}")
    if not values:
        raise ValueError("hourly_aqi needs at least one pollutant")
    subs: dict[str, FloatArray] = {}
    for key, raw in values.items():
        conc = nowcast(raw) if key in ("pm25", "pm10") else np.asarray(raw, dtype=np.float64)
        subs[key] = sub_index(_HOURLY_KEYS[key], conc)
    return _combine(subs)


def daily_aqi(
    *,
    pm25_24h: npt.ArrayLike | None = None,
    pm10_24h: npt.ArrayLike | None = None,
    so2_max1h: npt.ArrayLike | None = None,
    co_max1h: npt.ArrayLike | None = None,
    no2_max1h: npt.ArrayLike | None = None,
    o3_max1h: npt.ArrayLike | None = None,
    o3_max8h: npt.ArrayLike | None = None,
) -> FloatArray:
    """Daily VN_AQI (Decision 1459 §2, "AQI ngày") from already-aggregated values.

    Every argument is keyword-only, in µg/m³, shape ``(...)`` (broadcastable), ``None`` or
    NaN when not measured:

    * ``pm25_24h``, ``pm10_24h``: the 24-hour mean (01:00 to 00:00 local time).
    * ``so2_max1h``, ``co_max1h``, ``no2_max1h``: the day's maximum 1-hour mean.
    * ``o3_max1h``, ``o3_max8h``: the day's maximum 1-hour and maximum 8-hour mean.  The O3
      sub-index is the larger of the two sub-indices; if ``o3_max8h`` > 400 only the
      1-hour value counts.

    Returns the rounded max of sub-indices (float, NaN = no AQI).  As for the hourly index,
    no AQI unless a PM10 or PM2.5 value is present.
    """
    subs: dict[str, FloatArray] = {}
    for key, arr in (
        ("pm25", pm25_24h),
        ("pm10", pm10_24h),
        ("so2", so2_max1h),
        ("co", co_max1h),
        ("no2", no2_max1h),
    ):
        if arr is not None:
            subs[key] = sub_index(key, arr)
    o3_parts = []
    if o3_max1h is not None:
        o3_parts.append(sub_index("o3_1h", o3_max1h))
    if o3_max8h is not None:
        o3_parts.append(sub_index("o3_8h", o3_max8h))  # NaN above 400 -> 1h wins
    if o3_parts:
        subs["o3"] = np.asarray(np.fmax.reduce(np.broadcast_arrays(*o3_parts)), dtype=np.float64)
    if not subs:
        raise ValueError("daily_aqi needs at least one pollutant")
    return _combine(subs)


def aqi_band(aqi: npt.ArrayLike) -> IntArray:
    """Band number 0..5 of :data:`BANDS` for each AQI value; -1 for NaN or negative.

    A value belongs to the band whose upper bound it does not exceed (50 -> 0, 51 -> 1,
    100 -> 1, 101 -> 2 ...); a non-integer such as 50.4 falls in the next band, so round
    first (:func:`hourly_aqi` and :func:`daily_aqi` already do).  Above 500 -> 5.
    """
    a = np.asarray(aqi, dtype=np.float64)
    uppers = np.asarray([b.high for b in BANDS[:-1]], dtype=np.float64)
    band = np.searchsorted(uppers, a, side="left").astype(np.int64)
    return np.asarray(np.where(np.isnan(a) | (a < 0), -1, band), dtype=np.int64)
