"""Forwarding accepted positions to another system within the law's 2 minutes (Circular
71/2024/TT-BCA: the operator's server forwards journey data to the Traffic Police system).

Each target of ``vehicles.forward`` gets its own bounded queue and a task that POSTs what
waits every ``every_s`` (at most 120 s), as JSON::

    {"positions": [{"plate": "49C12345", "driver": "790123456789", "time": 1796450000,
                    "lat": 11.94, "lon": 108.45, "speed": 52.0}, ...]}

(plate without separators, Unix time in seconds, WGS84, km/h: the fields the circular names).
A failed POST (no answer, or not 2xx) keeps the batch for the next round, oldest first; a
queue at ``queue_max`` drops its oldest fixes and counts them (health ``forwarding``). The
national system's own API is out of reach here: this is the generic webhook form; an MQTT
bridge of Mosquitto (docs/protocol.md) is the other. Nothing here blocks ingestion.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from ioc.messages import PositionFix
from ioc.vehicles_config import ForwardTarget

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ForwardStats:
    forwarded: int = 0
    failed_posts: int = 0
    dropped: int = 0
    queued: int = 0
    oldest_wait_s: float = 0.0


class PositionForwarder:
    def __init__(self, target: ForwardTarget, session: aiohttp.ClientSession) -> None:
        self.target = target
        self._session = session
        self._queue: deque[tuple[float, dict[str, Any]]] = deque()
        self.stats = ForwardStats()

    def offer(self, fixes: Iterable[PositionFix], now_s: float) -> None:
        """Queue accepted fixes (never blocks; beyond ``queue_max`` the oldest go)."""
        queue, limit = self._queue, self.target.queue_max
        for fix in fixes:
            queue.append((now_s, _record(fix)))
        overflow = len(queue) - limit
        for _ in range(max(0, overflow)):
            queue.popleft()
        if overflow > 0:
            self.stats.dropped += overflow
        self.stats.queued = len(queue)

    async def run(self) -> None:
        """POST what waits every ``every_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.target.every_s)
            await self.send_waiting(asyncio.get_running_loop().time())

    async def send_waiting(self, now_s: float) -> None:
        """One round: batches of ``batch_max`` until the queue is empty or a POST fails."""
        queue = self._queue
        while queue:
            batch = [queue.popleft() for _ in range(min(len(queue), self.target.batch_max))]
            if not await self._post([record for _, record in batch]):
                queue.extendleft(reversed(batch))  # kept, oldest first, for the next round
                break
            self.stats.forwarded += len(batch)
        self.stats.queued = len(self._queue)
        self.stats.oldest_wait_s = round(now_s - self._queue[0][0], 1) if self._queue else 0.0

    async def _post(self, records: list[dict[str, Any]]) -> bool:
        try:
            async with self._session.post(
                str(self.target.url),
                json={"positions": records},
                headers=self.target.headers,
                timeout=aiohttp.ClientTimeout(total=self.target.timeout_s),
            ) as response:
                if 200 <= response.status < 300:
                    return True
                reason = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        self.stats.failed_posts += 1
        log.warning(
            "forwarding to %s failed (%s): %d positions wait",
            self.target.url,
            reason,
            len(self._queue) + len(records),
        )
        return False


def _record(fix: PositionFix) -> dict[str, Any]:
    return {
        "plate": fix.vehicle,
        "driver": fix.driver,
        "time": fix.ts_ms // 1000,
        "lat": fix.lat,
        "lon": fix.lon,
        "speed": fix.speed_kmh,
    }
