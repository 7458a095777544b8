"""Configuration changes reach the running service without a restart.

* A rule change (new threshold, new rule, removed rule) goes straight to the analytics
  engine: unchanged rules keep their state; a changed rule's next value decides whether it
  fires or clears what its old version raised (:class:`analytics.limits.LimitRules`).
* A registry change (stations, enterprises, parameter sets) is taken by the registry in place
  (validation, the wall's board and the API see it at once), and the analytics engine is
  rebuilt and warmed up from stored history, as at a restart, then swapped in. Until the swap
  the old engine keeps running, so no reading goes unevaluated.
* A transport registry change (companies, vehicles, drivers, zones, speed-limit tables) goes
  to the vehicles' stage (:meth:`ioc.vehicle_pipeline.VehiclePipeline.use_fleet`): the
  validator knows the new vehicles at once, the journey kernel is rebuilt for the new vehicle
  table, limits and zones and takes over every kept vehicle's journey state by id (trip,
  driving time, open episodes: :meth:`analytics.journeys.kernel.JourneyKernel.carry_over`),
  and the vehicle board shows the new types and companies.

* A change of a built-in rule (kind ``detector``: the anomaly rules ``anomaly.*``, the camera
  rules ``camera.*`` and ``traffic.*``, :mod:`analytics.detector_rules`): new thresholds,
  switches and severities of anomaly rules go to the running anomaly checks, which keep their
  samples and open states (:meth:`analytics.engine.AnalyticsEngine.set_anomaly`); a new number
  of kept samples or days (``zscore_window``, ``flatline_samples``, ``seasonal_days``) rebuilds
  the engine as a registry change does. Camera rules go to every camera's worker
  (:func:`follow_camera_rules`, :meth:`analytics.cameras.worker.CameraWorker.reconfigure`),
  which keeps its background models, tracks and alert states.

Either way the walls get a fresh snapshot (names, stations and alerts as now configured).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING

from alerts.lifecycle import AlertBook
from analytics.config import AnalyticsConfig, AnomalyConfig, RuleConfig
from analytics.engine import AnalyticsEngine
from ioc.config_store import DETECTOR, FLEET_KINDS, RULE, ConfigChange, Configuration
from ioc.pipeline import Pipeline
from ioc.registry import StationRegistry
from ioc.warmup import warm_up
from store.influx import InfluxStore
from web.broadcast import Broadcaster
from web.station_board import StationBoard

if TYPE_CHECKING:
    from analytics.cameras.worker import CameraWorker

log = logging.getLogger(__name__)


class LiveConfiguration:
    """Subscribed to the :class:`ioc.config_store.ConfigStore`."""

    def __init__(
        self,
        *,
        analytics: AnalyticsConfig,
        registry: StationRegistry,
        rules: MutableMapping[str, RuleConfig],
        pipeline: Pipeline,
        board: StationBoard,
        broadcaster: Broadcaster,
        store: InfluxStore,
        alerts: AlertBook,
    ) -> None:
        self._analytics = analytics
        self._registry = registry
        self._rules = rules
        self._pipeline = pipeline
        self._board = board
        self._broadcaster = broadcaster
        self._store = store
        self._alerts = alerts
        self._rebuild: asyncio.Task[None] | None = None
        self.rebuilt = asyncio.Event()  # set after each engine swap (tests wait on it)

    def __call__(self, change: ConfigChange, configuration: Configuration) -> None:
        self._rules.clear()
        self._rules.update({rule.id: rule for rule in configuration.rules})
        if change.kind == RULE:
            self._pipeline.engine.set_rules(configuration.rules)
            log.info("rule %s: %s by %s, live", change.key, change.action, change.actor)
        elif change.kind == DETECTOR:
            self._follow_anomaly(change, configuration.anomaly)  # cameras: follow_camera_rules
        elif change.kind in FLEET_KINDS:
            self._pipeline.vehicles.use_fleet(configuration.fleet)
            log.info("%s %s: %s by %s, live", change.kind, change.key, change.action, change.actor)
        else:
            self._registry.replace_with(configuration.registry)
            self._board.follow_registry()
            self._pipeline.follow_registry()
            self._start_rebuild()
            log.info(
                "%s %s: %s by %s; analytics rebuilding",
                change.kind,
                change.key,
                change.action,
                change.actor,
            )
        self._broadcaster.resync_all()

    def _follow_anomaly(self, change: ConfigChange, anomaly: AnomalyConfig) -> None:
        """New anomaly settings: to the running checks, or a rebuilt engine when they need a
        new state (the anomaly checks switched off in the file: nothing runs them)."""
        if anomaly == self._analytics.anomaly:
            return
        running = self._analytics.anomaly.enabled
        self._analytics = self._analytics.model_copy(update={"anomaly": anomaly})
        if not running or self._pipeline.engine.set_anomaly(anomaly):
            log.info("rule %s: %s by %s, live", change.key, change.action, change.actor)
            return
        self._start_rebuild()
        log.info("rule %s: %s by %s; analytics rebuilding", change.key, change.action, change.actor)

    def _start_rebuild(self) -> None:
        if self._rebuild is not None:
            self._rebuild.cancel()
        self.rebuilt.clear()
        self._rebuild = asyncio.get_running_loop().create_task(self._rebuild_engine())

    async def _rebuild_engine(self) -> None:
        rules = list(self._rules.values())
        engine = AnalyticsEngine(
            self._analytics.model_copy(update={"rules": rules}), self._registry
        )
        await warm_up(
            engine, self._store, self._registry, self._alerts, self._analytics.warmup_hours
        )
        current = list(self._rules.values())
        if current != rules:  # a rule changed during the warm-up
            engine.set_rules(current)
        engine.set_anomaly(self._analytics.anomaly)  # (one changed during the warm-up)
        self._pipeline.engine = engine
        self.rebuilt.set()
        log.info("analytics engine rebuilt for %d stations", len(self._registry))

    async def close(self) -> None:
        if self._rebuild is not None:
            self._rebuild.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._rebuild


def follow_camera_rules(
    workers: Callable[[], Mapping[str, CameraWorker]],
) -> Callable[[ConfigChange, Configuration], None]:
    """A listener of the configuration store that gives the cameras' workers their rules'
    settings in force after a change of a camera rule."""

    def apply(change: ConfigChange, configuration: Configuration) -> None:
        if change.kind != DETECTOR or change.key.startswith("anomaly."):
            return
        running = workers()
        for camera in configuration.cameras.cameras:
            worker = running.get(camera.id)
            if worker is not None:
                worker.reconfigure(camera)
        log.info("rule %s: %s by %s, live", change.key, change.action, change.actor)

    return apply
