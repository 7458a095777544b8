"""Forwarding positions (store.forwarding) to a real HTTP receiver: the circular's fields, a
target that fails keeps its batches until it is back (in order, none lost), and a queue at its
limit drops its oldest, counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from ioc.messages import PositionFix
from ioc.vehicles_config import ForwardTarget
from store.forwarding import PositionForwarder

T0 = 1_796_450_000_000


def fixes(n: int, start: int = 0) -> list[PositionFix]:
    return [
        PositionFix(
            "49C12345", T0 + (start + i) * 1000, 11.94, 108.45, 50.0 + start + i, driver="7901"
        )
        for i in range(n)
    ]


class Receiver:
    """Collects POSTed batches; answers 500 while ``failing``."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.failing = False

    async def handle(self, request: web.Request) -> web.Response:
        if self.failing:
            return web.Response(status=500)
        self.batches.append((await request.json())["positions"])
        return web.Response(status=204)


async def forwarder_for(
    aiohttp_server: Callable[..., Any], receiver: Receiver, **target: Any
) -> tuple[PositionForwarder, aiohttp.ClientSession]:
    app = web.Application()
    app.router.add_post("/positions", receiver.handle)
    server: TestServer = await aiohttp_server(app)
    session = aiohttp.ClientSession()
    url = str(server.make_url("/positions"))
    return PositionForwarder(ForwardTarget(url=url, **target), session), session


async def test_positions_are_sent_with_the_fields_the_circular_names(
    aiohttp_server: Callable[..., Any],
) -> None:
    receiver = Receiver()
    forwarder, session = await forwarder_for(aiohttp_server, receiver)
    async with session:
        forwarder.offer(fixes(2), now_s=100.0)
        await forwarder.send_waiting(now_s=130.0)
    assert receiver.batches == [
        [
            {"plate": "49C12345", "driver": "7901", "time": T0 // 1000, "lat": 11.94,
             "lon": 108.45, "speed": 50.0},
            {"plate": "49C12345", "driver": "7901", "time": T0 // 1000 + 1, "lat": 11.94,
             "lon": 108.45, "speed": 51.0},
        ]
    ]  # fmt: skip
    assert (forwarder.stats.forwarded, forwarder.stats.queued) == (2, 0)


async def test_a_target_that_fails_gets_everything_once_it_is_back(
    aiohttp_server: Callable[..., Any],
) -> None:
    receiver = Receiver()
    forwarder, session = await forwarder_for(aiohttp_server, receiver, batch_max=3)
    async with session:
        receiver.failing = True
        forwarder.offer(fixes(4), now_s=100.0)
        await forwarder.send_waiting(now_s=130.0)
        assert forwarder.stats.failed_posts == 1 and forwarder.stats.queued == 4
        assert forwarder.stats.oldest_wait_s == 30.0
        forwarder.offer(fixes(2, start=4), now_s=140.0)
        receiver.failing = False
        await forwarder.send_waiting(now_s=160.0)
    sent = [record["speed"] for batch in receiver.batches for record in batch]
    assert sent == [50.0, 51.0, 52.0, 53.0, 54.0, 55.0]  # in order, none lost, none twice
    assert [len(batch) for batch in receiver.batches] == [3, 3]
    assert (forwarder.stats.forwarded, forwarder.stats.queued) == (6, 0)


async def test_a_full_queue_drops_its_oldest_and_says_so(
    aiohttp_server: Callable[..., Any],
) -> None:
    receiver = Receiver()
    forwarder, session = await forwarder_for(aiohttp_server, receiver, queue_max=100)
    async with session:
        forwarder.offer(fixes(130), now_s=100.0)
        await forwarder.send_waiting(now_s=101.0)
    assert forwarder.stats.dropped == 30
    assert [r["speed"] for r in receiver.batches[0]][:1] == [80.0]  # the 31st fix comes first
