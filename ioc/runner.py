"""Run the aiohttp application until SIGINT or SIGTERM, then shut down cleanly."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from aiohttp import web

from ioc.config import IocConfig, WebConfig
from ioc.registry import StationRegistry
from ioc.service import create_app


async def serve(
    config: IocConfig,
    registry: StationRegistry,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    app = create_app(config, registry)
    runner = app_runner(app, config.web)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.web.host, config.web.port)
        await site.start()
        host = "127.0.0.1" if config.web.host in ("0.0.0.0", "") else config.web.host
        url = f"http://{host}:{config.web.port}/wall"
        (on_ready or (lambda u: print(f"IOC wall: {u}", flush=True)))(url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def app_runner(app: web.Application, config: WebConfig) -> web.AppRunner:
    """The server of ``app``. aiohttp (3.14) arms ``keepalive_timeout`` when a connection opens
    and after each answer, and closes the connection if no whole request header has arrived
    by then: it bounds idle connections and slow or unfinished headers alike (it has no
    separate header timeout, nor one for a slow body)."""
    return web.AppRunner(app, handle_signals=False, keepalive_timeout=config.idle_timeout_s)
