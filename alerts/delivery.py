"""The outbox both notifiers share (alerts/notify.py webhooks, alerts/mail.py e-mail): a
bounded queue that :meth:`DeliveryQueue.put` never blocks on — what does not fit is counted
and logged once per overflow — and ``workers`` tasks delivering from it until cancelled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class QueueCounts(Protocol):
    queued: int
    dropped: int


class DeliveryQueue(Generic[T]):
    def __init__(
        self,
        what: str,
        size: int,
        workers: int,
        deliver: Callable[[T], Awaitable[None]],
        counts: QueueCounts,
    ) -> None:
        self._what = what  # "webhook call", "e-mail": for the log and the task names
        self._queue: asyncio.Queue[T] = asyncio.Queue(size)
        self._workers = workers
        self._deliver = deliver
        self._counts = counts
        self._overflowing = False

    def put(self, item: T) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self._counts.dropped += 1
            if not self._overflowing:
                log.warning("%s queue full: dropping until it has room", self._what)
            self._overflowing = True
        else:
            self._counts.queued += 1
            self._overflowing = False

    async def run(self) -> None:
        """Deliver what is queued, ``workers`` at once, until cancelled."""
        async with asyncio.TaskGroup() as workers:
            for n in range(self._workers):
                workers.create_task(self._work(), name=f"{self._what}-{n}")

    async def join(self) -> None:
        """Wait until everything queued was delivered or given up (at shutdown)."""
        await self._queue.join()

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._deliver(item)
            finally:
                self._queue.task_done()
