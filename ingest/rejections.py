"""Where refused input goes: counted by reason, written to the ``rejected`` measurement (the
dead-letter store, one row per refusal), kept in a short in-memory list for the API, announced
on the rejection topic (one notice per station per batch) and logged at most once per station
per interval.

A station id that is not in the registry is whatever a sender wrote: it is kept as the field
``sent_station``, never as the ``station`` tag (every distinct tag value is a new series that
InfluxDB 1.x indexes forever) nor as a key of the per-station state here, which a flood of
made-up ids would otherwise grow without bound.

InfluxDB keeps one point per series (measurement and tags) and timestamp, written here in
milliseconds: refusals of one source, reason and station in the same millisecond would
overwrite each other. Each such refusal after the first is therefore stored one millisecond
later than the one before it (a flood of more than 1,000 refusals a second of one series is
spread forward in time; ``received_at`` of the notice keeps the arrival). A sequence tag would
do the same at the cost of a new series per number, kept forever by InfluxDB 1.x's index.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, deque
from collections.abc import Callable

from ioc.clock import iso_utc
from ioc.config import IocConfig
from ioc.messages import PositionRejection, Rejection
from ioc.registry import StationRegistry
from store.influx import InfluxStore
from store.lines import rejection_line
from store.position_lines import position_rejection_line
from web.wire import rejection_json

log = logging.getLogger(__name__)
NOTICE_LISTS = 100  # refusals listed in one notice; the rest only counted
SERIES_REMEMBERED = 10_000  # last stored time per series, pruned beyond this


class RejectionSink:
    def __init__(
        self,
        store: InfluxStore,
        publish: Callable[[str, bytes], None],
        topic: str,
        log_interval_s: float,
        is_station: Callable[[str], bool],
        recent: int = 1_000,
    ) -> None:
        self._store = store
        self._is_station = is_station
        self._publish = publish
        self._topic = topic
        self._log_interval_ms = int(log_interval_s * 1000)
        self._last_logged: dict[str | None, int] = {}
        self._last_stored: dict[tuple[str, str, str | None], int] = {}  # series → time (ms)
        self.by_reason: Counter[str] = Counter()
        self.recent: deque[Rejection] = deque(maxlen=recent)

    @classmethod
    def of_service(
        cls,
        store: InfluxStore,
        publish: Callable[[str, bytes], None],
        config: IocConfig,
        registry: StationRegistry,
    ) -> RejectionSink:
        """The sink of a service process: notices on ``<prefix>/rejected``, stations as
        ``registry`` has them (it may be replaced in place)."""
        return cls(
            store,
            publish,
            f"{config.mqtt.topic_prefix}/rejected",
            config.ingest.reject_log_interval_s,
            is_station=lambda station_id: registry.get(station_id) is not None,
        )

    def handle(self, rejections: list[Rejection]) -> None:
        if not rejections:
            return
        stations = [self._registered(r.station_id) for r in rejections]
        self._store.append(self._lines(rejections, stations))
        by_station: dict[str | None, list[Rejection]] = {}
        for r, station in zip(rejections, stations, strict=True):
            self.by_reason[r.reason.value] += 1
            by_station.setdefault(r.station_id, []).append(r)  # per batch: the id as sent
            last = self._last_logged.get(station)
            if last is None or r.received_ms - last >= self._log_interval_ms:
                self._last_logged[station] = r.received_ms
                log.warning(
                    "rejected %s from station %s: %s (%s)",
                    r.source,
                    r.station_id,
                    r.reason.value,
                    r.detail,
                )
        self.recent.extend(rejections)
        for station_id, refused in by_station.items():
            self._publish(self._topic, _notice(station_id, refused))

    def handle_positions(
        self, rejections: list[PositionRejection], is_vehicle: Callable[[str], bool]
    ) -> None:
        """Refused vehicle fixes: counted and stored like the stations' (tag ``vehicle`` only
        for a vehicle of the registry), without a notice on the rejection topic."""
        if not rejections:
            return
        self._prune(min(r.received_ms for r in rejections))
        lines = []
        for r in rejections:
            self.by_reason[r.reason.value] += 1
            vehicle = r.vehicle if r.vehicle and is_vehicle(r.vehicle) else None
            ts_ms = self._spread((r.source, r.reason, f"vehicle:{vehicle}"), r.received_ms)
            lines.append(position_rejection_line(r, ts_ms, tagged=vehicle is not None))
        self._store.append(lines)

    def _registered(self, station_id: str | None) -> str | None:
        return station_id if station_id and self._is_station(station_id) else None

    def _lines(self, rejections: list[Rejection], stations: list[str | None]) -> list[str]:
        """One line per refusal, each at its own time within its series."""
        self._prune(min(r.received_ms for r in rejections))
        return [
            rejection_line(
                r,
                self._spread((r.source, r.reason, station), r.received_ms),
                tagged=station is not None,
            )
            for r, station in zip(rejections, stations, strict=True)
        ]

    def _prune(self, oldest_ms: int) -> None:
        """Keep the series times a new refusal could collide with, when there are many."""
        if len(self._last_stored) > SERIES_REMEMBERED:
            self._last_stored = {k: t for k, t in self._last_stored.items() if t >= oldest_ms}

    def _spread(self, series: tuple[str, str, str | None], received_ms: int) -> int:
        """The time to store a refusal of ``series`` at: its arrival, or 1 ms after the
        series' previous one."""
        ts_ms = max(self._last_stored.get(series, -1) + 1, received_ms)
        self._last_stored[series] = ts_ms
        return ts_ms


def _notice(station_id: str | None, refused: list[Rejection]) -> bytes:
    """The rejection topic's message: a station's refusals of one batch (docs/protocol.md)."""
    return json.dumps(
        {
            "station_id": station_id,
            "received_at": iso_utc(refused[0].received_ms),
            "count": len(refused),
            "rejected": [rejection_json(r) for r in refused[:NOTICE_LISTS]],
        }
    ).encode()
