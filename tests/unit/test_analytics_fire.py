"""Forest-fire danger through the engine: Nesterov levels across rain resets, FWI codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics import fire_danger as fd
from analytics.engine import AnalyticsEngine, AnalyticsOutput
from analytics.series import HOUR_MS
from ioc.messages import Reading
from tests.unit.test_analytics_engine import DAY0, MINUTE, engine_for, fields, lines_of

DAYS = 15
RAIN_DAY = 12  # 6 mm at 15:00 local
TEMP, RH, WIND_MS = 30.0, 30.0, 3.0
LAT = 11.95  # FWS-1


def weather_day(day: int, rain_mm: float = 0.0, temp: float = TEMP) -> list[list[Reading]]:
    """A local day of 5-minute readings of FWS-1, one list per hour; the rain falls in the
    first reading of 15:00."""
    hours = []
    for hour in range(24):
        start = DAY0 + (day * 24 + hour) * HOUR_MS
        batch = []
        for m in range(0, 60, 5):
            rain = rain_mm if (hour, m) == (15, 0) else 0.0
            values = {"temp": temp, "rh": RH, "wind": WIND_MS, "rain": rain}
            batch.append(Reading("FWS-1", start + m * MINUTE, values, start + m * MINUTE))
        hours.append(batch)
    return hours


def run_days(engine: AnalyticsEngine, rains: list[float]) -> list[AnalyticsOutput]:
    outs = []
    for day, rain in enumerate(rains):
        outs += [engine.evaluate(batch) for batch in weather_day(day, rain)]
    outs += [engine.evaluate(weather_day(len(rains))[0])]  # closes the last day
    return outs


def final_days(outs: list[AnalyticsOutput]) -> list[dict[str, str]]:
    return [fields(x) for x in lines_of(outs, "fire_danger,station=FWS-1") if "complete=t" in x]


def rains() -> list[float]:
    return [6.0 if d == RAIN_DAY else 0.0 for d in range(DAYS)]


def test_nesterov_levels_across_a_rain_reset(tmp_path: Path) -> None:
    days = final_days(run_days(engine_for(tmp_path), rains()))
    d13 = fd.saturation_deficit_hpa(TEMP, RH)
    expected = fd.nesterov_index(np.full(DAYS, TEMP), np.full(DAYS, d13), rains(), 5.0)
    assert [float(d["nesterov"]) for d in days] == pytest.approx(expected, abs=1e-3)
    assert [int(d["level"].rstrip("i")) for d in days] == [
        1, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 5,  # 891 a day; > 10000 on day 12
        1, 1, 2,  # 6 mm of rain >= 5 mm: the sum restarts
    ]  # fmt: skip


def test_a_higher_reset_threshold_keeps_the_sum(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, fire={"rain_reset_mm_by_month": {m: 10.0 for m in range(1, 13)}})
    days = final_days(run_days(engine, rains()))
    assert [int(d["level"].rstrip("i")) for d in days][-4:] == [5, 5, 5, 5]


def test_fwi_codes_match_the_kernels_day_by_day(tmp_path: Path) -> None:
    days = final_days(run_days(engine_for(tmp_path), rains()))
    # FWI rain is the 24 h up to noon: the 15:00 rain counts the next day.
    rain_to_noon = np.roll(rains(), 1)
    rain_to_noon[0] = 0.0
    first = datetime.fromtimestamp(DAY0 / 1000, UTC) + timedelta(hours=7)
    months = [(first + timedelta(days=d)).month for d in range(DAYS)]
    assert months[0] != months[-1]  # the run crosses a month: the day-length tables change
    series = fd.fwi_series(TEMP, RH, WIND_MS * 3.6, rain_to_noon, months, LAT)
    for code in ("ffmc", "dmc", "dc", "isi", "bui", "fwi"):
        got = [float(d[code]) for d in days]
        assert got == pytest.approx(getattr(series, code), abs=1e-3), code


def test_today_so_far_and_a_rule_on_the_level(tmp_path: Path) -> None:
    rule: dict[str, Any] = {
        "id": "fire",
        "name": "fire",
        "parameter": "fire_level",
        "thresholds": [{"above": 3.5}, {"above": 4.5, "severity": "critical"}],
    }
    engine = engine_for(tmp_path, rules=[rule])
    outs = run_days(engine, [0.0] * 5)
    today = weather_day(5)
    for batch in today[:15]:  # up to 15:00: the 13:00 hour is closed
        outs.append(engine.evaluate(batch))
    now = engine.fire_now()["FWS-1"]
    d13 = float(fd.saturation_deficit_hpa(TEMP, RH))
    assert not now.complete
    assert now.nesterov == pytest.approx(6 * TEMP * d13)
    assert now.level == 4
    fired = [(t.firing, t.severity.value) for o in outs for t in o.transitions]
    assert fired == [(True, "warning")]  # level IV reached on day 5, 13:00
