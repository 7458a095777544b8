"""The data path of vehicles (issue #13), beside the stations' (ioc.pipeline):

    MQTT ``<prefix>/vehicles/<plate>/positions`` or OsmAnd HTTP
        → ingest.positions / ingest.osmand (decode) → ingest.position_validate
        → store (measurement ``position``, durable before the MQTT acknowledgement) and the
          dead-letter store (``rejected``, tag ``vehicle``)
        → analytics.journeys (trips, speeding, driving time, lost signal, zones: numpy over
          the batch, state per vehicle) → alerts.lifecycle (the same alert book)
        → web.vehicle_board → the wall (one ``vehicles`` frame a second)

A full spool refuses a batch whole, as for stations: the validator forgets its fixes (they
are no duplicates when they come again) and the caller holds or refuses the input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from alerts.lifecycle import AlertBook
from analytics.journeys import JourneyConfig, JourneyKernel, JourneyOutput
from analytics.journeys.transitions import journey_transitions
from ingest.position_validate import FLAG_GPS_JUMP, PositionValidator
from ingest.positions import PositionDecoder, refusal
from ingest.rejections import RejectionSink
from ingest.validate import Origin
from ioc.clock import now_ms
from ioc.errors import StorageFull
from ioc.fleet import FleetRegistry
from ioc.messages import PositionFix, PositionRejection, RawMessage, RejectReason
from ioc.vehicles_config import VehiclesConfig
from store.influx import InfluxStore
from store.position_lines import position_lines
from web.vehicle_board import VehicleBoard

log = logging.getLogger(__name__)


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
    ) -> None:
        self.fleet = fleet
        self.decoder = PositionDecoder(config, topic_prefix)
        self.validator = PositionValidator(fleet.vehicles, config)
        self.kernel = JourneyKernel(fleet.journey_config(journeys), fleet.kernel_vehicles())
        self._index = {vehicle_id: n for n, vehicle_id in enumerate(self.kernel.ids)}
        self._store = store
        self._rejections = rejections
        self._alerts = alerts
        self._board = board
        self._clock = clock
        self.positions = 0

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
        self._board.observe(fixes)
        self._apply(self.kernel.process(*self._columns(fixes)))

    def tick(self, now_ms: int) -> None:
        """Vehicles silent now (lost signal), and violations that ended without a next fix."""
        self._apply(self.kernel.tick(now_ms))

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
        transitions = journey_transitions(out)
        if not transitions:
            return
        now = self._clock()
        for t in transitions:
            if t.firing and t.rule_id != "journey.signal_lost":
                self._board.violation(t.station_id, t.ts_ms, now)
        self._alerts.apply(transitions)
