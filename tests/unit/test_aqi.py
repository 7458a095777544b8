"""VN_AQI kernels against hand-computed values (Decision 1459/QĐ-TCMT, REFERENCE.md §2)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from analytics.aqi import (
    BANDS,
    BREAKPOINTS,
    aqi_band,
    daily_aqi,
    hourly_aqi,
    nowcast,
    sub_index,
)

NAN = float("nan")

# Table 2 restated here on purpose (not imported) so a typo in the module is caught.
LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)
TABLE = {
    "o3_1h": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h": (0, 100, 120, 170, 210, 400),
    "co": (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
    "so2": (0, 125, 350, 550, 800, 1600, 2100, 2630),
    "no2": (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    "pm10": (0, 50, 150, 250, 350, 420, 500, 600),
    "pm25": (0, 25, 50, 80, 150, 250, 350, 500),
}

EDGES = [(p, bp, lvl) for p, bps in TABLE.items() for bp, lvl in zip(bps, LEVELS, strict=False)]
MIDPOINTS = [
    (p, (bps[k] + bps[k + 1]) / 2, (LEVELS[k] + LEVELS[k + 1]) / 2)
    for p, bps in TABLE.items()
    for k in range(len(bps) - 1)
]


def test_module_table_matches_reference() -> None:
    assert {k: tuple(float(x) for x in v) for k, v in BREAKPOINTS.items()} == {
        k: tuple(float(x) for x in v) for k, v in TABLE.items()
    }


# ------------------------------------------------------------------ sub-index


@pytest.mark.parametrize(("pollutant", "conc", "expected"), EDGES)
def test_exact_breakpoint_gives_exact_index(pollutant: str, conc: float, expected: float) -> None:
    assert sub_index(pollutant, conc) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("pollutant", "conc", "expected"), MIDPOINTS)
def test_bracket_midpoint_interpolates(pollutant: str, conc: float, expected: float) -> None:
    assert sub_index(pollutant, conc) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("pollutant", "conc", "expected"),
    [
        ("pm25", 35.0, 50 + 50 / 25 * 10),  # = 70
        ("pm25", 12.0, 24.0),
        ("pm10", 400.0, 200 + 100 / 70 * 50),  # 271.43
        ("co", 20000.0, 75.0),
        ("so2", 200.0, 50 + 50 / 225 * 75),  # 66.67
        ("no2", 150.0, 75.0),
        ("o3_1h", 180.0, 75.0),
        ("o3_8h", 110.0, 75.0),
        ("pm25", 0.0, 0.0),
    ],
)
def test_hand_computed_values(pollutant: str, conc: float, expected: float) -> None:
    assert sub_index(pollutant, conc) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("pollutant", [p for p in TABLE if p != "o3_8h"])
def test_above_top_breakpoint_is_500(pollutant: str) -> None:
    assert sub_index(pollutant, TABLE[pollutant][-1] * 1.5) == 500.0


def test_o3_8h_above_400_is_nan_but_400_is_300() -> None:
    out = sub_index("o3_8h", [400.0, 400.5, 1000.0])
    assert out[0] == 300.0
    assert np.isnan(out[1:]).all()


def test_nan_and_negative_give_nan_and_shape_is_kept() -> None:
    out = sub_index("pm10", [[NAN, -1.0, 50.0], [-0.001, 150.0, 0.0]])
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(np.isnan(out), [[True, True, False], [True, False, False]])
    assert out[0, 2] == 50.0
    assert out[1, 1] == 100.0


def test_unknown_pollutant_raises() -> None:
    with pytest.raises(KeyError):
        sub_index("pm1", 10.0)


# ------------------------------------------------------------------ NowCast


def hours(*present: float) -> list[float]:
    """c1..c12 with the given leading values and the rest missing."""
    return list(present) + [NAN] * (12 - len(present))


def test_nowcast_constant_series_is_that_value() -> None:
    assert nowcast([17.0] * 12) == pytest.approx(17.0)


def test_nowcast_w_061_by_hand() -> None:
    # c1 = 18.3, c2 = 30, c3 = 24: w* = 18.3 / 30 = 0.61 > 0.5 so w = 0.61.
    # (18.3 + 0.61*30 + 0.61**2*24) / (1 + 0.61 + 0.61**2) = 45.5304 / 1.9821
    assert nowcast(hours(18.3, 30.0, 24.0)) == pytest.approx(45.5304 / 1.9821, rel=1e-12)


def test_nowcast_full_12_hours_w_061_by_hand() -> None:
    c = [20.0, 22.0, 25.0, 24.0, 21.0, 19.0, 18.0, 17.0, 16.0, 15.25, 16.0, 18.0]
    w = 15.25 / 25.0
    assert w == pytest.approx(0.61)
    num = sum(w**i * ci for i, ci in enumerate(c))
    den = sum(w**i for i in range(12))
    assert nowcast(c) == pytest.approx(num / den, rel=1e-12)


def test_nowcast_weight_floor_is_half() -> None:
    # w* = 10 / 100 = 0.1 -> w = 0.5: (100 + 0.5*10) / (1 + 0.5) = 70
    assert nowcast(hours(100.0, 10.0)) == pytest.approx(70.0)


def test_nowcast_only_c1_present_is_nan() -> None:
    assert np.isnan(nowcast(hours(30.0)))


def test_nowcast_needs_two_of_first_three() -> None:
    # c1 and c4..c12 present but c2, c3 missing: only 1 of c1..c3 -> no data
    c = [30.0, NAN, NAN] + [25.0] * 9
    assert np.isnan(nowcast(c))


def test_nowcast_c2_c3_without_c1_is_valid() -> None:
    # w* = 10/20 = 0.5; weights of c2, c3 are w**1, w**2 = 0.5, 0.25
    c = [NAN, 20.0, 10.0] + [NAN] * 9
    assert nowcast(c) == pytest.approx((0.5 * 20 + 0.25 * 10) / 0.75)


def test_nowcast_c1_c3_without_c2_is_valid() -> None:
    # w* = 15/20 = 0.75: (20 + 0.75**2 * 15) / (1 + 0.75**2)
    c = [20.0, NAN, 15.0] + [NAN] * 9
    assert nowcast(c) == pytest.approx((20 + 0.5625 * 15) / 1.5625)


def test_nowcast_all_zero_is_zero() -> None:
    assert nowcast([0.0] * 12) == 0.0


def test_nowcast_is_vectorised_over_stations() -> None:
    batch = np.array([[17.0] * 12, hours(100.0, 10.0), hours(30.0)])
    out = nowcast(batch)
    assert out.shape == (3,)
    assert out[0] == pytest.approx(17.0)
    assert out[1] == pytest.approx(70.0)
    assert np.isnan(out[2])


def test_nowcast_wrong_length_raises() -> None:
    with pytest.raises(ValueError):
        nowcast([1.0] * 11)


# ------------------------------------------------------------------ hourly / daily AQI


def test_hourly_aqi_is_rounded_max_of_sub_indices() -> None:
    # PM2.5 NowCast 35 -> 70; NO2 150 -> 75; CO 5000 -> 25  => 75
    out = hourly_aqi({"pm25": [35.0] * 12, "no2": 150.0, "co": 5000.0})
    assert out == 75.0


def test_hourly_aqi_uses_o3_1h_column() -> None:
    # O3 1h 300 -> 150 (the 8h column would give > 300)
    assert hourly_aqi({"pm10": [20.0] * 12, "o3": 300.0}) == 150.0


def test_hourly_aqi_rounds_half_up() -> None:
    # PM2.5 12.25 -> 24.5 -> 25 (numpy's half-to-even would give 24)
    assert hourly_aqi({"pm25": [12.25] * 12}) == 25.0


def test_hourly_aqi_needs_pm() -> None:
    assert np.isnan(hourly_aqi({"no2": 150.0, "so2": 400.0}))
    assert np.isnan(hourly_aqi({"pm25": hours(30.0), "pm10": [NAN] * 12, "no2": 150.0}))
    # PM10 alone is enough
    assert hourly_aqi({"pm10": [100.0] * 12, "no2": 50.0}) == 75.0


def test_hourly_aqi_vectorised_with_missing_pollutant_per_station() -> None:
    pm25 = np.array([[35.0] * 12, [35.0] * 12, [NAN] * 12])
    no2 = np.array([150.0, NAN, 150.0])
    out = hourly_aqi({"pm25": pm25, "no2": no2})
    np.testing.assert_array_equal(out[:2], [75.0, 70.0])
    assert np.isnan(out[2])


def test_hourly_aqi_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError):
        hourly_aqi({"pm2.5": [10.0] * 12})


def test_daily_aqi_pm_and_gases() -> None:
    # PM2.5 24h 50 -> 100; SO2 max 1h 550 -> 150
    assert daily_aqi(pm25_24h=50.0, so2_max1h=550.0) == 150.0


def test_daily_aqi_o3_takes_larger_of_1h_and_8h() -> None:
    # O3 1h 180 -> 75, O3 8h 170 -> 150
    assert daily_aqi(pm10_24h=10.0, o3_max1h=180.0, o3_max8h=170.0) == 150.0


def test_daily_aqi_o3_8h_above_400_uses_1h_only() -> None:
    # 8h 450 is off the 8h table; 1h 900 -> 300 + 100/200*100 = 350
    assert daily_aqi(pm25_24h=10.0, o3_max1h=900.0, o3_max8h=450.0) == 350.0


def test_daily_aqi_needs_pm_and_is_vectorised() -> None:
    assert np.isnan(daily_aqi(o3_max1h=180.0, no2_max1h=150.0))
    out = daily_aqi(pm25_24h=[NAN, 25.0], pm10_24h=[150.0, NAN], co_max1h=[NAN, NAN])
    np.testing.assert_array_equal(out, [100.0, 50.0])


# ------------------------------------------------------------------ bands


@pytest.mark.parametrize(
    ("aqi", "band"),
    [
        (0, 0),
        (50, 0),
        (51, 1),
        (100, 1),
        (101, 2),
        (150, 2),
        (151, 3),
        (200, 3),
        (201, 4),
        (300, 4),
        (301, 5),
        (500, 5),
    ],
)
def test_band_edges(aqi: float, band: int) -> None:
    assert aqi_band(aqi) == band


def test_band_nan_is_minus_one_and_vectorised() -> None:
    out = aqi_band([NAN, 75.0, 250.0])
    np.testing.assert_array_equal(out, [-1, 1, 4])
    assert out.dtype.kind == "i"


def test_bands_constant() -> None:
    assert [b.label_vi for b in BANDS] == ["Tốt", "Trung bình", "Kém", "Xấu", "Rất xấu", "Nguy hại"]
    assert [b.rgb for b in BANDS] == [
        (0, 228, 0),
        (255, 255, 0),
        (255, 126, 0),
        (255, 0, 0),
        (143, 63, 151),
        (126, 0, 35),
    ]
    assert BANDS[0].low == 0 and BANDS[-1].high == 500
    for lower, upper in itertools.pairwise(BANDS):
        assert upper.low == lower.high + 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        BANDS[0].low = 1  # type: ignore[misc]
    assert all(b.label_en for b in BANDS)
