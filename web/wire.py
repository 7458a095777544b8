"""JSON shapes of what the wall and the API receive (docs/protocol.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerts.incidents import alert_kind
from alerts.wording import AlertFacts
from analytics.cameras.alarms import RULES as CAMERA_RULES
from analytics.detectors import ANOMALY_RULES
from analytics.journeys.transitions import JOURNEY_PARAMETERS, JOURNEY_RULES
from ingest.plates import PlateError, format_plate
from ioc.clock import iso_utc
from ioc.config import RuleConfig
from ioc.messages import Alert, Rejection
from ioc.registry import StationRegistry


def alert_json(
    alert: Alert, rules: Mapping[str, RuleConfig], registry: StationRegistry
) -> dict[str, Any]:
    rule = rules.get(alert.rule_id)
    station = registry.get(alert.station_id)
    name = station.name if station else subject_name(alert.rule_id, alert.station_id)
    evidence = None
    if alert.rule_id in CAMERA_RULES:  # the frame that raised it (analytics/cameras/snapshots)
        evidence = f"/api/v1/cameras/{alert.station_id}/snapshots/{alert.opened_ms}.jpg"
    return {
        "id": alert.id,
        "rule_id": alert.rule_id,
        "rule_name": rule.name if rule else builtin_rule_name(alert.rule_id),
        "station_id": alert.station_id,
        "station_name": name,
        "parameter": alert.parameter,
        "severity": alert.severity.value,
        "state": alert.state.value,
        "opened_at": iso_utc(alert.opened_ms),
        "resolved_at": iso_utc(alert.resolved_ms),
        "value": alert.value,
        "limit": alert.limit,
        "baseline": alert.baseline,
        "window": rule.window if rule else "instant",
        "raised_at": iso_utc(alert.raised_ms),
        "last_seen": iso_utc(alert.last_seen_ms),
        "peak": alert.peak,
        "count": alert.count,
        "flaps": alert.flaps,
        "flapping": alert.flapping,
        "silenced": alert.silenced,
        "escalated": alert.escalated,
        "retroactive": alert.retroactive,
        "acknowledged_at": iso_utc(alert.acknowledged_ms),
        "acknowledged_by": alert.acknowledged_by,
        "resolved_by": alert.resolved_by,
        "closed_at": iso_utc(alert.closed_ms),
        "snapshot": evidence,
        "incident_id": alert.incident_id,
        "incident_kind": alert.incident_kind or alert_kind(alert.rule_id),
    }


def alert_facts(
    alert: Alert, rules: Mapping[str, RuleConfig], registry: StationRegistry
) -> AlertFacts:
    """Names and unit of an alert for messages in words (e-mail, text webhooks)."""
    rule = rules.get(alert.rule_id)
    station = registry.get(alert.station_id)
    spec = station.parameters.get(alert.parameter) if station else None
    return AlertFacts(
        alert,
        station_name=station.name if station else alert.station_id,
        rule_name=rule.name if rule else builtin_rule_name(alert.rule_id),
        unit=spec.unit_display if spec else "",
    )


def builtin_rule_name(rule_id: str) -> str:
    """Names of the rules the code defines (anomalies, cameras, journeys); else the id."""
    if rule_id in ANOMALY_RULES:
        return ANOMALY_RULES[rule_id][0]
    if rule_id in JOURNEY_RULES:
        return JOURNEY_RULES[rule_id][0]
    if rule_id in CAMERA_RULES:
        return CAMERA_RULES[rule_id].name
    return rule_id


def subject_name(rule_id: str, subject: str) -> str:
    """What an alert is about when it is no station: a vehicle's plate as printed."""
    if rule_id not in JOURNEY_RULES:
        return subject
    try:
        return format_plate(subject)
    except PlateError:
        return subject


def parameters_json(registry: StationRegistry) -> dict[str, dict[str, str]]:
    """Labels and units of every parameter the wall may show: the registry's, and the
    values journey alerts carry."""
    own = {
        key: {"label_vi": spec.label_vi, "label_en": spec.label_en, "unit": spec.unit_display}
        for key, spec in registry.parameters().items()
    }
    return JOURNEY_PARAMETERS | own


def rejection_json(r: Rejection) -> dict[str, Any]:
    return {
        "source": r.source,
        "reason": r.reason.value,
        "detail": r.detail,
        "station_id": r.station_id,
        "parameter": r.parameter,
        "received_at": iso_utc(r.received_ms),
        "payload": r.payload,
    }
