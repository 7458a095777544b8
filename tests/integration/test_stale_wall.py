"""A frozen service must not look alive (issue #14): health reports event-loop stalls, and the
wall shows its data as stale within 10 s of its feed going quiet, and clears it by itself."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.integration.conftest import RunningService


async def health(service: RunningService) -> dict[str, Any]:
    async with service.http() as http, http.get(f"{service.url}/api/v1/health") as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


async def test_health_reports_a_stall_of_the_event_loop(service: RunningService) -> None:
    before = await health(service)
    assert {"lag_ms", "worst_stall_ms", "stalls"} <= before["loop"].keys()
    assert {"lag_ms", "queued", "messages"} <= before["pipeline"].keys()
    threshold_ms = service.config.web.loop_stall_ms
    blocked = asyncio.get_running_loop().create_future()

    def block_the_loop() -> None:  # as a synchronous call in a handler would
        time.sleep(threshold_ms / 1000 + 1.0)
        blocked.set_result(None)

    asyncio.get_running_loop().call_soon(block_the_loop)
    await blocked
    await asyncio.sleep(2 * service.config.web.loop_check_interval_s)  # the monitor wakes up

    after = await health(service)
    assert after["loop"]["stalls"] >= before["loop"]["stalls"] + 1
    assert after["loop"]["worst_stall_ms"] >= threshold_ms
    assert after["status"] == "degraded" and "loop_stall" in after["reasons"]
