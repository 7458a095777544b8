"""Alert lifecycle: a rule transition opens or resolves the alert of (rule, station).

One open alert per (rule, station). Kept in memory for now; every change is returned as an
``(event, alert)`` pair so the wall, the store and later persistence see the same stream.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace

from ioc.config import RuleConfig
from ioc.messages import Alert, AlertState, RuleTransition

OPENED = "opened"
RESOLVED = "resolved"


class AlertBook:
    def __init__(self, rules: Mapping[str, RuleConfig], recent_resolved: int = 200) -> None:
        self._rules = rules
        self._open: dict[tuple[str, str], Alert] = {}
        self._resolved: list[Alert] = []
        self._recent_resolved = recent_resolved
        # Ids stay unique across restarts without storage: start-time prefix plus a counter.
        self._ids = (f"{int(time.time()):x}-{n}" for n in itertools.count(1))

    def apply(self, transitions: Iterable[RuleTransition]) -> list[tuple[str, Alert]]:
        events: list[tuple[str, Alert]] = []
        for t in transitions:
            key = (t.rule_id, t.station_id)
            current = self._open.get(key)
            if t.firing and current is None:
                alert = Alert(
                    id=next(self._ids),
                    rule_id=t.rule_id,
                    station_id=t.station_id,
                    parameter=t.parameter,
                    severity=self._rules[t.rule_id].severity,
                    state=AlertState.OPEN,
                    opened_ms=t.ts_ms,
                    value=t.value,
                    limit=t.limit,
                )
                self._open[key] = alert
                events.append((OPENED, alert))
            elif not t.firing and current is not None:
                resolved = replace(
                    current, state=AlertState.RESOLVED, value=t.value, resolved_ms=t.ts_ms
                )
                del self._open[key]
                self._resolved = [resolved, *self._resolved[: self._recent_resolved - 1]]
                events.append((RESOLVED, resolved))
        return events

    def open_alerts(self) -> list[Alert]:
        """Open alerts, newest first."""
        return sorted(self._open.values(), key=lambda a: a.opened_ms, reverse=True)

    def resolved_alerts(self) -> list[Alert]:
        return list(self._resolved)
