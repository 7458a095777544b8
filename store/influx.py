"""Batched writes to InfluxDB through the v1 HTTP API (``/write`` line protocol, ``/query``
InfluxQL). InfluxDB 1.x serves it natively, 2.x through its v1-compatibility endpoints with a
token, 3.x as well, so this one client works against all three.

:meth:`InfluxStore.append_input` puts accepted readings in the on-disk spool (store/spool.py)
and returns; the :meth:`run` task reads them back in order, in batches of ``batch_size``, and
keeps up to :data:`WRITE_CONCURRENCY` write requests in flight (one at a time left InfluxDB
waiting on each round trip and its WAL fsync, and the spool grew behind a busy service). Each
batch is retried with backoff until InfluxDB confirms it; the spool's cursor moves over the
confirmed batches in the order they were read, so a segment is released only once all it held
is confirmed, whatever order the answers come in. When the spool is full (disk full, failed
fsync, or its size limit while the database is away) ``append_input`` raises
:class:`ioc.errors.StorageFull` so the input is refused and can come again; derived lines
(analytics, cameras, alerts, rejections) go through :meth:`InfluxStore.append`, which never
raises: what a full spool cannot take is counted (``unstored_lines``) and logged. The
:meth:`watch_space` task ends the full state when there is room again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import aiohttp

from ioc.config import InfluxConfig
from ioc.errors import StorageFull, StoreError, StoreUnavailable
from store.spool import DiskSpool, Position

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 5.0
FIRST_BACKOFF_S = 0.5
SPACE_CHECK_S = 1.0
WRITE_CONCURRENCY = 3  # write requests in flight at most
QUIET_FLUSH_S = 0.05  # appends paused this long: send what gathered, not waiting longer


@dataclass(slots=True)
class StoreStats:
    written_points: int = 0
    write_requests: int = 0
    failed_requests: int = 0
    refused_points: int = 0
    unstored_lines: int = 0  # derived lines a full spool could not take
    last_error: str = ""


@dataclass(slots=True, eq=False)
class _Batch:
    """A batch read from the spool and in flight: ``end`` is where it ends in the spool."""

    body: bytes
    count: int
    end: Position
    confirmed: bool = False


class InfluxStore:
    def __init__(self, config: InfluxConfig, session: aiohttp.ClientSession) -> None:
        self._config = config
        self._session = session
        self._base = config.url.rstrip("/")
        self.spool = DiskSpool(
            config.spool_dir,
            config.spool_segment_bytes,
            config.spool_max_bytes,
            config.spool_fsync,
        )
        self._has_data = asyncio.Event()  # something to write
        self._flush_now = asyncio.Event()  # a full batch, or someone waits for the drain
        self._idle = asyncio.Event()
        self.stats = StoreStats()
        self._headers: dict[str, str] = {}
        self._auth: aiohttp.BasicAuth | None = None
        if config.token is not None:
            self._headers["Authorization"] = f"Token {config.token.get_secret_value()}"
        elif config.username is not None:
            password = config.password.get_secret_value() if config.password else ""
            self._auth = aiohttp.BasicAuth(config.username, password)
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_s)
        self._unsent = self.spool.pending_bytes > 0  # left over from the last run
        if self._unsent:
            self._has_data.set()
        else:
            self._idle.set()
        self._appended_since_flush = 0
        self._episode = 0  # the spool's full episode last logged by append
        self._next: Position | None = None  # where the next batch is read (None: the cursor)
        self._in_flight: deque[_Batch] = deque()  # in spool order, until committed
        self._writers: set[asyncio.Task[None]] = set()
        self._slot_free = asyncio.Event()
        self._crashed: BaseException | None = None  # a writer's unexpected exception
        self._draining = False
        self._appends = 0  # calls that appended, to tell a pause in the input

    @property
    def pending_bytes(self) -> int:
        return self.spool.pending_bytes

    def append_input(self, lines: list[str]) -> None:
        """Spool accepted input; it is written to InfluxDB soon after. Never awaits. Raises
        :class:`StorageFull`, having kept nothing, when the spool is full."""
        if not lines:
            return
        self.spool.append(lines)
        self._appended(len(lines))

    def append(self, lines: list[str]) -> None:
        """Spool derived lines (analytics, cameras, alerts, rejections). Never raises: what a
        full spool cannot take is counted in ``stats.unstored_lines`` and logged once per
        full episode, and the caller carries on."""
        if not lines:
            return
        try:
            self.spool.append(lines)
        except StorageFull as exc:
            if self.spool.stats.full_episodes != self._episode:
                self._episode = self.spool.stats.full_episodes
                log.error("spool full (%s): derived lines are not stored meanwhile", exc.reason)
            self.stats.unstored_lines += len(lines)
            return
        self._appended(len(lines))

    def _appended(self, count: int) -> None:
        self._appends += 1
        self._idle.clear()
        self._has_data.set()
        self._appended_since_flush += count
        if self._appended_since_flush >= self._config.batch_size or self._draining:
            self._flush_now.set()

    async def watch_space(self, interval_s: float = SPACE_CHECK_S) -> None:
        """While the spool is full, check every ``interval_s`` whether there is room again
        (the writer drained it, or disk space was freed); runs until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            self.spool.recheck()

    async def wait_drained(self) -> None:
        """Wait until everything appended so far is written (bound it with a timeout)."""
        self._draining = True  # from now on, every append is sent at once
        self._flush_now.set()
        await self._idle.wait()

    async def run(self) -> None:
        """Flush loop; runs until cancelled (the writes in flight are cancelled with it: their
        batches are not committed, so a restart sends them again)."""
        try:
            while True:
                await self._has_data.wait()
                await self._gather()
                self._flush_now.clear()
                self._appended_since_flush = 0
                await self._send_available()
        finally:
            for task in self._writers:
                task.cancel()
            if self._writers:
                await asyncio.wait(self._writers)

    async def _gather(self) -> None:
        """Let a batch gather: until ``batch_size`` lines came (or a drain is asked for), the
        flush interval passed, or the appends paused for :data:`QUIET_FLUSH_S` (the end of a
        burst, such as a catch-up's last lines, is sent without waiting out the interval)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.flush_interval_s
        while not self._flush_now.is_set():
            appends = self._appends
            step = min(QUIET_FLUSH_S, deadline - loop.time())
            if step <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), step)
            if self._appends == appends:
                return  # nothing came meanwhile

    async def _send_available(self) -> None:
        """Read the spool up to what was appended so far into write requests, up to
        :data:`WRITE_CONCURRENCY` in flight (waits for a free one). A spool that cannot be
        read is tried again with backoff."""
        backoff = FIRST_BACKOFF_S
        while True:
            while len(self._writers) >= WRITE_CONCURRENCY:
                self._slot_free.clear()
                await self._slot_free.wait()
            self._raise_crash()
            try:
                body, count, end = self.spool.read_batch(self._config.batch_size, self._next)
            except OSError as exc:  # the spool could not be read: said, and tried again
                self.stats.last_error = f"spool: {exc}"
                log.error("spool read failed (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            backoff = FIRST_BACKOFF_S
            self._next = end
            if count == 0:
                self._has_data.clear()  # an append sets it again
                self._set_idle_if_done()
                return
            batch = _Batch(body, count, end)
            self._in_flight.append(batch)
            task = asyncio.create_task(self._send(batch), name="influx-write")
            self._writers.add(task)
            task.add_done_callback(self._writer_done)
            if count < self._config.batch_size and self.spool.read_to_end(end):
                # Read up to the last append: what comes next waits for a full batch or the
                # interval (a trigger from appends already read would send a sliver).
                self._has_data.clear()
                if not self._draining:
                    self._flush_now.clear()
                    self._appended_since_flush = 0
                return

    async def _send(self, batch: _Batch) -> None:
        """Write one batch until InfluxDB confirms it (or refuses its points for good),
        retrying with backoff; then commit what is confirmed in spool order."""
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                await self.write_lines(batch.body)
                break
            except StoreError as exc:
                self.stats.failed_requests += 1
                self.stats.last_error = str(exc)
                log.warning("InfluxDB write failed (%s); retrying in %.1fs", exc, backoff)
                if exc.status == 404:  # database dropped or never created
                    with contextlib.suppress(StoreError):
                        await self.ensure_database()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
        self.stats.written_points += batch.count
        self.stats.write_requests += 1
        batch.confirmed = True
        confirmed_to: Position | None = None
        while self._in_flight and self._in_flight[0].confirmed:
            confirmed_to = self._in_flight.popleft().end
        if confirmed_to is not None:
            if not self._in_flight and self._next is not None:
                confirmed_to = self._next  # all read is confirmed (a read may have moved on
                # to the next segment past the end of the last batch: that one is released)
            self.spool.commit(confirmed_to)

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        self._writers.discard(task)
        self._slot_free.set()
        if not task.cancelled() and task.exception() is not None and self._crashed is None:
            self._crashed = task.exception()  # a bug: the run loop raises it
            self._flush_now.set()
            self._has_data.set()
        self._set_idle_if_done()

    def _set_idle_if_done(self) -> None:
        if not self._has_data.is_set() and not self._writers:
            self._idle.set()

    def _raise_crash(self) -> None:
        if self._crashed is not None:
            raise self._crashed

    async def write_lines(self, body: bytes) -> None:
        """Write one line-protocol body now (millisecond precision)."""
        params = {"db": self._config.database, "precision": "ms"}
        if self._config.retention_policy:
            params["rp"] = self._config.retention_policy
        try:
            async with self._session.post(
                f"{self._base}/write",
                params=params,
                data=body,
                headers=self._headers,
                auth=self._auth,
                timeout=self._timeout,
            ) as response:
                if response.status >= 300:
                    text = await response.text()
                    if response.status == 400:
                        # Refused points (malformed, type conflict) would be refused forever:
                        # InfluxDB stored the valid ones of the batch; count and log the rest.
                        self.stats.refused_points += 1
                        log.error("InfluxDB refused points of a batch: %s", text[:500])
                        return
                    raise StoreError(response.status, text)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def query(self, influxql: str) -> list[dict[str, Any]]:
        """Run InfluxQL; return the rows of the first statement as dicts, each with the
        ``tags`` of its series (GROUP BY)."""
        params = {"db": self._config.database, "q": influxql, "epoch": "ms"}
        try:
            async with self._session.post(
                f"{self._base}/query",
                params=params,
                headers=self._headers,
                auth=self._auth,
                timeout=self._timeout,
            ) as response:
                if response.status >= 300:
                    raise StoreError(response.status, await response.text())
                payload = await response.json()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        rows: list[dict[str, Any]] = []
        for result in payload.get("results", []):
            if "error" in result:
                raise StoreError(400, result["error"])
            for series in result.get("series", []):
                columns = series["columns"]
                for values in series.get("values", []):
                    row = dict(zip(columns, values, strict=True))
                    row["tags"] = series.get("tags", {})
                    rows.append(row)
            break
        return rows

    async def ensure_database(self) -> None:
        if self._config.create_database:
            await self.query(f'CREATE DATABASE "{self._config.database}"')

    async def ping(self) -> bool:
        try:
            async with self._session.get(f"{self._base}/ping", timeout=self._timeout) as r:
                return r.status < 300
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False
