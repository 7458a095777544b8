"""A scripted, seeded simulated day of the demo province with ground truth, and the scorer
that measures alert quality against it (issue #14: "alert quality as a measured number").

:class:`Scenario` takes the registry of ``config/stations.yaml`` (optionally the first
``max_per_kind`` stations of each kind) and the value models of :mod:`simulators.models`, and
lays ground-truth :class:`Episode` s over them, in event time (no wall clock):

* ``pollution_event``: PM2.5 and PM10 of an air station rise 3-5x (ramping up and down over
  three samples), and partly (half to two thirds of the rise) at its nearest neighbours
  within ``NEIGHBOUR_KM``: the episode's ``also`` stations;
* ``sensor_fault``: one to three single absurd PM2.5 values (8-14x, below the registry's
  maximum so that the validator keeps them);
* ``flatline``: a stuck sensor, one parameter repeating the same value for 16-24 samples;
* ``drift``: one parameter drifting multiplicatively, to 1.8-2.5x by the end of the day
  (the drift check judges closed local days, so these end with the scored day);
* ``offline``: a station sending nothing for 6-18 intervals;
* ``stack_exceedance``: a stack's dust above its QCVN 19 limit (200 mg/Nm³) for 2-6 samples.

The groundwater wells run within their licences (:mod:`simulators.models`), except
``overdrawn_wells`` of them (among those using at least 65 % of their permit) that pump 15-40 %
over their permitted daily volume on the scored day. Limits (other than the scripted stack
exceedances) are not scripted episode by episode: after the replay,
:meth:`Scenario.limit_episodes` derives the ``limit_exceedance`` episodes (alert family
``limit``) from the simulated world by each shipped limit rule's own definition, on the
values as the instruments should have measured them (sensor faults, stuck sensors and drift
left out; pollution events in): a QCVN mean of the complete hours of its window over its
limit (the 24 h PM2.5 over QCVN 05:2023's 45 µg/m³ ...), a bad hourly VN_AQI, a wastewater
value over its limit, a well's true daily abstraction above its permit, its level deeper
than its licence allows.

The demo cameras get :class:`CameraClip` s in the episode blocks: stretches rendered and
analysed frame by frame (:mod:`simulators.camera_clips`, whose scenes carry their own truth:
jams, a car stopped in the no-stopping zone, a smoke plume).

The scored day starts at local midnight and is preceded by ``warmup_hours`` without
episodes (24-hour windows and the drift reference fill) and followed by ``tail_hours`` (the
last hour closes, the end-of-day checks run). It is cut into blocks of ``EPISODE_HOURS``
hours in which episodes happen, each followed by an *ordinary* hour in which none does (drift
aside: it can only alert at the end of the day), so the alert rate of ordinary hours is the
budget an operator faces on an ordinary day. A station carries at most one episode a day.

Stations send every ``interval_s`` (real stations: 300 s, the default; the live demo uses
5 s); the groundwater wells keep their registry interval (hourly). Episode lengths are in
samples, so they scale with the interval.

:func:`score` matches raised alerts to episodes (same station, opened within
``[start - grace, end + grace]``) and reports per alert family: precision, recall, time to
alert, alerts per true incident, cross-family alerts, alerts per hour.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import numpy.typing as npt

from analytics.air_quality import TO_UG_M3
from analytics.aqi import NOWCAST_HOURS, hourly_aqi
from analytics.cameras.config import CamerasConfig
from analytics.config import AnalyticsConfig, RuleConfig
from analytics.limits import applies
from ioc.registry import Station, StationRegistry, normalize_unit, read_registry_document
from simulators.models import StationModel

REGISTRY_PATH = Path(__file__).resolve().parent.parent / "config" / "stations.yaml"
LOCAL_TZ = timezone(timedelta(hours=7), "ICT")
HOUR_MS = 3_600_000
EPISODE_HOURS = 3  # then one ordinary hour
NEIGHBOUR_KM = 12.0  # pollution reaches neighbours this close (the detector's radius: 15 km)
NEIGHBOUR_SHARE = (0.65, 0.55, 0.5)  # of the rise, at the nearest, second, third neighbour
STACK_DUST_LIMIT = 200.0  # QCVN 19:2009 column B, mg/Nm³ (analytics rule stack_dust)
AQI_POLLUTANTS = ("pm25", "pm10", "so2", "co", "no2", "o3")
#: episode families that distort the measurement, not the world
MEASUREMENT_ERRORS = frozenset({"sensor_fault", "flatline", "drift"})

#: episode family → the alert family that should detect it
TARGET = {
    "pollution_event": "pollution_event",
    "sensor_fault": "sensor_fault",
    "flatline": "flatline",
    "drift": "drift",
    "offline": "offline",
    "stack_exceedance": "limit",
}
#: derived (not scripted) episode family → the alert family that should detect it
DERIVED = {"limit_exceedance": "limit"}
#: camera episode family (the scene's own truth, :class:`CameraClip`) → its alert family
CAMERA_TARGET = {"smoke": "smoke", "congestion": "congestion", "stopped_vehicle": "stopped_vehicle"}
#: the fleet simulator's violation (:mod:`simulators.vehicle_day`) → its alert family
VEHICLE_TARGET = {
    "speeding": "speeding",
    "continuous_driving": "continuous_driving",
    "daily_driving": "daily_driving",
    "gap_moving": "lost_signal",
    "gap_stopped": "lost_signal",
    "zone_intrusion": "zone_intrusion",
    "zone_crossing": "zone_intrusion",
}
#: journey rule → alert family; the other journey rules are ``journey_other``
JOURNEY_FAMILIES = {
    "journey.speeding": "speeding",
    "journey.continuous_driving": "continuous_driving",
    "journey.daily_driving": "daily_driving",
    "journey.signal_lost": "lost_signal",
    "journey.silent": "vehicle_silent",
    "journey.zone_forbidden": "zone_intrusion",
}
#: camera rule → alert family; the camera's other rules (offline, frozen, dark ...) are
#: ``camera_health``
CAMERA_FAMILIES = {
    "camera.smoke": "smoke",
    "traffic.congestion": "congestion",
    "traffic.stopped_vehicle": "stopped_vehicle",
}
#: episode family → other alert families that are right about it too (not cross-family):
#: a real PM2.5 rise may also make the hourly VN_AQI bad (limit rule aqi_bad) or an unusual
#: hour of day; a single absurd value on a station without neighbours is a plain spike.
ALSO_RIGHT: dict[str, frozenset[str]] = {
    "pollution_event": frozenset({"limit", "seasonal"}),
    "sensor_fault": frozenset({"spike"}),
    # a real gap was first a vehicle silent now (the live information alert of its incident)
    "gap_moving": frozenset({"vehicle_silent"}),
    "gap_stopped": frozenset({"vehicle_silent"}),
}
#: episodes per family on a full day (fewer when the registry runs out of stations)
DEFAULT_EPISODES = {
    "pollution_event": 6,
    "sensor_fault": 8,
    "flatline": 5,
    "drift": 3,
    "offline": 5,
    "stack_exceedance": 4,
}
ALERT_FAMILIES = (
    "limit",
    "pollution_event",
    "sensor_fault",
    "spike",
    "flatline",
    "drift",
    "offline",
    "no_data",
    "seasonal",
    "out_of_range",
    "smoke",
    "congestion",
    "stopped_vehicle",
    "camera_health",
    "speeding",
    "continuous_driving",
    "daily_driving",
    "lost_signal",
    "vehicle_silent",
    "zone_intrusion",
    "journey_other",
)


def alert_family(rule_id: str) -> str:
    """``anomaly.<kind>`` → ``<kind>``; a camera's rules → :data:`CAMERA_FAMILIES` or
    ``camera_health``, a vehicle's → :data:`JOURNEY_FAMILIES` or ``journey_other``; every
    other rule is a limit rule → ``limit``."""
    if rule_id.startswith("anomaly."):
        return rule_id.removeprefix("anomaly.")
    if rule_id in CAMERA_FAMILIES:
        return CAMERA_FAMILIES[rule_id]
    if rule_id.startswith("journey."):
        return JOURNEY_FAMILIES.get(rule_id, "journey_other")
    return "camera_health" if rule_id.startswith(("camera.", "traffic.")) else "limit"


@dataclass(frozen=True, slots=True)
class Episode:
    """Ground truth: ``family`` at ``station`` (and partly at ``also``) on ``parameter``
    during ``[start_ms, end_ms]`` (event time, UTC epoch ms, inclusive)."""

    family: str
    station: str
    parameter: str
    start_ms: int
    end_ms: int
    also: tuple[str, ...] = ()
    factor: float = 1.0
    samples: tuple[int, ...] = ()  # sensor_fault: the faulty sample times (ms)

    @property
    def stations(self) -> tuple[str, ...]:
        return (self.station, *self.also)

    def covers(self, ts_ms: int, grace_ms: int) -> bool:
        return self.start_ms - grace_ms <= ts_ms <= self.end_ms + grace_ms


@dataclass(frozen=True, slots=True)
class CameraClip:
    """A stretch of a demo camera's day that is rendered (:mod:`simulators.cameras`) and
    analysed frame by frame (:mod:`simulators.camera_clips`): ``seconds`` from ``start_ms``.
    Traffic: the outbound lanes slow down at ``jam_at_s`` and then jam for ``jam_s``, a car
    stands on the shoulder, in the no-stopping zone, for ``stop_s`` from about ``stop_at_s``;
    at night by the local hour. Forest: a plume rises from ``smoke_at_s`` (None: none)."""

    camera: str
    kind: str
    start_ms: int
    seconds: float
    seed: int
    night: bool = False
    jam_at_s: float | None = None
    jam_s: float = 0.0
    stop_at_s: float | None = None
    stop_s: float = 0.0
    smoke_at_s: float | None = None

    @property
    def end_ms(self) -> int:
        return self.start_ms + round(self.seconds * 1000)


@dataclass(frozen=True, slots=True)
class ScenarioConfig:
    seed: int = 2026
    interval_s: int = 300
    day: str = "2026-03-10"  # local date of the scored day (dry season)
    warmup_hours: int = 24
    blocks: int = 6  # × (EPISODE_HOURS + 1 ordinary hour) = the scored hours
    tail_hours: int = 1
    max_per_kind: int | None = None  # None: the whole registry
    pm_scale: float = 0.5  # as the simulator's default
    overdrawn_wells: int = 2  # wells pumping over their licence on the scored day
    camera_clips: int = 2  # per demo camera: by turns with incidents and with near misses
    traffic_clip_s: float = 180.0
    forest_clip_s: float = 360.0
    cameras: tuple[str, ...] | None = None  # demo cameras with clips (None: every one)
    vehicles: int = 60  # the demo fleet's day over the scored hours (0: none)
    episodes: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_EPISODES))


class Scenario:
    """The registry, the value models and the ground truth of one scripted day."""

    def __init__(self, config: ScenarioConfig | None = None) -> None:
        self.config = c = config or ScenarioConfig()
        self.registry = _registry(c.interval_s, c.max_per_kind)
        self.step_ms = c.interval_s * 1000
        midnight = datetime.fromisoformat(c.day).replace(tzinfo=LOCAL_TZ)
        self.start_ms = int(midnight.timestamp() * 1000)
        self.end_ms = self.start_ms + c.blocks * (EPISODE_HOURS + 1) * HOUR_MS
        self.first_ms = self.start_ms - c.warmup_hours * HOUR_MS
        self.last_ms = self.end_ms + c.tail_hours * HOUR_MS
        self.ordinary = [
            (self.start_ms + (b * (EPISODE_HOURS + 1) + EPISODE_HOURS) * HOUR_MS,
             self.start_ms + (b + 1) * (EPISODE_HOURS + 1) * HOUR_MS)
            for b in range(c.blocks)
        ]  # fmt: skip
        model_rng = random.Random(c.seed)
        self._models = {
            s.id: StationModel(
                s.kind,
                model_rng,
                midnight.month,
                c.pm_scale,
                s.parameters,
                s.licence.permitted_m3_day if s.licence else None,
                s.licence.max_level_m if s.licence else None,
            )
            for s in self.registry
        }
        self._rng = random.Random(c.seed + 1)
        self.episodes: list[Episode] = []
        self._stuck: dict[Episode, float] = {}  # a stuck sensor's value
        self._by_station: dict[str, Episode] = {}
        self._schedule()
        self.overdrawn = self._overdraw(random.Random(c.seed + 2))
        self.camera_clips = self._camera_clips(random.Random(c.seed + 3))
        # the true values, as the replay sends them (measurement errors left out)
        self._true: dict[str, list[tuple[int, dict[str, float]]]] = {}
        self._wells: dict[str, list[tuple[int, float, float]]] = {}  # ts, pumped m³, level

    def _overdraw(self, rng: random.Random) -> dict[str, float]:
        """Wells (without another episode) pumping over their licence on the scored day:
        well id → its pumping factor."""
        wells = [
            s
            for s in self._free(list(self.registry))
            if s.kind == "groundwater" and s.licence and s.licence.permitted_m3_day
        ]
        # over-abstraction by running the pump up to about twice as hard: wells that use at
        # least 65 % of their permit on an ordinary day
        permit = {s.id: s.licence.permitted_m3_day or 0.0 for s in wells if s.licence}
        busy = [s for s in wells if self._models[s.id].nominal_m3_day >= 0.65 * permit[s.id]]
        wells = busy or wells
        chosen = rng.sample(wells, min(self.config.overdrawn_wells, len(wells)))
        return {
            s.id: s.licence.permitted_m3_day  # type: ignore[union-attr,operator]
            * rng.uniform(1.15, 1.4)
            / self._models[s.id].nominal_m3_day
            for s in sorted(chosen, key=lambda s: s.id)
        }

    def _camera_clips(self, rng: random.Random) -> list[CameraClip]:
        """``camera_clips`` clips of each demo traffic and forest camera, each in its own
        episode block (the 15 min grace apart), a quarter hour clear of the ordinary hours;
        forest watches by day where the day allows. By turns: an incident clip (a jam of
        40-60 s, a stop of 20-45 s; a plume) and a near-miss one (a slowdown with a jam of
        3-8 s, a stop of 3-7 s; drifting clouds only)."""
        c = self.config
        clips: list[CameraClip] = []
        quarter = 900_000
        for camera in CamerasConfig().cameras:
            if camera.kind not in ("traffic", "forest"):
                continue
            if c.cameras is not None and camera.id not in c.cameras:
                continue
            seconds = c.traffic_clip_s if camera.kind == "traffic" else c.forest_clip_s
            blocks = list(range(c.blocks))
            if camera.kind == "forest":
                by_day = [b for b in blocks if 6 <= _local_hour(self._block_ms(b)) <= 16]
                blocks = by_day or blocks
            chosen = sorted(rng.sample(blocks, min(c.camera_clips, len(blocks))))
            for k, block in enumerate(chosen):
                lo = self._block_ms(block) + quarter
                hi = lo + EPISODE_HOURS * HOUR_MS - 2 * quarter - round(seconds * 1000)
                start = lo + rng.randrange(max(1, (hi - lo) // 1000)) * 1000
                incident, seed = k % 2 == 0, rng.randrange(1 << 30)
                if camera.kind == "forest":
                    smoke = rng.uniform(30.0, seconds - 90.0) if incident else None
                    clips.append(CameraClip(camera.id, "forest", start, seconds, seed,
                                            smoke_at_s=smoke))  # fmt: skip
                    continue
                jam_s = rng.uniform(40.0, 60.0) if incident else rng.uniform(3.0, 8.0)
                stop_s = rng.uniform(20.0, 45.0) if incident else rng.uniform(3.0, 7.0)
                clips.append(
                    CameraClip(
                        camera.id, "traffic", start, seconds, seed,
                        night=not 6 <= _local_hour(start) < 18,
                        jam_at_s=rng.uniform(20.0, max(20.0, seconds - jam_s - 50.0)),
                        jam_s=jam_s,
                        stop_at_s=rng.uniform(10.0, max(10.0, seconds - stop_s - 30.0)),
                        stop_s=stop_s,
                    )
                )  # fmt: skip
        return sorted(clips, key=lambda clip: (clip.start_ms, clip.camera))

    def _block_ms(self, block: int) -> int:
        return self.start_ms + block * (EPISODE_HOURS + 1) * HOUR_MS

    # ------------------------------------------------------------------ schedule

    def _schedule(self) -> None:
        c, rng = self.config, self._rng
        stations = list(self.registry)
        air = [s for s in stations if s.kind == "air"]
        for family in TARGET:
            for _ in range(c.episodes.get(family, 0)):
                episode = self._episode(family, stations, air, rng)
                if episode is None:
                    break  # no free station left for this family
                self.episodes.append(episode)
                for station in episode.stations:
                    self._by_station[station] = episode
        self.episodes.sort(key=lambda e: (e.start_ms, e.station))

    def _free(self, candidates: Sequence[Station]) -> list[Station]:
        return [s for s in candidates if s.id not in self._by_station]

    def _window(self, samples: int, rng: random.Random) -> tuple[int, int]:
        """A start and end ``samples`` intervals apart inside a random block, a quarter hour
        (or two intervals) clear of the ordinary hours."""
        margin = max(900_000, 2 * self.step_ms)
        length = samples * self.step_ms
        block = rng.randrange(self.config.blocks)
        first = self.start_ms + block * (EPISODE_HOURS + 1) * HOUR_MS + margin
        last = first + EPISODE_HOURS * HOUR_MS - 2 * margin - length
        start = first + rng.randrange(max(1, (last - first) // self.step_ms + 1)) * self.step_ms
        return start, start + length

    def _episode(
        self, family: str, stations: list[Station], air: list[Station], rng: random.Random
    ) -> Episode | None:
        free_air = self._free(air)
        if family == "pollution_event":
            for station in rng.sample(free_air, len(free_air)):
                near = sorted(
                    (_km(station, other), other.id)
                    for other in free_air
                    if other.id != station.id and _km(station, other) <= NEIGHBOUR_KM
                )[:3]
                if near:
                    start, end = self._window(rng.randint(12, 24), rng)
                    also = tuple(i for _, i in near)
                    return Episode(family, station.id, "pm25", start, end, also,
                                   rng.uniform(3.0, 5.0))  # fmt: skip
            return None
        if family == "sensor_fault":
            if not free_air:
                return None
            station = rng.choice(free_air)
            start, end = self._window(rng.randint(0, 4), rng)
            count = min(rng.randint(1, 3), (end - start) // self.step_ms + 1)
            steps = sorted(rng.sample(range((end - start) // self.step_ms + 1), count))
            times = tuple(start + k * self.step_ms for k in steps)
            return Episode(family, station.id, "pm25", times[0], times[-1],
                           factor=rng.uniform(8.0, 14.0), samples=times)  # fmt: skip
        if family == "flatline":
            candidates = free_air + self._free([s for s in stations if s.kind == "weather"])
            if not candidates:
                return None
            station = rng.choice(candidates)
            parameter = rng.choice(["pm25", "no2", "co"] if station.kind == "air" else ["temp"])
            start, end = self._window(rng.randint(16, 24), rng)
            return Episode(family, station.id, parameter, start, end)
        if family == "drift":
            if not free_air:
                return None
            station = rng.choice(free_air)
            block = rng.randrange(max(1, self.config.blocks // 2))
            start = self.start_ms + block * (EPISODE_HOURS + 1) * HOUR_MS
            return Episode(family, station.id, rng.choice(["pm25", "no2", "so2"]), start,
                           self.end_ms, factor=rng.uniform(1.8, 2.5))  # fmt: skip
        if family == "offline":
            candidates = self._free([s for s in stations if s.interval_s == self.config.interval_s])
            if not candidates:
                return None
            station = rng.choice(candidates)
            start, end = self._window(rng.randint(6, 18), rng)
            return Episode(family, station.id, "", start, end)
        if family == "stack_exceedance":
            candidates = self._free([s for s in stations if s.kind == "stack"])
            if not candidates:
                return None
            station = rng.choice(candidates)
            start, end = self._window(rng.randint(1, 5), rng)
            return Episode(family, station.id, "dust", start, end, factor=rng.uniform(3.5, 5.0))
        raise ValueError(f"unknown episode family {family!r}")

    # ------------------------------------------------------------------ readings

    def steps(self) -> Iterator[tuple[int, list[tuple[str, dict[str, float]]]]]:
        """``(ts_ms, [(station id, values)])`` every interval from the warm-up's start to the
        tail's end: the stations due then (wells at their own interval), episodes applied."""
        stations = list(self.registry)
        intervals = {s.id: int(s.interval_s * 1000) for s in stations}
        for ts in range(self.first_ms, self.last_ms, self.step_ms):
            due = []
            for station in stations:
                sid = station.id
                if (ts - self.first_ms) % intervals[sid]:
                    continue
                model = self._models[sid]
                if sid in self.overdrawn:
                    scored = self.start_ms < ts <= self.end_ms
                    model.pumping_factor = self.overdrawn[sid] if scored else 1.0
                values = model.values(ts / 1000)
                true = dict(values)
                episode = self._by_station.get(sid)
                if episode is not None and self._apply(episode, sid, ts, values):
                    continue  # offline: nothing sent
                if episode is None or episode.family not in MEASUREMENT_ERRORS:
                    true = values
                self._true.setdefault(sid, []).append((ts, true))
                if station.kind == "groundwater" and "level" in true:
                    well = (ts, model.pumped_m3, true["level"])
                    self._wells.setdefault(sid, []).append(well)
                due.append((sid, values))
            yield ts, due

    def _apply(self, e: Episode, station: str, ts: int, values: dict[str, float]) -> bool:
        """Change ``values`` as the episode does at ``ts``; True if nothing is sent."""
        family = e.family
        if family == "drift":
            if ts >= e.start_ms and e.parameter in values:
                share = min(1.0, (ts - e.start_ms) / max(1, e.end_ms - e.start_ms))
                values[e.parameter] = round(values[e.parameter] * (1 + (e.factor - 1) * share), 2)
            return False
        if family == "flatline":
            if e.start_ms <= ts <= e.end_ms and e.parameter in values:
                stuck = self._stuck.setdefault(e, values[e.parameter])
                values[e.parameter] = stuck
            return False
        if not e.covers(ts, 0):
            return False
        if family == "offline":
            return True
        if family == "sensor_fault":
            if ts in e.samples:
                values["pm25"] = round(min(990.0, values["pm25"] * e.factor), 2)
            return False
        if family == "stack_exceedance":
            floor = STACK_DUST_LIMIT * (1.2 + 0.3 * self._rng.random())
            values["dust"] = round(max(values["dust"] * e.factor, floor), 2)
            return False
        # pollution_event: ramp over three samples, neighbours partly and a sample later
        ramp = 3 * self.step_ms
        lag = 0 if station == e.station else self.step_ms
        rise = min(1.0, (ts - e.start_ms - lag) / ramp + 1 / 3, (e.end_ms - ts) / ramp + 1 / 3)
        share = 1.0 if station == e.station else NEIGHBOUR_SHARE[e.also.index(station)]
        factor = 1.0 + (e.factor - 1.0) * share * max(0.0, rise)
        for parameter in ("pm25", "pm10"):
            if parameter in values:
                values[parameter] = round(values[parameter] * factor, 2)
        return False

    # ------------------------------------------------------------------ derived truth

    def limit_episodes(self, rules: Sequence[RuleConfig] | None = None) -> list[Episode]:
        """The ``limit_exceedance`` episodes of the values :meth:`steps` sent (call it after
        them), by each limit rule's own definition (``rules``: the shipped defaults, as the
        replay runs) on the true values (:data:`MEASUREMENT_ERRORS` left out):

        * an instant rule: each run of samples past its first level, until back to its clear
          value (a range: outside it);
        * a mean window (1/8/24 h, QCVN): each run of closed hours whose mean of the hourly
          means of the complete hours of the window (with ``min_coverage`` of them) is past
          it, each from the end of its last hour, when the mean exists;
        * the hourly VN_AQI (``aqi``: NowCast of the PM hourly means, 1 h means of the gases)
          of each closed hour, likewise;
        * a well's first reading of the day over its permitted daily volume, each run of its
          level deeper than its licence.

        Not derived: windows of the largest value and the daily fire danger (no shipped rule
        of the first kind; the scripted days reach no fire danger level IV), and a stack's
        exceedance where it is scripted (the ``stack_exceedance`` episode is that incident).
        Only episodes starting in the scored day (one already on from the warm-up would have
        alerted then)."""
        found: list[Episode] = []
        rules = AnalyticsConfig().rules if rules is None else rules
        scripted = {
            (e.station, e.parameter)
            for e in self.episodes
            if TARGET[e.family] == DERIVED["limit_exceedance"]
        }
        for station in self.registry:
            readings = self._true.get(station.id, [])
            if station.kind == "groundwater" or not readings:
                continue
            hourly = _hourly_means(readings)
            for rule in rules:
                if rule.above_licence is not None or not applies(rule, station):
                    continue
                if (station.id, rule.parameter) in scripted:
                    continue
                if rule.parameter == "aqi":
                    found += _runs(station.id, "aqi", _aqi_flags(rule, station, hourly), HOUR_MS)
                elif rule.parameter not in station.parameters:
                    continue
                elif rule.window == "instant":
                    series = [(ts, v[rule.parameter]) for ts, v in readings if rule.parameter in v]
                    found += _runs(station.id, rule.parameter, _past(rule, series), self.step_ms)
                elif rule.aggregate == "mean":
                    flags = _mean_flags(rule, hourly.get(rule.parameter, {}))
                    found += _runs(station.id, rule.parameter, flags, HOUR_MS)
        stations = {s.id: s for s in self.registry}
        for sid, well in self._wells.items():
            licence = stations[sid].licence
            if licence is None:
                continue
            if licence.permitted_m3_day is not None:
                found += _over_day_volume(sid, well, licence.permitted_m3_day)
            if licence.max_level_m is not None:
                deep = [(ts, level > licence.max_level_m) for ts, _, level in well]
                found += _runs(sid, "level", deep, 0)
        return sorted(
            (e for e in found if self.start_ms <= e.start_ms <= self.end_ms),
            key=lambda e: (e.start_ms, e.station),
        )

    @property
    def readings_count(self) -> int:
        return sum(len(due) for _, due in self.steps())


def _registry(interval_s: int, max_per_kind: int | None) -> StationRegistry:
    """The demo registry; stations reporting every 300 s report every ``interval_s``."""
    document = read_registry_document(REGISTRY_PATH)
    kept, seen = [], dict[str, int]()
    for entry in document["stations"]:
        kind = entry["kind"]
        seen[kind] = seen.get(kind, 0) + 1
        if max_per_kind is not None and seen[kind] > max_per_kind:
            continue
        if entry.get("interval_s") == 300:
            entry = {**entry, "interval_s": interval_s}
        kept.append(entry)
    return StationRegistry.from_document({**document, "stations": kept}, "scenario")


def _hourly_means(
    readings: list[tuple[int, dict[str, float]]],
) -> dict[str, dict[int, float]]:
    """parameter → {UTC hour: mean of its values in that hour}."""
    sums: dict[str, dict[int, list[float]]] = {}
    for ts, values in readings:
        for parameter, value in values.items():
            sums.setdefault(parameter, {}).setdefault(ts // HOUR_MS, []).append(value)
    return {p: {h: sum(v) / len(v) for h, v in by_hour.items()} for p, by_hour in sums.items()}


def _past(rule: RuleConfig, series: list[tuple[int, float]]) -> list[tuple[int, bool]]:
    """Whether the rule's first level holds at each (time, value): past its value, and still
    until back to its clear value; a range: outside it."""
    flags: list[tuple[int, bool]] = []
    on = False
    level = rule.levels[0]
    sign = -1.0 if rule.direction == "below" else 1.0
    for ts, value in series:
        if rule.is_range:
            assert rule.above is not None and rule.below is not None
            on = not rule.below <= value <= rule.above
        else:
            x = sign * value
            on = x > sign * level.value or (on and x > sign * level.clear)
        flags.append((ts, on))
    return flags


def _mean_flags(rule: RuleConfig, means: dict[int, float]) -> list[tuple[int, bool]]:
    """The rule on the mean of the complete hours of its window, at the end of each hour."""
    if not means:
        return []
    hours = rule.hours
    series = []
    for hour in range(min(means), max(means) + 1):
        window = [means[h] for h in range(hour - hours + 1, hour + 1) if h in means]
        if len(window) >= rule.min_coverage * hours - 1e-9:
            series.append(((hour + 1) * HOUR_MS, sum(window) / len(window)))
    return _past(rule, series)


def _aqi_flags(
    rule: RuleConfig, station: Station, hourly: dict[str, dict[int, float]]
) -> list[tuple[int, bool]]:
    """The rule on the hourly VN_AQI of each hour with a PM value, at the hour's end."""
    pm_hours = set(hourly.get("pm25", {})) | set(hourly.get("pm10", {}))
    if not pm_hours:
        return []
    hours = np.arange(min(pm_hours), max(pm_hours) + 1)
    values: dict[str, npt.NDArray[np.float64]] = {}
    for pollutant in AQI_POLLUTANTS:
        spec = station.parameters.get(pollutant)
        if spec is None or pollutant not in hourly:
            continue
        factor = TO_UG_M3.get(normalize_unit(spec.unit), math.nan)
        means = hourly[pollutant]
        pm = pollutant in ("pm25", "pm10")  # the NowCast's 12 hours, latest first
        back = hours[:, None] - np.arange(NOWCAST_HOURS) if pm else hours
        lookup = np.array([means.get(int(h), math.nan) for h in back.ravel()])
        values[pollutant] = lookup.reshape(back.shape) * factor
    aqi = hourly_aqi(values)
    series = [((int(h) + 1) * HOUR_MS, float(a)) for h, a in zip(hours, aqi, strict=True)]
    return _past(rule, [(ts, a) for ts, a in series if math.isfinite(a)])


def _runs(sid: str, parameter: str, flags: list[tuple[int, bool]], span_ms: int) -> list[Episode]:
    """An episode for each run of True (times in order; each flag covers ``span_ms``)."""
    out: list[Episode] = []
    start: int | None = None
    last = 0
    for ts, over in flags:
        if over and start is None:
            start = ts
        if not over and start is not None:
            out.append(Episode("limit_exceedance", sid, parameter, start, last + span_ms))
            start = None
        last = ts
    if start is not None:
        out.append(Episode("limit_exceedance", sid, parameter, start, last + span_ms))
    return out


def _over_day_volume(
    sid: str, readings: list[tuple[int, float, float]], permitted: float
) -> list[Episode]:
    """The first reading of each local day whose abstraction so far is over the permit (the
    volume of an interval counts for the day of its later reading)."""
    out: list[Episode] = []
    day, total, previous, flagged = None, 0.0, None, False
    for ts, pumped, _ in readings:
        today = (ts + 7 * HOUR_MS) // (24 * HOUR_MS)
        if today != day:
            day, total, flagged = today, 0.0, False
        if previous is not None:
            total += pumped - previous[1]
        if total > permitted and not flagged:
            flagged = True
            start = ts if previous is None else previous[0]
            out.append(Episode("limit_exceedance", sid, "volume_day", start, ts))
        previous = (ts, pumped)
    return out


def _local_hour(ts_ms: int) -> int:
    return (ts_ms // HOUR_MS + 7) % 24


def _km(a: Station, b: Station) -> float:
    """Great-circle distance (haversine), km."""
    la1, lo1, la2, lo2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((la2 - la1) / 2) ** 2
        + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


# ---------------------------------------------------------------------- scoring


@dataclass(frozen=True, slots=True)
class RaisedAlert:
    """An alert as the wall showed it: opened (or reopened) by ``rule_id`` at ``station``."""

    rule_id: str
    station: str
    opened_ms: int
    parameter: str = ""  # the parameter the alert names ("" for a station-wide one)
    incident: str = ""  # its incident in the alert book ("": an incident of its own)

    @property
    def family(self) -> str:
        return alert_family(self.rule_id)


@dataclass(slots=True)
class FamilyScore:
    """One alert family against the episodes it should detect (:data:`TARGET`)."""

    family: str
    episodes: int = 0
    detected: int = 0
    alerts: int = 0
    true_positives: int = 0  # alerts matched to an episode they are right about
    cross_alerts: int = 0  # alerts matched only to episodes of another family
    false_positives: int = 0  # alerts matched to no episode
    cross_episodes: int = 0  # its episodes that also got a wrong family's alert
    incident_alerts: int = 0  # alerts of any family on its detected episodes
    incident_records: int = 0  # incidents (alerts.incidents) those alerts make, summed
    ordinary_alerts: int = 0  # alerts opened in ordinary hours
    time_to_alert_s: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_positives / self.alerts if self.alerts else math.nan

    @property
    def recall(self) -> float:
        return self.detected / self.episodes if self.episodes else math.nan

    @property
    def alerts_per_incident(self) -> float:
        return self.incident_alerts / self.detected if self.detected else math.nan

    @property
    def incidents_per_episode(self) -> float:
        """Incidents the operator sees per detected episode (goal 1): related alerts of one
        episode (a warning and its violation, a fault reclassified as an event) are one."""
        return self.incident_records / self.detected if self.detected else math.nan

    @property
    def median_time_to_alert_s(self) -> float:
        return statistics.median(self.time_to_alert_s) if self.time_to_alert_s else math.nan

    @property
    def max_time_to_alert_s(self) -> float:
        return max(self.time_to_alert_s) if self.time_to_alert_s else math.nan


@dataclass(slots=True)
class Score:
    families: dict[str, FamilyScore]
    hours: float
    ordinary_hours: float
    alerts: int
    ordinary_alerts: int
    warmup_alerts: int  # opened before the scored day (not scored)
    matches: list[tuple[RaisedAlert, Episode | None]]

    @property
    def alerts_per_hour(self) -> float:
        return self.alerts / self.hours if self.hours else math.nan

    @property
    def ordinary_alerts_per_hour(self) -> float:
        return self.ordinary_alerts / self.ordinary_hours if self.ordinary_hours else math.nan

    def figures(self) -> dict[str, float]:
        """Flat ``{figure: value}`` (NaN where a ratio has no denominator)."""
        out: dict[str, float] = {
            "alerts_total": float(self.alerts),
            "alerts_per_hour": self.alerts_per_hour,
            "alerts_per_hour_ordinary": self.ordinary_alerts_per_hour,
            "false_positive_alerts": float(sum(f.false_positives for f in self.families.values())),
            "cross_family_alerts": float(sum(f.cross_alerts for f in self.families.values())),
            "cross_family_episodes": float(sum(f.cross_episodes for f in self.families.values())),
            "episodes_total": float(sum(f.episodes for f in self.families.values())),
            "episodes_detected": float(sum(f.detected for f in self.families.values())),
        }
        for name, f in self.families.items():
            out |= {
                f"{name}_episodes": float(f.episodes),
                f"{name}_alerts": float(f.alerts),
                f"{name}_true_positives": float(f.true_positives),
                f"{name}_precision": f.precision,
                f"{name}_recall": f.recall,
                f"{name}_time_to_alert_median_s": f.median_time_to_alert_s,
                f"{name}_time_to_alert_max_s": f.max_time_to_alert_s,
                f"{name}_alerts_per_incident": f.alerts_per_incident,
                f"{name}_incidents_per_episode": f.incidents_per_episode,
                f"{name}_cross_family_alerts": float(f.cross_alerts),
            }
        return out

    def table(self) -> str:
        """A readable table, one row per alert family."""

        def n(value: float, digits: int = 2) -> str:
            return "–" if math.isnan(value) else f"{value:.{digits}f}"

        head = (
            f"{'family':<16}{'episodes':>9}{'found':>6}{'recall':>7}{'alerts':>7}{'TP':>5}"
            f"{'cross':>6}{'FP':>5}{'precis.':>8}{'tta med s':>10}{'tta max s':>10}"
            f"{'alerts/inc':>11}{'inc/ep':>7}{'wrong-fam ep':>13}{'ordinary':>9}"
        )
        rows = [head, "-" * len(head)]
        for name, f in self.families.items():
            rows.append(
                f"{name:<16}{f.episodes:>9}{f.detected:>6}{n(f.recall):>7}{f.alerts:>7}"
                f"{f.true_positives:>5}{f.cross_alerts:>6}{f.false_positives:>5}"
                f"{n(f.precision):>8}{n(f.median_time_to_alert_s, 0):>10}"
                f"{n(f.max_time_to_alert_s, 0):>10}{n(f.alerts_per_incident):>11}"
                f"{n(f.incidents_per_episode):>7}"
                f"{f.cross_episodes:>13}{f.ordinary_alerts:>9}"
            )
        rows.append(
            f"alerts {self.alerts} in {self.hours:.0f} h = {self.alerts_per_hour:.1f}/h; "
            f"ordinary hours {self.ordinary_alerts} in {self.ordinary_hours:.0f} h = "
            f"{self.ordinary_alerts_per_hour:.1f}/h; warm-up alerts (not scored) "
            f"{self.warmup_alerts}"
        )
        return "\n".join(rows)


def score(
    episodes: Sequence[Episode],
    alerts: Sequence[RaisedAlert],
    start_ms: int,
    end_ms: int,
    ordinary: Sequence[tuple[int, int]] = (),
    grace_s: float = 900.0,
) -> Score:
    """Match ``alerts`` opened in ``[start_ms, end_ms + grace]`` to ``episodes`` and score
    each alert family. An alert matches an episode when it is at one of the episode's stations
    and opened within ``[start - grace, end + grace]``; an episode it is right about
    (:data:`TARGET`, :data:`ALSO_RIGHT`; a derived limit exceedance only by an alert on its
    parameter) is preferred, first one its family is the target of; then the earliest."""
    grace_ms = int(grace_s * 1000)
    names = list(ALERT_FAMILIES) + sorted(
        {alert_family(a.rule_id) for a in alerts} - set(ALERT_FAMILIES)
    )
    families = {name: FamilyScore(name) for name in names}
    by_station: dict[str, list[Episode]] = {}
    for e in sorted(episodes, key=lambda e: e.start_ms):
        families[_target(e.family)].episodes += 1
        for station in e.stations:
            by_station.setdefault(station, []).append(e)
    scored = [a for a in alerts if start_ms <= a.opened_ms <= end_ms + grace_ms]
    warmup = sum(a.opened_ms < start_ms for a in alerts)
    matches: list[tuple[RaisedAlert, Episode | None]] = []
    hits: dict[Episode, list[RaisedAlert]] = {}
    for a in sorted(scored, key=lambda a: a.opened_ms):
        f = families[a.family]
        f.alerts += 1
        if any(lo <= a.opened_ms < hi for lo, hi in ordinary):
            f.ordinary_alerts += 1
        candidates = [e for e in by_station.get(a.station, []) if e.covers(a.opened_ms, grace_ms)]
        right = [e for e in candidates if _right(e, a.family, a.parameter)]
        # the episode the alert's own family detects is preferred (a 24 h PM2.5 alert during
        # a pollution event is about the 24 h mean's exceedance)
        right.sort(key=lambda e: _target(e.family) != a.family)
        match = (right or candidates)[0] if candidates else None
        matches.append((a, match))
        if match is None:
            f.false_positives += 1
            continue
        hits.setdefault(match, []).append(a)
        if right:
            f.true_positives += 1
        else:
            f.cross_alerts += 1
    for e in episodes:
        f = families[_target(e.family)]
        got = hits.get(e, [])
        found = [a for a in got if a.family == f.family]
        if found:
            f.detected += 1
            f.incident_alerts += len(got)
            f.incident_records += len({a.incident or f"alert-{id(a)}" for a in got})
            f.time_to_alert_s.append(max(0.0, (found[0].opened_ms - e.start_ms) / 1000))
        if any(not _right(e, a.family, a.parameter) for a in got):
            f.cross_episodes += 1
    hours = (end_ms - start_ms) / HOUR_MS
    ordinary_hours = sum(hi - lo for lo, hi in ordinary) / HOUR_MS
    return Score(
        families=families,
        hours=hours,
        ordinary_hours=ordinary_hours,
        alerts=len(scored),
        ordinary_alerts=sum(f.ordinary_alerts for f in families.values()),
        warmup_alerts=warmup,
        matches=matches,
    )


def _target(family: str) -> str:
    return (
        TARGET.get(family)
        or DERIVED.get(family)
        or CAMERA_TARGET.get(family)
        or VEHICLE_TARGET[family]
    )


def _right(e: Episode, family: str, parameter: str | None = None) -> bool:
    """Whether an alert of ``family`` (on ``parameter``; None: any) is right about ``e``. A
    derived limit exceedance is only about alerts on its own parameter."""
    if e.family in DERIVED and parameter is not None and parameter != e.parameter:
        return False
    return family == _target(e.family) or family in ALSO_RIGHT.get(e.family, frozenset())
