"""The data path of vehicles (issue #13), beside the stations' (ioc.pipeline):

    MQTT ``<prefix>/vehicles/<plate>/positions`` or OsmAnd HTTP
        → ingest.positions / ingest.osmand (decode) → ingest.position_validate
        → store (measurement ``position``, durable before the MQTT acknowledgement) and the
          dead-letter store (``rejected``, tag ``vehicle``)
        → analytics.journeys (trips, speeding, driving time, lost signal, zones: numpy over
          the batch, state per vehicle) → alerts.lifecycle (the same alert book) and the
          journey journal (store.journey_book: trips, stops, violations for a year)
        → web.vehicle_board → the wall (one ``vehicles`` frame a second)

A full spool refuses a batch whole, as for stations: the validator forgets its fixes (they
are no duplicates when they come again) and the caller holds or refuses the input.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from alerts.lifecycle import AlertBook
from analytics.journeys import JourneyConfig, JourneyKernel, JourneyOutput
from analytics.journeys.images import DriverImageRule
from analytics.journeys.transitions import journey_transitions
from ingest.driver_images import DriverImageDecoder, DriverImageStore
from ingest.position_validate import FLAG_GPS_JUMP, PositionValidator
from ingest.positions import PositionDecoder, refusal
from ingest.rejections import RejectionSink
from ingest.validate import Origin
from ioc.clock import now_ms
from ioc.errors import StorageFull
from ioc.fleet import FleetRegistry
from ioc.messages import PositionFix, PositionRejection, RawMessage, RejectReason
from ioc.vehicles_config import VehiclesConfig
from store.forwarding import PositionForwarder
from store.influx import InfluxStore
from store.position_lines import driver_image_line, position_lines
from web.vehicle_board import VehicleBoard

#: silence is no driving violation: the vehicle is not shown "violating" for it
SILENCE_RULES = frozenset({"journey.signal_lost", "journey.silent"})
log = logging.getLogger(__name__)
LIVE_WITHIN_MS = 60_000  # a feed whose newest fix is this recent is live


class JourneyJournal(Protocol):
    """Where the kernel's trips, stops and violations are kept (store.journey_book): one
    transaction per call, never raising."""

    def record(self, out: JourneyOutput) -> None: ...

    def follow_fleet(
        self, company_of: Mapping[str, str], driver_of: Mapping[str, str | None]
    ) -> None: ...


class VehiclePipeline:
    def __init__(
        self,
        *,
        fleet: FleetRegistry,
        config: VehiclesConfig,
        journeys: JourneyConfig,
        topic_prefix: str,
        store: InfluxStore,
        rejections: RejectionSink,
        alerts: AlertBook,
        board: VehicleBoard,
        clock: Callable[[], int],
        forwarders: Sequence[PositionForwarder] = (),
        journal: JourneyJournal | None = None,
    ) -> None:
        self.fleet = fleet
        self._config = config
        self._journeys = journeys
        self.decoder = PositionDecoder(config, topic_prefix)
        self.validator = PositionValidator(fleet.vehicles, config)
        self.kernel = JourneyKernel(fleet.journey_config(journeys), fleet.kernel_vehicles())
        self._index = {vehicle_id: n for n, vehicle_id in enumerate(self.kernel.ids)}
        self._store = store
        self._rejections = rejections
        self._alerts = alerts
        self._board = board
        self._clock = clock
        self.forwarders = list(forwarders)
        self._journal = journal
        self.positions = 0
        self._newest_fix_ms = 0
        images = config.images
        self.image_decoder = DriverImageDecoder(images, topic_prefix)
        self.image_store = DriverImageStore(images.directory, images.keep_days)
        required = [v.id for v in fleet.vehicles.values() if v.type in images.required_types]
        self._image_rule = DriverImageRule(required, images.max_gap_s)

    def use_fleet(self, fleet: FleetRegistry) -> None:
        """A changed transport registry (ioc.live_config), in force from the next batch.

        Journey state is kept per vehicle id (JourneyKernel.carry_over): a vehicle in the
        registry before and after keeps its trip, driving time, ongoing violations, lost-signal
        timer, zone stays and driver-image clock; what changed about it (type, limits, zones)
        applies from its next fix on. A new vehicle starts fresh. A removed vehicle is closed
        at its last fix, as at the end of the stream: its open speeding episode (a violation
        if it qualifies) and its open trip go to the journal and the alert book now; the rest
        of its state is dropped (alerts already open stay open). Zones are matched by id: a
        new or reshaped zone is judged from each vehicle's last fix, without an enter event; a
        removed one is forgotten, without an exit event. The validator keeps its tracks
        (duplicates and jumps are still caught)."""
        self.fleet = fleet
        self.validator.follow(fleet.vehicles)
        previous = self.kernel
        self.kernel = JourneyKernel(fleet.journey_config(self._journeys), fleet.kernel_vehicles())
        closed = self.kernel.carry_over(previous)
        self._index = {vehicle_id: n for n, vehicle_id in enumerate(self.kernel.ids)}
        images = self._config.images
        required = [v.id for v in fleet.vehicles.values() if v.type in images.required_types]
        rule = DriverImageRule(required, images.max_gap_s)
        rule.carry_over(self._image_rule)
        self._image_rule = rule
        if closed.speeding or closed.trips:
            self._apply(closed)
        self._board.use_fleet(fleet)
        if self._journal is not None:
            vehicles = fleet.vehicles.values()
            self._journal.follow_fleet(
                {v.id: v.company for v in vehicles}, {v.id: v.driver for v in vehicles}
            )

    @classmethod
    def without_fleet(
        cls, store: InfluxStore, rejections: RejectionSink, alerts: AlertBook
    ) -> VehiclePipeline:
        """No vehicles registered: every fix is refused (``unknown_vehicle``), with its reason."""
        fleet = FleetRegistry.empty()
        return cls(
            fleet=fleet,
            config=VehiclesConfig(),
            journeys=JourneyConfig(),
            topic_prefix="ioc/v1",
            store=store,
            rejections=rejections,
            alerts=alerts,
            board=VehicleBoard(fleet),
            clock=now_ms,
        )

    def decode(
        self, messages: list[RawMessage]
    ) -> tuple[list[PositionFix], list[PositionRejection]]:
        """Fixes and refusals of MQTT position messages; a bug refuses its message only."""
        fixes: list[PositionFix] = []
        refused: list[PositionRejection] = []
        for message in messages:
            origin = Origin("mqtt", message.received_ms, message.payload)
            try:
                decoded = self.decoder.decode_message(origin, message.topic, refused)
                fixes += self.validator.validate_all(origin, decoded, refused)
            except Exception:
                log.exception("decoding failed on a message of %s", message.topic)
                detail = "a bug while processing: the message is kept here"
                refused.append(refusal(origin, RejectReason.INTERNAL_ERROR, detail))
        return fixes, refused

    def take_images(self, messages: list[RawMessage]) -> None:
        """Driver images: kept on disk (durably, before their acknowledgement) with a
        ``driver_image`` point each; a refused one recorded with its reason. A full disk
        raises StorageFull: the batch is held, and saving again is harmless."""
        refused: list[PositionRejection] = []
        lines, transitions = [], []
        for message in messages:
            origin = Origin("mqtt", message.received_ms, message.payload)
            try:
                image = self.image_decoder.decode(origin, message.topic, refused)
            except Exception:
                log.exception("decoding failed on a message of %s", message.topic)
                detail = "a bug while processing: the message is kept here"
                refused.append(refusal(origin, RejectReason.INTERNAL_ERROR, detail))
                continue
            if image is None:
                continue
            if image.vehicle not in self.fleet.vehicles:
                detail = f"vehicle {image.vehicle} is not in the registry"
                refused.append(refusal(origin, RejectReason.UNKNOWN_VEHICLE, detail, image.vehicle))
                continue
            try:
                self.image_store.save(image)
            except OSError as exc:
                raise StorageFull(
                    f"driver image not saved: {exc.strerror}", exc.errno or 0
                ) from exc
            lines.append(driver_image_line(image))
            transitions += self._image_rule.image(image.vehicle, image.ts_ms)
        self._rejections.handle_positions(refused, lambda v: v in self.fleet.vehicles)
        self._store.append(lines)
        if transitions:
            self._alerts.apply(transitions)

    def accept(self, fixes: list[PositionFix], refused: list[PositionRejection]) -> None:
        """Store the fixes (raises StorageFull, having kept nothing), then :meth:`stored`."""
        try:
            self._store.append_input(self.lines(fixes))
        except StorageFull:
            self.forget(fixes)
            raise
        self.stored(fixes, refused)

    def lines(self, fixes: list[PositionFix]) -> list[str]:
        return position_lines(fixes)

    def forget(self, fixes: list[PositionFix]) -> None:
        """Fixes the full spool did not take: they may come again."""
        self.validator.forget(fixes)

    def stored(self, fixes: list[PositionFix], refused: list[PositionRejection]) -> None:
        """After the fixes are durable: the refusals, the board and the journey rules."""
        self._rejections.handle_positions(refused, lambda v: v in self.fleet.vehicles)
        self.positions += len(fixes)
        if fixes:
            self._newest_fix_ms = max(self._newest_fix_ms, max(f.ts_ms for f in fixes))
        self._board.observe(fixes)
        for forwarder in self.forwarders:
            forwarder.offer(fixes, time.monotonic())
        self._image_rule.seen_all(fixes)
        self._apply(self.kernel.process(*self._columns(fixes)))

    def tick(self, now_ms: int) -> None:
        """Vehicles silent now (lost signal), and violations that ended without a next fix.

        "Now" is event time: the clock while the feed is live (its newest fix is within
        :data:`LIVE_WITHIN_MS`), else the newest fix any vehicle sent. A feed replaying its
        history (a gateway's backlog, the simulator catching up) or stopped as a whole is then
        not every vehicle losing its signal at once: a vehicle is silent against the others."""
        newest = self._newest_fix_ms
        event_now = now_ms if now_ms - newest <= LIVE_WITHIN_MS else newest
        self._apply(self.kernel.tick(event_now))
        late = self._image_rule.check(event_now, lambda v: self._board.is_moving(v, event_now))
        if late:
            self._alerts.apply(late)

    def _columns(self, fixes: list[PositionFix]) -> tuple[np.ndarray, ...]:
        """The kernel's columns of the fixes of registered vehicles, in one pass."""
        index = self._index.get
        vehicle: list[int] = []
        t_ms: list[int] = []
        lat: list[float] = []
        lon: list[float] = []
        speed: list[float] = []
        ignition: list[int] = []
        jump: list[bool] = []
        for f in fixes:
            v = index(f.vehicle)
            if v is None:
                continue
            vehicle.append(v)
            t_ms.append(f.ts_ms)
            lat.append(f.lat)
            lon.append(f.lon)
            speed.append(f.speed_kmh)
            ignition.append(-1 if f.ignition is None else int(f.ignition))
            jump.append(FLAG_GPS_JUMP in f.flags)
        return (
            np.array(vehicle, np.int64),
            np.array(t_ms, np.int64),
            np.array(lat, np.float64),
            np.array(lon, np.float64),
            np.array(speed, np.float64),
            np.array(ignition, np.int8),
            np.array(jump, np.bool_),
        )

    def _apply(self, out: JourneyOutput) -> None:
        if self._journal is not None:
            self._journal.record(out)
        transitions = journey_transitions(out)
        if not transitions:
            return
        now = self._clock()
        for t in transitions:
            if t.firing and t.rule_id not in SILENCE_RULES:
                self._board.violation(t.station_id, t.ts_ms, now)
        self._alerts.apply(transitions)
