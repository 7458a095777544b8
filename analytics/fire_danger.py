"""Forest-fire danger indices: Vietnam's Nesterov index and the Canadian FWI system.

Pure, vectorised numpy kernels.  Arrays carry stations on the leading axes; time series put
the day axis LAST (shape ``(..., days)``).  Loops run over days only, never over stations.

Sources
-------
* Nesterov index and its 5 levels: ``shared/domain/REFERENCE.md`` §4 (Decision
  127/2000/QĐ-BNN-KL, current wording).  ``P = Σ k_i · t13_i · d13_i``, ``k = 0`` on a day with
  rain >= the reset threshold (the sum restarts), else 1.
* Saturation vapour pressure: Magnus formula over water with the WMO constants (WMO-No. 8,
  CIMO Guide, 2008, Annex 4.B; Sonntag 1990): ``e_s = 6.112 · exp(17.62 T / (243.12 + T))`` hPa.
* Canadian Forest Fire Weather Index system: Van Wagner, C.E. & Pickett, T.L. 1985,
  "Equations and FORTRAN program for the Canadian Forest Fire Weather Index System", For.
  Tech. Rep. 33, and Van Wagner, C.E. 1987, "Development and structure of the Canadian
  Forest Fire Weather Index System", For. Tech. Rep. 35.  Equation numbers below are Van
  Wagner 1987 as used in the cffdrs reference implementation (R / Python), including its
  latitude-dependent day-length factors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# --------------------------------------------------------------------------- humidity

#: Magnus constants over water (WMO CIMO Guide 2008, Annex 4.B): hPa, dimensionless, °C.
MAGNUS_E0_HPA = 6.112
MAGNUS_A = 17.62
MAGNUS_B_C = 243.12


def saturation_vapour_pressure_hpa(temp_c: npt.ArrayLike) -> FloatArray:
    """Saturation vapour pressure over water, hPa (Magnus, WMO constants above)."""
    t = np.asarray(temp_c, dtype=np.float64)
    return np.asarray(MAGNUS_E0_HPA * np.exp(MAGNUS_A * t / (MAGNUS_B_C + t)), dtype=np.float64)


def saturation_deficit_hpa(temp_c: npt.ArrayLike, rh_pct: npt.ArrayLike) -> FloatArray:
    """Saturation deficit ``e_s(T) - e`` in hPa, with ``e = e_s(T) · RH / 100``.

    RH is clipped to 0..100 % (sensor overshoot above 100 gives deficit 0, not negative).
    """
    rh = np.clip(np.asarray(rh_pct, dtype=np.float64), 0.0, 100.0)
    es = saturation_vapour_pressure_hpa(temp_c)
    return np.asarray(es * (1.0 - rh / 100.0), dtype=np.float64)


# --------------------------------------------------------------------------- Nesterov

#: Default upper bounds of levels I..IV (P <= 1000 -> I, ... P > 10000 -> V), REFERENCE §4.
NESTEROV_THRESHOLDS: tuple[float, float, float, float] = (1000.0, 2500.0, 5000.0, 10000.0)

#: Level labels, index ``level - 1``.  English per REFERENCE §4; the Vietnamese for IV and V
#: is the decision's wording, for I-III a translation of the English (not the legal text).
NESTEROV_LABELS_EN: tuple[str, ...] = (
    "fire unlikely",
    "low",
    "medium",
    "high",
    "very high",
)
NESTEROV_LABELS_VI: tuple[str, ...] = (
    "Cấp I: ít có khả năng cháy",
    "Cấp II: thấp",
    "Cấp III: trung bình",
    "Cấp IV: nguy hiểm",
    "Cấp V: cực kỳ nguy hiểm",
)


def nesterov_index(
    t13: npt.ArrayLike,
    d13: npt.ArrayLike,
    rain_mm: npt.ArrayLike,
    reset_mm: npt.ArrayLike = 5.0,
    *,
    p0: npt.ArrayLike = 0.0,
) -> FloatArray:
    """Nesterov index ``P`` for every day, accumulated along the LAST axis.

    Args:
        t13: air temperature at 13:00, °C, shape ``(..., days)``.
        d13: saturation deficit at 13:00, hPa (see :func:`saturation_deficit_hpa`).
        rain_mm: rain of the day, mm.
        reset_mm: reset threshold; a day with ``rain >= reset_mm`` has ``k = 0`` and ``P = 0``
            (the sum restarts, the next dry day starts from its own ``t13 · d13``).  Scalar
            or any array broadcastable to ``(..., days)``: per station use shape
            ``(stations, 1)``, per day/month ``(days,)``.
        p0: ``P`` carried in from the day before the first one (shape ``(...)``), to update
            an index day by day without re-reading history.

    Missing data: a day with NaN ``t13`` or ``d13`` contributes 0 (P carries over
    unchanged); a NaN rain amount is not a reset.  A day below 0 °C also contributes 0
    (Nesterov's sum runs over days above freezing) instead of lowering ``P``.

    Returns ``P`` with the broadcast shape ``(..., days)``.
    """
    t, d, r, thr = np.broadcast_arrays(
        np.asarray(t13, dtype=np.float64),
        np.asarray(d13, dtype=np.float64),
        np.asarray(rain_mm, dtype=np.float64),
        np.asarray(reset_mm, dtype=np.float64),
    )
    if t.ndim == 0:
        raise ValueError("nesterov_index needs a day axis (last axis)")
    reset = r >= thr  # NaN rain compares False: no reset
    contrib = np.where(np.isfinite(t) & np.isfinite(d) & (t > 0), t * d, 0.0)
    contrib = np.where(reset, 0.0, contrib)

    # Cumulative sum, minus the cumulative sum at the last reset day (vectorised "reset").
    cs = np.cumsum(contrib, axis=-1)
    days = np.arange(t.shape[-1])
    last_reset = np.maximum.accumulate(np.where(reset, days, -1), axis=-1)
    base = np.take_along_axis(cs, np.maximum(last_reset, 0), axis=-1)
    start = np.asarray(p0, dtype=np.float64)[..., None]
    out = np.where(last_reset >= 0, cs - base, cs + start)
    return np.asarray(out, dtype=np.float64)


def nesterov_level(
    p: npt.ArrayLike, thresholds: tuple[float, float, float, float] = NESTEROV_THRESHOLDS
) -> IntArray:
    """Fire-danger level 1..5 for each Nesterov value; 0 where ``p`` is NaN.

    ``thresholds`` are the inclusive upper bounds of levels I..IV (default
    1000 / 2500 / 5000 / 10000 per REFERENCE §4; provinces may configure their own):
    ``P <= 1000 -> 1``, ``1000 < P <= 2500 -> 2``, ..., ``P > 10000 -> 5``.
    """
    bounds = np.asarray(thresholds, dtype=np.float64)
    if bounds.shape != (4,) or np.any(np.diff(bounds) <= 0):
        raise ValueError(f"thresholds must be 4 strictly increasing values, got {thresholds}")
    pv = np.asarray(p, dtype=np.float64)
    level = np.searchsorted(bounds, pv, side="left").astype(np.int64) + 1
    return np.asarray(np.where(np.isnan(pv), 0, level), dtype=np.int64)


# --------------------------------------------------------------------------- Canadian FWI

#: FFMC <-> moisture-content constant 250·59.5/101 (cffdrs; Van Wagner 1987 prints 147.2).
FFMC_COEFFICIENT = 250.0 * 59.5 / 101.0

#: DMC effective day length Le (Van Wagner 1987 table 1), 46°N standard, by month.
DMC_DAY_LENGTH_46N = (6.5, 7.5, 9.0, 12.8, 13.9, 13.9, 12.4, 10.9, 9.4, 8.0, 7.0, 6.0)
#: DMC day length for 10°N < lat <= 30°N (cffdrs, Lawson & Armitage 2008).
DMC_DAY_LENGTH_20N = (7.9, 8.4, 8.9, 9.5, 9.9, 10.2, 10.1, 9.7, 9.1, 8.6, 8.1, 7.8)
#: DMC day length for 30°S < lat <= 10°S.
DMC_DAY_LENGTH_20S = (10.1, 9.6, 9.1, 8.5, 8.1, 7.8, 7.9, 8.3, 8.9, 9.4, 9.9, 10.2)
#: DMC day length for lat <= 30°S.
DMC_DAY_LENGTH_40S = (11.5, 10.5, 9.2, 7.9, 6.8, 6.2, 6.5, 7.4, 8.7, 10.0, 11.2, 11.8)
#: DMC day length for 10°S < lat <= 10°N (all months).
DMC_DAY_LENGTH_EQUATOR = 9.0

#: DC day-length factor Lf (Van Wagner 1987 table 2), standard, for lat > 20°N.
DC_DAY_LENGTH_NORTH = (-1.6, -1.6, -1.6, 0.9, 3.8, 5.8, 6.4, 5.0, 2.4, 0.4, -1.6, -1.6)
#: DC day-length factor for lat <= 20°S.
DC_DAY_LENGTH_SOUTH = (6.4, 5.0, 2.4, 0.4, -1.6, -1.6, -1.6, -1.6, -1.6, 0.9, 3.8, 5.8)
#: DC day-length factor for 20°S < lat <= 20°N (REFERENCE §4: 1.4 south of 20°N).
DC_DAY_LENGTH_TROPICS = 1.4


def _f(x: npt.ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _with_nan(out: FloatArray, *inputs: FloatArray) -> FloatArray:
    """``out`` with NaN wherever any input is NaN (comparisons alone would hide it)."""
    missing = np.zeros(np.shape(out), dtype=bool)
    for x in inputs:
        missing = missing | np.isnan(x)
    return np.asarray(np.where(missing, np.nan, out), dtype=np.float64)


def _month_index(month: npt.ArrayLike) -> npt.NDArray[np.intp]:
    m = np.asarray(month)
    if np.any((m < 1) | (m > 12)):
        raise ValueError("month must be in 1..12")
    return np.asarray(m, dtype=np.intp) - 1


def ffmc(
    temp: npt.ArrayLike,
    rh: npt.ArrayLike,
    wind_kmh: npt.ArrayLike,
    rain_mm: npt.ArrayLike,
    ffmc_prev: npt.ArrayLike,
) -> FloatArray:
    """Fine Fuel Moisture Code for one day (Van Wagner 1987 eqs. 1-10).

    Noon temperature °C, RH % (clipped to 0..100), 10 m wind km/h, 24 h rain mm; negative
    wind or rain count as 0.  Result clipped to 0..101.  NaN in -> NaN out.
    """
    t, h = _f(temp), np.clip(_f(rh), 0.0, 100.0)
    ws, ra = np.maximum(_f(wind_kmh), 0.0), np.maximum(_f(rain_mm), 0.0)
    mo = FFMC_COEFFICIENT * (101.0 - _f(ffmc_prev)) / (59.5 + _f(ffmc_prev))  # eq. 1

    wet = ra > 0.5
    rf = np.where(wet, ra - 0.5, 1.0)  # eq. 2 (1.0 is a dummy where it is unused)
    mo_c = np.minimum(mo, 250.0)
    gain = 42.5 * rf * np.exp(-100.0 / (251.0 - mo_c)) * (1.0 - np.exp(-6.93 / rf))  # eq. 3a
    gain = gain + np.where(mo > 150.0, 0.0015 * (mo - 150.0) ** 2 * np.sqrt(rf), 0.0)  # eq. 3b
    mo = np.where(wet, np.minimum(mo + gain, 250.0), mo)

    rh_term = 0.18 * (21.1 - t) * (1.0 - np.exp(-0.115 * h))
    ed = 0.942 * h**0.679 + 11.0 * np.exp((h - 100.0) / 10.0) + rh_term  # eq. 4
    ew = 0.618 * h**0.753 + 10.0 * np.exp((h - 100.0) / 10.0) + rh_term  # eq. 5

    temp_factor = 0.581 * np.exp(0.0365 * t)
    dry_frac = h / 100.0
    kd = (0.424 * (1.0 - dry_frac**1.7) + 0.0694 * np.sqrt(ws) * (1.0 - dry_frac**8)) * temp_factor
    wet_frac = (100.0 - h) / 100.0
    kw = (0.424 * (1.0 - wet_frac**1.7) + 0.0694 * np.sqrt(ws) * (1.0 - wet_frac**8)) * temp_factor

    m = np.where(
        mo > ed,
        ed + (mo - ed) / 10.0**kd,  # drying, eqs. 6a, 6b, 8
        np.where((mo < ed) & (mo < ew), ew - (ew - mo) / 10.0**kw, mo),  # wetting, 7a, 7b, 9
    )
    out = np.clip(59.5 * (250.0 - m) / (FFMC_COEFFICIENT + m), 0.0, 101.0)  # eq. 10
    return _with_nan(out, t, h, ws, ra, _f(ffmc_prev))


def _dmc_day_length(month_idx: npt.NDArray[np.intp], lat: FloatArray) -> FloatArray:
    table = np.select(
        [lat > 30.0, lat > 10.0, lat > -10.0, lat > -30.0],
        [
            np.take(DMC_DAY_LENGTH_46N, month_idx),
            np.take(DMC_DAY_LENGTH_20N, month_idx),
            np.full(np.shape(month_idx), DMC_DAY_LENGTH_EQUATOR),
            np.take(DMC_DAY_LENGTH_20S, month_idx),
        ],
        default=np.take(DMC_DAY_LENGTH_40S, month_idx),
    )
    return np.asarray(np.where(np.isnan(lat), np.nan, table), dtype=np.float64)


def dmc(
    temp: npt.ArrayLike,
    rh: npt.ArrayLike,
    rain_mm: npt.ArrayLike,
    dmc_prev: npt.ArrayLike,
    month: npt.ArrayLike,
    lat: npt.ArrayLike,
) -> FloatArray:
    """Duff Moisture Code for one day (Van Wagner 1987 eqs. 11-16).

    Day length Le by latitude, per station (cffdrs): > 30°N the 46°N standard table,
    10-30°N the 20°N table (Vietnam north of 10°N), 10°S-10°N a constant 9.0, and the
    two southern tables below.  ``month`` is 1..12.
    """
    t = np.maximum(_f(temp), -1.1)
    h = np.clip(_f(rh), 0.0, 100.0)
    ra = np.maximum(_f(rain_mm), 0.0)
    prev = _f(dmc_prev)
    le = _dmc_day_length(_month_index(month), _f(lat))
    rk = 1.894 * (t + 1.1) * (100.0 - h) * le * 1e-4  # eq. 16

    wet = ra > 1.5
    rw = np.where(wet, 0.92 * ra - 1.27, 1.0)  # eq. 11 (1.0 dummy where unused)
    prev_pos = np.maximum(prev, 1e-12)
    wmi = 20.0 + 280.0 / np.exp(0.023 * prev)  # eq. 12 (cffdrs form)
    b = np.where(
        prev <= 33.0,
        100.0 / (0.5 + 0.3 * prev),  # eq. 13a
        np.where(prev <= 65.0, 14.0 - 1.3 * np.log(prev_pos), 6.2 * np.log(prev_pos) - 17.2),
    )  # eqs. 13b, 13c
    wmr = wmi + 1000.0 * rw / (48.77 + b * rw)  # eq. 14
    pr_wet = 43.43 * (5.6348 - np.log(np.where(wet, wmr - 20.0, 1.0)))  # eq. 15 (cffdrs form)
    pr = np.maximum(np.where(wet, pr_wet, prev), 0.0)
    return _with_nan(np.maximum(pr + rk, 0.0), t, h, ra, prev, le)


def _dc_day_length(month_idx: npt.NDArray[np.intp], lat: FloatArray) -> FloatArray:
    table = np.select(
        [lat > 20.0, lat > -20.0],
        [
            np.take(DC_DAY_LENGTH_NORTH, month_idx),
            np.full(np.shape(month_idx), DC_DAY_LENGTH_TROPICS),
        ],
        default=np.take(DC_DAY_LENGTH_SOUTH, month_idx),
    )
    return np.asarray(np.where(np.isnan(lat), np.nan, table), dtype=np.float64)


def dc(
    temp: npt.ArrayLike,
    rain_mm: npt.ArrayLike,
    dc_prev: npt.ArrayLike,
    month: npt.ArrayLike,
    lat: npt.ArrayLike,
) -> FloatArray:
    """Drought Code for one day (Van Wagner 1987 eqs. 18-23).

    Day-length factor Lf by latitude, per station (cffdrs): > 20°N the standard table,
    20°S-20°N (inclusive of 20°N) the constant 1.4, <= 20°S the southern table.
    """
    t = np.maximum(_f(temp), -2.8)
    ra = np.maximum(_f(rain_mm), 0.0)
    prev = _f(dc_prev)
    lf = _dc_day_length(_month_index(month), _f(lat))
    pe = np.maximum((0.36 * (t + 2.8) + lf) / 2.0, 0.0)  # eq. 22

    wet = ra > 2.8
    rw = np.where(wet, 0.83 * ra - 1.27, 0.0)  # eq. 18
    smi = 800.0 * np.exp(-prev / 400.0)  # eq. 19
    dr = np.maximum(prev - 400.0 * np.log(1.0 + 3.937 * rw / smi), 0.0)  # eqs. 20-21
    return _with_nan(np.maximum(np.where(wet, dr, prev) + pe, 0.0), t, ra, prev, lf)  # eq. 23


def isi(wind_kmh: npt.ArrayLike, ffmc: npt.ArrayLike) -> FloatArray:
    """Initial Spread Index (Van Wagner 1987 eqs. 24-26; no FBP high-wind modification)."""
    f = _f(ffmc)
    m = FFMC_COEFFICIENT * (101.0 - f) / (59.5 + f)
    f_wind = np.exp(0.05039 * np.maximum(_f(wind_kmh), 0.0))  # eq. 24
    f_f = 91.9 * np.exp(-0.1386 * m) * (1.0 + m**5.31 / 4.93e7)  # eq. 25
    return np.asarray(0.208 * f_wind * f_f, dtype=np.float64)  # eq. 26


def bui(dmc: npt.ArrayLike, dc: npt.ArrayLike) -> FloatArray:
    """Buildup Index (Van Wagner 1987 eqs. 27a, 27b)."""
    p, d = _f(dmc), _f(dc)
    den = p + 0.4 * d
    u_a = np.where(den > 0, 0.8 * p * d / np.where(den > 0, den, 1.0), 0.0)  # eq. 27a
    ratio = np.where(p > 0, 1.0 - 0.8 * d / np.where(den > 0, den, 1.0), 0.0)
    u_b = np.maximum(p - ratio * (0.92 + (0.0114 * p) ** 1.7), 0.0)  # eq. 27b
    return np.asarray(np.where(u_a < p, u_b, u_a), dtype=np.float64)


def fwi(isi: npt.ArrayLike, bui: npt.ArrayLike) -> FloatArray:
    """Fire Weather Index (Van Wagner 1987 eqs. 28-30)."""
    r, u = _f(isi), _f(bui)
    f_d = np.where(
        u > 80.0,
        1000.0 / (25.0 + 108.64 * np.exp(-0.023 * u)),  # eq. 28b
        0.626 * np.maximum(u, 0.0) ** 0.809 + 2.0,  # eq. 28a
    )
    b = 0.1 * r * f_d  # eq. 29
    log_b = np.log(np.where(b > 1.0, b, np.e))
    return np.asarray(np.where(b > 1.0, np.exp(2.72 * (0.434 * log_b) ** 0.647), b), np.float64)


@dataclass(frozen=True, slots=True)
class FwiSeries:
    """Daily FWI-system codes and indices, each of shape ``(..., days)``."""

    ffmc: FloatArray
    dmc: FloatArray
    dc: FloatArray
    isi: FloatArray
    bui: FloatArray
    fwi: FloatArray


def fwi_series(
    temp: npt.ArrayLike,
    rh: npt.ArrayLike,
    wind_kmh: npt.ArrayLike,
    rain_mm: npt.ArrayLike,
    months: npt.ArrayLike,
    lat: npt.ArrayLike,
    ffmc0: npt.ArrayLike = 85.0,
    dmc0: npt.ArrayLike = 6.0,
    dc0: npt.ArrayLike = 15.0,
) -> FwiSeries:
    """Run the FWI system day by day (day axis LAST), vectorised over stations.

    ``temp`` (noon °C), ``rh`` (%), ``wind_kmh`` (10 m), ``rain_mm`` (24 h) and ``months``
    (1..12) broadcast to ``(..., days)``; ``lat`` and the start-up codes ``ffmc0``, ``dmc0``,
    ``dc0`` (defaults: Van Wagner's 85 / 6 / 15) broadcast to ``(...)``.

    A NaN weather value makes that day's codes NaN and, since every code feeds the next
    day, all later days too: fill gaps before calling.
    """
    t, h, w, r, mon = np.broadcast_arrays(
        _f(temp), _f(rh), _f(wind_kmh), _f(rain_mm), np.asarray(months)
    )
    if t.ndim == 0:
        raise ValueError("fwi_series needs a day axis (last axis)")
    la = _f(lat)
    f_prev, p_prev, d_prev = _f(ffmc0), _f(dmc0), _f(dc0)
    cols: dict[str, list[FloatArray]] = {k: [] for k in ("ffmc", "dmc", "dc", "isi", "bui", "fwi")}
    for day in range(t.shape[-1]):
        sl = (..., day)
        f_prev = ffmc(t[sl], h[sl], w[sl], r[sl], f_prev)
        p_prev = dmc(t[sl], h[sl], r[sl], p_prev, mon[sl], la)
        d_prev = dc(t[sl], r[sl], d_prev, mon[sl], la)
        i_day = isi(w[sl], f_prev)
        b_day = bui(p_prev, d_prev)
        for key, val in (
            ("ffmc", f_prev),
            ("dmc", p_prev),
            ("dc", d_prev),
            ("isi", i_day),
            ("bui", b_day),
            ("fwi", fwi(i_day, b_day)),
        ):
            cols[key].append(val)
    stacked = {k: np.stack(np.broadcast_arrays(*v), axis=-1) for k, v in cols.items()}
    return FwiSeries(**stacked)
