"""Incidents: the related alerts of a station taken as one record (issue #14, "incidents, not
alerts").

Every alert belongs to an incident (``Alert.incident_id``; its own id when it started one).
The alert book (:mod:`alerts.lifecycle`) decides membership when an alert opens or reopens:
it joins the incident of an active alert of the same station that is *related* — the same
parameter, or any parameter whose latest firing reading has the same data time (the same
reading). Otherwise it starts its own incident (a new alert) or stays in its own (a reopened
one).

The incident's ``kind`` (its classification) is decided from its members by the fixed
priority :data:`KIND_PRIORITY`, earliest first: a limit (QCVN) exceedance is the incident over
any anomaly on the same reading; a pollution event over a sensor fault; a sensor fault over
the plainer anomalies (out of range, stuck sensor, spike ...). It only moves up the list as
members join (``sensor_fault`` → ``pollution_event`` keeps the incident and its id), and the
book writes it on every member (``Alert.incident_kind``), so any alert event carries the
current kind. Its severity is the highest of its active members (of all, once none is
active); it is resolved when every member is resolved (closed when every one is closed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ioc.messages import Alert, AlertState, Severity

EXCEEDANCE = "exceedance"  # an alert of a configured (limit) rule
#: Kinds of the code's own rule families: ``anomaly.<kind>``; the camera and journey rules
#: are their own kind (their rule id).
BUILTIN_PREFIXES = ("anomaly.", "camera.", "traffic.", "journey.")
#: Which kind names an incident, strongest first; a kind not listed comes after them all.
KIND_PRIORITY: tuple[str, ...] = (
    EXCEEDANCE,
    "pollution_event",
    "sensor_fault",
    "out_of_range",
    "flatline",
    "spike",
    "drift",
    "seasonal",
    "no_data",
    "offline",
)
#: Kinds weaker than any other, listed or not: a vehicle silent now (``journey.silent``) is
#: named by the lost-signal violation its records later show.
WEAKEST: tuple[str, ...] = ("journey.silent",)
_RANK = {kind: rank for rank, kind in enumerate(KIND_PRIORITY)}
_RANK.update({kind: len(KIND_PRIORITY) + 1 + rank for rank, kind in enumerate(WEAKEST)})
_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def alert_kind(rule_id: str) -> str:
    """The kind one alert of ``rule_id`` gives its incident."""
    if rule_id.startswith("anomaly."):
        return rule_id.removeprefix("anomaly.")
    if rule_id.startswith(BUILTIN_PREFIXES):
        return rule_id
    return EXCEEDANCE


def stronger_kind(a: str, b: str) -> str:
    """The kind that names an incident with members of kinds ``a`` and ``b`` (``a`` on a tie)."""
    unlisted = len(KIND_PRIORITY)
    rank_a, rank_b = _RANK.get(a, unlisted), _RANK.get(b, unlisted)
    return b if rank_b < rank_a else a


def worst_severity(severities: Iterable[Severity]) -> Severity:
    return max(severities, key=_SEVERITY_RANK.__getitem__, default=Severity.INFO)


def related(active: Alert, station_id: str, parameter: str, ts_ms: int) -> bool:
    """Whether a firing of ``parameter`` at ``station_id`` read at ``ts_ms`` belongs to the
    incident of the ``active`` alert: same station, and same parameter or same reading."""
    seen = active.last_seen_ms if active.last_seen_ms is not None else active.opened_ms
    return active.station_id == station_id and (active.parameter == parameter or seen == ts_ms)


@dataclass(frozen=True, slots=True)
class Incident:
    """Related alerts of one station (``members`` oldest first)."""

    id: str
    station_id: str
    kind: str
    severity: Severity
    state: AlertState
    opened_ms: int
    last_seen_ms: int
    members: tuple[Alert, ...]

    @property
    def member_ids(self) -> list[str]:
        return [m.id for m in self.members]


def incident_of(members: Iterable[Alert]) -> Incident:
    """The incident of ``members`` (one incident's alerts, at least one)."""
    alerts = tuple(sorted(members, key=lambda a: int(a.id)))
    if not alerts:
        raise ValueError("an incident has at least one alert")
    active = [a for a in alerts if a.state in (AlertState.OPEN, AlertState.ACKNOWLEDGED)]
    kind = alerts[0].incident_kind or alert_kind(alerts[0].rule_id)
    for alert in alerts[1:]:
        kind = stronger_kind(kind, alert.incident_kind or alert_kind(alert.rule_id))
    if any(a.state is AlertState.OPEN for a in alerts):
        state = AlertState.OPEN
    elif active:
        state = AlertState.ACKNOWLEDGED
    elif all(a.state is AlertState.CLOSED for a in alerts):
        state = AlertState.CLOSED
    else:
        state = AlertState.RESOLVED
    return Incident(
        id=alerts[0].incident_id,
        station_id=alerts[0].station_id,
        kind=kind,
        severity=worst_severity(a.severity for a in (active or alerts)),
        state=state,
        opened_ms=min(a.opened_ms for a in alerts),
        last_seen_ms=max(a.last_seen_ms or a.opened_ms for a in alerts),
        members=alerts,
    )
