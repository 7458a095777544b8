"""Per-station state for the wall: latest values, last seen, and a status (unknown, ok,
alert, offline). Changes are collected and pushed as deltas at a fixed rate, so the wall's
traffic does not grow with the message rate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ioc.clock import iso_utc
from ioc.messages import Alert, Reading
from ioc.registry import StationRegistry

UNKNOWN, OK, ALERT, OFFLINE = "unknown", "ok", "alert", "offline"
ACTIVE_ALERT_STATES = ("open", "acknowledged")


class StationBoard:
    def __init__(self, registry: StationRegistry, offline_after_intervals: int) -> None:
        self._registry = registry
        self._offline_after_intervals = offline_after_intervals
        self._offline_after_ms: dict[str, int] = {}
        self._last_received: dict[str, int] = {}
        self._latest_ts: dict[str, int] = {}
        self._values: dict[str, dict[str, float]] = {}
        self._open_alerts: dict[str, set[str]] = {}
        self._status: dict[str, str] = {}
        self._dirty: set[str] = set()
        self.follow_registry()

    def follow_registry(self) -> None:
        """Take in stations added to (or removed from) the registry, and new intervals."""
        ids = {s.id for s in self._registry}
        self._offline_after_ms = {
            s.id: int(s.interval_s * 1000 * self._offline_after_intervals) for s in self._registry
        }
        for sid in ids - self._status.keys():
            self._values[sid], self._open_alerts[sid], self._status[sid] = {}, set(), UNKNOWN
        for sid in self._status.keys() - ids:
            del self._status[sid]

    def observe(self, readings: Iterable[Reading]) -> None:
        for r in readings:
            sid = r.station_id
            self._last_received[sid] = r.received_ms
            if r.ts_ms >= self._latest_ts.get(sid, 0):
                self._latest_ts[sid] = r.ts_ms
                self._values[sid].update(r.values)
            self._dirty.add(sid)

    def observe_metrics(self, metrics: dict[str, dict[str, float]]) -> None:
        """Derived values (``aqi``, ``fire_level``, ...) shown with the station's own."""
        for sid, values in metrics.items():
            if sid in self._values:
                self._values[sid].update(values)
                self._dirty.add(sid)

    def alert_event(self, alert: Alert) -> None:
        """Follow an alert change: the station shows ``alert`` while any alert is open."""
        open_ids = self._open_alerts.setdefault(alert.station_id, set())
        if alert.state in ACTIVE_ALERT_STATES:
            open_ids.add(alert.id)
        else:
            open_ids.discard(alert.id)
        self._dirty.add(alert.station_id)

    def status(self, station_id: str, now_ms: int) -> str:
        received = self._last_received.get(station_id)
        if received is None:
            return UNKNOWN
        if now_ms - received > self._offline_after_ms[station_id]:
            return OFFLINE
        return ALERT if self._open_alerts.get(station_id) else OK

    def take_changes(self, now_ms: int) -> list[dict[str, Any]]:
        """Deltas of stations whose values or status changed since the last call."""
        changed = []
        for sid in self._status:
            status = self.status(sid, now_ms)
            if status == self._status[sid] and sid not in self._dirty:
                continue
            self._status[sid] = status
            changed.append(
                {
                    "id": sid,
                    "status": status,
                    "last_seen": iso_utc(self._latest_ts.get(sid)),
                    "values": self._values[sid],
                }
            )
        self._dirty.clear()
        return changed

    def snapshot(self, now_ms: int) -> list[dict[str, Any]]:
        """Every station as the wall draws it. ``labels`` names the parameters whose label
        differs from the common one (the wall's parameter table): ``temp`` of a stack is the
        flue gas's, of a weather station the air's."""
        common = self._registry.parameters()
        return [
            {
                "id": s.id,
                "name": s.name,
                "kind": s.kind,
                "owner": s.owner,
                "lat": s.lat,
                "lon": s.lon,
                "status": self.status(s.id, now_ms),
                "last_seen": iso_utc(self._latest_ts.get(s.id)),
                "values": dict(self._values[s.id]),
                "units": {key: spec.unit_display for key, spec in s.parameters.items()},
                "labels": {
                    key: {"label_vi": spec.label_vi, "label_en": spec.label_en}
                    for key, spec in s.parameters.items()
                    if (spec.label_vi, spec.label_en)
                    != (common[key].label_vi, common[key].label_en)
                },
            }
            for s in self._registry
        ]
