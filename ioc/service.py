"""Service wiring. Every long-lived resource is a cleanup context behind a typed AppKey
(ioc.appkeys): startup in order, shutdown in reverse.

    access_context    the service's SQLite database: accounts, audit log and the versioned
                      configuration (seeded from the files on first start)
    workers_context   with `workers.ingest` > 0: the ingest workers and analytics partitions
                      (ioc.workers), started here so they start while the service does
    store_context     aiohttp client session + InfluxStore flush task (spool → InfluxDB) and
                      the check that ends a full spool's state when there is room again
    alerts_context    alert book (SQLite), webhook and e-mail notifiers, escalation check
    pipeline_context  validator, analytics engine, station board, broadcaster,
                      MQTT link (receiver) and the pipeline task between them; subscribed
                      before the analytics warm-up (ioc.warmup), processing after it; the
                      vehicle pipeline and its journey journal (SQLite, purged daily)
    cameras_context   camera frames (MQTT or URL) → camera workers → metrics, alerts, snapshots
    drop_folder_context  the watched folder of station data files (if configured)
    wall_context      periodic station deltas and heartbeats to websocket clients, and the
                      event-loop monitor (lag and stalls in health)
    daily_report_context  the previous day's report files, once a day (web/daily_report_files.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from alerts.lifecycle import AlertBook
from alerts.mail import EMAIL_NOTIFIER, EmailNotifier
from alerts.notify import WebhookNotifier
from analytics.cameras.snapshots import SnapshotStore
from analytics.engine import AnalyticsEngine
from ingest.camera_feed import CameraFeed
from ingest.credentials import ENTERPRISE, Credentials
from ingest.drop_folder import DropFolder
from ingest.http_api import add_ingest_routes, process_file
from ingest.inbox import Inbox
from ingest.live_lane import LaneStats, LiveLane
from ingest.mqtt_source import MqttLink
from ingest.rejections import RejectionSink
from ingest.validate import ReadingValidator
from ioc import appkeys
from ioc.accounts import AccountBook
from ioc.audit import AuditLog
from ioc.clock import iso_utc, now_ms
from ioc.config import IocConfig
from ioc.config_store import ConfigStore
from ioc.database import open_database
from ioc.errors import StorageFull, StoreError
from ioc.fleet import FleetRegistry, read_fleet_file
from ioc.live_config import LiveConfiguration, follow_camera_rules
from ioc.loop_monitor import LOOP_MONITOR, PIPELINE_LAG, LoopMonitor, PipelineLag
from ioc.messages import RawMessage
from ioc.partitions import NoticePublisher, PartitionMap, PartitionRouter, assign_partitions
from ioc.pipeline import Pipeline
from ioc.registry import StationRegistry, read_registry_document
from ioc.vehicle_pipeline import VehiclePipeline
from ioc.warmup import warm_up
from ioc.workers import WORKERS, service_filters, take_over_the_stations, workers_context
from store.forwarding import PositionForwarder
from store.influx import InfluxStore
from store.journey_book import JourneyBook
from web.access import ACCOUNTS, AUDIT, access_control, add_security_headers
from web.alerts_api import add_alert_routes
from web.analytics_api import ANALYTICS, add_analytics_routes
from web.auth_api import add_auth_routes
from web.broadcast import Broadcaster
from web.cameras_api import add_camera_routes
from web.config_api import add_config_routes
from web.daily_report_files import daily_report_context
from web.journey_backtest_api import add_journey_backtest_routes
from web.journeys_api import add_journey_routes
from web.openapi import add_openapi_routes
from web.portal_api import add_portal_routes
from web.reports_api import add_report_routes
from web.routes import add_routes
from web.station_board import StationBoard
from web.unavailable import refuse_while_storage_full
from web.vehicle_board import VehicleBoard
from web.vehicles_api import add_vehicle_routes
from web.wire import alert_facts, alert_json, parameters_json

if TYPE_CHECKING:
    from analytics.cameras.worker import CameraOutput

log = logging.getLogger(__name__)
SHUTDOWN_FLUSH_S = 10.0
ANALYTICS_TICK_S = 10.0
JOURNEY_PURGE_S = 86_400.0
DAY_MS = 86_400_000
TASK_STOP_TIMEOUT_S = 5.0
LANE_COPY_LAG_S = 1.0  # a live reading's persistent copy later than this: still behind


def create_app(config: IocConfig, registry: StationRegistry) -> web.Application:
    """The service. ``registry`` and the config's rules seed an empty configuration database;
    after that the database's stations and rules are the ones in force."""
    app = web.Application(middlewares=[access_control, refuse_while_storage_full])
    app.on_response_prepare.append(add_security_headers)
    app[appkeys.CONFIG] = config
    app[appkeys.REGISTRY] = registry
    app[appkeys.RULES] = {rule.id: rule for rule in config.analytics.rules}
    app.cleanup_ctx.extend(
        [
            access_context,
            workers_context,
            store_context,
            alerts_context,
            pipeline_context,
            cameras_context,
            drop_folder_context,
            wall_context,
            daily_report_context,
        ]
    )
    add_routes(app)
    add_auth_routes(app)
    add_config_routes(app)
    add_alert_routes(app)
    add_analytics_routes(app)
    add_camera_routes(app)
    add_ingest_routes(app)
    add_portal_routes(app)
    add_vehicle_routes(app)
    add_journey_backtest_routes(app)
    add_journey_routes(app)
    add_report_routes(app)
    add_openapi_routes(app)
    return app


async def access_context(app: web.Application) -> AsyncIterator[None]:
    """Accounts, audit log and configuration; the registry and rules in force come from here."""
    config = app[appkeys.CONFIG]
    db = open_database(config.access.database)
    try:
        accounts = AccountBook(db, config.access)
        audit = AuditLog(db, config.access.audit_keep_days)
        fleet_file = read_fleet_file(config.vehicles.fleet) if config.vehicles.fleet else None
        settings = ConfigStore(
            db, fleet_file, config.journeys, config.analytics.anomaly, config.cameras
        )
        if settings.is_empty():
            seeded = settings.seed(read_registry_document(config.registry), config.analytics.rules)
            log.info("configuration database seeded with %d items from the files", seeded)
        if fleet_file is not None and (seeded := settings.seed_fleet(fleet_file)):
            log.info(
                "transport registry seeded with %d items from %s", seeded, config.vehicles.fleet
            )
        configuration = settings.current()
        app[appkeys.REGISTRY].replace_with(configuration.registry)
        app[appkeys.RULES].clear()
        app[appkeys.RULES].update({rule.id: rule for rule in configuration.rules})
        if config.ingest.credentials_file:
            _import_api_keys(accounts, Credentials.from_file(config.ingest.credentials_file))
        if not accounts.has_admin():
            log.warning("no admin account yet: make one with `ioc users add NAME --role admin`")
        app[ACCOUNTS], app[AUDIT], app[appkeys.SETTINGS] = accounts, audit, settings

        async def purge_audit() -> None:
            while True:
                audit.purge(now_ms())
                await asyncio.sleep(3600)

        async with _background(purge_audit(), "audit-purge"):
            yield
    finally:
        db.close()


def _import_api_keys(accounts: AccountBook, credentials: Credentials) -> None:
    """API keys of the accounts file (``ioc credentials``) are valid keys too."""
    for account in credentials.accounts:
        if account.api_key_sha256:
            enterprise = account.enterprise if account.role == ENTERPRISE else None
            accounts.import_api_key(
                account.api_key_sha256, enterprise, f"{account.username} (accounts file)", "system"
            )


async def store_context(app: web.Application) -> AsyncIterator[None]:
    config = app[appkeys.CONFIG].influx
    async with aiohttp.ClientSession() as session:
        store = InfluxStore(config, session)
        try:
            await store.ensure_database()
        except StoreError as exc:  # keep running: writes are retried until it is back
            log.warning("InfluxDB at %s not ready at start: %s", config.url, exc)
        app[appkeys.STORE] = store
        try:
            async with (
                _background(store.run(), "influx-writer"),
                _background(store.watch_space(), "spool-space"),
            ):
                yield
                try:
                    async with asyncio.timeout(SHUTDOWN_FLUSH_S):
                        await store.wait_drained()
                except TimeoutError:
                    log.error("shutdown: %d bytes wait in the spool", store.pending_bytes)
        finally:
            store.spool.close()


async def alerts_context(app: web.Application) -> AsyncIterator[None]:
    """The alert book (SQLite), its webhook and e-mail notifiers and the periodic escalation
    check."""
    config, rules, registry = app[appkeys.CONFIG], app[appkeys.RULES], app[appkeys.REGISTRY]
    if config.alerts.database != ":memory:":
        Path(config.alerts.database).parent.mkdir(parents=True, exist_ok=True)
    book = AlertBook(rules, config.alerts)
    app[appkeys.ALERTS] = book

    async def escalate_and_purge() -> None:
        while True:
            await asyncio.sleep(config.alerts.check_interval_s)
            book.check_escalations(now_ms())
            book.purge(now_ms())

    try:
        async with aiohttp.ClientSession() as session:
            notifier = WebhookNotifier(
                config.alerts,
                session,
                render=lambda a: alert_json(a, rules, registry),
                describe=lambda a: alert_facts(a, rules, registry),
            )
            mailer = EmailNotifier(
                config.alerts.email,
                registry.get,
                describe=lambda a: alert_facts(a, rules, registry),
            )
            book.subscribe(notifier.enqueue)
            book.subscribe(mailer.enqueue)
            app[appkeys.NOTIFIER] = notifier
            app[EMAIL_NOTIFIER] = mailer
            async with (
                _background(notifier.run(), "webhooks"),
                _background(mailer.run(), "e-mail"),
                _background(escalate_and_purge(), "escalations"),
            ):
                yield
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SHUTDOWN_FLUSH_S):
                        await asyncio.gather(notifier.join(), mailer.join())
    finally:
        book.shutdown()


async def pipeline_context(app: web.Application) -> AsyncIterator[None]:
    config, registry = app[appkeys.CONFIG], app[appkeys.REGISTRY]
    rules = app[appkeys.RULES]
    store = app[appkeys.STORE]
    inbox: Inbox[RawMessage] = Inbox(config.mqtt.queue_size)
    partitions = config.workers.partition_count() if config.workers.ingest_count() else 0
    # the worker layout (ioc.workers): the ingest workers take the stations' topics
    mqtt = MqttLink(config.mqtt, inbox, service_filters(config) if partitions else None)
    alerts = app[appkeys.ALERTS]
    board = StationBoard(registry, config.web.offline_after_intervals)
    fleet = app[appkeys.SETTINGS].current().fleet  # the transport registry in force
    vehicle_board = VehicleBoard(fleet, offline_after_s=config.journeys.signal.stopped_max_gap_s)

    def snapshot() -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        return {
            "server_time": iso_utc(now_ms),
            "stations": board.snapshot(now_ms),
            "vehicles": vehicle_board.snapshot(now_ms),
            "vehicle_counts": vehicle_board.counts(now_ms),
            "alerts": [alert_json(a, rules, registry) for a in alerts.open_alerts()],
            "parameters": parameters_json(registry),
            "language": config.web.language,
            "alert_sound": config.web.alert_sound,
            "heartbeat_s": config.web.heartbeat_s,
        }

    validator = ReadingValidator(registry, config.ingest)
    # the anomaly rules as tuned (configuration kind `detector`)
    analytics = config.analytics.model_copy(
        update={"anomaly": app[appkeys.SETTINGS].current().anomaly}
    )
    engine = AnalyticsEngine(analytics.model_copy(update={"rules": [*rules.values()]}), registry)
    broadcaster = Broadcaster(config.web.client_queue_size, config.web.replay_events, snapshot)
    rejections = RejectionSink.of_service(store, mqtt.publish_nowait, config, registry)
    forwarding = aiohttp.ClientSession()
    forwarders = [PositionForwarder(target, forwarding) for target in config.vehicles.forward]
    journeys = open_journeys(config, fleet)
    app[appkeys.JOURNEYS] = journeys
    vehicles = VehiclePipeline(
        fleet=fleet,
        config=config.vehicles,
        journeys=config.journeys,
        topic_prefix=config.mqtt.topic_prefix,
        store=store,
        rejections=rejections,
        alerts=alerts,
        board=vehicle_board,
        clock=now_ms,
        forwarders=forwarders,
        journal=journeys,
    )
    router = None
    if partitions:
        settings = app[appkeys.SETTINGS]

        def assignment() -> PartitionMap:
            configuration = settings.current()
            return assign_partitions(configuration.registry, partitions, configuration.anomaly)

        router = PartitionRouter(
            config.mqtt.topic_prefix, assignment(), NoticePublisher(mqtt.publish_nowait)
        )

        def reassign(_change: object, _configuration: object) -> None:  # as the children do
            router.partitions = assignment()  # once they start again with the new one

        settings.subscribe(reassign)
    pipeline = Pipeline(
        registry=registry,
        rules=rules,
        validator=validator,
        store=store,
        rejections=rejections,
        engine=engine,
        alerts=alerts,
        board=board,
        broadcaster=broadcaster,
        batch_size=config.ingest.batch_size,
        gather_s=config.ingest.gather_ms / 1000,
        vehicles=vehicles,
        # readings of HTTP and files to the partitions, through the persistent session's
        # outbox (QoS 1; a full outbox counts what it drops)
        partitions=router,
        topic_prefix=config.mqtt.topic_prefix,
    )
    alerts.subscribe(pipeline.publish_alert_events)
    lag = PipelineLag(inbox.qsize)
    app[PIPELINE_LAG] = lag

    def acknowledge(batch: list[RawMessage]) -> None:
        mqtt.acknowledge(batch)
        lag.processed(batch)

    app[appkeys.MQTT] = mqtt
    app[appkeys.BOARD] = board
    app[appkeys.VEHICLE_BOARD] = vehicle_board
    app[appkeys.BROADCASTER] = broadcaster
    app[appkeys.REJECTIONS] = rejections
    app[appkeys.PIPELINE] = pipeline
    app[appkeys.VALIDATOR] = validator
    app[ANALYTICS] = lambda: pipeline.engine
    live = LiveConfiguration(
        analytics=analytics,
        registry=registry,
        rules=rules,
        pipeline=pipeline,
        board=board,
        broadcaster=broadcaster,
        store=store,
        alerts=alerts,
    )
    app[appkeys.SETTINGS].subscribe(live)
    app[appkeys.LIVE_CONFIG] = live

    # Subscribed first: while the analytics warm up from InfluxDB, what arrives waits in the
    # inbox (then in the broker), and is processed once the history is in.
    warmed_up = asyncio.Event()

    async def process() -> None:
        await warmed_up.wait()
        await pipeline.run(inbox, acknowledge)

    async def analytics_ticks() -> None:  # offline stations, hourly AQI, daily fire danger
        await warmed_up.wait()
        while True:
            await asyncio.sleep(ANALYTICS_TICK_S)
            if not partitions:  # else the partitions tick
                pipeline.apply_analytics(pipeline.engine.tick(now_ms()))
            vehicles.tick(now_ms())

    lane = live_lane(config, inbox, mqtt, pipeline)
    app[appkeys.LIVE_LANE] = lane.stats if lane else LaneStats()

    async def purge_journeys() -> None:  # the law keeps journeys a year: no longer
        keep_ms = config.vehicles.journeys_retention_days * DAY_MS
        while True:
            deleted = journeys.purge(now_ms() - keep_ms)
            if deleted:
                log.info("journey journal: %d rows older than the retention deleted", deleted)
            await asyncio.sleep(JOURNEY_PURGE_S)

    try:
        async with (
            forwarding,
            _background(process(), "pipeline"),
            _background(analytics_ticks(), "analytics-ticks"),
            _background(mqtt.run(), "mqtt"),
            _background(_run_live_lane(lane, mqtt), "live-lane"),
            _background(purge_journeys(), "journey-purge"),
            _background(_hand_over(app, mqtt), "workers-handover"),
            contextlib.AsyncExitStack() as forwarding_tasks,
        ):
            for n, forwarder in enumerate(forwarders):
                task = _background(forwarder.run(), f"forward-{n}")
                await forwarding_tasks.enter_async_context(task)
            if not partitions:  # else each partition warms up its stations
                await warm_up(engine, store, registry, alerts, config.analytics.warmup_hours)
            warmed_up.set()
            yield
        await live.close()
        # Receiving stopped first, then processing: what was received is still processed.
        try:
            pipeline.drain(inbox)
        except StorageFull as exc:  # not acknowledged: the broker sends them again after restart
            log.error(
                "shutdown: spool full (%s), %d messages left to the broker", exc, inbox.qsize()
            )
    finally:
        journeys.close()


def live_lane(
    config: IocConfig, inbox: Inbox[RawMessage], mqtt: MqttLink, pipeline: Pipeline
) -> LiveLane | None:
    """The live lane (ingest.live_lane), if it can run: an account of its own where the
    broker needs a login. The persistent session is behind while its subscription is not yet
    confirmed (the broker sends the backlog first), more than a batch waits in the inbox, or
    a live reading's persistent copy has not come within ``LANE_COPY_LAG_S``."""
    if config.workers.ingest_count():  # the ingest workers take the stations' topics
        return None
    login = config.mqtt.live_login()
    if login is None:
        if config.mqtt.live_lane:
            log.warning(
                "live lane off: mqtt.live_username is not set (`ioc credentials` makes "
                "ioc-service-live); a live reading waits behind a backlog after a restart"
            )
        return None
    batch = config.ingest.batch_size

    def behind() -> bool:
        return (
            not mqtt.connected.is_set()
            or inbox.qsize() > batch
            or lane.ledger.copy_lag_s() > LANE_COPY_LAG_S
        )

    lane = LiveLane(config.mqtt, login, inbox.put_first, behind)
    pipeline.ledger = lane.ledger
    return lane


async def _run_live_lane(lane: LiveLane | None, mqtt: MqttLink) -> None:
    """Open the lane at start and whenever the persistent session is lost, for as long as
    that session is behind (not yet subscribed again, or working off what it was sent)."""
    if lane is None:
        return
    while True:
        await lane.run_while_behind()
        await mqtt.session_closed.wait()


async def _hand_over(app: web.Application, mqtt: MqttLink) -> None:
    supervisor = app.get(WORKERS)
    if supervisor is not None:
        await take_over_the_stations(supervisor, mqtt)


def open_journeys(config: IocConfig, fleet: FleetRegistry) -> JourneyBook:
    """The journey journal; in memory without a fleet (nothing to keep)."""
    path = config.vehicles.journeys_database if config.vehicles.fleet else ":memory:"
    vehicles = fleet.vehicles
    return JourneyBook(
        path,
        company_of={plate: v.company for plate, v in vehicles.items()},
        driver_of={plate: v.driver for plate, v in vehicles.items()},
    )


async def cameras_context(app: web.Application) -> AsyncIterator[None]:
    """Camera frames → analytics/cameras workers → metrics, alerts and snapshots."""
    config = app[appkeys.CONFIG].cameras
    store, alerts, broadcaster = app[appkeys.STORE], app[appkeys.ALERTS], app[appkeys.BROADCASTER]
    snapshots = SnapshotStore(config.snapshot_dir, config.keep_event_snapshots)

    def snapshot_saved(camera_id: str, ts_ms: int, out: CameraOutput) -> bool:
        if out.snapshot is None:
            return False
        try:
            snapshots.save(camera_id, ts_ms, out.snapshot, evidence=out.evidence)
        except OSError as exc:  # a full disk: the camera keeps being analysed
            log.warning("camera %s: snapshot not saved: %s", camera_id, exc)
            return False
        return True

    def on_output(camera_id: str, ts_ms: int, out: CameraOutput) -> None:
        store.append(out.lines)  # never raises: a full spool counts what it cannot take
        if snapshot_saved(camera_id, ts_ms, out):
            broadcaster.publish(
                {
                    "type": "camera",
                    "camera": out.state,
                    "snapshot": f"/api/v1/cameras/{camera_id}/snapshots/latest.jpg",
                }
            )
        alerts.apply(out.transitions)

    # Built in a thread: importing OpenCV and SciPy (~0.5 s) leaves the event loop to the
    # pipeline, which starts on the readings received while the analytics warmed up.
    settings = app[appkeys.SETTINGS]  # the camera rules as tuned (configuration kind `detector`)
    cameras = settings.current().cameras
    feed = await asyncio.to_thread(CameraFeed, app[appkeys.CONFIG].mqtt, cameras, on_output)
    settings.subscribe(follow_camera_rules(lambda: feed.workers))
    app[appkeys.CAMERAS] = feed
    app[appkeys.SNAPSHOTS] = snapshots
    async with _background(feed.run(), "cameras"):
        yield


async def drop_folder_context(app: web.Application) -> AsyncIterator[None]:
    config = app[appkeys.CONFIG].ingest
    if config.drop_folder is None:
        yield
        return
    folder = DropFolder(
        config.drop_folder,
        lambda owner, name, data: process_file(app, owner, name, data),
    )
    async with _background(folder.run(config.drop_folder_poll_s), "drop-folder"):
        yield


async def wall_context(app: web.Application) -> AsyncIterator[None]:
    config = app[appkeys.CONFIG].web
    board, broadcaster = app[appkeys.BOARD], app[appkeys.BROADCASTER]
    vehicle_board = app[appkeys.VEHICLE_BOARD]
    monitor = LoopMonitor(
        config.loop_check_interval_s, config.loop_stall_ms, config.loop_stall_recent_s
    )
    app[LOOP_MONITOR] = monitor

    async def push_station_changes() -> None:
        while True:
            await asyncio.sleep(config.station_push_interval_s)
            now = int(time.time() * 1000)
            changes = board.take_changes(now)
            if changes:
                broadcaster.publish({"type": "stations", "stations": changes})
            moved = vehicle_board.take_changes(now)
            if moved:
                counts = vehicle_board.counts(now)
                broadcaster.publish({"type": "vehicles", "vehicles": moved, "counts": counts})

    async def heartbeats() -> None:
        while True:
            await asyncio.sleep(config.heartbeat_s)
            broadcaster.heartbeat(iso_utc(int(time.time() * 1000)) or "", config.heartbeat_s)

    async with (
        _background(push_station_changes(), "station-push"),
        _background(heartbeats(), "heartbeat"),
        _background(monitor.run(), "loop-monitor"),
    ):
        yield


@contextlib.asynccontextmanager
async def _background(coro: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    """Run ``coro`` as a task for the life of the context; a crash is logged, not hidden."""
    task = asyncio.create_task(coro, name=name)

    def report(t: asyncio.Task[None]) -> None:
        if not t.cancelled() and t.exception() is not None:
            log.error("background task %s crashed", name, exc_info=t.exception())

    task.add_done_callback(report)
    try:
        yield
    finally:
        task.cancel()
        # Bounded: on Python 3.11 asyncio.wait_for can swallow a cancellation that arrives as
        # its future completes (aiomqtt's connect uses it); shutdown must finish anyway.
        done, _ = await asyncio.wait({task}, timeout=TASK_STOP_TIMEOUT_S)
        if not done:
            log.error("background task %s did not stop within %.0fs", name, TASK_STOP_TIMEOUT_S)
