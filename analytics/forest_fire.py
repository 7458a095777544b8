"""Forest-fire danger of each forest weather station, day by day and for today so far
(kernels in :mod:`analytics.fire_danger`).

Inputs come from the :class:`HourlyStore`, in local time, with hours named by their end
(Vietnamese convention): the "13:00" temperature and humidity are the means of the hour
ending at 13:00 (``nesterov_hour``), the FWI "noon" weather that of the hour ending at 12:00
(``fwi_hour``). Rain values are amounts per reading and are summed: over the local day for
Nesterov, over the 24 hours up to noon for FWI. Wind in m/s is converted to km/h.

Each time an hour of a station closes, today's values are computed from the state at the end
of yesterday: before 13:00 (noon) the latest closed hour stands in for the 13:00 (noon)
values. When the day's last hour closes, today's values become the state (FWI codes are kept
from the day before where a weather value is missing). A committed day is not recomputed.

Written as measurement ``fire_danger`` (tag ``station``), stamped at local midnight; rules see
``nesterov``, ``fire_level`` and ``fwi``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from analytics import fire_danger as fd
from analytics.config import FireConfig
from analytics.output import Derived
from analytics.series import HOUR_MS, FloatArray, HourlyStore, IntArray, SeriesTable

TO_KM_H = {"m/s": 3.6, "km/h": 1.0, "kmh": 1.0}
CODES = ("ffmc", "dmc", "dc")


@dataclass(frozen=True, slots=True)
class FireNow:
    """A station's fire danger of the day so far (``complete`` once the day has ended)."""

    station_id: str
    day_start_ms: int
    hour_end_ms: int
    nesterov: float
    level: int
    ffmc: float
    dmc: float
    dc: float
    isi: float
    bui: float
    fwi: float
    complete: bool


class FireDanger:
    def __init__(self, config: FireConfig, table: SeriesTable, utc_offset_h: int) -> None:
        self._config = config
        self._table = table
        self._offset = utc_offset_h
        n = len(table.stations)
        self._stations = table.stations_of_kinds(config.kinds)
        self._lat = np.array([s.lat for s in table.stations])
        self._series = {
            p: table.registry_series(p)[0]
            for p in (config.temperature, config.humidity, config.wind, config.rain)
        }
        self._to_km_h = table.registry_series(config.wind, TO_KM_H)[1]
        # State at the end of the last committed day of each station.
        self._day = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        self._nesterov = np.zeros(n)
        self._codes = {
            "ffmc": np.full(n, config.ffmc_start),
            "dmc": np.full(n, config.dmc_start),
            "dc": np.full(n, config.dc_start),
        }
        self.current: dict[str, FireNow] = {}

    def close_hours(
        self, store: HourlyStore, station: IntArray, hour: IntArray, out: Derived
    ) -> None:
        """Compute today so far for each (station, hour), hour by hour in time order."""
        if not self._config.enabled:
            return
        take = np.isin(station, self._stations)
        day = (hour + self._offset) // 24
        take &= day > self._day[station]
        for h in np.unique(hour[take]):
            at = take & (hour == h)
            self._close(store, station[at], int(h), out)

    def _close(self, store: HourlyStore, station: IntArray, hour: int, out: Derived) -> None:
        c = self._config
        day = (hour + self._offset) // 24
        day_start = day * 24 - self._offset
        month = (date(1970, 1, 1) + timedelta(days=day)).month

        def mean(parameter: str, at: int) -> FloatArray:
            return store.means(self._series[parameter][station], at)

        def rain(first: int, last: int) -> FloatArray:
            series = self._series[c.rain][station]
            sums, _, _ = store.gather(series[:, None], np.arange(first, last + 1)[None, :])
            return np.asarray(sums.sum(axis=1), dtype=np.float64)

        t13 = min(hour, day_start + c.nesterov_hour - 1)  # before 13:00: the latest hour
        temp13 = mean(c.temperature, t13)
        d13 = fd.saturation_deficit_hpa(temp13, mean(c.humidity, t13))
        day_rain = rain(day_start, hour)[:, None]
        p0 = self._nesterov[station]
        reset = c.reset_mm(month)
        nesterov = fd.nesterov_index(temp13[:, None], d13[:, None], day_rain, reset, p0=p0)[:, 0]
        level = fd.nesterov_level(nesterov, c.nesterov_thresholds)

        noon = min(hour, day_start + c.fwi_hour - 1)
        temp, rh = mean(c.temperature, noon), mean(c.humidity, noon)
        wind = mean(c.wind, noon) * self._to_km_h[station]
        rain_24h = rain(noon - 23, noon)
        lat = self._lat[station]
        previous = {k: v[station] for k, v in self._codes.items()}
        codes = {
            "ffmc": fd.ffmc(temp, rh, wind, rain_24h, previous["ffmc"]),
            "dmc": fd.dmc(temp, rh, rain_24h, previous["dmc"], month, lat),
            "dc": fd.dc(temp, rain_24h, previous["dc"], month, lat),
        }
        isi = fd.isi(wind, codes["ffmc"])
        bui = fd.bui(codes["dmc"], codes["dc"])
        fwi = fd.fwi(isi, bui)

        complete = (hour + self._offset) % 24 == 23
        if complete:  # today becomes the state tomorrow starts from
            self._day[station] = day
            self._nesterov[station] = nesterov
            for key in CODES:
                kept = np.where(np.isfinite(codes[key]), codes[key], previous[key])
                self._codes[key][station] = kept
        hour_end, day_ms = (hour + 1) * HOUR_MS, day_start * HOUR_MS
        for i, s in enumerate(station):
            now = FireNow(
                self._table.stations[s].id,
                day_ms,
                hour_end,
                float(nesterov[i]),
                int(level[i]),
                float(codes["ffmc"][i]),
                float(codes["dmc"][i]),
                float(codes["dc"][i]),
                float(isi[i]),
                float(bui[i]),
                float(fwi[i]),
                complete,
            )
            self.current[now.station_id] = now
            fields: dict[str, float | int | bool] = {
                "nesterov": now.nesterov,
                "level": now.level,
                **{k: getattr(now, k) for k in ("ffmc", "dmc", "dc", "isi", "bui", "fwi")},
                "complete": complete,
            }
            out.line("fire_danger", {"station": now.station_id}, fields, day_ms)
            out.values += [
                (now.station_id, name, hour_end, v)
                for name, v in (
                    ("nesterov", now.nesterov),
                    ("fire_level", float(now.level)),
                    ("fwi", now.fwi),
                )
                if np.isfinite(v)
            ]
            out.metric(now.station_id, fire_level=now.level, nesterov=now.nesterov, fwi=now.fwi)
