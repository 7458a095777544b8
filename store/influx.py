"""Batched writes to InfluxDB through the v1 HTTP API (``/write`` line protocol, ``/query``
InfluxQL). InfluxDB 1.x serves it natively, 2.x through its v1-compatibility endpoints with a
token, 3.x as well, so this one client works against all three.

Writes never block the caller: :meth:`InfluxStore.append` buffers line-protocol lines, and the
:meth:`run` task sends them in batches of ``batch_size``, in order, retrying with backoff while
the database is unreachable. Nothing is dropped silently: overflow of ``max_buffered_points``
is counted in :attr:`InfluxStore.stats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import aiohttp

from ioc.config import InfluxConfig
from ioc.errors import StoreError, StoreUnavailable

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StoreStats:
    written_points: int = 0
    write_requests: int = 0
    failed_requests: int = 0
    dropped_points: int = 0
    last_error: str = ""


class InfluxStore:
    def __init__(self, config: InfluxConfig, session: aiohttp.ClientSession) -> None:
        self._config = config
        self._session = session
        self._base = config.url.rstrip("/")
        self._buffer: deque[str] = deque()
        self._has_data = asyncio.Event()  # something to write
        self._flush_now = asyncio.Event()  # a full batch, or someone waits for the drain
        self._idle = asyncio.Event()
        self._idle.set()
        self.stats = StoreStats()
        self._headers: dict[str, str] = {}
        self._auth: aiohttp.BasicAuth | None = None
        if config.token is not None:
            self._headers["Authorization"] = f"Token {config.token.get_secret_value()}"
        elif config.username is not None:
            password = config.password.get_secret_value() if config.password else ""
            self._auth = aiohttp.BasicAuth(config.username, password)
        self._timeout = aiohttp.ClientTimeout(total=config.timeout_s)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def append(self, lines: list[str]) -> None:
        """Queue line-protocol lines for writing. Never blocks."""
        self._buffer.extend(lines)
        self._idle.clear()
        overflow = len(self._buffer) - self._config.max_buffered_points
        if overflow > 0:
            for _ in range(overflow):
                self._buffer.popleft()
            self.stats.dropped_points += overflow
            log.error("InfluxDB buffer full: dropped the %d oldest points", overflow)
        self._has_data.set()
        if len(self._buffer) >= self._config.batch_size:
            self._flush_now.set()

    async def wait_drained(self) -> None:
        """Wait until everything appended so far is written (bound it with a timeout)."""
        self._flush_now.set()
        await self._idle.wait()

    async def run(self) -> None:
        """Flush loop; runs until cancelled."""
        backoff = 0.5
        while True:
            if not self._buffer:
                self._idle.set()
                self._has_data.clear()
                await self._has_data.wait()
            if len(self._buffer) < self._config.batch_size and not self._flush_now.is_set():
                with contextlib.suppress(TimeoutError):  # let a batch gather
                    await asyncio.wait_for(self._flush_now.wait(), self._config.flush_interval_s)
            self._flush_now.clear()
            try:
                await self._write_batch()
                backoff = 0.5
            except StoreError as exc:
                self.stats.failed_requests += 1
                self.stats.last_error = str(exc)
                log.warning("InfluxDB write failed (%s); retrying in %.1fs", exc, backoff)
                if exc.status == 404:  # database dropped or never created
                    with contextlib.suppress(StoreError):
                        await self.ensure_database()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _write_batch(self) -> None:
        count = min(len(self._buffer), self._config.batch_size)
        if count == 0:
            return
        body = "\n".join(itertools.islice(self._buffer, count))
        await self.write_lines(body)
        for _ in range(count):
            self._buffer.popleft()
        self.stats.written_points += count
        self.stats.write_requests += 1

    async def write_lines(self, body: str) -> None:
        """Write one line-protocol body now (millisecond precision)."""
        params = {"db": self._config.database, "precision": "ms"}
        if self._config.retention_policy:
            params["rp"] = self._config.retention_policy
        try:
            async with self._session.post(
                f"{self._base}/write",
                params=params,
                data=body.encode(),
                headers=self._headers,
                auth=self._auth,
                timeout=self._timeout,
            ) as response:
                if response.status >= 300:
                    text = await response.text()
                    if response.status == 400:
                        # Malformed points would be refused forever: log and skip them.
                        log.error("InfluxDB refused a batch as malformed: %s", text[:500])
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
