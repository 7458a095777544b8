"""The worker layout (``ioc serve --workers N``; docs/deployment.md "Scaling out"): the
service process keeps the web, the wall, the alert book, the configuration, vehicles and
cameras, and starts as child processes

    N ingest workers      ingest.worker      ($share/<group>/... of the stations' topics)
    P analytics partitions analytics.partition (<prefix>/internal/analytics/<p>)

all on the one broker, each with its own persistent MQTT session (client id
``<client_id>-ingest-<i>`` / ``-analytics-<p>``) and its own spool (``<spool_dir>/<role>-<i>``).
A child that ends is started again with the same identity, so the broker sends it what it
had not acknowledged: a worker killed mid-stream loses nothing. A child takes the station
registry and rules from the broker, where the service keeps them retained
(ioc.layout_feed), and ends when they change (exit code :data:`CONFIG_CHANGED`) to be
started again with them: it needs no file of the service's, so it can run on another machine.

The service starts the children of ``workers.run_here`` (default: all): they get its resolved
configuration on standard input (not a file: it holds the passwords completed from the
accounts file), run ``python -m ioc.workers ROLE INDEX`` and report on standard output. The
others run elsewhere as ``ioc worker <role>-<index>`` (:func:`run_elsewhere`) and report over the
broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiomqtt
import orjson
from aiohttp import web
from pydantic import SecretStr

from ingest.mqtt_source import MqttLink, input_filters, register_session
from ioc import appkeys
from ioc.config import IocConfig
from ioc.config_store import ConfigStore
from ioc.errors import StoreError
from ioc.layout_feed import STATUS_S, ConfigurationWatch, LayoutFeed
from ioc.partitions import output_topic

log = logging.getLogger(__name__)
INGEST, ANALYTICS = "ingest", "analytics"
CONFIG_CHANGED = 3  # a child's exit code: started again at once, with the new configuration
CONFIGURATION_PUBLISHED_S = 10.0  # the service waits this for its layout feed, then goes on
READY = b"ready"  # what a child writes to its standard output once it receives
COUNTERS = b"counters "  # then its counters (JSON) every COUNTERS_S, for health
COUNTERS_S = 0.5
RESTART_DELAY_S = (0.2, 5.0)  # first and longest wait before a crashed child is started again
STOP_TIMEOUT_S = 10.0
PR_SET_PDEATHSIG = 1
WORKERS: web.AppKey[Supervisor] = web.AppKey("workers")


def config_document(config: IocConfig) -> bytes:
    """``config`` as JSON with its secrets, for a child (IocConfig.model_validate reads it)."""

    def reveal(value: object) -> str:
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    return orjson.dumps(config.model_dump(exclude_unset=True), default=reveal)


@dataclass(slots=True)
class Child:
    role: str
    index: int
    process: asyncio.subprocess.Process | None = None
    ready: bool = False  # subscribed (and warmed up) since its last start
    counters: dict[str, Any] = field(default_factory=dict)  # as it last reported them
    starts: int = 0
    crashes: int = 0
    last_exit: int | None = None

    @property
    def name(self) -> str:
        return f"{self.role}-{self.index}"


@dataclass(slots=True)
class RemoteChild:
    """A child of the layout that runs on another machine (``ioc worker``), as it reports."""

    name: str
    ready: bool = False
    counters: dict[str, Any] = field(default_factory=dict)
    seen: float | None = None  # time.monotonic() of its last status

    def running(self, now: float) -> bool:
        return self.seen is not None and now - self.seen < 3 * STATUS_S


@dataclass(slots=True)
class Supervisor:
    """Starts the children of this machine and starts each again when it ends, until
    :meth:`stop`; follows the others by what they report."""

    config: IocConfig
    children: list[Child] = field(default_factory=list)
    remote: dict[str, RemoteChild] = field(default_factory=dict)
    all_ready: asyncio.Event = field(default_factory=asyncio.Event)  # each started once
    _stopping: bool = False

    @classmethod
    def of(cls, config: IocConfig) -> Supervisor:
        here = config.workers.local_children()
        children = [Child(role, int(index)) for role, index in (n.split("-") for n in here)]
        remote = {n: RemoteChild(n) for n in config.workers.child_names() if n not in here}
        return cls(config, children, remote)

    def note_status(self, name: str, status: dict[str, Any]) -> None:
        """What a child elsewhere reported (ioc.layout_feed)."""
        child = self.remote.get(name)
        if child is None:
            return
        child.seen = time.monotonic()
        child.ready = status.get("ready") is True
        counters = status.get("counters")
        child.counters = counters if isinstance(counters, dict) else {}
        self._check_ready()

    def _check_ready(self) -> None:
        if all(c.ready for c in self.children) and all(c.ready for c in self.remote.values()):
            self.all_ready.set()

    async def run(self) -> None:
        await asyncio.gather(*(self._keep(child) for child in self.children))

    async def _keep(self, child: Child) -> None:
        delay = RESTART_DELAY_S[0]
        document = config_document(self.config)
        while not self._stopping:
            started = time.monotonic()
            child.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "ioc.workers",
                child.role,
                str(child.index),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            child.starts += 1
            child.ready = False
            assert child.process.stdin is not None and child.process.stdout is not None
            child.process.stdin.write(document)
            child.process.stdin.close()
            async for line in child.process.stdout:  # `ready`, then counters until it ends
                if line.startswith(COUNTERS):
                    with contextlib.suppress(orjson.JSONDecodeError):
                        child.counters = orjson.loads(line[len(COUNTERS) :])
                elif line.strip() == READY:
                    child.ready = True
                    self._check_ready()
            code = await child.process.wait()
            child.ready = False
            child.last_exit = code
            if self._stopping:
                return
            if code == CONFIG_CHANGED:
                log.info("%s: configuration changed, starting again", child.name)
                continue
            child.crashes += 1
            log.error("%s ended (exit %s); starting again in %.1fs", child.name, code, delay)
            await asyncio.sleep(delay)
            delay = RESTART_DELAY_S[0] if time.monotonic() - started > 60 else delay * 2
            delay = min(delay, RESTART_DELAY_S[1])

    async def stop(self) -> None:
        """SIGTERM every child and wait (SIGKILL after :data:`STOP_TIMEOUT_S`): what a child
        had not acknowledged, the broker keeps for the next start."""
        self._stopping = True
        running = [c.process for c in self.children if c.process and c.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    def health(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [
            {
                "name": c.name,
                "pid": c.process.pid if c.process else None,
                "running": c.process is not None and c.process.returncode is None,
                "ready": c.ready,
                "starts": c.starts,
                "crashes": c.crashes,
                "last_exit": c.last_exit,
                "counters": c.counters,
            }
            for c in self.children
        ] + [
            {
                "name": c.name,
                "elsewhere": True,
                "running": c.running(now),
                "ready": c.ready and c.running(now),
                "counters": c.counters,
            }
            for c in self.remote.values()
        ]


def service_filters(config: IocConfig) -> list[str]:
    """The service's own subscriptions in the worker layout: the vehicles' topics and the
    partitions' outputs (the stations' are the ingest workers')."""
    own = [f for f in input_filters(config.mqtt) if "/stations/" not in f]
    return [*own, output_topic(config.mqtt.topic_prefix)]


async def workers_context(app: web.Application) -> AsyncIterator[None]:
    """The children of the worker layout, started as early as the configuration database
    is (they start while the service does), and stopped after the service's pipeline. The
    service's session is registered first, so no partition output is published before it
    has a subscriber, and the configuration is on the broker before a child asks for it."""
    config = app[appkeys.CONFIG]
    if config.workers.ingest_count() == 0:
        yield
        return
    try:
        await register_session(config.mqtt, service_filters(config))
    except aiomqtt.MqttError as exc:  # the service's connection makes it when it can
        log.warning("service session not registered (%s): starting the workers anyway", exc)
    supervisor = Supervisor.of(config)
    app[WORKERS] = supervisor
    feed = LayoutFeed(config, app[appkeys.SETTINGS], supervisor.note_status)
    feeding = asyncio.create_task(feed.run(), name="layout feed")
    with contextlib.suppress(TimeoutError):  # the children wait for it themselves
        await asyncio.wait_for(feed.published.wait(), CONFIGURATION_PUBLISHED_S)
    task = asyncio.create_task(supervisor.run(), name="workers")
    try:
        yield
    finally:
        await supervisor.stop()
        for running in (task, feeding):
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running


async def take_over_the_stations(supervisor: Supervisor, mqtt: MqttLink) -> None:
    """Once every worker has its subscription, the service's own session (from a
    single-process start) lets go of the stations' topics; until then what it receives of
    them it forwards to the partitions: nothing falls between the two."""
    await supervisor.all_ready.wait()
    await mqtt.connected.wait()
    stations = [f for f in input_filters(supervisor.config.mqtt) if "/stations/" in f]
    await mqtt.unsubscribe(stations)
    log.info("worker layout ready: %d children", len(supervisor.children))


# --- a child ------------------------------------------------------------------------------


async def run_child(config: IocConfig, role: str, index: int, elsewhere: bool = False) -> int:
    """Run one child until SIGTERM (0), a configuration change (:data:`CONFIG_CHANGED`) or a
    failure (an exception: exit 1). ``elsewhere``: started by ``ioc worker``, it reports over
    the broker, not on standard output."""
    from ingest.worker import run_ingest_worker
    from store.influx import InfluxStore

    name = f"{role}-{index}"
    async with ConfigurationWatch(config, name).connected() as watch:
        memory = sqlite3.connect(":memory:")
        try:
            configuration = ConfigStore(
                memory, None, config.journeys, config.analytics.anomaly, config.cameras
            ).configuration_of(watch.snapshot.items)
        finally:
            memory.close()
        log.info("%s: configuration version %d", name, watch.snapshot.version)
        spool = config.influx.spool_dir / name
        influx = config.influx.model_copy(update={"spool_dir": spool})
        async with aiohttp.ClientSession() as session:
            store = InfluxStore(influx, session)
            with contextlib.suppress(StoreError):  # writes are retried until it is back
                await store.ensure_database()

            def ready(counters: Callable[[], dict[str, int]]) -> None:
                if elsewhere:
                    reporting.append(asyncio.create_task(_publish_status(watch, counters)))
                else:
                    report(READY)
                    reporting.append(asyncio.create_task(_report_counters(counters)))

            if role == INGEST:
                program = run_ingest_worker(config, index, configuration, store, ready)
            else:
                from analytics.partition import run_partition

                program = run_partition(config, index, configuration, store, ready)
            reporting: list[asyncio.Task[None]] = []
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            tasks = {
                "program": asyncio.create_task(program),
                "stop": asyncio.create_task(stop.wait()),
                "config": asyncio.create_task(watch.changed()),
                "writer": asyncio.create_task(store.run()),
                "space": asyncio.create_task(store.watch_space()),
            }
            try:
                done, _ = await asyncio.wait(
                    {tasks["program"], tasks["stop"], tasks["config"]},
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if tasks["program"] in done:
                    tasks["program"].result()  # its error; ending by itself is one too
                    raise RuntimeError("worker program ended")
                if tasks["config"] in done:
                    tasks["config"].result()  # the broker lost: an error, started again
                code = CONFIG_CHANGED if tasks["config"] in done else 0
            finally:
                tasks["program"].cancel()
                await asyncio.gather(tasks["program"], return_exceptions=True)
                with contextlib.suppress(TimeoutError):  # what stays is in the spool
                    async with asyncio.timeout(STOP_TIMEOUT_S / 2):
                        await store.wait_drained()
                for task in [*tasks.values(), *reporting]:
                    task.cancel()
                await asyncio.gather(*tasks.values(), *reporting, return_exceptions=True)
                store.spool.close()
                for sig in (signal.SIGINT, signal.SIGTERM):  # outside a run: ends at once
                    loop.remove_signal_handler(sig)
            return code


async def run_elsewhere(config: IocConfig, role: str, index: int) -> int:
    """``ioc worker <role>-<index>``: one child of the layout on a machine of its own, started
    again after a configuration change or a failure, until SIGTERM or Ctrl-C."""
    delay = RESTART_DELAY_S[0]
    while True:
        started = time.monotonic()
        try:
            code = await run_child(config, role, index, elsewhere=True)
        except Exception as exc:  # any failure: started again, as the service does
            log.error("%s-%d failed (%s); starting again in %.1fs", role, index, exc, delay)
            await asyncio.sleep(delay)
            delay = RESTART_DELAY_S[0] if time.monotonic() - started > 60 else delay * 2
            delay = min(delay, RESTART_DELAY_S[1])
            continue
        if code != CONFIG_CHANGED:
            return code
        log.info("%s-%d: configuration changed, starting again", role, index)


async def _publish_status(
    watch: ConfigurationWatch, counters: Callable[[], dict[str, int]]
) -> None:
    while True:
        await watch.report({"ready": True, "counters": counters()})
        await asyncio.sleep(STATUS_S)


def report(line: bytes) -> None:
    """A line to the service (standard output): :data:`READY`, or counters. The service
    gone (the pipe closed): stop as on SIGTERM."""
    try:
        sys.stdout.buffer.write(line + b"\n")
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        os.kill(os.getpid(), signal.SIGTERM)


def _end_with_the_service() -> None:
    """SIGTERM when the service process ends, even killed (Linux ``PR_SET_PDEATHSIG``)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # it ended before that was set
        os.kill(os.getpid(), signal.SIGTERM)


async def _report_counters(counters: Callable[[], dict[str, int]]) -> None:
    while True:
        report(COUNTERS + orjson.dumps(counters()))
        await asyncio.sleep(COUNTERS_S)


def main(argv: list[str] | None = None) -> int:
    role, index = (argv or sys.argv[1:])[:2]
    if role not in (INGEST, ANALYTICS):
        print(f"unknown role {role!r} (expected {INGEST} or {ANALYTICS})", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)-7s {role}-{index} %(name)s: %(message)s",
    )
    config = IocConfig.model_validate(orjson.loads(sys.stdin.buffer.read()))
    _end_with_the_service()
    try:
        return asyncio.run(run_child(config, role, int(index)))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
