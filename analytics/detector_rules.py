"""The rules the code defines, tunable like limit rules: the anomaly family ``anomaly.*``
(:mod:`analytics.detectors`) and the camera family ``camera.*`` / ``traffic.*``
(:mod:`analytics.cameras`).

An edit is an *override*: an item of configuration kind ``detector`` (ioc.config_store), keyed
by the rule id, whose fields are the rule's tunable parameters; a field left out keeps the value
of the config file (``analytics.anomaly``; for cameras, each camera's own). Every rule has
``enabled`` and ``severity``. The other fields are those of :class:`AnomalyConfig`,
:class:`TrafficConfig`, :class:`HealthConfig` or :class:`SmokeConfig`, with their bounds and
descriptions; a camera rule's values apply to every camera that has the rule.

Some parameters serve more than one rule; each is edited at one rule: the z-score and the
cross-station check, the hysteresis (``event_clear_after_s``) and the deference to limit
rules at ``anomaly.spike`` (they also decide ``sensor_fault`` and ``pollution_event``), the
grouping of a regional pollution event at ``anomaly.pollution_event``, the silence of
``anomaly.offline`` also at ``anomaly.no_data``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

from analytics.cameras.config import (
    CameraConfig,
    CamerasConfig,
    HealthConfig,
    SmokeConfig,
    TrafficConfig,
)
from analytics.config import AnomalyConfig
from ioc.messages import Severity
from ioc.section import Section

Family = Literal["anomaly", "camera"]


class DetectorRuleBase(Section):
    """What every built-in rule has."""

    enabled: bool | None = Field(
        None, description="Off: the rule raises no alert (open ones resolve)."
    )
    severity: Severity | None = Field(None, description="Severity of its alerts.")


@dataclass(frozen=True, slots=True)
class DetectorRule:
    id: str
    family: Family
    name_vi: str
    name_en: str
    severity: Severity  # the code's default
    section: str  # where its parameters live: "anomaly", or a camera's "traffic", ...
    fields: tuple[str, ...]
    model: type[DetectorRuleBase]


def _model(
    rule_id: str, source: type[BaseModel], fields: tuple[str, ...]
) -> type[DetectorRuleBase]:
    """The override model of a rule: ``fields`` of ``source`` (bounds and descriptions kept),
    each optional."""
    definitions: dict[str, Any] = {}
    for name in fields:
        info = source.model_fields[name]
        optional = FieldInfo.merge_field_infos(info, default=None)
        optional.default_factory = None
        annotation: Any = info.annotation
        definitions[name] = (annotation | None, optional)
    title = "".join(part.title() for part in rule_id.replace(".", "_").split("_"))
    model: type[DetectorRuleBase] = create_model(
        f"{title}Rule",
        __base__=DetectorRuleBase,
        __doc__=f"Tunable settings of `{rule_id}`.",
        **definitions,
    )
    return model


_SPEC: tuple[tuple[str, Family, str, str, Severity, str, type[BaseModel], tuple[str, ...]], ...] = (
    # anomaly family (analytics/detectors.py)
    ("anomaly.spike", "anomaly", "Giá trị đột biến", "Spike", Severity.INFO, "anomaly",
     AnomalyConfig, ("zscore_threshold", "zscore_window", "mad_floor_ratio", "rising_zscore",
                     "neighbour_radius_km", "neighbour_window_s", "min_neighbours_rising",
                     "event_clear_after_s", "defer_to_limits", "fault_decision_s")),
    ("anomaly.sensor_fault", "anomaly", "Nghi lỗi cảm biến", "Suspected sensor fault",
     Severity.WARNING, "anomaly", AnomalyConfig, ()),
    ("anomaly.pollution_event", "anomaly", "Nghi sự cố ô nhiễm", "Suspected pollution event",
     Severity.INFO, "anomaly", AnomalyConfig, ("group_pollution_events", "event_spread_s")),
    ("anomaly.flatline", "anomaly", "Cảm biến kẹt", "Stuck sensor", Severity.WARNING, "anomaly",
     AnomalyConfig, ("flatline_samples", "flatline_tolerance")),
    ("anomaly.out_of_range", "anomaly", "Ngoài dải vật lý", "Out of physical range",
     Severity.WARNING, "anomaly", AnomalyConfig, ()),
    ("anomaly.seasonal", "anomaly", "Bất thường theo giờ trong ngày", "Unusual for the hour",
     Severity.INFO, "anomaly", AnomalyConfig,
     ("seasonal_threshold", "seasonal_days", "seasonal_min_days")),
    ("anomaly.drift", "anomaly", "Trôi số liệu", "Drift", Severity.INFO, "anomaly",
     AnomalyConfig, ("drift_threshold", "drift_window_hours", "drift_pm_ratio")),
    ("anomaly.no_data", "anomaly", "Mất số liệu một thông số", "Parameter without data",
     Severity.WARNING, "anomaly", AnomalyConfig, ()),
    ("anomaly.offline", "anomaly", "Trạm mất kết nối", "Station offline", Severity.WARNING,
     "anomaly", AnomalyConfig, ("offline_after_intervals",)),
    # camera family (analytics/cameras)
    ("camera.offline", "camera", "Camera mất kết nối", "Camera offline", Severity.WARNING,
     "health", HealthConfig, ("offline_after_s",)),
    ("camera.bad_frames", "camera", "Camera gửi khung hình lỗi", "Camera sends bad frames",
     Severity.WARNING, "health", HealthConfig, ("bad_after_s",)),
    ("camera.frozen", "camera", "Hình camera đứng yên", "Camera image frozen", Severity.WARNING,
     "health", HealthConfig, ("frozen_diff", "frozen_after_s")),
    ("camera.dark", "camera", "Hình camera quá tối", "Camera image too dark", Severity.WARNING,
     "health", HealthConfig, ("dark_level",)),
    ("camera.overexposed", "camera", "Hình camera cháy sáng", "Camera image overexposed",
     Severity.WARNING, "health", HealthConfig, ("bright_level",)),
    ("camera.blurred", "camera", "Camera mờ hoặc bị che", "Camera blurred or covered",
     Severity.WARNING, "health", HealthConfig, ("blur_ratio", "covered_contrast")),
    ("camera.moved", "camera", "Camera bị xoay lệch", "Camera moved", Severity.WARNING,
     "health", HealthConfig, ("moved_px",)),
    ("camera.smoke", "camera", "Phát hiện khói / lửa", "Smoke or fire seen", Severity.CRITICAL,
     "smoke", SmokeConfig, ("brighten", "max_saturation", "min_motion", "min_area", "growth",
                            "confirm_s", "clear_after_s")),
    ("traffic.congestion", "camera", "Ùn tắc giao thông", "Traffic jammed", Severity.INFO,
     "traffic", TrafficConfig, ("jam_occupancy", "jam_speed_px_s", "congestion_after_s",
                                "congestion_clear_s")),
    ("traffic.stopped_vehicle", "camera", "Xe dừng trong vùng cấm dừng",
     "Vehicle stopped in no-stopping zone", Severity.WARNING, "traffic", TrafficConfig,
     ("still_radius_px", "stopped_after_s", "stopped_clear_s")),
)  # fmt: skip

DETECTOR_RULES: dict[str, DetectorRule] = {
    rule_id: DetectorRule(rule_id, family, vi, en, severity, section, fields,
                          _model(rule_id, source, fields))
    for rule_id, family, vi, en, severity, section, source, fields in _SPEC
}  # fmt: skip
ANOMALY_KINDS = tuple(
    r.removeprefix("anomaly.") for r in DETECTOR_RULES if r.startswith("anomaly.")
)
#: anomaly parameters whose change needs a new anomaly state (kept samples, kept days)
STRUCTURAL = frozenset({"zscore_window", "flatline_samples", "seasonal_days"})


class DetectorProblem(ValueError):
    """Overrides that are invalid: (field, message) pairs, as ioc.config_store reports them."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" if f else m for f, m in problems))
        self.problems = problems


def parse_override(rule_id: str, body: Mapping[str, Any]) -> DetectorRuleBase:
    """The override of a rule (raises ValidationError, or DetectorProblem for an unknown id)."""
    rule = DETECTOR_RULES.get(rule_id)
    if rule is None:
        raise DetectorProblem(
            [("", f"no built-in rule {rule_id!r}; one of {', '.join(DETECTOR_RULES)}")]
        )
    return rule.model.model_validate(dict(body))


def _values(override: DetectorRuleBase) -> dict[str, Any]:
    return {k: v for k, v in override if v is not None and k not in ("enabled", "severity")}


def anomaly_in_force(
    base: AnomalyConfig, overrides: Mapping[str, DetectorRuleBase]
) -> AnomalyConfig:
    """The anomaly settings with the anomaly rules' overrides (raises DetectorProblem when the
    result is invalid as a whole, e.g. seasonal_min_days above seasonal_days)."""
    document = base.model_dump()
    disabled = set(document.get("disabled_rules") or [])
    severities = dict(document.get("severities") or {})
    for rule_id, override in overrides.items():
        if DETECTOR_RULES[rule_id].family != "anomaly":
            continue
        kind = rule_id.removeprefix("anomaly.")
        document.update(_values(override))
        if override.enabled is not None:
            (disabled.discard if override.enabled else disabled.add)(kind)
        if override.severity is not None:
            severities[kind] = override.severity
    document["disabled_rules"] = sorted(disabled)
    document["severities"] = severities
    try:
        return AnomalyConfig.model_validate(document)
    except ValidationError as exc:
        raise DetectorProblem([("", _message(e)) for e in exc.errors()]) from None


def cameras_in_force(
    base: CamerasConfig, overrides: Mapping[str, DetectorRuleBase]
) -> CamerasConfig:
    """The cameras with the camera rules' overrides, each camera's switches (enabled, severity)
    included (raises DetectorProblem, naming the camera, when a camera becomes invalid)."""
    cameras = [camera_in_force(c, overrides) for c in base.cameras]
    return base.model_copy(update={"cameras": cameras})


def camera_in_force(
    camera: CameraConfig, overrides: Mapping[str, DetectorRuleBase]
) -> CameraConfig:
    document = camera.model_dump()
    disabled = set(document.get("disabled_rules") or [])
    severities = dict(document.get("severities") or {})
    for rule_id, override in overrides.items():
        rule = DETECTOR_RULES[rule_id]
        if rule.family != "camera":
            continue
        document[rule.section] = {**document[rule.section], **_values(override)}
        if override.enabled is not None:
            (disabled.discard if override.enabled else disabled.add)(rule_id)
        if override.severity is not None:
            severities[rule_id] = override.severity
    document["disabled_rules"] = sorted(disabled)
    document["severities"] = severities
    try:
        return CameraConfig.model_validate(document)
    except ValidationError as exc:
        raise DetectorProblem(
            [("", f"camera {camera.id}: {_message(e)}") for e in exc.errors()]
        ) from None


def _message(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    text = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {text}" if where else text


def effective(
    rule_id: str, anomaly: AnomalyConfig, cameras: CamerasConfig
) -> tuple[bool, Severity, dict[str, Any]]:
    """What a rule runs with now: enabled, severity and its parameters (a camera rule: as
    the first camera that has it, or the defaults)."""
    rule = DETECTOR_RULES[rule_id]
    if rule.family == "anomaly":
        kind = rule_id.removeprefix("anomaly.")
        values = {f: getattr(anomaly, f) for f in rule.fields}
        return (
            kind not in anomaly.disabled_rules,
            anomaly.severities.get(kind, rule.severity),  # type: ignore[call-overload]
            values,
        )
    camera = next((c for c in cameras.cameras if rule_id in camera_rules(c)), None)
    if camera is None:
        section: BaseModel = {
            "health": HealthConfig,
            "smoke": SmokeConfig,
            "traffic": TrafficConfig,
        }[rule.section]()
        return True, rule.severity, {f: getattr(section, f) for f in rule.fields}
    section = getattr(camera, rule.section)
    return (
        rule_id not in camera.disabled_rules,
        {str(k): v for k, v in camera.severities.items()}.get(rule_id, rule.severity),
        {f: getattr(section, f) for f in rule.fields},
    )


def camera_rules(camera: CameraConfig) -> tuple[str, ...]:
    """The rules a camera has, by its kind."""
    health = tuple(r for r in DETECTOR_RULES if r.startswith("camera.") and r != "camera.smoke")
    if camera.kind == "traffic":
        return (*health, "traffic.congestion", "traffic.stopped_vehicle")
    if camera.kind == "forest":
        return (*health, "camera.smoke")
    return health


def field_list(rule: DetectorRule) -> list[dict[str, Any]]:
    """The editable fields of a rule for editors: key, type, bounds, description."""
    schema = rule.model.model_json_schema()
    definitions = schema.get("$defs", {})
    out = []
    for key in ("enabled", "severity", *rule.fields):
        prop = schema["properties"][key]
        choice = next((p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"), prop)
        if "$ref" in choice:
            choice = definitions[choice["$ref"].rsplit("/", 1)[-1]]
        entry: dict[str, Any] = {
            "key": key,
            "type": "enum" if "enum" in choice else choice.get("type", "string"),
            "description": prop.get("description", ""),
        }
        for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum"):
            if bound in choice:
                entry[bound] = choice[bound]
        out.append(entry)
    return out
