"""The batch inbox between the MQTT receiver and the pipeline (ingest.inbox)."""

from __future__ import annotations

import asyncio

import pytest

from ingest.inbox import Inbox


def test_takes_batches_oldest_first() -> None:
    inbox: Inbox[int] = Inbox(100)
    for n in range(10):
        inbox.put(n)
    inbox.put_many(range(10, 25))
    assert inbox.take(7) == list(range(7))
    assert inbox.take(100) == list(range(7, 25))
    assert inbox.take(5) == [] and inbox.empty()
    assert (inbox.stats.put, inbox.stats.taken, inbox.stats.high_water) == (25, 25, 25)


def test_put_reports_full_and_room_is_announced_at_half() -> None:
    rooms: list[int] = []
    inbox: Inbox[int] = Inbox(10)
    inbox.on_room = lambda: rooms.append(len(inbox))
    assert not any(inbox.put(n) for n in range(9))
    assert inbox.put(9) and inbox.full()
    assert inbox.put(10)  # never refused: over the bound, still kept, still "full"
    assert len(inbox) == 11 and inbox.stats.full_events == 1
    inbox.take(5)
    assert rooms == []  # 6 left: more than half
    inbox.take(1)
    assert rooms == [5]  # down to half: the receiver may read again, once
    inbox.take(5)
    assert rooms == [5]
    assert inbox.put_many(range(10)) and inbox.stats.full_events == 2
    assert inbox.take(100) == list(range(10)) and rooms == [5, 0]


def test_a_room_announcement_needs_a_full_inbox_first() -> None:
    rooms: list[int] = []
    inbox: Inbox[int] = Inbox(4)
    inbox.on_room = lambda: rooms.append(len(inbox))
    inbox.put_many([1, 2, 3])
    inbox.take(3)
    assert rooms == []


async def test_wait_returns_once_something_waits() -> None:
    inbox: Inbox[str] = Inbox(10)
    waiter = asyncio.create_task(inbox.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    inbox.put("a")
    await asyncio.wait_for(waiter, 1)
    await asyncio.wait_for(inbox.wait(), 1)  # still waiting: returns at once
    assert inbox.take(10) == ["a"]
    again = asyncio.create_task(inbox.wait())
    await asyncio.sleep(0)
    assert not again.done()  # emptied: waits again
    inbox.put_many(["b", "c"])
    await asyncio.wait_for(again, 1)
    assert inbox.take(1) == ["b"] and inbox.qsize() == 1


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Inbox(0)


def test_messages_put_first_are_taken_first() -> None:
    inbox: Inbox[int] = Inbox(100)
    inbox.put_many([1, 2, 3])
    inbox.put_first([10, 11])
    assert inbox.take(3) == [10, 11, 1]  # ahead of the backlog behind them
    assert inbox.take(50) == [2, 3]
    inbox.put_first([12])
    inbox.put_first([13, 14])  # after 12: in the order they came
    assert inbox.qsize() == 3 and not inbox.empty()
    assert inbox.take(2) == [12, 13] and inbox.take(5) == [14]
