"""The alert-quality scenario and scorer (simulators/scenario.py,
tests/benchmarks/bench_alert_quality.py): ground truth, matching and figures. The quality
goals themselves are not asserted here (the detectors are tuned against the benchmark)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from simulators.scenario import (
    ALERT_FAMILIES,
    TARGET,
    Episode,
    RaisedAlert,
    Scenario,
    ScenarioConfig,
    Score,
    score,
)
from tests.benchmarks.bench_alert_quality import run

SMALL = ScenarioConfig(
    seed=7,
    warmup_hours=2,
    blocks=2,
    tail_hours=1,
    max_per_kind=8,
    episodes={family: 1 for family in TARGET} | {"sensor_fault": 2},
    camera_clips=1,  # an incident clip each: a jam and a stop; a plume
    traffic_clip_s=100.0,
    forest_clip_s=110.0,
    cameras=("CAM-TRF-01", "CAM-FOR-01"),
    vehicles=0,  # the fleet's scripted violations are by day: their own test
)
MINUTE = 60_000


@pytest.fixture(scope="module")
def small_run() -> tuple[Scenario, Score]:
    return run(SMALL)


def test_ground_truth_has_every_family_on_distinct_stations() -> None:
    scenario = Scenario(SMALL)
    families = [e.family for e in scenario.episodes]
    assert sorted(set(families)) == sorted(TARGET)
    assert families.count("sensor_fault") == 2
    stations = [s for e in scenario.episodes for s in e.stations]
    assert len(stations) == len(set(stations)), "a station carries at most one episode"
    known = {s.id for s in scenario.registry}
    for e in scenario.episodes:
        assert set(e.stations) <= known
        assert scenario.start_ms <= e.start_ms <= e.end_ms <= scenario.end_ms
        if e.family != "drift":  # ordinary hours stay ordinary
            assert not any(lo < e.end_ms and e.start_ms < hi for lo, hi in scenario.ordinary)
    pollution = next(e for e in scenario.episodes if e.family == "pollution_event")
    assert pollution.also, "a pollution event is seen partly at neighbours"


def test_scenario_is_deterministic_and_applies_its_episodes() -> None:
    a, b = Scenario(SMALL), Scenario(SMALL)
    assert a.episodes == b.episodes
    steps = list(a.steps())
    assert steps == list(b.steps())
    by_family = {e.family: e for e in a.episodes}
    sent = {(ts, sid): values for ts, due in steps for sid, values in due}

    offline = by_family["offline"]
    during = [ts for ts, _ in steps if offline.start_ms <= ts <= offline.end_ms]
    assert during and all((ts, offline.station) not in sent for ts in during)
    assert (offline.start_ms - a.step_ms, offline.station) in sent

    stuck = by_family["flatline"]
    held = {sent[ts, stuck.station][stuck.parameter] for ts in range(
        stuck.start_ms, stuck.end_ms + 1, a.step_ms)}  # fmt: skip
    assert len(held) == 1

    stack = by_family["stack_exceedance"]
    assert all(
        sent[ts, stack.station]["dust"] > 200.0
        for ts in range(stack.start_ms, stack.end_ms + 1, a.step_ms)
    )
    fault = by_family["sensor_fault"]
    normal = sent[fault.samples[0] - a.step_ms, fault.station]["pm25"]
    assert sent[fault.samples[0], fault.station]["pm25"] > 4 * normal


def test_replay_finds_the_forced_stack_exceedance(small_run: tuple[Scenario, Score]) -> None:
    scenario, result = small_run
    stack = next(e for e in scenario.episodes if e.family == "stack_exceedance")
    limit = result.families["limit"]
    derived = scenario.limit_episodes()  # what the overdrawn wells really did
    assert limit.episodes == 1 + len(derived) and limit.detected == limit.episodes
    found = [
        a for a, e in result.matches if e == stack and a.rule_id == "stack_dust"
    ]  # the QCVN 19 dust rule at that stack, within the episode
    assert found and found[0].station == stack.station
    assert stack.start_ms <= found[0].opened_ms <= stack.end_ms
    assert 0 <= limit.time_to_alert_s[0] <= (stack.end_ms - stack.start_ms) / 1000
    offline = result.families["offline"]
    assert offline.episodes == 1 and offline.detected == 1


def test_figures_are_well_formed(small_run: tuple[Scenario, Score]) -> None:
    scenario, result = small_run
    figures = result.figures()
    assert all(isinstance(v, float) for v in figures.values())
    camera = sum(result.families[f].episodes for f in ("smoke", "congestion", "stopped_vehicle"))
    assert camera == 3  # a jam, a stop, a plume
    assert figures["episodes_total"] == (
        len(scenario.episodes) + len(scenario.limit_episodes()) + camera
    )
    assert figures["alerts_total"] == result.alerts == len(result.matches)
    for name in ALERT_FAMILIES:
        f = result.families[name]
        assert f.true_positives + f.cross_alerts + f.false_positives == f.alerts
        assert 0 <= f.detected <= f.episodes
        for ratio in (figures[f"{name}_precision"], figures[f"{name}_recall"]):
            assert math.isnan(ratio) or 0.0 <= ratio <= 1.0
        assert (f.episodes == 0) == math.isnan(figures[f"{name}_recall"])
        assert f.detected == len(f.time_to_alert_s)
    assert result.hours == 8 and result.ordinary_hours == 2
    assert figures["alerts_per_hour"] == result.alerts / 8
    assert "limit" in result.table() and "alerts/inc" in result.table()


def test_matching_by_station_time_and_family() -> None:
    start = 1_000 * MINUTE
    pollution = Episode("pollution_event", "A", "pm25", start, start + 60 * MINUTE, ("B",))
    fault = Episode("sensor_fault", "C", "pm25", start, start, samples=(start,))
    stack = Episode("stack_exceedance", "S", "dust", start, start + 10 * MINUTE)
    alerts = [
        RaisedAlert("anomaly.pollution_event", "A", start + 10 * MINUTE),  # right
        RaisedAlert("anomaly.pollution_event", "B", start + 15 * MINUTE),  # right, neighbour
        RaisedAlert("anomaly.sensor_fault", "A", start + 5 * MINUTE),  # cross-family
        RaisedAlert("aqi_bad", "A", start + 65 * MINUTE),  # right (AQI), within grace
        RaisedAlert("anomaly.sensor_fault", "C", start + 20 * MINUTE),  # after grace: FP
        RaisedAlert("stack_dust", "S", start),  # right
        RaisedAlert("anomaly.spike", "S", start),  # cross-family
        RaisedAlert("anomaly.flatline", "Z", start),  # no episode: FP
        RaisedAlert("anomaly.offline", "A", start - 30 * MINUTE),  # before the day: not scored
    ]
    result = score(
        [pollution, fault, stack],
        alerts,
        start - 10 * MINUTE,
        start + 120 * MINUTE,
        ordinary=[(start + 100 * MINUTE, start + 120 * MINUTE)],
        grace_s=600,
    )
    f = result.families
    assert (f["pollution_event"].true_positives, f["pollution_event"].detected) == (2, 1)
    assert f["pollution_event"].alerts_per_incident == 4.0  # A, B, the fault, the AQI
    assert f["pollution_event"].cross_episodes == 1
    assert f["pollution_event"].median_time_to_alert_s == 600.0
    assert (f["sensor_fault"].cross_alerts, f["sensor_fault"].false_positives) == (1, 1)
    assert f["sensor_fault"].recall == 0.0 and f["sensor_fault"].precision == 0.0
    assert (f["limit"].true_positives, f["limit"].recall, f["limit"].precision) == (2, 1.0, 1.0)
    assert f["spike"].cross_alerts == 1 and f["limit"].cross_episodes == 1
    assert f["flatline"].false_positives == 1 and math.isnan(f["flatline"].recall)
    assert result.alerts == 8 and result.warmup_alerts == 1 and result.ordinary_alerts == 0


def test_one_alert_per_incident_on_the_short_run(small_run: tuple[Scenario, Score]) -> None:
    """Issue #14 findings 1-3 on the short run: a pollution event (its station and the
    neighbours it reaches) is one pollution_event alert, not a sensor fault first; a stack
    exceedance is its limit alert only (no spike for the same readings)."""
    scenario, result = small_run
    for episode in scenario.episodes:
        got = [a.rule_id for a, e in result.matches if e == episode]
        if episode.family == "pollution_event":
            assert [r for r in got if r.startswith("anomaly.")] == ["anomaly.pollution_event"]
        if episode.family == "stack_exceedance":
            assert got == ["stack_dust"]
        if episode.family == "sensor_fault":
            assert got == ["anomaly.sensor_fault"]


def test_wells_keep_their_licences_unless_overdrawn() -> None:
    """Issue #14 finding 4: an ordinary licensed well pumps within its permitted daily volume
    and stays above its maximum depth; the scripted overdrawn ones do not, and the derived
    ground truth names them (and nothing at the ordinary wells)."""
    scenario = Scenario(SMALL)
    assert len(scenario.overdrawn) == SMALL.overdrawn_wells
    licences = {s.id: s.licence for s in scenario.registry if s.licence}
    steps = list(scenario.steps())
    for sid, licence in licences.items():
        levels = [v[sid]["level"] for _, due in steps for v in [dict(due)] if sid in v]
        assert levels
        if sid not in scenario.overdrawn and licence.max_level_m:
            assert max(levels) < licence.max_level_m
    wells = {s.id for s in scenario.registry if s.kind == "groundwater"}
    truth = [e for e in scenario.limit_episodes() if e.station in wells]
    assert {e.station for e in truth} <= set(scenario.overdrawn)
    volume = [e for e in truth if e.parameter == "volume_day"]
    assert {e.station for e in volume} <= set(scenario.overdrawn)
    model = scenario._models  # an ordinary well's day is 45-80 % of its permit
    for sid, licence in licences.items():
        if sid not in scenario.overdrawn and licence.permitted_m3_day:
            share = model[sid].nominal_m3_day / licence.permitted_m3_day
            assert 0.45 <= share <= 0.8


def test_derived_limit_episodes_follow_the_true_values() -> None:
    from simulators.scenario import HOUR_MS, _over_day_volume, _runs

    flags = [(h * HOUR_MS, over) for h, over in enumerate([0, 1, 1, 0, 1, 0])]
    runs = _runs("A", "pm25", [(t, bool(o)) for t, o in flags], HOUR_MS)
    assert [(e.start_ms // HOUR_MS, e.end_ms // HOUR_MS) for e in runs] == [(1, 3), (4, 5)]
    midnight = 17 * HOUR_MS  # 00:00 local (UTC+7)
    readings = [(midnight + h * HOUR_MS, 100.0 * h, 0.0) for h in range(30)]
    (day,) = _over_day_volume("W", readings, permitted=1050.0)  # 100 m³ an hour
    assert day.end_ms == midnight + 11 * HOUR_MS and day.start_ms == day.end_ms - HOUR_MS


def test_derived_limit_truth_follows_each_rules_definition() -> None:
    """Scorer and rules agree on what an exceedance is: an instant rule from its first value
    past the limit until back to its clear value; a QCVN mean over the complete hours of its
    window (coverage as the rule's), from the end of its last hour; the hourly VN_AQI."""
    from analytics.config import AnalyticsConfig
    from simulators.scenario import HOUR_MS, _mean_flags, _past, _runs

    rules = {r.id: r for r in AnalyticsConfig().rules}
    nh4 = [(k * 5 * MINUTE, v) for k, v in enumerate([9.0, 10.5, 9.8, 9.4, 10.2])]
    runs = _runs("WW", "nh4", _past(rules["ww_nh4"], nh4), 5 * MINUTE)  # above 10, clear 9.5
    assert [(e.start_ms // MINUTE, e.end_ms // MINUTE) for e in runs] == [(5, 15), (20, 25)]
    ph = [(k * MINUTE, v) for k, v in enumerate([7.0, 9.5, 5.0, 7.0])]  # range 5.5-9
    assert [on for _, on in _past(rules["ww_ph"], ph)] == [False, True, True, False]

    means = {h: 44.0 for h in range(24)} | {24: 68.0}  # hour 24 closed: (23*44+68)/24 = 45
    assert _mean_flags(rules["pm25_24h"], means)[-2:] == [
        (24 * HOUR_MS, False),
        (25 * HOUR_MS, False),
    ]
    means[24] = 80.0  # (23 * 44 + 80) / 24 = 45.5
    assert _mean_flags(rules["pm25_24h"], means)[-1] == (25 * HOUR_MS, True)
    sparse = {h: 90.0 for h in range(0, 24, 2)}  # 12 of 24 hours: below the 0.75 coverage
    assert not any(on for _, on in _mean_flags(rules["pm25_24h"], sparse))


def test_derived_truth_finds_a_bad_aqi_and_leaves_measurement_errors_out(
    small_run: tuple[Scenario, Score],
) -> None:
    scenario, _ = small_run
    derived = scenario.limit_episodes()
    errors = {e.station for e in scenario.episodes if e.family in ("sensor_fault", "drift")}
    # the true values of a faulty sensor are its undisturbed ones
    assert not [e for e in derived if e.station in errors and e.parameter in ("pm25", "aqi")]
    station = next(s for s in scenario.registry if s.kind == "air" and s.id not in errors)
    readings = scenario._true[station.id]
    for _, values in readings:  # its PM2.5 at 300 µg/m³ all day: VN_AQI 350, "very bad"
        values["pm25"] = 300.0
    aqi = [e for e in scenario.limit_episodes() if e.station == station.id and e.parameter == "aqi"]
    assert aqi and aqi[0].start_ms % 3_600_000 == 0  # judged at the end of an hour


def test_camera_clips_are_scripted_in_episode_blocks() -> None:
    scenario = Scenario(SMALL)
    clips = scenario.camera_clips
    assert sorted((c.camera, c.kind) for c in clips) == [
        ("CAM-FOR-01", "forest"),
        ("CAM-TRF-01", "traffic"),
    ]
    for clip in clips:
        assert scenario.start_ms <= clip.start_ms < clip.end_ms <= scenario.end_ms
        assert not any(lo < clip.end_ms and clip.start_ms < hi for lo, hi in scenario.ordinary)
    traffic = next(c for c in clips if c.kind == "traffic")
    forest = next(c for c in clips if c.kind == "forest")
    assert traffic.jam_s >= 40 and traffic.stop_s >= 20 and forest.smoke_at_s is not None
    near_miss = Scenario(replace(SMALL, camera_clips=2, blocks=3)).camera_clips
    quiet = [c for c in near_miss if c.kind == "traffic"][1]  # the second clip: near misses
    assert quiet.jam_s < 10 and quiet.stop_s < 10


def test_camera_families_on_the_real_image_path(small_run: tuple[Scenario, Score]) -> None:
    """The short run's clips, rendered and analysed frame by frame: the jam, the stop and
    the plume are each one alert of their own family, opened during the episode (the
    congestion once jammed ``congestion_after_s``; the smoke once confirmed), and the
    cameras raise nothing else."""
    _, result = small_run
    camera = {"smoke", "congestion", "stopped_vehicle", "camera_health"}
    got = [(a.family, e.family if e else None) for a, e in result.matches if a.family in camera]
    assert sorted(got) == [
        ("congestion", "congestion"),
        ("smoke", "smoke"),
        ("stopped_vehicle", "stopped_vehicle"),
    ]
    for family in ("smoke", "congestion", "stopped_vehicle"):
        f = result.families[family]
        assert (f.episodes, f.detected, f.precision) == (1, 1, 1.0)
        assert 0 <= f.time_to_alert_s[0] <= 60


def test_vehicle_families_against_the_fleets_ground_truth() -> None:
    """The fleet's scripted day (the 12 episode roles) through the journey kernel, its alert
    transitions and an alert book: every violation is found by its own family, one incident
    each; a driving-time warning comes before each driving violation (the same alert, reopened:
    two openings, one incident); the GPS jump
    raises nothing. The backlog's vehicle, silent in real time while its fixes were buffered,
    is shown silent (information) but raises no lost-signal violation: its fixes all arrive."""
    from simulators.fleet.registry import build_vehicles
    from simulators.scenario import VEHICLE_TARGET
    from simulators.vehicle_day import replay_fleet

    start = Scenario(SMALL).start_ms
    alerts, truth, fixes = replay_fleet(start, 86_400, vehicles=12, seed=2026)
    assert fixes > 10_000
    assert {VEHICLE_TARGET[e.family] for e in truth} == set(VEHICLE_TARGET.values())
    result = score(truth, alerts, start, start + 24 * 60 * MINUTE)
    for family in set(VEHICLE_TARGET.values()):
        f = result.families[family]
        assert f.detected == f.episodes > 0, family
        assert f.cross_alerts == 0, family
    for family in ("continuous_driving", "daily_driving"):
        assert result.families[family].alerts_per_incident == 2.0  # the warning, the violation
        assert result.families[family].incidents_per_episode == 1.0  # one alert reopened
    for family in set(VEHICLE_TARGET.values()):
        assert result.families[family].incidents_per_episode == 1.0, family
    backlog = build_vehicles(12, 2026)[11].id  # the last episode role
    assert [(a.family, a.station) for a, e in result.matches if e is None] == [
        ("vehicle_silent", backlog)
    ]
    assert result.families["lost_signal"].precision == 1.0
