"""Alert quality as a measured number (issue #14): precision, recall, time to alert, alerts
per true incident and alerts per hour of each alert family, on a scripted simulated day of
the demo province with ground truth (simulators/scenario.py).

The day (the registry of config/stations.yaml, 5-minute data, 24 h of warm-up, 24 scored
hours from local midnight in blocks of three hours with episodes and one ordinary hour, one
hour of tail) is replayed in event time through the real in-process data path, as
tests/benchmarks/bench_pipeline.py builds it: ``Pipeline.process`` on raw MQTT messages
(decode, validation, spool without fsync, analytics engine, alert book in SQLite
``:memory:``, station board, wall broadcaster), the shipped default configuration (QCVN
rules, anomaly checks). After each step the engine's ``tick`` runs at the step's time
(offline and no-data checks, hour closing), and the alert book's clock is the simulated one.

The demo cameras are scored on the real image path, but not for the whole day: rendering and
analysing a frame costs 2-5 ms (traffic at 10 fps: a simulated hour would take ~90 s), so
each traffic and forest camera gets ``camera_clips`` scripted clips in the day's episode
blocks (3 min of traffic, 6 min of forest watch), by turns with an incident (a jam and a car
stopped in the no-stopping zone; a smoke plume) and with near misses (a slowdown with a few
seconds of jam, a stop of a few seconds; clouds only). Each frame is rendered by
:mod:`simulators.cameras`, sent as JPEG to a fresh ``CameraWorker`` (the camera after a
restart) and its firing transitions count as opened alerts; the truth is the scene's own
(:mod:`simulators.camera_clips`). The camera families' alerts per hour are per hour of clip.

The demo fleet (``vehicles``, 60) drives the scored day through the journey analytics
(:mod:`simulators.vehicle_day`): speeding, continuous and daily driving time, lost signal
(moving, stopped) and restricted zones (entered, crossed between two fixes) are scored
against the fleet simulator's ground truth; a driving-time warning before the violation is
a second alert of the same incident. The fleet's violations are scripted by the time of day
(09:00 on), not kept out of the ordinary hours: those hours' alert rate includes them.

Each alert *opened* (a reopening after a flap included: the wall shows it again) counts. An
alert is matched to a ground-truth episode at its station opened within ``[start − grace,
end + grace]`` (grace 15 min); per alert family (``limit`` = every QCVN / AQI / fire / water
rule, ``anomaly.<kind>`` = ``<kind>``):

* ``episodes``: ground-truth episodes this family should detect (pollution event →
  pollution_event, sensor fault spike → sensor_fault, stuck sensor → flatline, drift →
  drift, offline → offline, stack exceedance → limit; the cameras' jam → congestion, stop
  → stopped_vehicle, plume → smoke), and the limit exceedances derived from the simulated
  values after the replay by each limit rule's own definition (:meth:`Scenario.limit_episodes`:
  a QCVN mean of complete hours over its limit, a bad hourly VN_AQI, a wastewater value
  over its limit, a well over its licence → limit);
* ``recall``: share of those episodes with at least one alert of the family;
* ``precision``: alerts of the family matched to an episode they are right about, over all
  its alerts (right: the target family, or an AQI limit alert / seasonal alert on a pollution
  event, a plain spike on a sensor fault);
* ``time_to_alert``: first alert of the family − episode start (event time), median and max;
* ``alerts_per_incident``: alerts of any family on a detected episode, per episode (goal 1);
* ``cross_family_alerts``: alerts matched to an episode of another family (a pollution
  event alerted as sensor_fault, a stack exceedance that also raised a spike);
* ``alerts_per_hour`` over the scored day and over its ordinary hours (no episode; the
  operator's budget, goal ≤ 10 an hour for the 120-station province).

The goals (precision ≥ 0.9, recall ≥ 0.95 per family) are reported against, not asserted.
Deterministic for a seed; ~75,000 readings run in about ten seconds, the camera clips
(~11,000 frames) in about 30.

``python -m tests.benchmarks.bench_alert_quality [--alerts] [--seed N]``: ``--alerts`` also
lists every scored alert with the episode it matched; ``--seed`` another scripted day.
"""

from __future__ import annotations

import asyncio
import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from alerts.lifecycle import OPENED, AlertBook, Events
from analytics.engine import AnalyticsEngine
from ingest.rejections import RejectionSink
from ingest.validate import ReadingValidator
from ioc.config import IocConfig
from ioc.messages import RawMessage
from ioc.pipeline import Pipeline
from simulators.camera_clips import replay_clips
from simulators.runner import reading_payload
from simulators.scenario import (
    CAMERA_TARGET,
    TARGET,
    Episode,
    RaisedAlert,
    Scenario,
    ScenarioConfig,
    Score,
    score,
)
from simulators.vehicle_day import replay_fleet
from store.influx import InfluxStore
from web.broadcast import Broadcaster
from web.station_board import StationBoard

PREFIX = "ioc/v1"
CAMERA_FAMILY_NAMES = frozenset(CAMERA_TARGET.values()) | {"camera_health"}
GRACE_S = 900.0
RECEIVE_DELAY_MS = 50  # a message arrives this long after its timestamp
TICK_DELAY_MS = 1_000  # the engine's tick runs this long after each step's readings


async def _replay(scenario: Scenario, spool: Path) -> tuple[list[RaisedAlert], int]:
    """Every alert opened while replaying the scenario, and the readings processed."""
    config = IocConfig()
    clock = [scenario.first_ms]
    influx = config.influx.model_copy(update={"spool_dir": spool, "spool_fsync": False})
    rules = {rule.id: rule for rule in config.analytics.rules}
    raised: list[RaisedAlert] = []

    def opened(events: Events) -> None:
        raised.extend(
            RaisedAlert(a.rule_id, a.station_id, a.opened_ms, a.parameter, a.incident_id)
            for e, a in events
            if e == OPENED
        )

    registry = scenario.registry
    async with aiohttp.ClientSession() as session:
        store = InfluxStore(influx, session)
        alerts = AlertBook(rules, clock=lambda: clock[0])
        pipeline = Pipeline(
            registry=registry,
            rules=rules,
            validator=ReadingValidator(registry, config.ingest),
            store=store,
            rejections=RejectionSink(
                store, lambda t, p: None, f"{PREFIX}/rejected", 60, is_station=lambda s: True
            ),
            engine=AnalyticsEngine(config.analytics, registry),
            alerts=alerts,
            board=StationBoard(registry, 3),
            broadcaster=Broadcaster(100, 100, dict),
            batch_size=1000,
        )
        alerts.subscribe(pipeline.publish_alert_events)
        alerts.subscribe(opened)
        mid = 0
        try:
            for ts_ms, due in scenario.steps():
                clock[0] = ts_ms + RECEIVE_DELAY_MS
                batch = []
                for station, values in due:
                    mid += 1
                    topic = f"{PREFIX}/stations/{station}/readings"
                    body = reading_payload(ts_ms / 1000, values)
                    batch.append(RawMessage(topic, body, clock[0], mid=mid, qos=1))
                pipeline.process(batch)
                clock[0] = ts_ms + TICK_DELAY_MS
                pipeline.apply_analytics(pipeline.engine.tick(clock[0]))
        finally:
            store.spool.close()
            alerts.shutdown()
    return raised, pipeline.stats.readings


@dataclass(frozen=True, slots=True)
class Replay:
    """A replayed and scored scenario day."""

    scenario: Scenario
    score: Score
    readings: int
    derived: list[Episode]  # limit exceedances derived from the true values
    camera_episodes: list[Episode]
    camera_frames: int
    vehicle_episodes: list[Episode]
    fixes: int
    seconds: float

    @property
    def clip_hours(self) -> float:
        return sum(clip.seconds for clip in self.scenario.camera_clips) / 3600


def replay(config: ScenarioConfig | None = None, grace_s: float = GRACE_S) -> Replay:
    """Build the scenario, replay the stations and the camera clips, score them."""
    started = time.monotonic()
    scenario = Scenario(config)
    with tempfile.TemporaryDirectory(prefix="ioc-bench-alert-quality-") as tmp:
        raised, readings = asyncio.run(_replay(scenario, Path(tmp)))
    derived = scenario.limit_episodes()
    camera_alerts, camera_episodes, frames = replay_clips(scenario.camera_clips)
    c = scenario.config
    vehicle_alerts, vehicle_episodes, fixes = (
        replay_fleet(scenario.start_ms, (scenario.end_ms - scenario.start_ms) // 1000,
                     c.vehicles, c.seed)
        if c.vehicles
        else ([], [], 0)
    )  # fmt: skip
    episodes = scenario.episodes + derived + camera_episodes + vehicle_episodes
    result = score(
        episodes,
        raised + camera_alerts + vehicle_alerts,
        scenario.start_ms,
        scenario.end_ms,
        scenario.ordinary,
        grace_s,
    )
    seconds = time.monotonic() - started
    return Replay(
        scenario,
        result,
        readings,
        derived,
        camera_episodes,
        frames,
        vehicle_episodes,
        fixes,
        seconds,
    )


def run(config: ScenarioConfig | None = None, grace_s: float = GRACE_S) -> tuple[Scenario, Score]:
    """Build the scenario, replay it, score it."""
    done = replay(config, grace_s)
    return done.scenario, done.score


def main() -> dict[str, float]:
    seed = _seed(sys.argv[1:])
    done = replay(ScenarioConfig() if seed is None else ScenarioConfig(seed=seed))
    scenario, result, readings, derived = done.scenario, done.score, done.readings, done.derived
    seconds = done.seconds
    stations = len(scenario.registry)
    clips = scenario.camera_clips
    camera_alerts = sum(a.family in CAMERA_FAMILY_NAMES for a, _ in result.matches)
    print(
        f"[alert_quality] {stations} stations, {readings:,} readings, "
        f"{len(scenario.episodes)} episodes "
        f"({', '.join(f'{f} {sum(e.family == f for e in scenario.episodes)}' for f in TARGET)}"
        f"; derived from the simulated values: limit_exceedance {len(derived)} "
        f"({', '.join(f'{p} {n}' for p, n in Counter(e.parameter for e in derived).items())}); "
        f"overdrawn wells {', '.join(scenario.overdrawn) or 'none'}); "
        f"{len(clips)} camera clips ({done.clip_hours * 60:.0f} min, {done.camera_frames:,} "
        f"frames analysed; {_counts(e.family for e in done.camera_episodes)}); "
        f"{scenario.config.vehicles} vehicles ({done.fixes:,} fixes; "
        f"{_counts(e.family for e in done.vehicle_episodes)}); "
        f"replayed in {seconds:.1f} s",
        flush=True,
    )
    print(result.table(), flush=True)
    print(
        f"[alert_quality] camera families: {camera_alerts} alerts in "
        f"{done.clip_hours * 60:.0f} min of clips = "
        f"{camera_alerts / done.clip_hours if done.clip_hours else math.nan:.1f}/h of camera time",
        flush=True,
    )
    unmatched = Counter(a.rule_id for a, e in result.matches if e is None)
    print(
        "[alert_quality] alerts matching no episode, by rule: "
        + (", ".join(f"{rule} {n}" for rule, n in unmatched.most_common()) or "none"),
        flush=True,
    )
    if "--alerts" in sys.argv[1:]:
        for alert, episode in result.matches:
            where = "no episode" if episode is None else f"{episode.family} at {episode.station}"
            minute = (alert.opened_ms - scenario.start_ms) / 60_000
            print(
                f"  {minute:7.1f} min  {alert.rule_id:<26}{alert.station:<16}"
                f"{alert.parameter:<12}{where}"
            )
    figures = result.figures()
    figures["readings"] = float(readings)
    figures["stations"] = float(stations)
    figures["camera_clip_hours"] = done.clip_hours
    figures["camera_frames"] = float(done.camera_frames)
    figures["fixes"] = float(done.fixes)
    figures["camera_alerts_per_clip_hour"] = (
        camera_alerts / done.clip_hours if done.clip_hours else math.nan
    )
    figures["replay_s"] = seconds
    return figures


def _counts(names: Iterable[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in Counter(names).items()) or "none"


def _seed(args: list[str]) -> int | None:
    """``--seed N``: the scenario's seed (None: the default)."""
    if "--seed" not in args:
        return None
    return int(args[args.index("--seed") + 1])


if __name__ == "__main__":
    main()
