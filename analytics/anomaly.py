"""Vectorised anomaly detectors for environmental sensor batches.

Every kernel works on a whole batch at once: ``values`` is either 1-D ``(time,)``
or N-D ``(..., time)`` (typically ``(stations, time)``) and time is always the
last axis.  Nothing here loops over individual values in Python or calls SciPy
per value; the only SciPy use is one ``cKDTree`` per batch in
:func:`classify_spikes`, imported there (≈0.3 s) so the service does not wait for SciPy
before it subscribes.

Conventions shared by all detectors:

* NaN marks a gap.  ``±inf`` is treated as a gap as well.  Kernels never raise
  on gaps, duplicates or constant series, and boolean masks are always
  ``False`` on gap samples.
* Robust z-scores use ``z = 0.6745 * (x - median) / MAD`` so that ``|z|``
  is comparable to a standard-normal z for Gaussian noise.  When ``MAD == 0``
  (constant or quantised history) ``z`` is ``0`` if ``x == median`` and
  ``±MAD_ZERO_Z`` (a large *finite* number, so results stay sortable and
  JSON-serialisable) otherwise.  Pass ``mad_floor`` to clip the MAD from below
  for quantised sensors where ``MAD == 0`` is normal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "EARTH_RADIUS_KM",
    "MAD_ZERO_Z",
    "SeasonalBaseline",
    "SpikeClass",
    "classify_spikes",
    "drift",
    "drift_reference",
    "drift_score",
    "flatline",
    "offline",
    "out_of_range",
    "rate_of_change_spikes",
    "robust_zscore",
    "seasonal_baseline",
    "seasonal_zscore",
    "window_median_mad",
    "window_zscore",
    "window_zscore_of",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: |z| reported when the MAD is zero and the value differs from the median.
MAD_ZERO_Z = 1.0e6
#: Mean Earth radius (IUGG), used to turn a great-circle radius into a chord.
EARTH_RADIUS_KM = 6371.0088
_MAD_TO_Z = 0.6745


# --------------------------------------------------------------------------- helpers


def _as_float(values: ArrayLike) -> FloatArray:
    """Float64 copy of ``values`` with non-finite entries turned into NaN."""
    x = np.array(values, dtype=np.float64, ndmin=1)
    x[~np.isfinite(x)] = np.nan
    return x


def _per_station(param: ArrayLike, values: FloatArray) -> FloatArray:
    """Broadcast a scalar / per-station ``(stations,)`` / per-sample parameter.

    A parameter with exactly one dimension less than ``values`` is a
    per-station value and gets a trailing time axis; anything else is
    broadcast by the usual NumPy rules.
    """
    p = np.asarray(param, dtype=np.float64)
    if p.ndim >= 1 and p.ndim == values.ndim - 1:
        p = p[..., np.newaxis]
    return np.broadcast_to(p, values.shape)


def _check_int(name: str, value: int, minimum: int) -> None:
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _nanmedian(a: FloatArray) -> FloatArray:
    """NaN-ignoring median along the last axis, fully vectorised and silent.

    ``np.nanmedian`` falls back to a per-row Python loop for long axes and warns
    on all-NaN slices; sorting once (NaN sorts last) and indexing avoids both.
    """
    if a.shape[-1] == 0:
        return np.full(a.shape[:-1], np.nan)
    s = np.sort(a, axis=-1)
    count = np.sum(~np.isnan(a), axis=-1)
    lo = np.maximum((count - 1) // 2, 0)[..., np.newaxis]
    hi = (count // 2)[..., np.newaxis]  # < a.shape[-1] since count <= a.shape[-1]
    med = 0.5 * (
        np.take_along_axis(s, lo, axis=-1)[..., 0] + np.take_along_axis(s, hi, axis=-1)[..., 0]
    )
    return np.where(count == 0, np.nan, med)


def _median_mad(a: FloatArray) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    """Median, MAD and number of valid samples along the last axis."""
    med = _nanmedian(a)
    mad = _nanmedian(np.abs(a - med[..., np.newaxis]))
    count = np.sum(~np.isnan(a), axis=-1)
    return med, mad, count


def _trailing_windows(x: FloatArray, window: int, *, include_current: bool) -> FloatArray:
    """View of shape ``(..., time, window)`` holding each sample's trailing window.

    With ``include_current`` the window of sample ``t`` is ``x[t-window+1 : t+1]``,
    otherwise ``x[t-window : t]``.  Positions before the series start are NaN.
    """
    pad = np.full((*x.shape[:-1], window), np.nan)
    padded = np.concatenate([pad, x], axis=-1)
    w = sliding_window_view(padded, window, axis=-1)
    return w[..., 1:, :] if include_current else w[..., :-1, :]


def _robust_z(x: FloatArray, med: FloatArray, mad: FloatArray, mad_floor: float) -> FloatArray:
    """``0.6745 * (x - med) / MAD`` with the MAD == 0 convention of this module."""
    mad_eff = np.maximum(mad, mad_floor)
    diff = x - med
    with np.errstate(divide="ignore", invalid="ignore"):
        z = _MAD_TO_Z * diff / mad_eff
    zero_mad = mad_eff == 0
    z_zero = np.where(diff == 0, 0.0, np.sign(diff) * MAD_ZERO_Z)
    return np.where(zero_mad, z_zero, z)


# --------------------------------------------------------------------------- detectors


def robust_zscore(values: ArrayLike, window: int, *, mad_floor: float = 0.0) -> FloatArray:
    """Robust z of each sample against the median/MAD of the previous ``window`` samples.

    The window is trailing and excludes the current sample, so a spike does not
    hide itself.  The result is NaN where the sample is a gap or where the
    window holds fewer than ``window // 2`` valid samples (not enough history).
    Memory is ``O(values.size * window)`` for the duration of the call.
    """
    _check_int("window", window, 2)
    x = _as_float(values)
    med, mad, count = _median_mad(_trailing_windows(x, window, include_current=False))
    z = _robust_z(x, med, mad, mad_floor)
    z[count < max(window // 2, 1)] = np.nan
    return z


def window_zscore(
    values: ArrayLike,
    windows: ArrayLike,
    *,
    mad_floor: ArrayLike = 0.0,
    mad_floor_ratio: ArrayLike = 0.0,
) -> FloatArray:
    """Robust z of each value against its own window of earlier samples.

    The streaming form of :func:`robust_zscore`, which scores only new samples: ``values``
    has shape ``(...)`` and ``windows`` ``(..., window)`` holds each value's previous
    samples (NaN = gap).  Same conventions: NaN for a gap value or when the window holds
    fewer than ``window // 2`` valid samples.  The MAD is clipped from below to
    ``max(mad_floor, mad_floor_ratio * |median|)``: the ratio keeps a quiet stretch of a
    series (night-time ozone) from turning an ordinary rise into a spike.  Both are scalars
    or broadcast to ``values``.
    """
    med, mad = window_median_mad(windows, mad_floor=mad_floor, mad_floor_ratio=mad_floor_ratio)
    return _robust_z(_as_float(values), med, mad, 0.0)


def window_zscore_of(values: ArrayLike, median: ArrayLike, mad: ArrayLike) -> FloatArray:
    """Robust z of ``values`` against a given (already floored) median and MAD, as
    :func:`window_median_mad` returns them (NaN where any of them is NaN)."""
    med = np.asarray(median, dtype=np.float64)
    return _robust_z(_as_float(values), med, np.asarray(mad, dtype=np.float64), 0.0)


def window_median_mad(
    windows: ArrayLike, *, mad_floor: ArrayLike = 0.0, mad_floor_ratio: ArrayLike = 0.0
) -> tuple[FloatArray, FloatArray]:
    """The median and the floored MAD :func:`window_zscore` scores against, per window
    (``(..., window)`` → ``(...)``): both NaN where the window holds fewer than
    ``window // 2`` valid samples. ``0.6745 * (x - median) / mad`` is the robust z of ``x``."""
    w = _as_float(windows)
    med, mad, count = _median_mad(w)
    ratio = np.asarray(mad_floor_ratio, dtype=np.float64)
    floor = np.maximum(np.asarray(mad_floor, dtype=np.float64), ratio * np.abs(med))
    short = count < max(w.shape[-1] // 2, 1)
    med = np.where(short, np.nan, med)
    return med, np.where(short, np.nan, np.maximum(mad, floor))


@dataclass(frozen=True, slots=True, eq=False)
class SeasonalBaseline:
    """Hour-of-day median and MAD, each of shape ``(..., 24)``; unpacks as a pair."""

    median: FloatArray
    mad: FloatArray

    def __iter__(self) -> Iterator[FloatArray]:
        return iter((self.median, self.mad))


def _hour_index(
    hour_of_day: ArrayLike, shape: tuple[int, ...]
) -> tuple[NDArray[np.intp], BoolArray]:
    """Broadcast hours to ``shape``; return a safe index array and a validity mask."""
    h = np.broadcast_to(np.asarray(hour_of_day), shape)
    hf = h.astype(np.float64)
    valid = np.isfinite(hf) & (hf >= 0) & (hf < 24) & (hf == np.floor(hf))
    idx = np.where(valid, hf, 0).astype(np.intp)
    return idx, valid


def seasonal_baseline(values: ArrayLike, hour_of_day: ArrayLike) -> SeasonalBaseline:
    """Median and MAD per hour of day (0..23) of a long history.

    ``hour_of_day`` is broadcast against ``values`` (typically ``(time,)`` shared
    by all stations).  Hours without any valid sample get NaN.
    """
    x = _as_float(values)
    idx, valid = _hour_index(hour_of_day, x.shape)
    medians: list[FloatArray] = []
    mads: list[FloatArray] = []
    for hour in range(24):  # 24 vectorised passes, independent of the data size
        med, mad, _ = _median_mad(np.where(valid & (idx == hour), x, np.nan))
        medians.append(med)
        mads.append(mad)
    return SeasonalBaseline(np.stack(medians, axis=-1), np.stack(mads, axis=-1))


def seasonal_zscore(
    values: ArrayLike,
    hour_of_day: ArrayLike,
    baseline: SeasonalBaseline | tuple[ArrayLike, ArrayLike],
    *,
    mad_floor: float = 0.0,
) -> FloatArray:
    """Robust z of new values against the baseline of their hour of day.

    NaN for gaps, invalid hours and hours the baseline has no data for.
    """
    x = _as_float(values)
    med_by_hour, mad_by_hour = (np.asarray(b, dtype=np.float64) for b in baseline)
    idx, valid = _hour_index(hour_of_day, x.shape)
    lead = x.shape[:-1]
    med_b = np.broadcast_to(med_by_hour, (*lead, 24))
    mad_b = np.broadcast_to(mad_by_hour, (*lead, 24))
    med = np.take_along_axis(med_b, idx, axis=-1)
    mad = np.take_along_axis(mad_b, idx, axis=-1)
    z = _robust_z(x, med, mad, mad_floor)
    z[~valid] = np.nan
    return z


def rate_of_change_spikes(
    values: ArrayLike, ts_seconds: ArrayLike, max_rate_per_s: ArrayLike
) -> BoolArray:
    """Flag samples reached by a step with ``|Δx/Δt| > max_rate_per_s``.

    The sample at the *end* of an offending step is flagged, so a one-sample
    spike flags the spike and the recovery sample after it.  Steps touching a
    gap, and steps with ``Δt <= 0`` (duplicate or out-of-order timestamps) are
    never flagged.  ``ts_seconds`` is ``(time,)`` or the shape of ``values``;
    ``max_rate_per_s`` is a scalar or per station.
    """
    x = _as_float(values)
    ts = np.broadcast_to(np.asarray(ts_seconds, dtype=np.float64), x.shape)
    limit = _per_station(max_rate_per_s, x)[..., 1:]
    dx = np.diff(x, axis=-1)
    dt = np.diff(ts, axis=-1)
    ok = np.isfinite(dx) & np.isfinite(dt) & (dt > 0)
    rate = np.abs(np.where(ok, dx, 0.0)) / np.where(ok, dt, 1.0)
    mask = np.zeros(x.shape, dtype=bool)
    mask[..., 1:] = ok & (rate > limit)
    return mask


def flatline(values: ArrayLike, min_run: int, tolerance: float = 0.0) -> BoolArray:
    """Flag samples inside a run of ``>= min_run`` gap-free samples with ``max - min <= tolerance``.

    A stuck sensor repeats (nearly) the same value.  Using the range of the run
    rather than step-to-step differences keeps slow genuine trends from being
    mistaken for a flat line when ``tolerance > 0``.  A gap breaks a run.
    """
    _check_int("min_run", min_run, 2)
    x = _as_float(values)
    n = x.shape[-1]
    if n < min_run:
        return np.zeros(x.shape, dtype=bool)
    w = sliding_window_view(x, min_run, axis=-1)
    flat_window = (np.max(w, axis=-1) - np.min(w, axis=-1)) <= tolerance  # NaN -> False
    # A sample is flagged when any flat window covers it (dilation by min_run - 1).
    pad = np.zeros((*x.shape[:-1], min_run - 1), dtype=bool)
    padded = np.concatenate([pad, flat_window, pad], axis=-1)
    return np.asarray(np.any(sliding_window_view(padded, min_run, axis=-1), axis=-1))


def out_of_range(values: ArrayLike, low: ArrayLike, high: ArrayLike) -> BoolArray:
    """Flag valid samples below ``low`` or above ``high``.

    Bounds are scalars, per station ``(stations,)`` or anything broadcastable to
    ``values``; a NaN bound means "no limit on that side".
    """
    x = _as_float(values)
    lo = _per_station(low, x)
    hi = _per_station(high, x)
    below = ~np.isnan(lo) & (x < lo)
    above = ~np.isnan(hi) & (x > hi)
    return np.asarray(below | above)


def offline(last_seen_s: ArrayLike, now_s: float, interval_s: ArrayLike, missed: int) -> BoolArray:
    """Flag stations silent for more than ``missed`` expected reporting intervals.

    Offline when ``now_s - last_seen_s > missed * interval_s``.  A never-seen
    station (``last_seen_s`` NaN) is offline.  A seen station with an invalid
    interval (NaN or ``<= 0``) cannot be judged and is not flagged; a
    ``last_seen_s`` in the future (clock skew) is not flagged either.
    """
    _check_int("missed", missed, 1)
    last = np.array(last_seen_s, dtype=np.float64, ndmin=1)
    interval = np.broadcast_to(np.asarray(interval_s, dtype=np.float64), last.shape)
    never_seen = ~np.isfinite(last)
    valid_interval = np.isfinite(interval) & (interval > 0)
    with np.errstate(invalid="ignore"):
        silent = (now_s - last) > missed * interval
    return np.asarray(never_seen | (~never_seen & valid_interval & silent))


def drift_score(values: ArrayLike, window: int, *, mad_floor: float = 0.0) -> FloatArray:
    """Robust z of the trailing rolling median against the series' reference period.

    The reference is the median/MAD of the first ``window`` *valid* samples of
    each series (so a series starting with a gap still gets a baseline).  The
    rolling median over the trailing ``window`` samples (current included)
    ignores short spikes, so only a sustained shift moves the score.  NaN where
    the rolling window has fewer than ``window // 2`` valid samples.
    """
    _check_int("window", window, 2)
    x = _as_float(values)
    valid = ~np.isnan(x)
    in_reference = valid & (np.cumsum(valid, axis=-1) <= window)
    ref_med, ref_mad, _ = _median_mad(np.where(in_reference, x, np.nan))
    roll_med, _, count = _median_mad(_trailing_windows(x, window, include_current=True))
    score = _robust_z(roll_med, ref_med[..., np.newaxis], ref_mad[..., np.newaxis], mad_floor)
    score[count < max(window // 2, 1)] = np.nan
    return score


def drift_reference(values: ArrayLike, window: int) -> FloatArray:
    """The level :func:`drift_score` compares the rolling median with: the median of each
    series' first ``window`` valid samples (NaN for a series without any)."""
    _check_int("window", window, 2)
    x = _as_float(values)
    valid = ~np.isnan(x)
    return _nanmedian(np.where(valid & (np.cumsum(valid, axis=-1) <= window), x, np.nan))


def drift(values: ArrayLike, window: int, threshold: float, *, mad_floor: float = 0.0) -> BoolArray:
    """Flag valid samples where ``|drift_score| > threshold`` (slow sustained shift)."""
    x = _as_float(values)
    score = drift_score(x, window, mad_floor=mad_floor)
    return np.asarray(~np.isnan(x) & (np.abs(np.nan_to_num(score)) > threshold))


# --------------------------------------------------------------------------- cross-station


class SpikeClass(StrEnum):
    """Outcome of the cross-station spike check."""

    NONE = ""  # station not spiking
    SENSOR_FAULT = "sensor_fault"  # neighbours exist and none of them rises
    POLLUTION_EVENT = "pollution_event"  # enough neighbours rise together
    ISOLATED = "isolated"  # no neighbour within radius (or no position): cannot tell
    UNCERTAIN = "uncertain"  # some, but fewer than min_neighbours_rising, neighbours rise


def _unit_vectors(lat_deg: FloatArray, lon_deg: FloatArray) -> FloatArray:
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def classify_spikes(
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    spiking: ArrayLike,
    rising: ArrayLike,
    radius_km: float,
    min_neighbours_rising: int = 1,
) -> NDArray[np.object_]:
    """Label each spiking station as sensor fault, pollution event or isolated.

    Stations are points on the unit sphere; a great-circle radius ``d`` is the
    chord ``2 sin(d / 2R)`` there, so one ``cKDTree`` ball query per batch gives
    exact great-circle neighbourhoods.  A station is not its own neighbour.
    Returns an object array of :class:`SpikeClass` members (``str`` subclasses).
    """
    _check_int("min_neighbours_rising", min_neighbours_rising, 1)
    lat = np.array(lat_deg, dtype=np.float64, ndmin=1)
    lon = np.array(lon_deg, dtype=np.float64, ndmin=1)
    spk = np.array(spiking, dtype=bool, ndmin=1)
    ris = np.array(rising, dtype=bool, ndmin=1)
    if not lat.shape == lon.shape == spk.shape == ris.shape or lat.ndim != 1:
        raise ValueError("lat_deg, lon_deg, spiking and rising must all have shape (stations,)")

    labels = np.empty(lat.shape, dtype=object)
    labels.fill(SpikeClass.NONE)  # np.full would store a plain str, not the member
    located = np.isfinite(lat) & np.isfinite(lon)
    labels[spk & ~located] = SpikeClass.ISOLATED
    query = np.flatnonzero(spk & located)
    if query.size == 0:
        return labels

    from scipy.spatial import cKDTree

    xyz = _unit_vectors(lat, lon)
    chord = 2.0 * np.sin(min(max(radius_km, 0.0) / EARTH_RADIUS_KM, np.pi) / 2.0)
    chord *= 1.0 + 1e-12  # keep neighbours exactly on the radius
    all_tree = cKDTree(xyz[located])
    rising_tree = cKDTree(xyz[located & ris])
    q = xyz[query]
    # Ball counts include the station itself (distance 0); subtract it.
    n_neigh = all_tree.query_ball_point(q, r=chord, return_length=True) - 1
    n_rising = rising_tree.query_ball_point(q, r=chord, return_length=True) - ris[query]

    labels[query] = SpikeClass.UNCERTAIN
    labels[query[n_rising >= min_neighbours_rising]] = SpikeClass.POLLUTION_EVENT
    labels[query[n_rising == 0]] = SpikeClass.SENSOR_FAULT
    labels[query[n_neigh == 0]] = SpikeClass.ISOLATED
    return labels
