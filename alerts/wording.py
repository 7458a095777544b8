"""Alert events in words, in Vietnamese or English: the one-line message of ``text`` webhooks
and the subject and body of e-mails. Times are Vietnam time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from alerts.config import Language
from ioc.clock import LOCAL_TZ
from ioc.messages import Alert, Severity


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What a message says about an alert: its names, value, limit and unit resolved."""

    alert: Alert
    station_name: str
    rule_name: str
    unit: str = ""


def bare_facts(alert: Alert) -> AlertFacts:
    """Facts without a registry or rules: ids stand for names, no unit."""
    return AlertFacts(alert, station_name=alert.station_id, rule_name=alert.rule_id)


SEVERITY_WORDS: dict[Language, dict[Severity, str]] = {
    "vi": {Severity.INFO: "THÔNG TIN", Severity.WARNING: "CẢNH BÁO", Severity.CRITICAL: "KHẨN"},
    "en": {Severity.INFO: "INFO", Severity.WARNING: "WARNING", Severity.CRITICAL: "CRITICAL"},
}
EVENT_WORDS: dict[Language, dict[str, str]] = {
    "vi": {
        "opened": "Cảnh báo mới",
        "updated": "Cập nhật",
        "acknowledged": "Đã tiếp nhận",
        "resolved": "Đã hết",
        "closed": "Đã đóng",
        "escalated": "Chưa ai tiếp nhận",
        "commented": "Ghi chú mới",
    },
    "en": {
        "opened": "New alert",
        "updated": "Updated",
        "acknowledged": "Acknowledged",
        "resolved": "Resolved",
        "closed": "Closed",
        "escalated": "Not acknowledged",
        "commented": "New comment",
    },
}
LABELS: dict[Language, dict[str, str]] = {
    "vi": {
        "station": "Trạm",
        "rule": "Quy tắc",
        "value": "Giá trị",
        "limit": "giới hạn",
        "baseline": "nền",
        "opened": "Bắt đầu",
        "resolved": "Kết thúc",
        "alert": "Mã cảnh báo",
        "zone": "giờ Việt Nam",
    },
    "en": {
        "station": "Station",
        "rule": "Rule",
        "value": "Value",
        "limit": "limit",
        "baseline": "baseline",
        "opened": "Started",
        "resolved": "Ended",
        "alert": "Alert id",
        "zone": "Vietnam time",
    },
}


def one_line(event: str, facts: AlertFacts, language: Language) -> str:
    """``[KHẨN] Cảnh báo mới: Stack one — Dust: 250 mg/Nm³ (giới hạn 200 mg/Nm³), 07:00 05/12``"""
    alert = facts.alert
    return (
        f"[{SEVERITY_WORDS[language][alert.severity]}] {EVENT_WORDS[language][event]}: "
        f"{facts.station_name} — {facts.rule_name}: {_value_and_limit(facts, language)}, "
        f"{local_time(alert.opened_ms, '%H:%M %d/%m')}"
    )


def subject(event: str, facts: AlertFacts, language: Language) -> str:
    severity = SEVERITY_WORDS[language][facts.alert.severity]
    return f"[{severity}] {EVENT_WORDS[language][event]}: {facts.station_name} — {facts.rule_name}"


def body(event: str, facts: AlertFacts, language: Language) -> str:
    alert, label = facts.alert, LABELS[language]
    lines = [
        f"{EVENT_WORDS[language][event]} ({SEVERITY_WORDS[language][alert.severity]})",
        "",
        f"{label['station']}: {facts.station_name} ({alert.station_id})",
        f"{label['rule']}: {facts.rule_name}",
        f"{label['value']}: {_value_and_limit(facts, language)}",
        f"{label['opened']}: {local_time(alert.opened_ms)} ({label['zone']})",
    ]
    if alert.resolved_ms is not None:
        lines.append(f"{label['resolved']}: {local_time(alert.resolved_ms)} ({label['zone']})")
    lines.append(f"{label['alert']}: {alert.id}")
    return "\n".join(lines) + "\n"


def local_time(ms: int, layout: str = "%H:%M %d/%m/%Y") -> str:
    return datetime.fromtimestamp(ms / 1000, LOCAL_TZ).strftime(layout)


#: Anomaly rules whose ``limit`` is a detector's threshold (a score or a sample count), never a
#: level in the value's unit: their alerts show their baseline, if any, instead.
SCORED_RULES = frozenset(
    f"anomaly.{kind}"
    for kind in ("spike", "sensor_fault", "pollution_event", "flatline", "seasonal", "drift")
)


def _value_and_limit(facts: AlertFacts, language: Language) -> str:
    """``250 mg/Nm³ (giới hạn 200 mg/Nm³)``; an anomaly: ``132 µg/m³ (nền 8 µg/m³)``."""
    unit = f" {facts.unit}" if facts.unit else ""
    alert = facts.alert
    if alert.baseline is not None:
        return f"{alert.value:g}{unit} ({LABELS[language]['baseline']} {alert.baseline:g}{unit})"
    if alert.rule_id in SCORED_RULES:
        return f"{alert.value:g}{unit}"
    return f"{alert.value:g}{unit} ({LABELS[language]['limit']} {alert.limit:g}{unit})"
