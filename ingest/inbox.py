"""The inbox between the MQTT receiver and the pipeline: a batch queue without per-message
awaits.

The receiver puts messages from a synchronous callback (:meth:`Inbox.put`, an ``append`` on a
deque); the pipeline waits for the first one (:meth:`Inbox.wait`) and takes up to a batch at
once (:meth:`Inbox.take`). Nothing per message creates a task, a future or a context switch.

The bound is enforced by whoever puts, not by the inbox: :meth:`put` never refuses (a
message refused here would have to wait for a reconnection to come back, as it was received
but not acknowledged); it returns True once the inbox holds ``capacity`` messages or more,
and the receiver then stops reading its socket. :meth:`take` calls the ``on_room`` callback
once the inbox is down to half its capacity, and the receiver reads again. So the inbox holds
at most ``capacity`` plus what one socket read decodes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class InboxStats:
    put: int = 0
    taken: int = 0
    full_events: int = 0  # times the inbox reached its capacity (the receiver paused)
    high_water: int = 0  # most messages held at once


class Inbox(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("inbox capacity must be at least 1")
        self.capacity = capacity
        self._low = capacity // 2
        self._items: deque[T] = deque()
        self._ready = asyncio.Event()
        self._full = False
        self._first: deque[T] = deque()  # put ahead of the others (in their own order)
        self.on_room: Callable[[], None] | None = None
        self.stats = InboxStats()

    def put(self, item: T) -> bool:
        """Add one message; True if the inbox is full now (the caller should stop adding)."""
        items = self._items
        items.append(item)
        self._ready.set()
        stats = self.stats
        stats.put += 1
        size = len(items)
        if size > stats.high_water:
            stats.high_water = size
        if size < self.capacity:
            return False
        self._mark_full()
        return True

    def put_many(self, items: Iterable[T]) -> bool:
        """Add messages in order; True if the inbox is full now."""
        before = len(self._items)
        self._items.extend(items)
        added = len(self._items) - before
        if not added:
            return self.full()
        self._ready.set()
        self.stats.put += added
        self.stats.high_water = max(self.stats.high_water, len(self._items))
        if len(self._items) < self.capacity:
            return False
        self._mark_full()
        return True

    def put_first(self, items: list[T]) -> None:
        """Add messages ahead of all waiting ones, in their order (the live lane: few, and
        not to wait behind a backlog). They do not count towards pausing the receiver."""
        if not items:
            return
        self._first.extend(items)
        self._ready.set()
        self.stats.put += len(items)

    def _mark_full(self) -> None:
        if not self._full:
            self._full = True
            self.stats.full_events += 1

    async def wait(self) -> None:
        """Return once at least one message waits."""
        while not (self._items or self._first):
            self._ready.clear()
            await self._ready.wait()

    def take(self, limit: int) -> list[T]:
        """Up to ``limit`` messages, oldest first (none if empty), those put first ahead of
        the others."""
        taken: list[T] = []
        if self._first:
            first = self._first
            taken = [first.popleft() for _ in range(min(limit, len(first)))]
            self.stats.taken += len(taken)
            limit -= len(taken)
        items = self._items
        count = min(limit, len(items))
        if count == len(items):
            batch = list(items)
            items.clear()
        else:
            popleft = items.popleft
            batch = [popleft() for _ in range(count)]
        self.stats.taken += count
        if self._full and len(items) <= self._low:
            self._full = False
            if self.on_room is not None:
                self.on_room()
        return taken + batch if taken else batch

    def qsize(self) -> int:
        return len(self._items) + len(self._first)

    def __len__(self) -> int:
        return self.qsize()

    def empty(self) -> bool:
        return not (self._items or self._first)

    def full(self) -> bool:
        return len(self._items) >= self.capacity
