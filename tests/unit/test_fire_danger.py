"""Fire-danger kernels: Nesterov (REFERENCE.md §4) and the Canadian FWI system.

FWI reference values: the standard test data of Van Wagner & Pickett (1985, For. Tech. Rep. 33),
distributed with the cffdrs package (R and Python) as ``test_fwi`` / ``fwi_test_data.csv``;
48 days from 13 April, start-up 85 / 6 / 15, standard (46°N) day-length tables, outputs
printed to one decimal.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from analytics.fire_danger import (
    NESTEROV_LABELS_EN,
    NESTEROV_LABELS_VI,
    bui,
    dc,
    dmc,
    ffmc,
    fwi,
    fwi_series,
    isi,
    nesterov_index,
    nesterov_level,
    saturation_deficit_hpa,
    saturation_vapour_pressure_hpa,
)

NAN = float("nan")

# ------------------------------------------------------------------ humidity


def test_saturation_vapour_pressure_hand_values() -> None:
    assert saturation_vapour_pressure_hpa(0.0) == pytest.approx(6.112, abs=1e-12)
    # 6.112 * exp(17.62 * 30 / 273.12) = 6.112 * exp(1.935413) = 42.337 hPa
    assert saturation_vapour_pressure_hpa(30.0) == pytest.approx(42.337, abs=1e-3)
    # sanity against the steam-table value 42.46 hPa at 30 °C (Magnus is ~0.3 % low)
    assert saturation_vapour_pressure_hpa(30.0) == pytest.approx(42.46, abs=0.2)


def test_saturation_deficit_hand_value() -> None:
    # 30 °C, 40 % RH: 42.337 * (1 - 0.40) = 25.402 hPa
    assert saturation_deficit_hpa(30.0, 40.0) == pytest.approx(25.402, abs=1e-3)
    out = saturation_deficit_hpa([20.0, 20.0, 25.0], [100.0, 103.0, 0.0])
    assert out[0] == 0.0 and out[1] == 0.0
    assert out[2] == pytest.approx(saturation_vapour_pressure_hpa(25.0))


# ------------------------------------------------------------------ Nesterov

T13 = [30.0, 32.0, 28.0, 25.0, 30.0]
D13 = [20.0, 25.0, 15.0, 10.0, 18.0]
RAIN = [0.0, 0.0, 7.0, 0.0, 0.0]


def test_nesterov_accumulates_and_resets_on_rain() -> None:
    # 30*20 = 600; +32*25 = 800 -> 1400; 7 mm >= 5: reset to 0; 25*10 = 250; +30*18 = 540 -> 790
    np.testing.assert_allclose(nesterov_index(T13, D13, RAIN), [600, 1400, 0, 250, 790])


def test_nesterov_reset_threshold_is_inclusive_and_configurable() -> None:
    at = nesterov_index(T13, D13, [0.0, 0.0, 5.0, 0.0, 0.0])
    below = nesterov_index(T13, D13, [0.0, 0.0, 4.9, 0.0, 0.0])
    np.testing.assert_allclose(at, [600, 1400, 0, 250, 790])
    np.testing.assert_allclose(below, [600, 1400, 1820, 2070, 2610])
    # province threshold 10 mm: 7 mm no longer resets
    np.testing.assert_allclose(
        nesterov_index(T13, D13, RAIN, reset_mm=10.0), [600, 1400, 1820, 2070, 2610]
    )


def test_nesterov_vectorised_with_per_station_threshold() -> None:
    t = np.array([T13, T13])
    d = np.array([D13, D13])
    r = np.array([RAIN, RAIN])
    out = nesterov_index(t, d, r, reset_mm=np.array([[5.0], [10.0]]))
    np.testing.assert_allclose(out, [[600, 1400, 0, 250, 790], [600, 1400, 1820, 2070, 2610]])


def test_nesterov_multiple_resets() -> None:
    out = nesterov_index([10.0] * 6, [10.0] * 6, [6.0, 0.0, 0.0, 20.0, 0.0, 0.0])
    np.testing.assert_allclose(out, [0, 100, 200, 0, 100, 200])


def test_nesterov_missing_day_contributes_zero_and_does_not_reset() -> None:
    out = nesterov_index([30.0, NAN, 30.0, 30.0], [20.0, 20.0, NAN, 20.0], [0.0, 0.0, 0.0, NAN])
    np.testing.assert_allclose(out, [600, 600, 600, 1200])


def test_nesterov_freezing_day_contributes_zero() -> None:
    np.testing.assert_allclose(
        nesterov_index([10.0, -2.0, 10.0], [5.0, 1.0, 5.0], 0.0), [50, 50, 100]
    )


def test_nesterov_carry_in_p0() -> None:
    full = nesterov_index(T13, D13, RAIN)
    first = nesterov_index(T13[:2], D13[:2], RAIN[:2])
    second = nesterov_index(T13[2:], D13[2:], RAIN[2:], p0=first[-1])
    np.testing.assert_allclose(np.concatenate([first, second]), full)
    np.testing.assert_allclose(nesterov_index([30.0], [20.0], [0.0], p0=1000.0), [1600])


@pytest.mark.parametrize(
    ("p", "level"),
    [
        (0, 1),
        (1000, 1),
        (1000.5, 2),
        (1001, 2),
        (2500, 2),
        (2501, 3),
        (5000, 3),
        (5001, 4),
        (10000, 4),
        (10000.1, 5),
        (10001, 5),
        (1e6, 5),
    ],
)
def test_nesterov_level_boundaries(p: float, level: int) -> None:
    assert nesterov_level(p) == level


def test_nesterov_level_vectorised_nan_and_custom_thresholds() -> None:
    np.testing.assert_array_equal(nesterov_level([NAN, 600.0, 3000.0]), [0, 1, 3])
    custom = (500.0, 1000.0, 2000.0, 4000.0)
    np.testing.assert_array_equal(
        nesterov_level([500.0, 501.0, 3000.0, 4001.0], custom), [1, 2, 4, 5]
    )
    with pytest.raises(ValueError):
        nesterov_level(1.0, (1.0, 3.0, 2.0, 4.0))


def test_nesterov_labels() -> None:
    assert len(NESTEROV_LABELS_EN) == len(NESTEROV_LABELS_VI) == 5
    assert "cực kỳ nguy hiểm" in NESTEROV_LABELS_VI[4]


# ------------------------------------------------------------------ Canadian FWI

# month, day, temp, rh, wind, rain, FFMC, DMC, DC, ISI, BUI, FWI
VWP1985 = np.array(
    [
        [4, 13, 17, 42, 25, 0, 87.6, 8.5, 19, 10.8, 8.5, 10],
        [4, 14, 20, 21, 25, 2.4, 86.2, 10.4, 23.6, 8.8, 10.4, 9.2],
        [4, 15, 8.5, 40, 17, 0, 86.9, 11.8, 26.1, 6.5, 11.7, 7.5],
        [4, 16, 6.5, 25, 6, 0, 88.8, 13.2, 28.2, 4.9, 13.1, 6.1],
        [4, 17, 13, 34, 24, 0, 89, 15.4, 31.5, 12.5, 15.3, 14.7],
        [4, 18, 6, 40, 22, 0.4, 88.6, 16.5, 33.5, 10.6, 16.4, 13.4],
        [4, 19, 5.5, 52, 6, 0, 87.3, 17.2, 35.4, 3.9, 17.1, 5.8],
        [4, 20, 8.5, 46, 16, 0, 87.3, 18.5, 37.9, 6.5, 18.4, 9.5],
        [4, 21, 9.5, 54, 20, 0, 86.7, 19.7, 40.6, 7.3, 19.6, 10.9],
        [4, 22, 7, 93, 14, 9, 29.8, 10.1, 29.5, 0, 10.9, 0],
        [4, 23, 6.5, 71, 17, 1, 49.4, 10.7, 31.6, 0.4, 11.6, 0.2],
        [4, 24, 6, 59, 17, 0, 67.2, 11.4, 33.7, 1.3, 12.3, 0.9],
        [4, 25, 13, 52, 4, 0, 77.7, 13, 37, 1.1, 13.9, 0.8],
        [4, 26, 15.5, 40, 11, 0, 85.4, 15.4, 40.7, 3.9, 15.9, 5.5],
        [4, 27, 23, 25, 9, 0, 91.5, 19.8, 45.8, 8.3, 19.8, 12.1],
        [4, 28, 19, 46, 16, 0, 89.9, 22.5, 50.2, 9.4, 22.4, 14.2],
        [4, 29, 18, 41, 20, 0, 89.9, 25.2, 54.4, 11.5, 25.1, 17.5],
        [4, 30, 14.5, 51, 16, 0, 88.4, 27, 57.9, 7.6, 27, 13.2],
        [5, 1, 14.5, 69, 11, 0, 85.6, 28.3, 63, 4, 28.2, 7.9],
        [5, 2, 15.5, 42, 8, 0, 87.3, 30.8, 68.2, 4.4, 30.8, 9],
        [5, 3, 21, 37, 8, 0, 89.3, 34.5, 74.3, 5.8, 34.4, 12.2],
        [5, 4, 23, 32, 16, 0, 90.9, 38.8, 80.9, 11, 38.7, 20.9],
        [5, 5, 23, 32, 14, 0, 91.2, 43.1, 87.4, 10.2, 43, 20.9],
        [5, 6, 27, 33, 12, 0, 91.6, 48.1, 94.7, 9.9, 47.9, 21.6],
        [5, 7, 28, 17, 27, 0, 95.1, 54.5, 102.1, 34.3, 54.3, 52.3],
        [5, 8, 23.5, 54, 20, 0, 89.7, 57.4, 108.8, 11.2, 57.2, 25.7],
        [5, 9, 16, 50, 22, 12.2, 62.2, 29.9, 91.8, 1.4, 33, 3],
        [5, 10, 11, 58, 20, 0, 76.4, 31.3, 96.2, 2.3, 34.5, 5.3],
        [5, 11, 16, 54, 16, 0, 83.3, 33.3, 101.5, 3.8, 36.6, 8.8],
        [5, 12, 21.5, 37, 9, 0, 88.6, 37.1, 107.7, 5.5, 39.9, 12.6],
        [5, 13, 14, 61, 22, 0.2, 86.6, 38.6, 112.7, 8, 41.6, 17.2],
        [5, 14, 15, 30, 27, 0, 89.6, 41.6, 117.8, 15.7, 44.2, 28.7],
        [5, 15, 20, 23, 11, 0, 92.1, 45.9, 123.8, 10, 47.6, 21.7],
        [5, 16, 14, 95, 3, 16.4, 21.3, 20.1, 96.9, 0, 26.5, 0],
        [5, 17, 20, 53, 4, 2.8, 51, 18.2, 102.9, 0.2, 25.3, 0.2],
        [5, 18, 19.5, 30, 16, 0, 82.2, 22, 108.8, 3.3, 29.3, 6.8],
        [5, 19, 25.5, 51, 20, 6, 75.3, 16.4, 106.3, 2.1, 23.6, 3.8],
        [5, 20, 10, 38, 24, 0, 84.3, 18.2, 110.5, 6.4, 25.8, 11.2],
        [5, 21, 19, 27, 16, 0, 90.3, 22, 116.4, 9.9, 29.9, 17.1],
        [5, 22, 26, 46, 11, 4.2, 77.5, 18.7, 117.7, 1.6, 26.7, 2.9],
        [5, 23, 30, 38, 22, 0, 90.2, 23.7, 125.5, 13.3, 32.2, 21.9],
        [5, 24, 25.5, 67, 19, 12.6, 65.3, 13.1, 108.4, 1.4, 20.2, 1.9],
        [5, 25, 12, 53, 28, 11.8, 55.4, 7.7, 91.6, 1.2, 12.8, 0.8],
        [5, 26, 21, 38, 8, 0, 80.8, 11.3, 97.8, 1.9, 17.6, 2.5],
        [5, 27, 13, 70, 20, 3.8, 61.7, 8.4, 97.8, 1.2, 13.8, 0.9],
        [5, 28, 9, 78, 24, 1.4, 64.4, 9, 101.8, 1.7, 14.7, 1.9],
        [5, 29, 11, 54, 16, 0, 77.6, 10.5, 106.2, 2, 16.8, 2.8],
        [5, 30, 15.5, 39, 9, 0, 85.4, 13.1, 111.4, 3.5, 20.3, 5.7],
    ]
)
MON = VWP1985[:, 0].astype(int)
TEMP, RH, WIND, RAIN_MM = (VWP1985[:, k] for k in (2, 3, 4, 5))
EXPECTED = VWP1985[:, 6:]


def test_first_day_components() -> None:
    # 17 °C, 42 %, 25 km/h, no rain, April, from 85 / 6 / 15 at the 46°N standard tables.
    f = ffmc(17.0, 42.0, 25.0, 0.0, 85.0)
    p = dmc(17.0, 42.0, 0.0, 6.0, 4, 46.0)
    d = dc(17.0, 0.0, 15.0, 4, 46.0)
    r = isi(25.0, f)
    u = bui(p, d)
    got = [f, p, d, r, u, fwi(r, u)]
    np.testing.assert_allclose(got, [87.6, 8.5, 19.0, 10.8, 8.5, 10.0], atol=0.1)
    # exact hand checks of the two simple codes:
    # DMC = 6 + 1.894 * (17 + 1.1) * (100 - 42) * 12.8e-4 = 8.5450
    assert p == pytest.approx(6 + 1.894 * 18.1 * 58 * 12.8e-4, abs=1e-9)
    # DC = 15 + (0.36 * (17 + 2.8) + 0.9) / 2 = 19.014
    assert d == pytest.approx(15 + (0.36 * 19.8 + 0.9) / 2, abs=1e-9)


def test_fwi_series_matches_van_wagner_pickett_table() -> None:
    s = fwi_series(TEMP, RH, WIND, RAIN_MM, MON, 46.0)
    got = np.stack([s.ffmc, s.dmc, s.dc, s.isi, s.bui, s.fwi], axis=-1)
    assert got.shape == EXPECTED.shape
    np.testing.assert_allclose(got, EXPECTED, atol=0.1)


def test_fwi_series_vectorised_over_stations_with_latitudes() -> None:
    two = np.stack([TEMP, TEMP])
    s = fwi_series(
        two,
        np.stack([RH, RH]),
        np.stack([WIND, WIND]),
        np.stack([RAIN_MM, RAIN_MM]),
        MON,
        np.array([46.0, 15.0]),
    )
    assert s.fwi.shape == (2, len(TEMP))
    single = fwi_series(TEMP, RH, WIND, RAIN_MM, MON, 46.0)
    np.testing.assert_allclose(s.fwi[0], single.fwi)
    np.testing.assert_allclose(s.ffmc[1], single.ffmc)  # FFMC does not depend on latitude
    assert not np.allclose(s.dmc[1], single.dmc)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.fwi = s.isi  # type: ignore[misc]


def test_dmc_day_length_by_latitude() -> None:
    # April: 46°N table 12.8, 10-30°N table 9.5, equatorial 9.0
    rk = 1.894 * 18.1 * 58 * 1e-4
    out = dmc(17.0, 42.0, 0.0, 6.0, 4, np.array([46.0, 15.0, 5.0]))
    np.testing.assert_allclose(out, [6 + rk * 12.8, 6 + rk * 9.5, 6 + rk * 9.0])


def test_dc_day_length_by_latitude() -> None:
    # April: standard 0.9 north of 20°N, 1.4 at and south of 20°N
    base = 0.36 * 19.8
    out = dc(17.0, 0.0, 15.0, 4, np.array([46.0, 20.5, 20.0, 15.0]))
    np.testing.assert_allclose(
        out,
        [
            15 + (base + 0.9) / 2,
            15 + (base + 0.9) / 2,
            15 + (base + 1.4) / 2,
            15 + (base + 1.4) / 2,
        ],
    )


def test_rain_handling_thresholds() -> None:
    # DMC ignores rain <= 1.5 mm, DC ignores rain <= 2.8 mm
    assert dmc(17.0, 42.0, 1.5, 6.0, 4, 46.0) == dmc(17.0, 42.0, 0.0, 6.0, 4, 46.0)
    assert dmc(17.0, 42.0, 10.0, 30.0, 4, 46.0) < 30.0
    assert dc(17.0, 2.8, 15.0, 4, 46.0) == dc(17.0, 0.0, 15.0, 4, 46.0)
    assert dc(17.0, 20.0, 200.0, 4, 46.0) < 200.0
    assert ffmc(17.0, 42.0, 25.0, 10.0, 90.0) < ffmc(17.0, 42.0, 25.0, 0.0, 90.0) - 20


def test_bui_and_fwi_edge_cases() -> None:
    assert bui(0.0, 0.0) == 0.0
    assert bui(0.0, 50.0) == 0.0
    # small B (<= 1) passes through unchanged: isi 0.5, bui 0 -> B = 0.1 * 0.5 * 2 = 0.1
    assert fwi(0.5, 0.0) == pytest.approx(0.1)
    # BUI > 80 branch: isi 10, bui 100 -> B = 1000 / (25 + 108.64 e^-2.3) then eq. 30a
    b = 0.1 * 10 * 1000 / (25 + 108.64 * math.exp(-2.3))
    assert fwi(10.0, 100.0) == pytest.approx(math.exp(2.72 * (0.434 * math.log(b)) ** 0.647))


def test_nan_weather_gives_nan() -> None:
    assert np.isnan(ffmc(NAN, 42.0, 25.0, 0.0, 85.0))
    assert np.isnan(dmc(17.0, NAN, 0.0, 6.0, 4, 46.0))
    assert np.isnan(ffmc(17.0, 42.0, 25.0, NAN, 85.0))
    assert np.isnan(dmc(17.0, 42.0, NAN, 6.0, 4, 46.0))
    assert np.isnan(dc(17.0, 0.0, 15.0, 4, NAN))
    assert np.isnan(dc(17.0, NAN, 15.0, 4, 46.0))
    s = fwi_series([17.0, NAN, 17.0], [42.0] * 3, [25.0] * 3, [0.0] * 3, [4] * 3, 46.0)
    assert not np.isnan(s.fwi[0]) and np.isnan(s.fwi[1:]).all()


def test_bad_month_raises() -> None:
    with pytest.raises(ValueError):
        dc(17.0, 0.0, 15.0, 13, 46.0)
