"""An ingest worker of the worker layout (``ioc serve --workers N``, ioc.workers): the
stations' readings from the broker's shared subscription (``$share/<group>/...``, served
round-robin by Mosquitto 2) → decode and validate → spool and InfluxDB → the analytics
partition of each station (ioc.partitions) → acknowledged to the broker once the spool's
fsync and the partitions' messages are both durable.

The same :class:`ioc.pipeline.Pipeline` as the single process runs here, with the partitions
in place of the analytics engine; the engine, board and alert book it is built with stay
idle. Duplicates that reach the same worker are refused here; the partition that owns the
station catches those that reach different workers (a second copy of a point in InfluxDB is
the same point).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from alerts.lifecycle import AlertBook
from analytics.engine import AnalyticsEngine
from ingest.inbox import Inbox
from ingest.mqtt_source import MqttLink
from ingest.rejections import RejectionSink
from ingest.validate import ReadingValidator
from ioc.clock import now_ms
from ioc.config import IocConfig
from ioc.config_store import Configuration
from ioc.internal_publisher import InternalPublisher
from ioc.messages import RawMessage
from ioc.partitions import PartitionRouter, assign_partitions
from ioc.pipeline import Pipeline
from store.influx import InfluxStore
from web.broadcast import Broadcaster
from web.station_board import StationBoard

log = logging.getLogger(__name__)
HEARTBEAT_S = 0.02  # an idle worker's watermark: how long a partition may wait for it


def shared_filters(config: IocConfig) -> list[str]:
    """The stations' topics, shared among the ingest workers."""
    prefix, group = config.mqtt.topic_prefix, config.workers.group
    return [f"$share/{group}/{prefix}/stations/+/{kind}" for kind in ("readings", "senml")]


async def run_ingest_worker(
    config: IocConfig,
    index: int,
    configuration: Configuration,
    store: InfluxStore,
    ready: Callable[[Callable[[], dict[str, int]]], None],
) -> None:
    """Run until cancelled (``ready`` called once subscribed, with what tells the worker's
    counters); raises if the broker fails the internal publishing."""
    registry, mqtt_config = configuration.registry, config.mqtt
    own = mqtt_config.connection(f"ingest-{index}")  # its account on a secured broker
    inbox: Inbox[RawMessage] = Inbox(mqtt_config.queue_size)
    mqtt = MqttLink(own, inbox, shared_filters(config))
    publisher = InternalPublisher(own.connection("out"))
    rules = {rule.id: rule for rule in configuration.rules}
    partitions = assign_partitions(
        registry, config.workers.partition_count(), configuration.anomaly
    )
    router = PartitionRouter(mqtt_config.topic_prefix, partitions, publisher, worker=index)
    alerts_config = config.alerts.model_copy(update={"database": ":memory:"})
    pipeline = Pipeline(
        registry=registry,
        rules=rules,
        validator=ReadingValidator(registry, config.ingest),
        store=store,
        rejections=RejectionSink.of_service(store, mqtt.publish_nowait, config, registry),
        engine=AnalyticsEngine(config.analytics, registry),
        alerts=AlertBook(rules, alerts_config),
        board=StationBoard(registry, config.web.offline_after_intervals),
        broadcaster=Broadcaster(1, 1, dict),
        batch_size=config.ingest.batch_size,
        gather_s=config.ingest.gather_ms / 1000,
        partitions=router,
        topic_prefix=mqtt_config.topic_prefix,
    )

    async def heartbeats() -> None:
        """While idle, the watermark moves on: the partitions need not wait for this one."""
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            if not pipeline.busy and inbox.empty():
                router.forward([], now_ms())

    publishing = asyncio.create_task(publisher.run())
    receiving = asyncio.create_task(mqtt.run())
    processing: asyncio.Task[None] | None = None
    beating: asyncio.Task[None] | None = None
    try:
        await publisher.started(publishing)
        processing = asyncio.create_task(pipeline.run(inbox, mqtt.acknowledge))
        beating = asyncio.create_task(heartbeats())
        await _until(mqtt.connected.wait(), publishing)

        def counters() -> dict[str, int]:
            return {
                "received": mqtt.stats.received,
                "backpressure_waits": mqtt.stats.backpressure_waits,
                "messages": pipeline.stats.messages,
                "batches": pipeline.stats.batches,
                "readings": pipeline.stats.readings,
                "rejections": pipeline.stats.rejections,
                "written_points": store.stats.written_points,
                "pending_bytes": store.pending_bytes,
            }

        ready(counters)
        log.info("ingest worker %d: receiving", index)
        # a failed internal publish ends the worker: what it did not acknowledge comes again
        await asyncio.wait({publishing, processing}, return_when=asyncio.FIRST_COMPLETED)
        for done in (publishing, processing):
            if done.done():
                done.result()
    finally:
        tasks = [t for t in (receiving, beating, processing, publishing) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _until(waiting: Coroutine[Any, Any, Any], failing: asyncio.Task[None]) -> None:
    """Await ``waiting`` unless ``failing`` ends first (then raise its error)."""
    task = asyncio.ensure_future(waiting)
    await asyncio.wait({task, failing}, return_when=asyncio.FIRST_COMPLETED)
    if not task.done():
        task.cancel()
        failing.result()
        raise RuntimeError("internal publisher ended")
