"""VN_AQI of each air station, hour by hour (Decision 1459; kernels in :mod:`analytics.aqi`).

When an hour of a station is closed (:class:`analytics.engine.AnalyticsEngine` decides when),
its hourly AQI is computed from the hourly means in the :class:`HourlyStore`: the NowCast of
the last 12 hours for PM, the hour's mean for the gases. The daily AQI of the local day is
recomputed at the same time from the hours closed so far, so it is "today so far" until the
day's last hour closes. A late value re-closes its hour, and the AQI is written again.

Written as measurement ``aqi`` (tags ``station``, ``period`` = ``hour`` | ``day``): the hourly
point stamped at the end of its hour (Vietnamese hour-ending convention), the daily one at
local midnight. Rules see them as the derived parameters ``aqi`` and ``aqi_day``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from analytics.aqi import NOWCAST_HOURS, aqi_band, daily_aqi, hourly_aqi, nowcast, sub_index
from analytics.config import AqiConfig
from analytics.output import Derived
from analytics.series import HOUR_MS, FloatArray, HourlyStore, IntArray, SeriesTable

POLLUTANTS = ("pm25", "pm10", "so2", "co", "no2", "o3")
TO_UG_M3 = {"ug/m3": 1.0, "ug/nm3": 1.0, "mg/m3": 1000.0, "mg/nm3": 1000.0}
O3_8H_MIN_HOURS = 6  # of 8, for an 8-hour mean


@dataclass(frozen=True, slots=True)
class AqiNow:
    """The latest hourly AQI of a station and the daily AQI of that day so far."""

    station_id: str
    hour_end_ms: int
    aqi: float
    band: int
    sub_indices: dict[str, float]
    day_start_ms: int
    day_aqi: float
    day_complete: bool


class AirQuality:
    def __init__(self, config: AqiConfig, table: SeriesTable, utc_offset_h: int) -> None:
        self._config = config
        self._table = table
        self._offset = utc_offset_h
        self._stations = table.stations_of_kinds(config.kinds)
        self._series = {p: table.registry_series(p, TO_UG_M3) for p in POLLUTANTS}
        self.current: dict[str, AqiNow] = {}

    def close_hours(
        self, store: HourlyStore, station: IntArray, hour: IntArray, out: Derived
    ) -> None:
        """Compute and record the hourly and day-so-far AQI of each (station, hour)."""
        if not self._config.enabled:
            return
        take = np.isin(station, self._stations)
        station, hour = station[take], hour[take]
        if not len(station):
            return
        conc = {p: self._concentrations(store, station, hour, p) for p in POLLUTANTS}
        pm_now = {p: conc[p][:, :NOWCAST_HOURS] for p in ("pm25", "pm10")}
        gases = {p: conc[p][:, 0] for p in ("so2", "co", "no2", "o3")}
        aqi = hourly_aqi({**pm_now, **gases})
        subs = {p: sub_index(p, nowcast(v)) for p, v in pm_now.items()}
        subs |= {p: sub_index("o3_1h" if p == "o3" else p, v) for p, v in gases.items()}
        day_aqi, day_start = self._day_so_far(store, station, hour, conc)
        band, day_band = aqi_band(aqi), aqi_band(day_aqi)
        names = list(subs)
        columns = zip(
            station.tolist(),
            hour.tolist(),
            aqi.tolist(),
            band.tolist(),
            day_aqi.tolist(),
            day_band.tolist(),
            day_start.tolist(),
            ((hour + self._offset) % 24 == 23).tolist(),
            *(s.tolist() for s in subs.values()),
            strict=True,
        )
        for st, h, a, b, day_a, day_b, day_h, complete, *sub_values in sorted(
            columns, key=lambda c: c[1]
        ):
            station_id = self._table.stations[st].id
            hour_end, day_ms = (h + 1) * HOUR_MS, day_h * HOUR_MS
            subs_now = {
                n: round(v, 1) for n, v in zip(names, sub_values, strict=True) if math.isfinite(v)
            }
            tags = {"station": station_id, "period": "hour"}
            if math.isfinite(a):
                out.line("aqi", tags, {"aqi": a, "band": b, **subs_now}, hour_end)
                out.values.append((station_id, "aqi", hour_end, a))
            if math.isfinite(day_a):
                fields = {"aqi": day_a, "band": day_b, "complete": complete}
                out.line("aqi", tags | {"period": "day"}, fields, day_ms)
                out.values.append((station_id, "aqi_day", hour_end, day_a))
            known = self.current.get(station_id)
            if known is None or known.hour_end_ms <= hour_end:
                self.current[station_id] = AqiNow(
                    station_id, hour_end, a, b, subs_now, day_ms, day_a, complete
                )
                out.metric(station_id, aqi=a, aqi_band=float(b), aqi_day=day_a)

    def _concentrations(
        self, store: HourlyStore, station: IntArray, hour: IntArray, pollutant: str
    ) -> FloatArray:
        """Hourly means in µg/m³, shape (pairs, 31): index 0 = the hour, then back in time."""
        series, factor = self._series[pollutant]
        back = hour[:, None] - np.arange(24 + 7)
        means = store.means(series[station][:, None], back) * factor[station][:, None]
        return np.asarray(means, dtype=np.float64)

    def _day_so_far(
        self, store: HourlyStore, station: IntArray, hour: IntArray, conc: dict[str, FloatArray]
    ) -> tuple[FloatArray, IntArray]:
        """Daily AQI of each pair's local day from its hours up to the pair's hour, and the
        day's first hour. ``conc`` columns go back 31 hours from the pair's hour."""
        day_start = (hour + self._offset) // 24 * 24 - self._offset
        elapsed = hour - day_start + 1  # hours of the day so far, 1..24
        in_day = np.arange(24 + 7)[None, :] < elapsed[:, None]  # columns of today

        def day_values(pollutant: str) -> FloatArray:
            return np.where(in_day, conc[pollutant], np.nan)

        def mean_24h(pollutant: str) -> FloatArray:
            v = day_values(pollutant)
            present = np.isfinite(v).sum(axis=1)
            total = np.where(np.isfinite(v), v, 0.0).sum(axis=1)
            enough = present >= self._config.daily_min_coverage * elapsed
            return np.where(enough & (present > 0), total / np.maximum(present, 1), np.nan)

        # O3 8-hour means ending at each hour of today: windows over columns i .. i+7.
        o3 = conc["o3"]
        windows = sliding_window_view(o3, 8, axis=1)[:, :24]  # (pairs, 24, 8), ends at col i
        present = np.isfinite(windows).sum(axis=2)
        total = np.where(np.isfinite(windows), windows, 0.0).sum(axis=2)
        o3_8h = np.where(
            (present >= O3_8H_MIN_HOURS) & in_day[:, :24], total / np.maximum(present, 1), np.nan
        )
        aqi = daily_aqi(
            pm25_24h=mean_24h("pm25"),
            pm10_24h=mean_24h("pm10"),
            so2_max1h=_nanmax(day_values("so2")),
            co_max1h=_nanmax(day_values("co")),
            no2_max1h=_nanmax(day_values("no2")),
            o3_max1h=_nanmax(day_values("o3")),
            o3_max8h=_nanmax(o3_8h),
        )
        return aqi, day_start


def _nanmax(values: FloatArray) -> FloatArray:
    """Max along the last axis ignoring NaN; NaN when all are NaN (and no warning)."""
    best = np.max(np.where(np.isnan(values), -np.inf, values), axis=-1)
    return np.where(np.isfinite(best), best, np.nan)
