"""An analytics partition of the worker layout (``ioc serve --workers N``, ioc.workers): the
one place where the windows, rule state and duplicate filter of its stations live
(ioc.partitions.partition_of).

    <prefix>/internal/analytics/<p> (readings from every ingest worker, QoS 1)
      → duplicates refused (ingest.validate.ReceivedValues) → AnalyticsEngine
      → derived values to InfluxDB (its own spool) → PartitionOutput to <prefix>/internal/output
      → acknowledged once the spool's fsync and the output are both durable

At start it rebuilds its stations' windows from InfluxDB (ioc.warmup) and sends the
transitions of that history for the service to reconcile the alert book with; its clock
ticks (hours closing, offline stations) are sent the same way as its batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace

import msgspec

from analytics.engine import AnalyticsEngine, AnalyticsOutput
from ingest.inbox import Inbox
from ingest.mqtt_source import MqttLink
from ingest.rejections import RejectionSink
from ingest.validate import ReceivedValues
from ioc.clock import now_ms
from ioc.config import IocConfig
from ioc.config_store import Configuration
from ioc.errors import StorageFull, StoreError
from ioc.internal_publisher import InternalPublisher
from ioc.messages import RawMessage, Reading, Rejection
from ioc.partitions import (
    Forwarded,
    OrderedMerge,
    PartitionOutput,
    analytics_topic,
    assign_partitions,
    decode_forwarded,
    encode,
    output_topic,
    partition_registry,
)
from ioc.warmup import stored_history
from store.influx import InfluxStore

log = logging.getLogger(__name__)
TICK_MS = 10_000  # as the single process's analytics ticks
HOLD_MAX_MS = 2_000  # a reading waits this long at most for a silent worker's watermark


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class Partition:
    def __init__(
        self,
        config: IocConfig,
        index: int,
        configuration: Configuration,
        store: InfluxStore,
        publisher: InternalPublisher,
        rejections: RejectionSink,
    ) -> None:
        self.index = index
        partitions = assign_partitions(
            configuration.registry, config.workers.partition_count(), configuration.anomaly
        )
        self.owned, seen = partitions.stations_of(index)
        self.registry = partition_registry(configuration.registry, seen)  # with the halo
        analytics = config.analytics.model_copy(
            update={"rules": configuration.rules, "anomaly": configuration.anomaly}
        )
        self.engine = AnalyticsEngine(analytics, self.registry)
        self._store = store
        self._publisher = publisher
        self._rejections = rejections
        self._output = output_topic(config.mqtt.topic_prefix)
        self._received = ReceivedValues()
        self.readings = 0  # analysed
        self._synced_lines = 0  # of the spool's appended lines, made durable
        self._merge: OrderedMerge[RawMessage] = OrderedMerge(
            config.workers.ingest_count(), HOLD_MAX_MS
        )

    async def warm_up(self, hours: int) -> None:
        """Rebuild the windows from InfluxDB; the service reconciles the alert book."""
        if hours <= 0:
            return
        try:
            history = await stored_history(self._store, self.registry, hours)
        except StoreError as exc:
            log.warning("partition %d starts without history (InfluxDB: %s)", self.index, exc)
            return
        out = self.engine.evaluate(history) if history else AnalyticsOutput([], [], {})
        self._send(out, [], warm_up=True)
        log.info("partition %d warmed up on %d stored readings", self.index, len(history))

    def take(self, batch: list[RawMessage]) -> list[RawMessage]:
        """Take in a batch of messages; return the messages whose readings are all processed
        (:class:`OrderedMerge` decides when each reading may go)."""
        arrival = monotonic_ms()
        for message in batch:
            try:
                self._merge.add(decode_forwarded(message.payload), message, arrival)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                # only the service's account may publish here: a bug of ours, not a device's
                log.error("partition %d: internal message not understood: %s", self.index, exc)
                self._merge.add(Forwarded(-1, 0), message, arrival)
        readings, done = self._merge.release(arrival)
        if readings:
            self.process(readings)
        return done

    def counters(self) -> dict[str, int]:
        store = self._store
        return {
            "readings": self.readings,
            "held": self._merge.held(),
            "written_points": store.stats.written_points,
            "pending_bytes": store.pending_bytes,
        }

    def next_deadline_ms(self) -> int | None:
        return self._merge.next_deadline_ms()

    def process(self, readings: list[Reading]) -> None:
        refused: list[Rejection] = []
        readings = self._received.keep_new(readings, refused)
        owned = self.owned
        self.readings += sum(1 for r in readings if r.station_id in owned)
        self._rejections.handle([r for r in refused if r.station_id in owned])
        self._send(self.engine.evaluate(readings), readings)

    def tick(self) -> None:
        out = self.engine.tick(now_ms())
        if out.transitions or out.lines or out.station_metrics:
            self._send(out, [])

    def _send(self, out: AnalyticsOutput, readings: list[Reading], warm_up: bool = False) -> None:
        """What came of this partition's own stations (not of the halo's: their owners say
        it) to InfluxDB and to the service."""
        owned = self.owned
        self._store.append([line for line in out.lines if station_of_line(line) in owned])
        aqi, fire = self.engine.air.current, self.engine.fire.current
        metrics = {s: m for s, m in out.station_metrics.items() if s in owned}
        changed = (metrics.keys() if not warm_up else aqi.keys() | fire.keys()) & owned
        message = PartitionOutput(
            partition=self.index,
            readings=latest_per_station([r for r in readings if r.station_id in owned]),
            transitions=[t for t in out.transitions if t.station_id in owned],
            metrics=metrics,
            aqi=[aqi[s] for s in changed if s in aqi],
            fire=[fire[s] for s in changed if s in fire],
            warm_up=warm_up,
        )
        self._publisher.publish(self._output, encode(message))

    async def durable(self) -> None:
        """Wait until what was sent and stored so far is durable (spool fsync, broker)."""
        spool = self._store.spool
        while spool.stats.appended_lines != self._synced_lines:
            appended = spool.stats.appended_lines
            try:
                await spool.sync()
                self._synced_lines = appended
            except StorageFull as exc:
                log.warning("partition %d: spool fsync failed (%s)", self.index, exc.reason)
                await self._store.spool.has_room.wait()
        await self._publisher.flushed()


async def run_partition(
    config: IocConfig,
    index: int,
    configuration: Configuration,
    store: InfluxStore,
    ready: Callable[[Callable[[], dict[str, int]]], None],
) -> None:
    """Run until cancelled (``ready`` called once subscribed and warmed up, with what tells
    the partition's counters); raises if the broker fails the internal publishing."""
    mqtt_config = config.mqtt
    own = mqtt_config.connection(f"analytics-{index}")  # its account on a secured broker
    inbox: Inbox[RawMessage] = Inbox(mqtt_config.queue_size)
    topic = analytics_topic(mqtt_config.topic_prefix, index)
    mqtt = MqttLink(own, inbox, [topic])
    publisher = InternalPublisher(own.connection("out"))
    rejections = RejectionSink.of_service(
        store, mqtt.publish_nowait, config, configuration.registry
    )
    partition = Partition(config, index, configuration, store, publisher, rejections)
    publishing = asyncio.create_task(publisher.run())
    receiving = asyncio.create_task(mqtt.run())  # subscribed first: what comes waits
    working: asyncio.Task[None] | None = None
    try:
        await publisher.started(publishing)
        working = asyncio.create_task(_work(partition, inbox, mqtt, config, ready))
        done, _ = await asyncio.wait({publishing, working}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        tasks = [t for t in (receiving, working, publishing) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _work(
    partition: Partition,
    inbox: Inbox[RawMessage],
    mqtt: MqttLink,
    config: IocConfig,
    ready: Callable[[Callable[[], dict[str, int]]], None],
) -> None:
    """Warm up, then process batches (acknowledged once durable) and ticks, in turn."""
    await partition.warm_up(config.analytics.warmup_hours)
    await partition.durable()
    await mqtt.connected.wait()
    ready(partition.counters)
    next_tick = monotonic_ms() + TICK_MS
    batch_size = config.ingest.batch_size
    while True:
        deadline = min(next_tick, partition.next_deadline_ms() or next_tick)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(deadline - monotonic_ms(), 0) / 1000):
                await inbox.wait()
        if monotonic_ms() >= next_tick:
            partition.tick()
            next_tick = monotonic_ms() + TICK_MS
        done = partition.take(inbox.take(batch_size))
        await partition.durable()
        mqtt.acknowledge(done)


def latest_per_station(readings: list[Reading]) -> list[Reading]:
    """What the station board needs of a batch (in time order): one reading per station with
    its newest time and values, each parameter as last received. A backlog brings dozens per
    station, and the board shows only the latest."""
    newest: dict[str, Reading] = {}
    values: dict[str, dict[str, float]] = {}
    for reading in readings:
        station = reading.station_id
        newest[station] = reading
        merged = values.get(station)
        values[station] = reading.values if merged is None else merged | reading.values
    return [r if values[s] is r.values else replace(r, values=values[s]) for s, r in newest.items()]


def station_of_line(line: str) -> str:
    """The ``station`` tag of a derived line (station ids need no escaping: [A-Za-z0-9_.-])."""
    at = line.find(",station=")
    if at < 0:
        return ""
    start = at + len(",station=")
    end = min((i for i in (line.find(",", start), line.find(" ", start)) if i >= 0), default=-1)
    return line[start:end]
