"""Start-up of the analytics state from what InfluxDB already holds.

Windows (24 h means, NowCast, daily fire danger) live in memory; after a restart they are
rebuilt from the last ``analytics.warmup_hours`` of stored readings as 5-minute means. The
alert book keeps its alerts across restarts, so only where the rebuilt state disagrees with
it does anything happen: a rule that ends the history firing without an active alert opens
one, and an active alert whose rule ends the history cleared is resolved. Everything in
between is not replayed (no alert noise on every restart).
"""

from __future__ import annotations

import logging
from typing import Any

from alerts.lifecycle import AlertBook
from analytics.engine import AnalyticsEngine
from ioc.errors import StoreError
from ioc.messages import Reading, RuleTransition
from ioc.registry import StationRegistry
from store.influx import InfluxStore

log = logging.getLogger(__name__)
BUCKET = "5m"


async def stored_history(
    store: InfluxStore, registry: StationRegistry, hours: int
) -> list[Reading]:
    """5-minute means of every station's parameters, then each station's last stored
    reading itself, oldest first. The last reading decides the state of instant rules: the
    mean of a spike and its return can be above a limit that the last value is well under
    (it also counts once more in its windows, next to ~300 means in a day: negligible)."""
    since = f"time > now() - {int(hours)}h"
    means = await store.query(
        f"SELECT mean(*) FROM reading WHERE {since} GROUP BY time({BUCKET}), station fill(none)"
    )
    lasts = await store.query(
        f"SELECT * FROM reading WHERE {since} GROUP BY station ORDER BY time DESC LIMIT 1"
    )
    readings = _readings(registry, means, "mean_")
    readings += _readings(registry, lasts, "")
    readings.sort(key=lambda r: r.ts_ms)  # stable: a bucket's mean before its last reading
    return readings


def _readings(registry: StationRegistry, rows: list[dict[str, Any]], prefix: str) -> list[Reading]:
    readings = []
    for row in rows:
        station = registry.get(row["tags"].get("station", ""))
        if station is None:
            continue
        values = {
            key.removeprefix(prefix): float(value)
            for key, value in row.items()
            if key.startswith(prefix)
            and key.removeprefix(prefix) in station.parameters
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        }
        if values:
            readings.append(Reading(station.id, int(row["time"]), values, int(row["time"])))
    return readings


def reconcile(book: AlertBook, transitions: list[RuleTransition]) -> list[RuleTransition]:
    """The last transition of each (rule, station), where it disagrees with the alert book."""
    last = {(t.rule_id, t.station_id): t for t in transitions}
    active = {(a.rule_id, a.station_id) for a in book.open_alerts()}
    return [t for key, t in last.items() if t.firing != (key in active)]


async def warm_up(
    engine: AnalyticsEngine,
    store: InfluxStore,
    registry: StationRegistry,
    book: AlertBook,
    hours: int,
) -> int:
    """Rebuild the engine's state; return how many alert changes it took to agree."""
    if hours <= 0:
        return 0
    try:
        history = await stored_history(store, registry, hours)
    except StoreError as exc:
        log.warning("analytics start without history (InfluxDB: %s)", exc)
        return 0
    transitions = engine.evaluate(history).transitions if history else []
    changes = reconcile(book, transitions)
    book.apply(changes)
    log.info(
        "analytics warmed up on %d stored readings (%d h); %d alert changes",
        len(history),
        hours,
        len(changes),
    )
    return len(changes)
