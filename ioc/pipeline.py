"""The processing stage that ties the data path together, one batch at a time:

    raw MQTT messages → ingest.decode (readings + rejections)
                      → store (batched InfluxDB writes) and ingest.rejections (dead letters)
                      → analytics.engine (rule transitions, AQI, fire danger, anomalies)
                      → alerts.lifecycle (alert events)
                      → web.station_board / web.broadcast (the wall)

Each step takes and returns typed messages (ioc.messages); batches keep per-message Python
overhead low and give the numpy analytics whole arrays to work on.

A full spool (ioc.errors.StorageFull) refuses a batch as a whole: its readings are forgotten
by the validator (so they are no duplicates when they come again), MQTT batches are held and
tried again when the spool has room — unacknowledged meanwhile, so the bounded inbox fills and
the receiver waits — and other inputs get the error (HTTP 503, drop-folder file left in place).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from alerts.lifecycle import AlertBook
from analytics.engine import AnalyticsEngine, AnalyticsOutput
from ingest.decode import decode_reading, decode_senml, parse_json
from ingest.driver_images import images_topic
from ingest.inbox import Inbox
from ingest.live_lane import LaneLedger
from ingest.rejections import RejectionSink
from ingest.validate import Origin, ReadingValidator, internal_error, message_rejection
from ioc.clock import now_ms
from ioc.config import RuleConfig
from ioc.errors import StorageFull
from ioc.messages import (
    Alert,
    PositionFix,
    PositionRejection,
    RawMessage,
    Reading,
    Rejection,
    RejectReason,
)
from ioc.partitions import PartitionOutput, PartitionRouter, decode_output, output_topic
from ioc.registry import StationRegistry
from ioc.vehicle_pipeline import VehiclePipeline
from ioc.warmup import reconcile
from store.influx import InfluxStore
from store.lines import ReadingSerializer, alert_line
from web.broadcast import Broadcaster
from web.station_board import StationBoard
from web.wire import alert_json

log = logging.getLogger(__name__)
LANE_BATCH = 500  # batch size while the live lane is open


@dataclass(slots=True)
class PipelineStats:
    messages: int = 0
    readings: int = 0
    rejections: int = 0
    batches: int = 0
    alert_events: int = 0
    held_batches: int = 0  # batches that waited for room in a full spool


class Pipeline:
    def __init__(
        self,
        *,
        registry: StationRegistry,
        rules: Mapping[str, RuleConfig],
        validator: ReadingValidator,
        store: InfluxStore,
        rejections: RejectionSink,
        engine: AnalyticsEngine,
        alerts: AlertBook,
        board: StationBoard,
        broadcaster: Broadcaster,
        batch_size: int,
        vehicles: VehiclePipeline | None = None,
        gather_s: float = 0.0,
        partitions: PartitionRouter | None = None,
        topic_prefix: str = "",
    ) -> None:
        """``partitions``: the worker layout (ioc.partitions): accepted readings go to the
        analytics partitions instead of this process's engine and board, and the partitions'
        outputs (topic ``<prefix>/internal/output``) come back here to the alert book and the
        board."""
        self._registry = registry
        self._rules = rules
        self._validator = validator
        self._serializer = ReadingSerializer(registry)
        self._store = store
        self._rejections = rejections
        self.engine = engine  # replaced whole when the station registry changes
        self._alerts = alerts
        self._board = board
        self._broadcaster = broadcaster
        self.vehicles = vehicles or VehiclePipeline.without_fleet(store, rejections, alerts)
        self._batch_size = batch_size
        self._gather_s = gather_s
        self.stats = PipelineStats()
        self.ledger: LaneLedger | None = None  # set while a live lane may run
        self.busy = False  # a batch is taken from the inbox and not processed yet
        self._partitions = partitions
        self._output_topic = output_topic(topic_prefix)

    def follow_registry(self) -> None:
        """Take in a changed registry (the engine is replaced separately)."""
        self._serializer.follow_registry()

    async def run(
        self,
        inbox: Inbox[RawMessage],
        acknowledge: Callable[[list[RawMessage]], None],
    ) -> None:
        """Process messages in batches until cancelled, acknowledging each batch once its
        content is durable. A batch is what waits, plus what arrives within ``gather_s``
        (up to ``batch_size``): per-batch costs (analytics, fsync) then spread over many
        messages. The fsync and acknowledgement of the batches processed so far overlap the
        next batch (one task, one fsync for all that waits). A batch the full spool refuses
        is held, unacknowledged, and processed again when it has room."""
        unacked: list[list[RawMessage]] = []  # processed, in order, awaiting an fsync
        processed = asyncio.Event()
        acker = asyncio.create_task(self._ack_durable(unacked, processed, acknowledge))
        try:
            while True:
                await inbox.wait()
                limit = self._batch_limit()
                batch = inbox.take(limit)  # the live lane's first
                self.busy = True
                if len(batch) < limit and self._gather_s > 0:
                    await asyncio.sleep(self._gather_s)
                    batch += inbox.take(limit - len(batch))
                while True:
                    try:
                        self._process_safely(batch)
                        break
                    except StorageFull as exc:
                        self.stats.held_batches += 1
                        log.warning("spool full (%s): %d messages wait", exc.reason, len(batch))
                        await self._store.spool.has_room.wait()
                self.busy = False
                unacked.append(batch)
                processed.set()
                # Let the socket readers run between batches: a full inbox would otherwise be
                # drained whole first, the broker's stream stalling meanwhile, and a live
                # reading (the live lane) waiting behind all of it.
                await asyncio.sleep(0)
        finally:
            acker.cancel()  # what is not acknowledged, the broker sends again

    def _batch_limit(self) -> int:
        """While the live lane is open, backlog batches are smaller: a live reading waits
        at most for the batch in progress (~20 ms at 500 messages)."""
        if self.ledger is not None and self.ledger.lane_open:
            return min(self._batch_size, LANE_BATCH)
        return self._batch_size

    async def _ack_durable(
        self,
        unacked: list[list[RawMessage]],
        processed: asyncio.Event,
        acknowledge: Callable[[list[RawMessage]], None],
    ) -> None:
        """Acknowledge processed batches, in order, once an fsync made them durable: one
        fsync for all the batches processed while the previous one ran."""
        while True:
            await processed.wait()
            processed.clear()
            pending = unacked[:]
            while True:
                try:
                    await self._store.spool.sync()
                    if self._partitions is not None:  # raises if the broker failed us: the
                        await self._partitions.flushed()  # process ends, nothing acknowledged
                    break
                except StorageFull as exc:  # not durable: no acknowledgement until it is
                    waiting = sum(map(len, pending))
                    log.warning("spool fsync failed (%s): %d messages wait", exc.reason, waiting)
                    await self._store.spool.has_room.wait()
            del unacked[: len(pending)]
            for batch in pending:
                acknowledge(batch)

    def _process_safely(self, batch: list[RawMessage]) -> None:
        ledger = self.ledger
        if ledger is not None:  # of a message's two copies (live lane), process one
            batch, _ = ledger.select(batch)
        try:
            self.process(batch)
        except StorageFull:
            raise  # not the messages' fault: run() holds the batch until there is room
        except Exception:  # a bug must not stop ingestion nor lose the messages
            log.exception("pipeline failed on a batch of %d messages", len(batch))
            self._rejections.handle(
                [internal_error(Origin("mqtt", m.received_ms, m.payload)) for m in batch]
            )
        if ledger is not None:
            ledger.commit()

    def drain(self, inbox: Inbox[RawMessage]) -> None:
        """Process everything still queued (at shutdown)."""
        while not inbox.empty():
            self._process_safely(inbox.take(self._batch_size))

    def process(self, messages: list[RawMessage]) -> None:
        """Decode MQTT messages (reading JSON or SenML by topic; vehicles' positions), then
        :meth:`accept` them. A bug while decoding one message refuses that message
        (``internal_error``) only."""
        readings: list[Reading] = []
        rejections: list[Rejection] = []
        stations: list[RawMessage] = []
        positions: list[RawMessage] = []
        images: list[RawMessage] = []
        for m in messages:
            topic = m.topic
            kind = (
                positions if _is_positions(topic) else images if images_topic(topic) else stations
            )
            kind.append(m)
        messages = stations
        if self._partitions is not None:
            messages = self._take_outputs(stations)
        self.vehicles.take_images(images)
        fixes, refused = self.vehicles.decode(positions)
        for message in messages:
            origin = Origin("mqtt", message.received_ms, message.payload)
            try:
                self._decode(message, origin, readings, rejections)
            except Exception:
                log.exception("decoding failed on a message of %s", message.topic)
                rejections.append(internal_error(origin, _parse_topic(message.topic)[0]))
        self.stats.messages += len(messages) + len(positions) + len(images)
        self.stats.batches += 1
        watermark = 0  # only the worker layout's partitions need it
        if self._partitions is not None:
            watermark = max((m.received_ms for m in stations), default=0)
        self.accept(readings, rejections, fixes, refused, watermark)

    def _decode(
        self,
        message: RawMessage,
        origin: Origin,
        readings: list[Reading],
        rejections: list[Rejection],
    ) -> None:
        station_id, kind = _parse_topic(message.topic)
        if station_id is None:
            detail = f"topic {message.topic!r} is not <prefix>/stations/<id>/{kind}"
            rejections.append(message_rejection(origin, RejectReason.MALFORMED, detail))
            return
        body = parse_json(origin, message.payload, rejections, station_id)
        if body is None:
            return
        if kind == "readings":
            reading = decode_reading(self._validator, origin, station_id, body, rejections)
            if reading is not None:
                readings.append(reading)
        else:
            readings += decode_senml(self._validator, origin, body, rejections, station_id)

    def accept(
        self,
        readings: list[Reading],
        rejections: list[Rejection],
        fixes: list[PositionFix] | None = None,
        refused: list[PositionRejection] | None = None,
        watermark_ms: int = 0,
    ) -> None:
        """Store validated readings (and vehicles' fixes) and refusals from any input, then
        run rules and alerts. Raises :class:`StorageFull` when the spool is full: nothing of
        the batch was kept, and its readings and fixes are forgotten by the validators so they
        may come again. ``watermark_ms``: every message received before then is in this batch
        or an earlier one (for the partitions, ioc.partitions.OrderedMerge)."""
        fixes, refused = fixes or [], refused or []
        try:
            self._store.append_input(self._serializer.lines(readings) + self.vehicles.lines(fixes))
        except StorageFull:
            self._validator.forget(readings)
            self.vehicles.forget(fixes)
            raise
        self.vehicles.stored(fixes, refused)
        self._rejections.handle(rejections)
        if self._partitions is not None:
            self._partitions.forward(readings, watermark_ms or now_ms())
        else:
            self._board.observe(readings)
            self.apply_analytics(self.engine.evaluate(readings))
        self.stats.readings += len(readings)
        self.stats.rejections += len(rejections)

    def _take_outputs(self, messages: list[RawMessage]) -> list[RawMessage]:
        """Apply the analytics partitions' outputs among ``messages``; the rest is returned.
        An output that does not decode is a bug of ours: logged and dropped, not refused as
        a reading."""
        rest = []
        output = self._output_topic
        for message in messages:
            if message.topic != output:
                rest.append(message)
                continue
            try:
                self.apply_partition_output(decode_output(message.payload))
            except StorageFull:
                raise
            except Exception:
                log.exception("a partition output could not be applied")
        return rest

    def apply_partition_output(self, out: PartitionOutput) -> None:
        self._board.observe(out.readings)
        self._board.observe_metrics(out.metrics)
        self.engine.air.current.update((a.station_id, a) for a in out.aqi)
        self.engine.fire.current.update((f.station_id, f) for f in out.fire)
        if out.warm_up:
            self._alerts.apply(reconcile(self._alerts, out.transitions))
        else:
            self._alerts.apply(out.transitions)

    def apply_analytics(self, out: AnalyticsOutput) -> None:
        """Derived values (AQI, fire danger, anomalies) to the store and the board; rule
        transitions to the alert book, whose events come back to :meth:`publish_alert_events`."""
        self._store.append(out.lines)
        self._board.observe_metrics(out.station_metrics)
        self._alerts.apply(out.transitions)

    def publish_alert_events(self, events: list[tuple[str, Alert]]) -> None:
        """Send alert changes — from rules, operators or escalation — to the store (charts),
        the station board and the wall. Subscribed to the alert book."""
        if not events:
            return
        self.stats.alert_events += len(events)
        lines = []
        for event, alert in events:
            ts = {"opened": alert.opened_ms, "resolved": alert.resolved_ms}.get(event)
            lines.append(alert_line(event, alert, ts or now_ms()))
            self._board.alert_event(alert)
            self._broadcaster.publish(
                {
                    "type": "alert",
                    "event": event,
                    "alert": alert_json(alert, self._rules, self._registry),
                }
            )
        self._store.append(lines)


def _is_positions(topic: str) -> bool:
    """``<prefix>/vehicles/<plate>/positions`` (ingest.positions checks the rest)."""
    return topic.endswith("/positions") and "/vehicles/" in topic


def _parse_topic(topic: str) -> tuple[str | None, str]:
    """``<prefix>/stations/<id>/readings|senml`` → (station id or None, kind)."""
    parts = topic.rsplit("/", 3)
    if len(parts) != 4 or parts[1] != "stations" or not parts[2]:
        return None, "readings|senml"
    if parts[3] not in ("readings", "senml"):
        return None, "readings|senml"
    return parts[2], parts[3]
