"""What the analytics stages hand to the engine: rule transitions, InfluxDB lines, metrics
per station for the wall and derived values the rules may watch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ioc.messages import RuleTransition


@dataclass(slots=True)
class Derived:
    """Collected output of one batch or tick. ``values`` are (station id, parameter, time ms,
    value) of derived parameters (:data:`analytics.config.DERIVED_PARAMETERS`)."""

    transitions: list[RuleTransition] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    values: list[tuple[str, str, int, float]] = field(default_factory=list)

    def line(
        self,
        measurement: str,
        tags: dict[str, str],
        fields: dict[str, float | int | bool],
        ts_ms: int,
    ) -> None:
        """Add a line-protocol point, unless every field is NaN."""
        text = line(measurement, tags, fields, ts_ms)
        if text is not None:
            self.lines.append(text)

    def metric(self, station_id: str, **values: float) -> None:
        """Record the finite ones of ``values`` as the station's latest metrics."""
        finite = {k: float(v) for k, v in values.items() if math.isfinite(v)}
        if finite:
            self.metrics.setdefault(station_id, {}).update(finite)


def line(
    measurement: str, tags: dict[str, str], fields: dict[str, float | int | bool], ts_ms: int
) -> str | None:
    """One line-protocol point (ms precision); NaN fields are left out, None if none is left.
    Tag values are station ids and parameter keys: the registry keeps them escape-free."""
    parts = [
        f"{key}={'true' if value else 'false'}"
        if type(value) is bool
        else f"{key}={value}i"
        if type(value) is int
        else f"{key}={round(float(value), 3)!r}"
        for key, value in fields.items()
        if not isinstance(value, float) or math.isfinite(value)
    ]
    if not parts:
        return None
    tag_text = "".join(f",{k}={v}" for k, v in sorted(tags.items()))
    return f"{measurement}{tag_text} {','.join(parts)} {ts_ms}"
