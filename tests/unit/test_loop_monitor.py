import asyncio
import time

from ioc.loop_monitor import LoopMonitor, PipelineLag
from ioc.messages import RawMessage


async def test_a_blocking_call_on_the_loop_is_recorded_as_a_stall() -> None:
    monitor = LoopMonitor(interval_s=0.01, stall_threshold_ms=150, recent_s=60)
    task = asyncio.create_task(monitor.run())
    loop = asyncio.get_running_loop()
    try:
        await asyncio.sleep(0.05)  # the monitor is sleeping: its wake-up is due
        blocked = loop.create_future()
        # blocks the loop, as a synchronous call in a handler would
        loop.call_soon(lambda: (time.sleep(0.4), blocked.set_result(None)))
        await blocked
        await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert monitor.stalls >= 1
    stall = monitor.worst_recent_stall(loop.time())
    assert stall is not None and 350 <= stall.ms < 5000


def test_a_stall_is_recent_for_its_window_then_only_counted() -> None:
    monitor = LoopMonitor(interval_s=0.25, stall_threshold_ms=100, recent_s=60)
    monitor.observe(now=1000.0, lag_ms=20)
    assert monitor.worst_recent_stall(1000.0) is None
    monitor.observe(now=1001.0, lag_ms=700)
    monitor.observe(now=1002.0, lag_ms=300)
    worst = monitor.worst_recent_stall(1030.0)
    assert worst is not None and worst.ms == 700
    later = monitor.worst_recent_stall(1061.5)  # the first one is out of the window
    assert later is not None and later.ms == 300
    assert monitor.worst_recent_stall(1062.5) is None
    assert monitor.stalls == 2 and monitor.lag_ms == 300


def test_pipeline_lag_grows_while_messages_wait_behind_the_last_processed_one() -> None:
    queued = [0]
    lag = PipelineLag(lambda: queued[0])
    assert lag.lag_ms() == 0
    received = time.time_ns() // 1_000_000 - 5000
    lag.processed([RawMessage("t", b"", received - 100), RawMessage("t", b"", received)])
    assert 5000 <= lag.lag_ms() < 6000  # nothing waits: its latency
    queued[0] = 3
    time.sleep(0.02)
    assert lag.lag_ms() >= 5020  # messages wait: it keeps growing
