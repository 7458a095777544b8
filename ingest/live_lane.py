"""The live lane: stations' live readings while the persistent session works off a backlog.

The broker keeps the service's QoS 1 messages in its persistent session while the service is
down and sends them in order when it is back, so a reading published now would wait behind
the whole backlog (100,000 messages: several seconds) — and so would its alert. While the
persistent session is behind, a second connection with a clean session (its own account,
``mqtt.live_username``: the broker binds client ids to accounts) subscribes to the stations'
reading topics at QoS 0. The broker sends it only what is published from then on, at once.

Nothing changes in what is durable: every live message also reaches the persistent session,
behind the backlog, and is acknowledged there once the spool holds it. :class:`LaneLedger`
remembers which copy was processed, so the other is then acknowledged without being
processed (or refused as a duplicate) a second time. Were the service to stop in between, the
persistent copy is processed normally after the restart. Live readings are processed before
the backlog readings of the same station, which the analytics then take as late values (they
count in the windows; they change no alert state that newer values decided).

The lane opens at start and whenever the persistent session is lost, and closes once that
session has not been behind for ``QUIET_S``; vehicles' positions and images keep to the
persistent session (the journey kernel orders a vehicle's fixes by event time on its own).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt

from ioc.config import MqttConfig
from ioc.messages import RawMessage

log = logging.getLogger(__name__)
QUIET_S = 2.0  # the persistent inbox this long shallow: caught up, the lane closes
COPY_GRACE_S = 30.0  # after that, the persistent copies of live messages have all come
POLL_S = 0.1
MAX_REMEMBERED = 200_000  # distinct messages awaiting their other copy, per direction
Key = tuple[str, bytes]  # (topic, payload)
# a batch's changes: live (processed, skipped), persistent (processed, skipped), counts
_Changes = tuple[Counter[Key], Counter[Key], Counter[Key], Counter[Key], int, int]
LIVE_SESSION = -1  # RawMessage.session of the lane's messages (never acknowledged: QoS 0)


def live_filters(config: MqttConfig) -> list[str]:
    return [f"{config.topic_prefix}/stations/+/{kind}" for kind in ("readings", "senml")]


@dataclass(slots=True)
class LaneStats:
    sessions: int = 0
    active: bool = False
    received: int = 0
    copies_skipped: int = 0  # persistent copies of messages the lane processed
    forgotten: int = 0  # remembered past MAX_REMEMBERED: their copy is processed again


class LaneLedger:
    """Which copies to process while the live lane runs. A message published while it runs
    reaches the service twice: on the lane, and on the persistent session. Whichever copy is
    processed first is remembered by (topic, payload); the other copy is then acknowledged
    without being processed (or refused as a duplicate) again. A message sent twice is
    remembered twice and skipped twice. :meth:`select` decides, :meth:`commit` records once
    the batch is processed (a batch the full spool refused is selected again later). The
    lane's own messages are QoS 0: nothing to acknowledge."""

    def __init__(
        self,
        stats: LaneStats,
        limit: int = MAX_REMEMBERED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stats = stats
        self._limit = limit
        self._live_done: Counter[Key] = Counter()  # awaiting the persistent copy
        self._kept_done: Counter[Key] = Counter()  # awaiting the live copy
        self.lane_open = False
        self._pending: _Changes | None = None
        self._waiting: dict[Key, float] = {}  # live-processed → since when (monotonic)
        self._clock = clock

    def select(self, batch: list[RawMessage]) -> tuple[list[RawMessage], list[RawMessage]]:
        """(messages to process, copies to skip) of ``batch``, in order; both copies of one
        message may be in it. Nothing is recorded before :meth:`commit`."""
        self._pending = None
        if not (self._live_done or self._kept_done or self.lane_open):
            return batch, []
        todo: list[RawMessage] = []
        skip: list[RawMessage] = []
        live_done, kept_done = self._live_done, self._kept_done
        # this batch's changes: (processed, skipped) per side, applied by commit()
        live_add: Counter[Key] = Counter()
        kept_add: Counter[Key] = Counter()
        live_use: Counter[Key] = Counter()
        kept_use: Counter[Key] = Counter()
        forgotten = 0
        for m in batch:
            key = (m.topic, m.payload)
            if m.session == LIVE_SESSION:
                if kept_done[key] + kept_add[key] - kept_use[key] > 0:
                    kept_use[key] += 1
                    skip.append(m)
                    continue
                todo.append(m)
                if len(live_done) + len(live_add) >= self._limit:
                    forgotten += 1  # its persistent copy is processed (refused) again
                else:
                    live_add[key] += 1
            else:
                if live_done[key] + live_add[key] - live_use[key] > 0:
                    live_use[key] += 1
                    skip.append(m)
                    continue
                todo.append(m)
                if not self.lane_open:
                    continue  # no live copy can come
                if len(kept_done) + len(kept_add) >= self._limit:
                    forgotten += 1
                else:
                    kept_add[key] += 1
        self._pending = (live_add, live_use, kept_add, kept_use, len(skip), forgotten)
        return todo, skip

    def commit(self) -> None:
        """Record the batch last selected: it was processed."""
        if self._pending is None:
            return
        live_add, live_use, kept_add, kept_use, skipped, forgotten = self._pending
        self._pending = None
        _apply(self._live_done, live_add, live_use)
        _apply(self._kept_done, kept_add, kept_use)
        waiting, now = self._waiting, self._clock()
        for key in live_use:
            if key not in self._live_done:
                waiting.pop(key, None)  # its persistent copy came
        for key in live_add:
            waiting.setdefault(key, now)  # oldest first: a dict keeps insertion order
        self._stats.copies_skipped += skipped
        self._stats.forgotten += forgotten

    def lane_closed(self) -> None:
        """No live copy comes any more: what waited for one is forgotten."""
        self.lane_open = False
        self._kept_done.clear()

    def copy_lag_s(self) -> float:
        """How long the oldest live-processed message has waited for its persistent copy:
        how far the persistent session is behind the live stream (0 if nothing waits)."""
        oldest = next(iter(self._waiting.values()), None)
        return 0.0 if oldest is None else self._clock() - oldest

    def forget_live(self) -> None:
        """The persistent copies of the lane's messages have come (or never will)."""
        self._live_done.clear()
        self._waiting.clear()


def _apply(done: Counter[Key], added: Counter[Key], used: Counter[Key]) -> None:
    done.update(added)
    for key, count in used.items():
        left = done[key] - count
        if left > 0:
            done[key] = left
        else:
            del done[key]


class LiveLane:
    def __init__(
        self,
        config: MqttConfig,
        login: tuple[str | None, str | None],
        deliver: Callable[[list[RawMessage]], None],
        behind: Callable[[], bool],
    ) -> None:
        self._config = config
        self._login = login
        self._deliver = deliver
        self._behind = behind
        self.stats = LaneStats()
        self.ledger = LaneLedger(self.stats)

    async def run_while_behind(self) -> None:
        """Connect, take live messages until the persistent session has caught up; then
        disconnect. A broker error ends the lane early (the persistent session has it all)."""
        username, password = self._login
        client = aiomqtt.Client(
            self._config.host,
            self._config.port,
            username=username,
            password=password,
            identifier=username or f"{self._config.client_id}-live",
            clean_session=True,
        )
        # paho's callback delivers straight to the inbox: no task hop per message (each hop
        # would wait for a batch of the backlog). aiomqtt's own queue then stays empty.
        client._client.on_message = self._on_message
        try:
            async with client:
                self.ledger.lane_open = True  # before the first live copy can come
                await client.subscribe([(topic, 0) for topic in live_filters(self._config)])
                self.stats.sessions += 1
                self.stats.active = True
                log.info("live lane open while the persistent session catches up")
                lost = asyncio.create_task(_until_disconnected(client))
                caught_up = asyncio.create_task(self._until_caught_up())
                try:
                    await asyncio.wait((lost, caught_up), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    caught_up.cancel()
                    lost.cancel()
                if lost.done() and not lost.cancelled() and lost.exception() is not None:
                    raise aiomqtt.MqttError(str(lost.exception()))
        except aiomqtt.MqttError as exc:
            log.warning("live lane closed early: %s", exc)
        finally:
            self.stats.active = False
            self.ledger.lane_closed()
        log.info("live lane closed: %d live messages", self.stats.received)
        # The persistent copies of the last live messages were behind the backlog, which is
        # worked off now: they have come, or come within the grace.
        opened = self.stats.sessions
        asyncio.get_running_loop().call_later(COPY_GRACE_S, self._forget_live, opened)

    def _forget_live(self, opened: int) -> None:
        if self.stats.sessions == opened and not self.ledger.lane_open:  # not reopened since
            self.ledger.forget_live()

    async def _until_caught_up(self) -> None:
        quiet_since = time.monotonic()
        while True:
            await asyncio.sleep(POLL_S)
            now = time.monotonic()
            if self._behind():
                quiet_since = now
            elif now - quiet_since >= QUIET_S:
                return

    def _on_message(self, _paho: Any, _userdata: Any, message: Any) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # refused as malformed, as on the persistent session
            topic = message._topic.decode("utf-8", "replace")
        payload = message.payload
        raw = RawMessage(
            topic=topic,
            payload=payload if type(payload) is bytes else bytes(payload),
            received_ms=time.time_ns() // 1_000_000,
            mid=0,
            qos=0,
            session=LIVE_SESSION,
        )
        self.stats.received += 1
        self._deliver([raw])


async def _until_disconnected(client: aiomqtt.Client) -> None:
    """Returns (raising MqttError) when the connection is lost: aiomqtt's message queue
    stays empty, as paho's callback is ours."""
    async for _ in client.messages:
        pass
