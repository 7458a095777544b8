"""Alert lifecycle: rule transitions and operator actions move an alert through
open → acknowledged → resolved → closed, kept in SQLite (alerts.store) so a restart loses
nothing.

* One active (open or acknowledged) alert per (rule, station). A firing transition while it
  is active re-triggers it: ``updated`` (count, peak, last seen, value, severity).
* A clearing transition resolves it. A firing transition less than ``flap_window_s`` after it
  was resolved reopens it (``opened`` again, ``flaps`` + 1, acknowledged stays acknowledged);
  reopened more than ``flap_threshold`` times within that window, it is marked ``flapping``.
* Operators acknowledge (an open alert), resolve (an active one), close (a resolved one) and
  comment (any). Anything else raises :class:`InvalidTransition`.
* Silences (maintenance windows per station and/or rule): an alert whose latest firing falls
  in one is recorded but flagged ``silenced`` (not notified, not escalated).
* Incidents (alerts.incidents): an alert that opens or reopens while an active alert of the
  same station is related (same parameter, or same reading) joins that alert's incident;
  else a new alert starts its own. The incident's kind is raised in place when a member of a
  stronger kind joins, and written on every member.
* :meth:`AlertBook.check_escalations`: a critical alert still open ``escalate_after_min``
  after it was raised is escalated, once.

Each change is written to the alert's history (who, when, action, states, value, comment,
``retroactive``), returned as ``(event, alert)`` pairs and delivered to every subscriber.

Errors::

    IocError
    └── AlertError
        ├── UnknownAlert        no alert has this id
        ├── UnknownIncident     no incident has this id
        ├── InvalidTransition   the action is not allowed in the alert's state
        ├── UnknownSilence      no silence has this id
        └── InvalidSilence      a silence for no station and no rule, or not ending after it starts
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace

from alerts.config import AlertsConfig
from alerts.incidents import Incident, alert_kind, incident_of, related, stronger_kind
from alerts.store import AlertStore, HistoryEntry, Silence
from ioc.config import RuleConfig
from ioc.errors import IocError
from ioc.messages import Alert, AlertState, RuleTransition, Severity

log = logging.getLogger(__name__)

OPENED = "opened"
UPDATED = "updated"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"
CLOSED = "closed"
ESCALATED = "escalated"
COMMENTED = "commented"
REOPENED = "reopened"  # a history action only: the event is "opened"

ACTIVE = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
# operator action → (states it is allowed from, state it leads to, event)
_ACTIONS: dict[str, tuple[tuple[AlertState, ...], AlertState, str]] = {
    "acknowledge": ((AlertState.OPEN,), AlertState.ACKNOWLEDGED, ACKNOWLEDGED),
    "resolve": (ACTIVE, AlertState.RESOLVED, RESOLVED),
    "close": ((AlertState.RESOLVED,), AlertState.CLOSED, CLOSED),
}

Events = list[tuple[str, Alert]]
_Change = tuple[str, Alert, HistoryEntry]


class AlertError(IocError):
    """Base of the errors of the alert book."""


class UnknownAlert(AlertError):
    def __init__(self, alert_id: str) -> None:
        self.alert_id = alert_id
        super().__init__(f"no alert has id {alert_id!r}")


class UnknownIncident(AlertError):
    def __init__(self, incident_id: str) -> None:
        self.incident_id = incident_id
        super().__init__(f"no incident has id {incident_id!r}")


class InvalidTransition(AlertError):
    def __init__(self, alert_id: str, state: AlertState, action: str) -> None:
        self.alert_id = alert_id
        self.state = state
        self.action = action
        allowed = " or ".join(s.value for s in _ACTIONS[action][0])
        super().__init__(
            f"cannot {action} alert {alert_id}: it is {state.value}; "
            f"{action} needs an alert that is {allowed}"
        )


class UnknownSilence(AlertError):
    def __init__(self, silence_id: str) -> None:
        self.silence_id = silence_id
        super().__init__(f"no silence has id {silence_id!r}")


class InvalidSilence(AlertError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class AlertBook:
    """The alerts of every rule and station. ``config`` None: defaults, in memory only.

    Synchronous and single-threaded (the event loop's thread); the only writer of its
    database. Call :meth:`shutdown` at the end.
    """

    def __init__(
        self,
        rules: Mapping[str, RuleConfig],
        config: AlertsConfig | None = None,
        *,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._rules = rules
        self._config = config or AlertsConfig(database=":memory:")
        self._clock = clock
        self._flap_window_ms = int(self._config.flap_window_s * 1000)
        self._escalate_ms = int(self._config.escalate_after_min * 60_000)
        self._store = AlertStore(self._config.database)
        self._subscribers: list[Callable[[Events], None]] = []
        self._silences: list[Silence] = []
        self.purge(clock())
        self._active = {(a.rule_id, a.station_id): a for a in self._store.active()}
        # rules that ever fired here (a few dozen): a station's active alerts are found by
        # key, not by scanning every active alert (a fleet has thousands)
        self._rule_ids = {rule_id for rule_id, _ in self._active}

    def shutdown(self) -> None:
        """Close the database."""
        self._store.close()

    def subscribe(self, callback: Callable[[Events], None]) -> None:
        """Deliver every batch of events (rules, operators, escalations) to ``callback``."""
        self._subscribers.append(callback)

    # --- rule transitions -------------------------------------------------------------

    def apply(self, transitions: Iterable[RuleTransition]) -> Events:
        """Open, update, reopen or resolve alerts; one database transaction per call."""
        active = dict(self._active)  # becomes the book's state only once committed
        changes: list[_Change] = []
        with self._store.transaction():
            for t in transitions:
                change = self._fire(t, active) if t.firing else self._resolve(t, active)
                if change is None:
                    continue
                self._write(change)
                _track(active, change[1])
                changes.append(change)
        self._active = active
        return self._emit(changes)

    def _fire(self, t: RuleTransition, active: dict[tuple[str, str], Alert]) -> _Change:
        now = self._clock()
        self._rule_ids.add(t.rule_id)
        current = active.get((t.rule_id, t.station_id))
        if current is not None:
            alert = self._refire(current, t)
            return UPDATED, alert, self._entry(UPDATED, alert, t, now, current.state)
        previous = self._store.latest(t.rule_id, t.station_id)
        if previous is not None and self._reopens(previous, t):
            since = t.ts_ms - self._flap_window_ms
            reopenings = self._store.count_actions(previous.id, REOPENED, since) + 1
            alert = replace(
                self._refire(previous, t),
                state=AlertState.OPEN
                if previous.acknowledged_ms is None
                else AlertState.ACKNOWLEDGED,
                resolved_ms=None,
                resolved_by=None,
                flaps=previous.flaps + 1,
                flapping=reopenings > self._config.flap_threshold,
            )
            alert = self._join(alert, t, active)
            return OPENED, alert, self._entry(REOPENED, alert, t, now, previous.state)
        alert = Alert(
            id=self._store.next_id(),
            rule_id=t.rule_id,
            station_id=t.station_id,
            parameter=t.parameter,
            severity=t.severity,
            state=AlertState.OPEN,
            opened_ms=t.ts_ms,
            value=t.value,
            limit=t.limit,
            baseline=t.baseline,
            raised_ms=now,
            last_seen_ms=t.ts_ms,
            peak=t.value,
            silenced=self._silenced(t),
            retroactive=t.retroactive,
            incident_kind=alert_kind(t.rule_id),
        )
        alert = self._join(alert, t, active)
        return OPENED, alert, self._entry(OPENED, alert, t, now, None)

    def _join(self, alert: Alert, t: RuleTransition, active: dict[tuple[str, str], Alert]) -> Alert:
        """``alert`` (opening or reopening) in the incident of a related active alert, if any
        (the oldest incident when several are); the incident's kind raised if ``alert`` is
        of a stronger kind, and written on its other members."""
        at_station = [
            a for rule in self._rule_ids if (a := active.get((rule, t.station_id))) is not None
        ]
        others = [
            a
            for a in at_station
            if a.id != alert.id and related(a, t.station_id, t.parameter, t.ts_ms)
        ]
        if not others:
            return alert
        host = min(others, key=lambda a: (int(a.incident_id), int(a.id)))
        kind = stronger_kind(host.incident_kind or alert_kind(host.rule_id), alert_kind(t.rule_id))
        if kind != host.incident_kind:
            self._store.set_incident_kind(host.incident_id, kind)
            for member in at_station:
                if member.incident_id == host.incident_id:
                    active[member.rule_id, member.station_id] = replace(member, incident_kind=kind)
        return replace(alert, incident_id=host.incident_id, incident_kind=kind)

    def _reopens(self, previous: Alert, t: RuleTransition) -> bool:
        """Whether ``t`` fires again soon enough after ``previous`` was resolved: a flap."""
        return (
            self._flap_window_ms > 0
            and previous.state is AlertState.RESOLVED
            and previous.resolved_ms is not None
            and t.ts_ms - previous.resolved_ms < self._flap_window_ms
        )

    def _refire(self, alert: Alert, t: RuleTransition) -> Alert:
        """``alert`` after another firing transition: count, peak, value, severity, silence."""
        rule = self._rules.get(t.rule_id)
        peak = t.value if alert.peak is None else alert.peak
        peak = max(peak, t.value) if rule is None else rule.worse(peak, t.value)
        return replace(
            alert,
            severity=t.severity,
            value=t.value,
            limit=t.limit,
            baseline=t.baseline,
            peak=peak,
            count=alert.count + 1,
            last_seen_ms=max(t.ts_ms, alert.last_seen_ms or t.ts_ms),
            silenced=self._silenced(t),
        )

    def _resolve(self, t: RuleTransition, active: dict[tuple[str, str], Alert]) -> _Change | None:
        current = active.get((t.rule_id, t.station_id))
        if current is None:
            return None
        alert = replace(
            current, state=AlertState.RESOLVED, value=t.value, resolved_ms=t.ts_ms, resolved_by=None
        )
        return RESOLVED, alert, self._entry(RESOLVED, alert, t, self._clock(), current.state)

    def _entry(
        self, action: str, alert: Alert, t: RuleTransition, now: int, before: AlertState | None
    ) -> HistoryEntry:
        return HistoryEntry(
            alert_id=alert.id,
            action=action,
            ts_ms=t.ts_ms,
            recorded_ms=now,
            from_state=before,
            to_state=alert.state,
            value=t.value,
            retroactive=t.retroactive,
        )

    def _silenced(self, t: RuleTransition) -> bool:
        return any(s.covers(t.rule_id, t.station_id, t.ts_ms) for s in self._silences)

    # --- operators --------------------------------------------------------------------

    def acknowledge(self, alert_id: str, user: str, comment: str = "") -> Alert:
        return self._act(alert_id, "acknowledge", user, comment)

    def resolve(self, alert_id: str, user: str, comment: str = "") -> Alert:
        return self._act(alert_id, "resolve", user, comment)

    def close(self, alert_id: str, user: str, comment: str = "") -> Alert:
        return self._act(alert_id, "close", user, comment)

    def comment(self, alert_id: str, user: str, text: str) -> Alert:
        alert = self.get(alert_id)
        now = self._clock()
        entry = HistoryEntry(
            alert_id=alert.id,
            action=COMMENTED,
            ts_ms=now,
            recorded_ms=now,
            from_state=alert.state,
            to_state=alert.state,
            user=user,
            comment=text,
        )
        self._commit([(COMMENTED, alert, entry)])
        return alert

    def _act(self, alert_id: str, action: str, user: str, comment: str) -> Alert:
        allowed, target, event = _ACTIONS[action]
        current = self.get(alert_id)
        if current.state not in allowed:
            raise InvalidTransition(alert_id, current.state, action)
        now = self._clock()
        if target is AlertState.ACKNOWLEDGED:
            alert = replace(current, state=target, acknowledged_ms=now, acknowledged_by=user)
        elif target is AlertState.RESOLVED:
            alert = replace(current, state=target, resolved_ms=now, resolved_by=user)
        else:
            alert = replace(current, state=target, closed_ms=now)
        entry = HistoryEntry(
            alert_id=alert.id,
            action=event,
            ts_ms=now,
            recorded_ms=now,
            from_state=current.state,
            to_state=target,
            user=user,
            comment=comment,
        )
        self._commit([(event, alert, entry)])
        return alert

    def check_escalations(self, now_ms: int) -> Events:
        """Escalate critical alerts left open (not acknowledged, not silenced) too long."""
        changes: list[_Change] = []
        for current in self._active.values():
            if (
                current.severity is Severity.CRITICAL
                and current.state is AlertState.OPEN
                and not current.escalated
                and not current.silenced
                and current.raised_ms is not None
                and now_ms - current.raised_ms >= self._escalate_ms
            ):
                alert = replace(current, escalated=True)
                entry = HistoryEntry(
                    alert_id=alert.id,
                    action=ESCALATED,
                    ts_ms=now_ms,
                    recorded_ms=now_ms,
                    from_state=alert.state,
                    to_state=alert.state,
                    value=alert.value,
                )
                changes.append((ESCALATED, alert, entry))
        return self._commit(changes)

    def _commit(self, changes: list[_Change]) -> Events:
        with self._store.transaction():
            for change in changes:
                self._write(change)
        for _, alert, _ in changes:
            _track(self._active, alert)
        return self._emit(changes)

    def _write(self, change: _Change) -> None:
        event, alert, entry = change
        if event != COMMENTED:
            self._store.save(alert)
        self._store.record(entry)

    def _emit(self, changes: list[_Change]) -> Events:
        events = [(event, alert) for event, alert, _ in changes]
        if events:
            for callback in self._subscribers:
                try:
                    callback(events)
                except Exception:  # one broken subscriber must not silence the others
                    log.exception("alert subscriber %r failed", callback)
        return events

    # --- silences ---------------------------------------------------------------------

    def add_silence(
        self,
        *,
        start_ms: int,
        end_ms: int,
        reason: str,
        user: str,
        station_id: str | None = None,
        rule_id: str | None = None,
    ) -> Silence:
        if station_id is None and rule_id is None:
            raise InvalidSilence("a silence needs a station, a rule or both")
        if end_ms <= start_ms:
            raise InvalidSilence("a silence must end after it starts")
        silence = self._store.add_silence(
            station_id, rule_id, start_ms, end_ms, reason, user, self._clock()
        )
        self._silences.append(silence)
        return silence

    def remove_silence(self, silence_id: str) -> None:
        if not self._store.delete_silence(silence_id):
            raise UnknownSilence(silence_id)
        self._silences = [s for s in self._silences if s.id != silence_id]

    def silences(self) -> list[Silence]:
        """Silences not yet ended, earliest start first."""
        now = self._clock()
        return [s for s in self._silences if s.end_ms > now]

    # --- reading ----------------------------------------------------------------------

    def get(self, alert_id: str) -> Alert:
        alert = self._store.alert(alert_id)
        if alert is None:
            raise UnknownAlert(alert_id)
        return alert

    def incident(self, incident_id: str) -> Incident:
        members = self._store.incident(incident_id)
        if not members:
            raise UnknownIncident(incident_id)
        return incident_of(members)

    def incidents(
        self,
        state: AlertState | Collection[AlertState] | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
    ) -> list[Incident]:
        """Incidents opened in [since, until), newest first; ``state`` one or several (of
        the incident, see alerts.incidents). Only active states: from the active alerts."""
        states = {state} if isinstance(state, AlertState) else set(state or ())
        if states and states <= set(ACTIVE):
            ids: Iterable[str] = sorted(
                {a.incident_id for a in self._active.values()}, key=int, reverse=True
            )
        else:
            ids = self._store.incident_ids(since_ms, until_ms)
        found: list[Incident] = []
        for incident_id in ids:
            if len(found) >= limit:
                break
            incident = self.incident(incident_id)
            if (
                (not states or incident.state in states)
                and (since_ms is None or incident.opened_ms >= since_ms)
                and (until_ms is None or incident.opened_ms < until_ms)
            ):
                found.append(incident)
        found.sort(key=lambda i: (i.opened_ms, int(i.id)), reverse=True)
        return found

    def history(self, alert_id: str) -> list[HistoryEntry]:
        return self._store.history(self.get(alert_id).id)

    def query(
        self,
        state: AlertState | Collection[AlertState] | None = None,
        severity: Severity | None = None,
        station_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts opened in [since, until), newest first; ``state`` one or several."""
        states = (state,) if isinstance(state, AlertState) else (state or ())
        return self._store.query(
            states=states,
            severity=severity,
            station_id=station_id,
            since_ms=since_ms,
            until_ms=until_ms,
            limit=limit,
        )

    def open_alerts(self) -> list[Alert]:
        """Active (open or acknowledged) alerts, newest first."""
        return sorted(self._active.values(), key=lambda a: (a.opened_ms, int(a.id)), reverse=True)

    def purge(self, now_ms: int) -> int:
        """Delete what is older than ``retention_days``; returns how many alerts went."""
        deleted = 0
        if self._config.retention_days:
            deleted = self._store.purge(now_ms - int(self._config.retention_days * 86_400_000))
        self._silences = self._store.silences()
        return deleted


def _track(active: dict[tuple[str, str], Alert], alert: Alert) -> None:
    """Keep ``active`` (rule, station → active alert) in step with a changed alert."""
    key = (alert.rule_id, alert.station_id)
    if alert.state in ACTIVE:
        active[key] = alert
    elif key in active and active[key].id == alert.id:
        del active[key]
