"""Where refused input goes: counted by reason, published with its reason on the rejection
topic, written to the ``rejected`` measurement (the dead-letter store), kept in a short
in-memory list for the API, and logged at most once per station per interval."""

from __future__ import annotations

import json
import logging
from collections import Counter, deque
from collections.abc import Callable

from ioc.messages import Rejection
from store.influx import InfluxStore
from store.lines import rejection_line
from web.wire import rejection_json

log = logging.getLogger(__name__)


class RejectionSink:
    def __init__(
        self,
        store: InfluxStore,
        publish: Callable[[str, bytes], None],
        topic: str,
        log_interval_s: float,
        recent: int = 1_000,
    ) -> None:
        self._store = store
        self._publish = publish
        self._topic = topic
        self._log_interval_ms = int(log_interval_s * 1000)
        self._last_logged: dict[str | None, int] = {}
        self.by_reason: Counter[str] = Counter()
        self.recent: deque[Rejection] = deque(maxlen=recent)

    def handle(self, rejections: list[Rejection]) -> None:
        if not rejections:
            return
        self._store.append([rejection_line(r) for r in rejections])
        for r in rejections:
            self.by_reason[r.reason.value] += 1
            self.recent.append(r)
            self._publish(self._topic, json.dumps(rejection_json(r)).encode())
            last = self._last_logged.get(r.station_id)
            if last is None or r.received_ms - last >= self._log_interval_ms:
                self._last_logged[r.station_id] = r.received_ms
                log.warning(
                    "rejected %s from station %s: %s (%s)",
                    r.source,
                    r.station_id,
                    r.reason.value,
                    r.detail,
                )
