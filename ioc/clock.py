"""Time helpers: UTC epoch milliseconds in storage and on the wire, ISO 8601 with ``Z``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

LOCAL_TZ = timezone(timedelta(hours=7), "ICT")  # Asia/Ho_Chi_Minh: UTC+7, no daylight saving


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso_utc(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
