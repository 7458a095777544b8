"""Data completeness counted on fabricated records, against counts made by hand: expected
against received, valid / calibrating / device-error records, missing intervals as ranges,
the over-frequent flag, and days and months cut at local (UTC+7) midnight."""

from __future__ import annotations

from datetime import datetime

from ioc.clock import LOCAL_TZ
from ioc.messages import InstrumentStatus
from web.completeness import (
    Gap,
    Record,
    completeness,
    day_of,
    day_start_ms,
    local_day,
    record_of,
)
from web.monthly_report import month_days

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
OK, CAL, ERR = (
    InstrumentStatus.MEASURING,
    InstrumentStatus.CALIBRATING,
    InstrumentStatus.DEVICE_ERROR,
)


def local_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ).timestamp() * 1000)


DAY = day_of(datetime(2026, 11, 23).date())
MIDNIGHT = local_ms(2026, 11, 23)
LATER = local_ms(2027, 6, 1)  # "now": long after the days counted


def at(hour: int, minute: int = 10, status: InstrumentStatus = OK) -> Record:
    return Record(MIDNIGHT + hour * HOUR_MS + minute * MINUTE_MS, status)


def test_an_hourly_day_counted_by_hand() -> None:
    records = [
        at(0),  # valid
        at(1, status=CAL),
        at(2, status=ERR),
        at(2, 40),  # a second record in the 02:00 interval: surplus
        # 03:00, 04:00 and 05:00: nothing
        *(at(h) for h in range(6, 24)),  # 18 valid
    ]
    result = completeness("S", 3600, records, DAY, DAY, LATER)
    (day,) = result.days
    counts = day.counts
    assert (counts.expected, counts.received) == (24, 22)
    assert (counts.valid, counts.calibrating, counts.device_error) == (20, 1, 1)
    assert (counts.missing, counts.surplus) == (3, 1)
    assert counts.ratio == round(22 / 24, 4) and counts.valid_ratio == round(20 / 24, 4)
    assert counts.over_frequent is False  # 1 surplus record in 21 intervals: jitter
    assert day.partial is False
    assert result.gaps == [Gap(MIDNIGHT + 3 * HOUR_MS, MIDNIGHT + 6 * HOUR_MS, 3)]
    assert result.total == counts


def test_the_same_timestamp_counts_once() -> None:
    result = completeness("S", 3600, [at(5), at(5), at(5, status=CAL)], DAY, DAY, LATER)
    assert result.total.received == 1


def test_a_station_sending_twice_as_often_as_registered_is_flagged() -> None:
    records = [at(h, m) for h in range(24) for m in (0, 30)]
    counts = completeness("S", 3600, records, DAY, DAY, LATER).total
    assert (counts.expected, counts.received, counts.missing, counts.surplus) == (24, 48, 0, 24)
    assert counts.over_frequent is True
    assert counts.ratio == 1.0  # capped: complete, not "200 %"


def test_a_gap_runs_across_local_midnight() -> None:
    records = [at(h) for h in range(22)] + [
        Record(MIDNIGHT + (24 + h) * HOUR_MS + 10 * MINUTE_MS) for h in range(1, 24)
    ]
    result = completeness("S", 3600, records, DAY, DAY + 1, LATER)
    assert [d.counts.missing for d in result.days] == [2, 1]
    assert result.gaps == [Gap(MIDNIGHT + 22 * HOUR_MS, MIDNIGHT + 25 * HOUR_MS, 3)]
    assert result.total.expected == 48 and result.total.missing == 3


def test_today_expects_only_the_intervals_already_over() -> None:
    now = MIDNIGHT + 5 * HOUR_MS + 30 * MINUTE_MS  # 05:30
    result = completeness("S", 3600, [at(0), at(3)], DAY, DAY + 1, now)
    today, tomorrow = result.days
    assert (today.partial, today.counts.expected, today.counts.missing) == (True, 5, 3)
    assert (tomorrow.partial, tomorrow.counts.expected) == (False, 0)
    assert result.gaps == [
        Gap(MIDNIGHT + 1 * HOUR_MS, MIDNIGHT + 3 * HOUR_MS, 2),
        Gap(MIDNIGHT + 4 * HOUR_MS, MIDNIGHT + 5 * HOUR_MS, 1),  # up to now's interval
    ]


def test_a_day_with_nothing_is_one_gap() -> None:
    result = completeness("S", 300, [], DAY, DAY, LATER)
    assert result.total.expected == result.total.missing == 288
    assert result.gaps == [Gap(MIDNIGHT, MIDNIGHT + 86_400_000, 288)]
    assert result.total.ratio == 0.0 and result.total.over_frequent is False


def test_the_month_is_cut_at_local_midnight() -> None:
    first, last = month_days("2026-12")
    assert (last - first + 1) == 31
    # Local midnight of 1 December is 17:00 UTC on 30 November.
    assert (
        day_start_ms(first) == int(datetime.fromisoformat("2026-11-30T17:00Z").timestamp()) * 1000
    )
    before = Record(day_start_ms(first) - 30 * MINUTE_MS)  # 23:30 local on 30 November
    after = Record(day_start_ms(first) + 30 * MINUTE_MS)  # 00:30 local on 1 December
    assert local_day(before.ts_ms) == first - 1 and local_day(after.ts_ms) == first
    result = completeness("S", 3600, [before, after], first, last, LATER)
    assert result.total.received == 1
    assert result.days[0].counts.received == 1 and result.days[0].counts.missing == 23
    assert result.total.expected == 31 * 24
    assert month_days("2026-02")[1] - month_days("2026-02")[0] == 27
    assert month_days("2026-12")[1] + 1 == month_days("2027-01")[0]


def test_a_record_takes_the_worst_status_of_its_values() -> None:
    row = {"time": 5, "pm25": 1.0, "pm10": 2.0, "pm25_status": 1, "pm10_status": 2}
    assert record_of(row, ["pm25", "pm10"]) == Record(5, ERR)
    assert record_of({"time": 5, "pm25": 1.0, "pm25_status": 1}, ["pm25", "pm10"]).status == CAL
    assert record_of({"time": 5, "pm25": 1.0, "pm25_status": None}, ["pm25"]).status == OK
    # Another parameter's status (not the station's) is not looked at.
    assert record_of({"time": 5, "so2_status": 2}, ["pm25"]).status == OK
