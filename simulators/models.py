"""Value models of simulated stations: daily cycles in local time, slow random variation and
pollution episodes, with magnitudes from shared/domain/REFERENCE.md §5 (Hanoi PM2.5 monthly
means and daily cycle, Central Highlands dry-season weather, QCVN 19 stack levels) and §7
(groundwater wells: level 0-34 m below ground, flow m³/h, a cumulative volume counter that is
now and then reset).

A production well given its licence (``permitted_m3_day``, ``max_level_m``) is run as a licensed
operator runs it: it pumps 45-80 % of its permitted daily volume, and its dynamic level stays at
60-80 % of the permitted depth. Over-abstraction is an episode (``pumping_factor``), not the
normal day. Without a licence, a well pumps about 22 m³/h × its level factor (the old model)."""

from __future__ import annotations

import math
import random
from collections.abc import Collection
from dataclasses import dataclass

LOCAL_UTC_OFFSET_H = 7  # Asia/Ho_Chi_Minh, no daylight saving
PM25_MONTHLY_MEAN = [76, 69, 48, 40, 20, 30, 21, 28, 30, 41, 54, 34]  # Jan..Dec, µg/m³
COUNTER_RESETS_PER_S = 1 / (30 * 86_400)  # a well's volume counter is reset about monthly
PUMPING_FROM_H, PUMPING_TO_H = 5, 22  # a production well pumps 05-22 h local
EPISODE_PARAMETER = {"air": "pm25", "stack": "dust", "wastewater": "cod", "groundwater": "level"}


def local_hour(ts_s: float) -> float:
    return ((ts_s / 3600.0) + LOCAL_UTC_OFFSET_H) % 24.0


def pm_daily_factor(hour: float) -> float:
    """Morning peak 08-11h, afternoon low 15-17h, moderate nights (REFERENCE §5)."""
    morning = 0.30 * math.exp(-(((hour - 9.5) / 1.8) ** 2))
    afternoon = -0.25 * math.exp(-(((hour - 16.0) / 1.6) ** 2))
    night = 0.08 * math.cos((hour - 2.0) / 24.0 * 2 * math.pi)
    return 1.0 + morning + afternoon + night


@dataclass(slots=True)
class Episode:
    parameter: str
    factor: float
    until_s: float


class StationModel:
    """Values of one station at a time; ``episode`` multiplies one parameter for a while."""

    def __init__(
        self,
        kind: str,
        rng: random.Random,
        month: int,
        pm_scale: float = 1.0,
        parameters: Collection[str] = (),
        permitted_m3_day: float | None = None,
        max_level_m: float | None = None,
    ) -> None:
        self.kind = kind
        self._rng = rng
        self._parameters = frozenset(parameters)  # empty: all the kind's
        self.level = rng.lognormvariate(0, 0.3)  # this station's long-term level
        self._month_mean = PM25_MONTHLY_MEAN[month - 1] * pm_scale
        self._drift = 1.0
        self._volume = rng.uniform(1_000.0, 500_000.0)  # a well's counter, m³
        self._last_s: float | None = None
        self.episode: Episode | None = None
        #: a well's flow is multiplied by this (an over-abstraction episode: > 1)
        self.pumping_factor = 1.0
        #: m³ a well has pumped since the model started (never reset, unlike its counter)
        self.pumped_m3 = 0.0
        hours = PUMPING_TO_H - PUMPING_FROM_H
        own = random.Random(self.level)  # the licence's shares, without touching rng's stream
        if permitted_m3_day is not None:
            self._rate = permitted_m3_day * own.uniform(0.45, 0.8) / hours  # m³/h
        else:
            self._rate = 22.0 * self.level
        self._static = 6.0 + 10.0 * self.level
        self._drawdown = 0.12  # m per m³/h
        if max_level_m is not None:
            self._static = max_level_m * own.uniform(0.3, 0.45)
            self._drawdown = (max_level_m * own.uniform(0.6, 0.8) - self._static) / self._rate

    @property
    def nominal_m3_day(self) -> float:
        """What a well pumps on an ordinary day (m³)."""
        return self._rate * (PUMPING_TO_H - PUMPING_FROM_H)

    def start_episode(self, now_s: float, duration_s: float, factor: float | None = None) -> str:
        parameter = EPISODE_PARAMETER.get(self.kind, "temp")
        if factor is None:
            factor = (
                self._rng.uniform(3.0, 5.0) if self.kind == "air" else self._rng.uniform(2.5, 3.5)
            )
        self.episode = Episode(parameter, factor, now_s + duration_s)
        return parameter

    def values(self, ts_s: float) -> dict[str, float]:
        rng = self._rng
        self._drift = min(1.6, max(0.6, self._drift * math.exp(rng.gauss(0, 0.03))))
        hour = local_hour(ts_s)
        values = getattr(self, f"_{self.kind}")(hour, rng)
        if self.kind == "groundwater":
            self._count(values, ts_s)
        if self._parameters:
            values = {k: v for k, v in values.items() if k in self._parameters}
        episode = self.episode
        if episode is not None:
            if ts_s >= episode.until_s:
                self.episode = None
            elif episode.parameter in values:
                values[episode.parameter] *= episode.factor
        return {k: round(v, 2) for k, v in values.items()}

    def _noise(self, sigma: float = 0.08) -> float:
        return self._rng.lognormvariate(0, sigma)

    def _air(self, hour: float, rng: random.Random) -> dict[str, float]:
        pm25 = self._month_mean * self.level * self._drift * pm_daily_factor(hour) * self._noise()
        rush = (
            1.0
            + 0.6 * math.exp(-(((hour - 7.5) / 1.5) ** 2))
            + 0.5 * math.exp(-(((hour - 18.0) / 1.5) ** 2))
        )
        sun = max(0.0, math.sin((hour - 6.0) / 12.0 * math.pi))
        return {
            "pm25": pm25,
            "pm10": pm25 * rng.uniform(1.45, 1.75),
            "so2": 18.0 * self.level * self._noise(0.15),
            "no2": 28.0 * self.level * rush * self._noise(0.12),
            "co": 1100.0 * self.level * rush * self._noise(0.1),
            "o3": (25.0 + 70.0 * sun) * self._noise(0.1),
        }

    def _weather(self, hour: float, rng: random.Random) -> dict[str, float]:
        day = math.sin((hour - 8.0) / 24.0 * 2 * math.pi)  # max mid-afternoon
        temp = 18.0 + 6.0 * day + rng.gauss(0, 0.3)
        rh = min(100.0, max(8.0, 72.0 - 28.0 * day + rng.gauss(0, 2.0)))
        rain = rng.expovariate(1.0) * 2.0 if rng.random() < 0.01 else 0.0
        return {"temp": temp, "rh": rh, "wind": abs(rng.gauss(2.5, 1.2)), "rain": rain}

    def _stack(self, hour: float, rng: random.Random) -> dict[str, float]:
        load = 0.85 + 0.15 * math.sin((hour - 10.0) / 24.0 * 2 * math.pi)
        return {
            "flow": 85_000.0 * load * self._noise(0.05),
            "temp": 145.0 + rng.gauss(0, 3.0),
            "o2": 9.5 + rng.gauss(0, 0.4),
            "dust": 75.0 * self.level * load * self._noise(0.12),
            "so2": 190.0 * self.level * load * self._noise(0.1),
            "nox": 330.0 * self.level * load * self._noise(0.1),
            "co": 260.0 * self.level * load * self._noise(0.15),
        }

    def _wastewater(self, hour: float, rng: random.Random) -> dict[str, float]:
        shift = 1.0 if 7 <= hour < 19 else 0.55
        return {
            "flow": 120.0 * shift * self._noise(0.08),
            "temp": 29.0 + rng.gauss(0, 0.5),
            "ph": 7.2 + rng.gauss(0, 0.15),
            "tss": 38.0 * self.level * self._noise(0.15),
            "cod": 65.0 * self.level * self._noise(0.12),
            "nh4": 4.0 * self.level * self._noise(0.2),
        }

    def _groundwater(self, hour: float, rng: random.Random) -> dict[str, float]:
        """A production well pumping 05-22 h: the level (depth) is its static level plus a
        drawdown while pumping."""
        pumping = PUMPING_FROM_H <= hour < PUMPING_TO_H
        flow = self._rate * self.pumping_factor * self._noise(0.05) if pumping else 0.0
        ec = 420.0 * self.level * self._noise(0.03)
        return {
            "level": self._static + self._drawdown * flow + rng.gauss(0, 0.05),
            "flow": flow,
            "temp": 27.5 + rng.gauss(0, 0.2),
            "ec": ec,
            "tds": 0.65 * ec,
        }

    def _count(self, values: dict[str, float], ts_s: float) -> None:
        """Add the volume pumped since the last call to the counter; reset it now and then."""
        elapsed = 0.0 if self._last_s is None else max(0.0, ts_s - self._last_s)
        self._last_s = ts_s
        if self._rng.random() < elapsed * COUNTER_RESETS_PER_S:
            self._volume = 0.0
        self._volume += values["flow"] * elapsed / 3600
        self.pumped_m3 += values["flow"] * elapsed / 3600
        values["volume"] = self._volume
