"""Journey events as rule transitions for the alert book (alerts.lifecycle), like every other
rule's: one alert per rule and vehicle (``station_id`` is the vehicle's plate).

A violation the kernel reports is complete (an episode of speeding that ended, a driving-time
threshold reached, a stay in a restricted zone): it opens its alert and resolves it at once,
so the operator sees it, acknowledges or closes it, and the next one reopens the alert (a
repeat offender shows as flapping).

Silence is two rules. ``journey.silent`` (information) is live: the clock found the vehicle
silent, and it stays open until the vehicle sends again. ``journey.signal_lost`` (warning) is
the violation, a gap in the vehicle's records, known once it sends again: a device out of
coverage that kept recording fills the silence with its backlog, and no violation remains.
Both are on ``silence_s``, so the violation joins the live silence's incident.
"""

from __future__ import annotations

from analytics.journeys.events import JourneyOutput
from ioc.messages import RuleTransition, Severity

#: rule id → (name shown, severity of a violation)
JOURNEY_RULES: dict[str, tuple[str, Severity]] = {
    "journey.speeding": ("Quá tốc độ (speeding)", Severity.WARNING),
    "journey.continuous_driving": (
        "Lái xe liên tục quá 4 giờ (continuous driving)",
        Severity.CRITICAL,
    ),
    "journey.daily_driving": ("Lái xe quá 10 giờ/ngày (daily driving)", Severity.CRITICAL),
    "journey.weekly_driving": ("Lái xe quá 48 giờ/tuần (weekly driving)", Severity.CRITICAL),
    "journey.zone_forbidden": ("Vào vùng cấm giờ cấm (restricted zone)", Severity.CRITICAL),
    "journey.signal_lost": ("Mất tín hiệu (signal lost)", Severity.WARNING),
    "journey.silent": ("Không nhận dữ liệu (not reporting)", Severity.INFO),
    "journey.no_driver_image": ("Không gửi ảnh lái xe (no driver image)", Severity.WARNING),
}
#: What the journey alerts' values are, for the wall's parameter table.
JOURNEY_PARAMETERS: dict[str, dict[str, str]] = {
    "speed_kmh": {"label_vi": "Tốc độ", "label_en": "Speed", "unit": "km/h"},
    "driving_h": {"label_vi": "Thời gian lái xe", "label_en": "Driving time", "unit": "h"},
    "silence_s": {"label_vi": "Thời gian mất tín hiệu", "label_en": "Silence", "unit": "s"},
    "image_gap_s": {"label_vi": "Không có ảnh lái xe", "label_en": "No driver image", "unit": "s"},
}
#: Speeding bands (km/h over the limit at the peak) of the fines that are critical.
CRITICAL_BANDS = frozenset({"20-35", ">35"})


def journey_transitions(out: JourneyOutput) -> list[RuleTransition]:
    """The alert book's transitions for one batch's, tick's or flush's events, in time order."""
    found: list[RuleTransition] = []
    for s in out.speeding:
        severity = Severity.CRITICAL if s.band in CRITICAL_BANDS else Severity.WARNING
        found += _event(
            "journey.speeding",
            s.vehicle,
            "speed_kmh",
            s.peak_kmh,
            s.limit_kmh,
            s.start_ms,
            s.end_ms,
            severity,
        )
    for d in out.driving:
        rule = f"journey.{d.rule}_driving"
        severity = Severity.CRITICAL if d.kind == "violation" else Severity.WARNING
        hours = d.threshold_h
        found += _event(rule, d.vehicle, "driving_h", hours, hours, d.at_ms, d.at_ms, severity)
    for z in out.zone_violations:
        found += _event(
            "journey.zone_forbidden",
            z.vehicle,
            z.zone,
            1.0,
            0.0,
            z.at_ms,
            z.at_ms,
            Severity.CRITICAL,
        )
    for lost in out.signal:
        if lost.restored_ms is None:  # silent now: shown live, not yet known to be a gap
            found.append(_silence("journey.silent", lost.vehicle, True, 0.0, lost.last_ms))
            continue
        found += _event(
            "journey.signal_lost",
            lost.vehicle,
            "silence_s",
            (lost.restored_ms - lost.last_ms) / 1000,
            0.0,
            lost.last_ms,
            lost.restored_ms,
            Severity.WARNING,
        )
    for back in out.resumed:
        found.append(_silence("journey.silent", back.vehicle, False, 0.0, back.at_ms))
    return sorted(found, key=lambda t: t.ts_ms)


def _event(
    rule: str,
    vehicle: str,
    parameter: str,
    value: float,
    limit: float,
    start_ms: int,
    end_ms: int,
    severity: Severity,
) -> list[RuleTransition]:
    """Open at ``start_ms``, resolved at ``end_ms``: a complete violation."""
    return [
        RuleTransition(rule, vehicle, parameter, True, value, limit, start_ms, severity),
        RuleTransition(rule, vehicle, parameter, False, value, limit, end_ms, severity),
    ]


def _silence(rule: str, vehicle: str, firing: bool, value: float, ts_ms: int) -> RuleTransition:
    severity = JOURNEY_RULES[rule][1]
    return RuleTransition(rule, vehicle, "silence_s", firing, value, 0.0, ts_ms, severity)
