"""From conditions the analytics measure on frames to rule transitions for the alert pipeline.

Each analysis states, for the frames it looks at, whether its rule's condition holds
(:class:`Condition`). :class:`Alarms` adds hysteresis: a rule fires once its condition has
held for the rule's ``on`` delay and resolves once it has been absent for the ``off`` delay,
so alerts neither flap on one odd frame nor stay open after the cause is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ioc.messages import RuleTransition, Severity


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    parameter: str  # what ``value`` and ``limit`` measure
    severity: Severity


RULES: dict[str, Rule] = {
    "camera.offline": Rule("Camera offline", "silence_s", Severity.WARNING),
    "camera.bad_frames": Rule("Camera sends bad frames", "bad_frames", Severity.WARNING),
    "camera.frozen": Rule("Camera image frozen", "unchanged_s", Severity.WARNING),
    "camera.dark": Rule("Camera image too dark", "brightness", Severity.WARNING),
    "camera.overexposed": Rule("Camera image overexposed", "brightness", Severity.WARNING),
    "camera.blurred": Rule("Camera blurred or covered", "sharpness", Severity.WARNING),
    "camera.moved": Rule("Camera moved", "shift_px", Severity.WARNING),
    "camera.smoke": Rule("Smoke or fire seen", "smoke_area_pct", Severity.CRITICAL),
    "traffic.congestion": Rule("Traffic jammed", "occupancy_pct", Severity.INFO),
    "traffic.stopped_vehicle": Rule("Vehicle stopped in no-stopping zone", "stopped_s",
                                    Severity.WARNING),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Condition:
    """Whether a rule's condition holds now, with the measured value and its limit."""

    rule_id: str
    active: bool
    value: float
    limit: float


@dataclass(slots=True)
class Flag:
    """A condition with hysteresis: turns on after holding ``on_ms``, off after being absent
    ``off_ms``."""

    on_ms: int
    off_ms: int
    on: bool = False
    since_ms: int | None = None  # when the condition started to disagree with ``on``

    def update(self, condition: bool, ts_ms: int) -> bool:
        """Feed the condition at ``ts_ms``; True when ``on`` changed."""
        if condition == self.on:
            self.since_ms = None
            return False
        if self.since_ms is None:
            self.since_ms = ts_ms
        if ts_ms - self.since_ms >= (self.off_ms if self.on else self.on_ms):
            self.on, self.since_ms = condition, None
            return True
        return False


class Alarms:
    """The rules of one camera; ``delays`` gives each its (on, off) delays in seconds."""

    def __init__(
        self,
        camera_id: str,
        delays: Mapping[str, tuple[float, float]],
        disabled: Iterable[str] = (),
        severities: Mapping[str, Severity] | None = None,
    ) -> None:
        self._camera_id = camera_id
        self._flags = {
            rule: Flag(round(on * 1000), round(off * 1000)) for rule, (on, off) in delays.items()
        }
        self.disabled = frozenset(disabled)
        self.severities = dict(severities or {})

    def configure(
        self,
        delays: Mapping[str, tuple[float, float]],
        disabled: Iterable[str],
        severities: Mapping[str, Severity],
    ) -> None:
        """New delays, switches and severities, live: each rule keeps its state."""
        for rule, (on, off) in delays.items():
            flag = self._flags[rule]
            flag.on_ms, flag.off_ms = round(on * 1000), round(off * 1000)
        self.disabled = frozenset(disabled)
        self.severities = dict(severities)

    def update(self, conditions: Iterable[Condition], ts_ms: int) -> list[RuleTransition]:
        transitions = []
        for c in conditions:
            active = c.active and c.rule_id not in self.disabled  # off: as if never seen
            if self._flags[c.rule_id].update(active, ts_ms):
                rule = RULES[c.rule_id]
                transitions.append(
                    RuleTransition(
                        rule_id=c.rule_id,
                        station_id=self._camera_id,
                        parameter=rule.parameter,
                        firing=active,
                        value=round(c.value, 3),
                        limit=round(c.limit, 3),
                        ts_ms=ts_ms,
                        severity=self.severities.get(c.rule_id, rule.severity),
                    )
                )
        return transitions

    def active(self) -> list[str]:
        return [rule for rule, flag in self._flags.items() if flag.on]

    def is_on(self, rule_id: str) -> bool:
        return self._flags[rule_id].on
