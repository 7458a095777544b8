"""Is the service keeping up? Two measures for ``GET /api/v1/health``:

- :class:`LoopMonitor` — event-loop lag: a task asks to wake every ``interval_s`` and records
  how late it woke (sleep drift). A late wake-up beyond ``stall_threshold_ms`` is a *stall*:
  nothing on the loop (websocket frames, heartbeats, MQTT, HTTP) ran meanwhile. It keeps the
  latest lag, the worst stall of the last ``recent_s`` seconds and the number of stalls.
- :class:`PipelineLag` — processing lag: how long the newest acknowledged MQTT message took
  from receipt to being processed and durable, and, while messages wait in the inbox, how
  long ago the last processed one was received (it grows while processing is stuck).

Both are read on the monotonic clock (the loop's), except receipt times, which are epoch
milliseconds as :class:`~ioc.messages.RawMessage` carries them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from ioc.clock import now_ms
from ioc.messages import RawMessage


@dataclass(frozen=True, slots=True)
class Stall:
    at: float  # loop time (monotonic seconds) the loop woke up again
    ms: float  # how much later than asked


class LoopMonitor:
    def __init__(self, interval_s: float, stall_threshold_ms: float, recent_s: float) -> None:
        self.interval_s = interval_s
        self.stall_threshold_ms = stall_threshold_ms
        self.recent_s = recent_s
        self.lag_ms = 0.0
        self.stalls = 0
        self._recent: deque[Stall] = deque()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self.observe(loop.time(), (loop.time() - asked) * 1000)

    def observe(self, now: float, lag_ms: float) -> None:
        """One wake-up ``lag_ms`` later than asked, at loop time ``now``."""
        self.lag_ms = max(0.0, lag_ms)
        if self.lag_ms > self.stall_threshold_ms:
            self.stalls += 1
            self._recent.append(Stall(now, self.lag_ms))
        while self._recent and self._recent[0].at < now - self.recent_s:
            self._recent.popleft()

    def worst_recent_stall(self, now: float) -> Stall | None:
        """The longest stall that ended within the last ``recent_s`` seconds."""
        recent = [stall for stall in self._recent if stall.at >= now - self.recent_s]
        return max(recent, key=lambda stall: stall.ms, default=None)


class PipelineLag:
    """Fed by the acknowledgement of each processed batch; ``queued`` reads the inbox."""

    def __init__(self, queued: Callable[[], int]) -> None:
        self.queued = queued
        self._last_received_ms: int | None = None
        self._last_latency_ms = 0

    def processed(self, batch: list[RawMessage]) -> None:
        if batch:
            self._last_received_ms = max(message.received_ms for message in batch)
            self._last_latency_ms = max(0, now_ms() - self._last_received_ms)

    def lag_ms(self) -> int:
        """0 before anything was processed; the latency of the last processed message when
        nothing waits; now minus its receipt while messages wait (it grows if stuck)."""
        if self._last_received_ms is None:
            return 0
        if self.queued() == 0:
            return self._last_latency_ms
        return max(0, now_ms() - self._last_received_ms)


LOOP_MONITOR = web.AppKey("loop_monitor", LoopMonitor)
PIPELINE_LAG = web.AppKey("pipeline_lag", PipelineLag)
