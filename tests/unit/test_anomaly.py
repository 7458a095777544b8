"""Unit tests for analytics.anomaly on synthetic series with injected faults."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest

from analytics.anomaly import (
    MAD_ZERO_Z,
    SeasonalBaseline,
    SpikeClass,
    classify_spikes,
    drift,
    drift_score,
    flatline,
    offline,
    out_of_range,
    rate_of_change_spikes,
    robust_zscore,
    seasonal_baseline,
    seasonal_zscore,
)

N = 2000
STEP_S = 60.0
Z_THRESHOLD = 6.0
Z_WINDOW = 120  # |z| > 6 false-positive rate on Gaussian noise: ~3e-6 at 60, <1e-6 at 120


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


@pytest.fixture
def noise(rng: np.random.Generator) -> np.ndarray:
    """Clean PM2.5-like series: level 20, unit Gaussian noise."""
    return 20.0 + rng.normal(0.0, 1.0, N)


@pytest.fixture(autouse=True)
def _no_warnings() -> Iterator[None]:
    """Kernels must be silent on NaN/constant input (no RuntimeWarnings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def ts(n: int = N) -> np.ndarray:
    return np.arange(n) * STEP_S


# --------------------------------------------------------------------------- robust z


def test_robust_zscore_catches_single_spike_without_false_positives(noise: np.ndarray) -> None:
    x = noise.copy()
    x[1200] += 25.0
    z = robust_zscore(x, Z_WINDOW)
    flagged = np.flatnonzero(np.abs(np.nan_to_num(z)) > Z_THRESHOLD)
    assert flagged.tolist() == [1200]
    # The spike does not disturb the following samples (median/MAD are robust).
    assert np.all(np.abs(z[1201:1260]) < Z_THRESHOLD)


def test_robust_zscore_needs_half_a_window_of_history(noise: np.ndarray) -> None:
    z = robust_zscore(noise, 10)
    assert np.all(np.isnan(z[:5]))
    assert np.all(np.isfinite(z[5:]))


def test_robust_zscore_matches_reference_formula(noise: np.ndarray) -> None:
    z = robust_zscore(noise, 20)
    hist = noise[80:100]
    med = np.median(hist)
    mad = np.median(np.abs(hist - med))
    assert z[100] == pytest.approx(0.6745 * (noise[100] - med) / mad)


def test_robust_zscore_constant_series_and_zero_mad() -> None:
    x = np.full(50, 7.0)
    x[40] = 8.0
    x[45] = 6.0
    z = robust_zscore(x, 10)
    assert np.all(z[5:40] == 0.0)
    assert z[40] == MAD_ZERO_Z
    assert z[45] == -MAD_ZERO_Z
    assert np.all(np.isfinite(z[5:]))
    # A MAD floor turns the zero-MAD case into an ordinary z.
    z_floor = robust_zscore(x, 10, mad_floor=0.5)
    assert z_floor[40] == pytest.approx(0.6745 * 1.0 / 0.5)


def test_robust_zscore_2d_matches_rows(rng: np.random.Generator) -> None:
    x = rng.normal(0.0, 1.0, (4, 300))
    x[1, 100:140] = np.nan
    x[2, 5] = np.inf
    z2 = robust_zscore(x, 30)
    for row in range(4):
        np.testing.assert_array_equal(z2[row], robust_zscore(x[row], 30))


def test_robust_zscore_even_window_median() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    z = robust_zscore(x, 4)
    # history [1,2,3,4]: median 2.5, MAD median(|.|)=1.0
    assert z[4] == pytest.approx(0.6745 * 97.5 / 1.0)


# --------------------------------------------------------------------------- gaps


def test_gap_is_handled_without_flags_inside(noise: np.ndarray) -> None:
    x = noise.copy()
    gap = slice(700, 900)
    x[gap] = np.nan
    t = ts()

    z = robust_zscore(x, Z_WINDOW)
    assert np.all(np.isnan(z[gap]))
    assert not np.any(np.abs(np.nan_to_num(z)) > Z_THRESHOLD)
    # Right after the gap there is not enough history, then scoring resumes.
    assert np.all(np.isnan(z[900 : 900 + Z_WINDOW // 2]))
    assert np.all(np.isfinite(z[900 + Z_WINDOW // 2 :]))

    masks = {
        "roc": rate_of_change_spikes(x, t, 8.0 / STEP_S),
        "flat": flatline(x, min_run=5),
        "range": out_of_range(x, 0.0, 500.0),
        "drift": drift(x, 120, 3.0),
    }
    for name, mask in masks.items():
        assert not mask[gap].any(), name
        assert not mask.any(), name


def test_all_nan_and_tiny_inputs_do_not_crash() -> None:
    x = np.full((3, 40), np.nan)
    assert np.all(np.isnan(robust_zscore(x, 10)))
    assert not flatline(x, 3).any()
    assert not drift(x, 10, 3.0).any()
    assert not rate_of_change_spikes(x, np.arange(40.0), 1.0).any()
    base = seasonal_baseline(x, np.arange(40) % 24)
    assert np.all(np.isnan(base.median))
    assert np.all(np.isnan(seasonal_zscore(x, np.arange(40) % 24, base)))
    assert flatline(np.array([1.0, 1.0]), 5).tolist() == [False, False]
    assert robust_zscore(np.array([1.0]), 4).shape == (1,)


def test_invalid_parameters_raise() -> None:
    with pytest.raises(ValueError):
        robust_zscore(np.zeros(10), 1)
    with pytest.raises(ValueError):
        flatline(np.zeros(10), 1)
    with pytest.raises(ValueError):
        offline(np.zeros(2), 0.0, np.ones(2), 0)


# --------------------------------------------------------------------------- rate of change


def test_rate_of_change_catches_spike_only(noise: np.ndarray) -> None:
    x = noise.copy()
    x[1200] += 25.0
    mask = rate_of_change_spikes(x, ts(), 8.0 / STEP_S)
    # The spike and the recovery step after it; nothing in the clean noise.
    assert np.flatnonzero(mask).tolist() == [1200, 1201]


def test_rate_of_change_duplicates_and_out_of_order() -> None:
    x = np.array([10.0, 10.5, 50.0, 11.0, 11.2, 90.0, 11.4, np.nan, 60.0])
    t = np.array([0.0, 60.0, 60.0, 180.0, 120.0, 240.0, 300.0, 360.0, 420.0])
    mask = rate_of_change_spikes(x, t, 0.1)
    # 60->60 duplicate and 180->120 backwards: no flag, no error.
    assert not mask[2] and not mask[4]
    # 50 -> 11 over 120 s is a real 0.325/s step; 11.2 -> 90 over 120 s too.
    assert mask[3] and mask[5] and mask[6]
    # Steps touching the NaN are ignored.
    assert not mask[7] and not mask[8]
    assert not mask[0] and not mask[1]


def test_rate_of_change_2d_and_per_station_limits(rng: np.random.Generator) -> None:
    x = rng.normal(0.0, 1.0, (3, 200))
    x[:, 50] += 30.0
    limits = np.array([0.1, 1.0, 10.0])
    m2 = rate_of_change_spikes(x, ts(200), limits)
    for row in range(3):
        np.testing.assert_array_equal(m2[row], rate_of_change_spikes(x[row], ts(200), limits[row]))
    # 30 over 60 s = 0.5/s: above 0.1/s, below 1/s and 10/s.
    assert np.flatnonzero(m2[0]).tolist() == [50, 51]
    assert not m2[1].any()
    assert not m2[2].any()


# --------------------------------------------------------------------------- flatline


def test_flatline_flags_stuck_sensor_not_noise(noise: np.ndarray) -> None:
    x = noise.copy()
    x[1000:1100] = x[999]  # sensor freezes on its last value
    mask = flatline(x, min_run=10)
    assert mask[1000:1100].all()
    assert mask[999]  # the frozen value itself starts the run
    assert not mask[:999].any()
    assert not mask[1100:].any()


def test_flatline_tolerance_and_run_length() -> None:
    x = np.array([1.0, 5.0, 5.01, 4.99, 5.0, 9.0, 2.0, 2.0, 8.0])
    assert flatline(x, 4, tolerance=0.05).tolist() == [False] + [True] * 4 + [False] * 4
    assert not flatline(x, 4).any()
    assert flatline(x, 2).tolist() == [False] * 6 + [True, True, False]
    # A slow genuine trend is not a flat line even if each step is within tolerance.
    ramp = np.arange(50) * 0.01
    assert not flatline(ramp, 10, tolerance=0.02).any()


def test_flatline_gap_breaks_run_and_2d_matches_rows() -> None:
    x = np.array([[3.0, 3.0, np.nan, 3.0, 3.0, 3.0], [1.0, 1.0, 1.0, 1.0, 2.0, 3.0]])
    m = flatline(x, 3)
    assert m[0].tolist() == [False, False, False, True, True, True]
    assert m[1].tolist() == [True, True, True, True, False, False]
    for row in range(2):
        np.testing.assert_array_equal(m[row], flatline(x[row], 3))
    assert flatline(np.full(20, 4.2), 5).all()


# --------------------------------------------------------------------------- range / offline


def test_out_of_range_per_station_bounds() -> None:
    x = np.array([[-1.0, 5.0, 11.0, np.nan], [-1.0, 5.0, 11.0, 60.0]])
    m = out_of_range(x, np.array([0.0, np.nan]), np.array([10.0, 50.0]))
    assert m.tolist() == [[True, False, True, False], [False, False, False, True]]
    np.testing.assert_array_equal(out_of_range(x[0], 0.0, 10.0), m[0])


def test_offline() -> None:
    last = np.array([990.0, 700.0, np.nan, 100.0, 1500.0, 500.0])
    interval = np.array([60.0, 60.0, 60.0, 300.0, 60.0, np.nan])
    m = offline(last, now_s=1000.0, interval_s=interval, missed=3)
    # 10 s ago ok; 300 s > 180 s offline; never seen; 900 s = 3*300 not yet;
    # future timestamp ok; unknown interval cannot be judged.
    assert m.tolist() == [False, True, True, False, False, False]
    assert offline(last, 1000.0, 60.0, 3).tolist() == [False, True, True, True, False, True]


# --------------------------------------------------------------------------- drift


def _drifting(noise: np.ndarray, start: int = 1000, slope: float = 0.006) -> np.ndarray:
    x = noise.copy()
    x[start:] += slope * np.arange(N - start)  # +6 sigma after 1000 samples
    return x


def test_drift_detected_and_clean_part_not_flagged(noise: np.ndarray) -> None:
    x = _drifting(noise)
    mask = drift(x, 120, 3.0)
    assert not mask[:1000].any()
    assert mask[-200:].all()
    first = int(np.argmax(mask))
    # Detected once the level has moved by a few sigma, well before the end.
    assert 1000 < first < 1800
    # Point-wise robust z does not see a slow drift: that is why drift() exists.
    z = robust_zscore(x, Z_WINDOW)
    assert not np.any(np.abs(np.nan_to_num(z)) > Z_THRESHOLD)


def test_drift_ignores_spikes_and_clean_noise(noise: np.ndarray) -> None:
    x = noise.copy()
    x[[300, 900, 1500]] += 40.0
    assert not drift(x, 120, 3.0).any()
    assert np.nanmax(np.abs(drift_score(noise, 120))) < 1.5


def test_drift_reference_skips_leading_gap_and_2d_matches(noise: np.ndarray) -> None:
    x = np.vstack([_drifting(noise), noise])
    x[0, :150] = np.nan
    m = drift(x, 120, 3.0)
    assert m[0, -100:].all()
    assert not m[0, :150].any()
    assert not m[1].any()
    for row in range(2):
        np.testing.assert_array_equal(m[row], drift(x[row], 120, 3.0))


# --------------------------------------------------------------------------- seasonal


def test_seasonal_baseline_and_zscore(rng: np.random.Generator) -> None:
    days = 28
    hours = np.tile(np.repeat(np.arange(24), 12), days)  # 5-minute samples
    profile = 20.0 + 10.0 * np.sin(2 * np.pi * np.arange(24) / 24)
    history = profile[hours] + rng.normal(0.0, 1.0, hours.size)
    base = seasonal_baseline(history, hours)
    assert isinstance(base, SeasonalBaseline)
    med, mad = base  # unpacks like a tuple
    assert med.shape == mad.shape == (24,)
    np.testing.assert_allclose(med, profile, atol=0.3)
    np.testing.assert_allclose(mad, 0.6745, atol=0.2)  # MAD of N(0, 1)

    new_hours = np.array([3, 15, 15, 7])
    new = profile[new_hours] + np.array([0.5, -0.3, 12.0, 0.0])
    z = seasonal_zscore(new, new_hours, base)
    assert np.abs(z[[0, 1, 3]]).max() < 1.5
    assert z[2] > Z_THRESHOLD
    # A normal evening value would be an anomaly at 3 a.m. and vice versa.
    assert abs(seasonal_zscore(np.array([profile[15]]), np.array([3]), (med, mad))[0]) > 6


def test_seasonal_2d_missing_hours_and_bad_hours(rng: np.random.Generator) -> None:
    hours = np.arange(240) % 24
    x = rng.normal(0.0, 1.0, (2, 240))
    x[1, hours == 5] = np.nan
    base = seasonal_baseline(x, hours)
    assert base.median.shape == (2, 24)
    assert np.isnan(base.median[1, 5]) and np.isfinite(base.median[0, 5])
    row = seasonal_baseline(x[0], hours)
    np.testing.assert_array_equal(base.median[0], row.median)
    z = seasonal_zscore(x, hours, base)
    np.testing.assert_array_equal(z[0], seasonal_zscore(x[0], hours, row))
    bad = seasonal_zscore(np.array([1.0, 1.0]), np.array([-1, 24]), row)
    assert np.all(np.isnan(bad))


# --------------------------------------------------------------------------- cross-station


# Stations around a city centre (~1-3 km apart) plus one ~50 km away.
LAT = np.array([48.8566, 48.8666, 48.8466, 48.8566, 48.8566, 49.3000])
LON = np.array([2.3522, 2.3522, 2.3522, 2.3822, 2.3222, 2.3522])
RADIUS_KM = 5.0


def test_single_spiking_station_among_calm_neighbours_is_sensor_fault() -> None:
    spiking = np.array([True, False, False, False, False, False])
    rising = spiking.copy()
    labels = classify_spikes(LAT, LON, spiking, rising, RADIUS_KM)
    assert labels[0] is SpikeClass.SENSOR_FAULT
    assert labels[0] == "sensor_fault"
    assert all(label == SpikeClass.NONE for label in labels[1:])


def test_neighbours_rising_together_is_pollution_event() -> None:
    spiking = np.array([True, False, False, False, False, False])
    rising = np.array([True, True, True, True, False, False])
    labels = classify_spikes(LAT, LON, spiking, rising, RADIUS_KM, min_neighbours_rising=3)
    assert labels[0] is SpikeClass.POLLUTION_EVENT
    # Only two rising neighbours: neither fault nor confirmed event.
    rising[3] = False
    labels = classify_spikes(LAT, LON, spiking, rising, RADIUS_KM, min_neighbours_rising=3)
    assert labels[0] is SpikeClass.UNCERTAIN


def test_far_station_is_not_a_neighbour() -> None:
    spiking = np.array([True, False, False, False, False, False])
    rising = np.array([True, False, False, False, False, True])  # only the far one rises
    labels = classify_spikes(LAT, LON, spiking, rising, RADIUS_KM)
    assert labels[0] is SpikeClass.SENSOR_FAULT
    # The far station spiking on its own has nobody within 5 km.
    spiking_far = np.array([False, False, False, False, False, True])
    labels = classify_spikes(LAT, LON, spiking_far, rising, RADIUS_KM)
    assert labels[5] is SpikeClass.ISOLATED
    # With a 60 km radius it is a neighbour and counts as rising.
    labels = classify_spikes(LAT, LON, spiking, rising, 60.0)
    assert labels[0] is SpikeClass.POLLUTION_EVENT


def test_radius_is_great_circle_distance() -> None:
    # Two stations 0.1 deg of longitude apart at 60 N: ~5.56 km great-circle.
    lat = np.array([60.0, 60.0])
    lon = np.array([10.0, 10.1])
    spiking = np.array([True, False])
    rising = np.array([True, True])
    assert classify_spikes(lat, lon, spiking, rising, 5.6)[0] is SpikeClass.POLLUTION_EVENT
    assert classify_spikes(lat, lon, spiking, rising, 5.5)[0] is SpikeClass.ISOLATED
    # Across the antimeridian the stations are still neighbours.
    lon = np.array([179.95, -179.95])
    assert classify_spikes(lat, lon, spiking, rising, 5.6)[0] is SpikeClass.POLLUTION_EVENT


def test_classify_spikes_edge_cases() -> None:
    lat = np.array([48.0, np.nan, 48.0, 48.0])
    lon = np.array([2.0, 2.0, 2.0, 2.0])  # stations 2 and 3 co-located with 0
    spiking = np.array([True, True, False, False])
    rising = np.zeros(4, dtype=bool)
    labels = classify_spikes(lat, lon, spiking, rising, 1.0)
    assert labels.tolist() == ["sensor_fault", "isolated", "", ""]
    none = classify_spikes(lat, lon, np.zeros(4, bool), rising, 1.0)
    assert all(label is SpikeClass.NONE for label in none)
    with pytest.raises(ValueError):
        classify_spikes(lat, lon[:2], spiking, rising, 1.0)
