"""REST API of the configuration in force (ioc.config_store), versioned::

    GET    /api/v1/config/{kind}              every item with its version
    GET    /api/v1/config/{kind}/{key}        one item and its history
    PUT    /api/v1/config/{kind}/{key}        {"item": {...}, "version": N}; ?dry_run=1 only
                                              validates (the console's inline errors)
    DELETE /api/v1/config/{kind}/{key}        ?version=N
    GET    /api/v1/config/history             ?kind=&key=&limit=
    POST   /api/v1/config/history/{id}/rollback   put back what change {id} replaced
    GET    /api/v1/detector-rules             the built-in rules (anomaly, camera): names,
                                              settings in force, editable fields and bounds

``{kind}`` is ``rules`` (officers and admins change them), ``stations``, ``enterprises`` or
``parameter-sets`` (admins), or of the transport registry: ``companies`` (admins),
``vehicles`` (key: the normalised plate), ``drivers`` (key: the licence number), ``zones`` and
``speed-limits`` (key: the road class) (officers and admins), or ``detector-rules``: overrides
of the built-in anomaly and camera rules (key: the rule id, e.g. ``anomaly.spike``; officers
and admins; analytics.detector_rules). ``version`` is optional; when
given and the item changed since, the answer is 409 with the current version (``version: 0``:
the item must not exist yet).
A change that would leave the configuration invalid is a 400 listing ``problems`` as
``{"field", "message"}``; a valid one is in force at once (ioc.live_config) and answers the
recorded change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any, Literal, get_args

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model

from analytics.config import RuleConfig
from analytics.detector_rules import DETECTOR_RULES, DetectorRuleBase, effective, field_list
from ioc import appkeys
from ioc.audit import OK
from ioc.clock import iso_utc
from ioc.config_store import (
    COMPANY,
    DETECTOR,
    DRIVER,
    ENTERPRISE,
    KINDS,
    PARAMETER_SET,
    RULE,
    SPEED_LIMIT,
    STATION,
    VEHICLE,
    ZONE,
    ConfigChange,
    ConfigStore,
    SettingRejected,
    StaleSetting,
)
from ioc.fleet import CompanyEntry, DriverEntry, SpeedLimitTable, VehicleEntry, ZoneEntry
from ioc.registry import EnterpriseEntry, ParameterEntry, StationEntry
from web.access import CONFIG_WRITERS, Can, audit, principal_of
from web.api import Answer, ApiRoutes, Body, Query, SchemaOf, error_answer
from web.fields import UtcTime, WholeNumber, count

MAX_HISTORY = 1_000
VERSION_TEXT = "The version the editor read: 409 if it changed since (0: must not exist yet)."


class ParameterSet(RootModel[dict[str, ParameterEntry]]):
    """Parameter key → its unit and plausible range."""


class DetectorRuleItem(DetectorRuleBase):
    """A built-in rule's override: ``enabled``, ``severity`` and the rule's own parameters
    (GET /api/v1/detector-rules lists them with their bounds); a field left out keeps the
    config file's value. Unknown fields are refused."""


#: path → (kind, its name in words, the model of its items)
KIND_OF_PATH: dict[str, tuple[str, str, type[BaseModel]]] = {
    "rules": (RULE, "rule", RuleConfig),
    "stations": (STATION, "station", StationEntry),
    "enterprises": (ENTERPRISE, "enterprise", EnterpriseEntry),
    "parameter-sets": (PARAMETER_SET, "parameter set", ParameterSet),
    "companies": (COMPANY, "transport company", CompanyEntry),
    "vehicles": (VEHICLE, "vehicle", VehicleEntry),
    "drivers": (DRIVER, "driver", DriverEntry),
    "zones": (ZONE, "zone", ZoneEntry),
    "speed-limits": (SPEED_LIMIT, "speed-limit table", SpeedLimitTable),
    "detector-rules": (DETECTOR, "built-in rule's override", DetectorRuleItem),
}
#: the key of an item of each kind, for the routes' descriptions
KEY_NOTE = {
    RULE: " `item.id` may be left out: it is the key.",
    VEHICLE: " The key is the normalised plate (49A12345); `item.id` may be left out or "
    "written as on the plate (49A-123.45).",
    DRIVER: " The key is the licence number; `item.licence` may be left out.",
    COMPANY: " `item.id` may be left out: it is the key.",
    ZONE: " `item.id` may be left out: it is the key.",
    SPEED_LIMIT: " The key is the road class: urban, rural, highway or pass.",
    DETECTOR: " The key is the built-in rule's id (anomaly.spike, camera.smoke, "
    "traffic.congestion ...); the fields are that rule's (GET /api/v1/detector-rules).",
}
KindName = Literal[
    "rule",
    "station",
    "enterprise",
    "parameter_set",
    "company",
    "vehicle",
    "driver",
    "zone",
    "speed_limit",
    "detector",
]

api = ApiRoutes()


class ConfigItem(Answer):
    key: str
    version: int
    item: dict[str, Any]


class ItemList(Answer):
    items: list[ConfigItem]


class ConfigChangeAnswer(Answer):
    id: int
    time: UtcTime
    actor: str
    kind: KindName
    key: str
    action: Literal["seed", "create", "update", "delete", "rollback"]
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    rollback_of: int | None


class ItemDetail(ConfigItem):
    history: list[ConfigChangeAnswer]


class Valid(Answer):
    """A dry run's answer: the item would be taken."""

    model_config = ConfigDict(extra="forbid")
    valid: Literal[True]


class ChangeList(Answer):
    changes: list[ConfigChangeAnswer]


class PutItem(Body):
    item: dict[str, Any] = Field(description="The item; checked with the whole configuration.")
    version: int | None = Field(None, description=VERSION_TEXT)


class PutQuery(Query):
    dry_run: Literal["1", "true", "0", "false"] | None = Field(
        None, description="1 or true: only validate."
    )


class DeleteQuery(Query):
    version: WholeNumber | None = Field(None, description=VERSION_TEXT)


class HistoryQuery(Query):
    kind: KindName | None = Field(None, description="Only this kind.")
    key: str | None = Field(None, description="Only this item.")
    limit: WholeNumber = count(100, MAX_HISTORY)


assert set(get_args(KindName)) == set(KINDS)


class DetectorField(Answer):
    key: str
    type: Literal["boolean", "enum", "number", "integer", "string"]
    description: str
    minimum: float | None = None
    maximum: float | None = None
    exclusiveMinimum: float | None = None
    exclusiveMaximum: float | None = None
    enum: list[str] | None = None


class DetectorRuleAnswer(Answer):
    id: str
    family: Literal["anomaly", "camera"]
    name_vi: str
    name_en: str
    enabled: bool = Field(description="In force now.")
    severity: Literal["info", "warning", "critical"] = Field(description="In force now.")
    settings: dict[str, Any] = Field(description="The rule's parameters in force now.")
    override: dict[str, Any] | None = Field(description="The stored override, if any.")
    version: int = Field(description="Version of the override (0: none; PUT it with 0).")
    fields: list[DetectorField]


class DetectorRuleList(Answer):
    rules: list[DetectorRuleAnswer]


def add_config_routes(app: web.Application) -> None:
    for path, (kind, name, model) in KIND_OF_PATH.items():
        _add_kind_routes(path, kind, name, model)
    api.add_to(app)


def _add_kind_routes(path: str, kind: str, name: str, model: type[BaseModel]) -> None:
    """The four routes of one kind: its handlers, typed and described for it."""
    base = f"/api/v1/config/{path}"
    writers = "officers and admins" if CONFIG_WRITERS[kind] == Can.CONFIGURE else "admins"
    put_body = create_model(
        f"Put{model.__name__}",
        __base__=PutItem,
        item=(Annotated[dict[str, Any], SchemaOf(model)], PutItem.model_fields["item"]),
    )

    async def list_items(request: web.Request) -> ItemList:
        items = _settings(request).items(kind)
        return ItemList(
            items=[ConfigItem(key=k, version=i.version, item=i.body) for k, i in items.items()]
        )

    async def show_item(request: web.Request, key: str) -> ItemDetail:
        settings = _settings(request)
        item = settings.item(kind, key)
        if item is None:
            raise error_answer(web.HTTPNotFound, f"no {kind} {key!r}")
        changes = settings.history(kind, key, limit=50)
        return ItemDetail(
            key=key, version=item.version, item=item.body, history=[_change(c) for c in changes]
        )

    async def put_item(
        request: web.Request, key: str, query: PutQuery, body: PutItem
    ) -> ConfigChangeAnswer | Valid:
        settings = _settings(request)
        with _answering_rejections():
            if query.dry_run in ("1", "true"):
                settings.check(kind, key, body.item)
                return Valid(valid=True)
            change = settings.put(kind, key, body.item, principal_of(request).name, body.version)
        _audit_change(request, change)
        return _change(change)

    async def delete_item(request: web.Request, key: str, query: DeleteQuery) -> ConfigChangeAnswer:
        with _answering_rejections():
            change = _settings(request).delete(kind, key, principal_of(request).name, query.version)
        _audit_change(request, change)
        return _change(change)

    rule_note = KEY_NOTE.get(kind, "")
    api.get(base, tag="config", summary=f"List every {name} with its version")(list_items)
    api.get(f"{base}/{{key}}", tag="config", errors=(404,), summary=f"One {name} and its history")(
        show_item
    )
    api.put(
        f"{base}/{{key}}",
        tag="config",
        errors=(409,),
        summary=f"Create or replace a {name}",
        description=f"In force at once when the whole configuration stays valid; otherwise 400 "
        f"with `problems` (`field`, `message`). `?dry_run=1` only validates. Changed by "
        f"{writers}.{rule_note}",
        models={"body": put_body},
    )(put_item)
    api.delete(
        f"{base}/{{key}}",
        tag="config",
        errors=(409,),
        summary=f"Remove a {name}",
        description="Refused (400) when the configuration without it would be invalid.",
    )(delete_item)


def _settings(request: web.Request) -> ConfigStore:
    return request.app[appkeys.SETTINGS]


@api.get("/api/v1/detector-rules", tag="config")
async def detector_rules(request: web.Request) -> DetectorRuleList:
    """The built-in rules

    The anomaly rules (`anomaly.*`) and camera rules (`camera.*`, `traffic.*`) with their
    names (VI/EN), what they run with now, and their editable fields with bounds and
    descriptions. Change one with PUT /api/v1/config/detector-rules/{id}."""
    settings = _settings(request)
    configuration = settings.current()
    stored = settings.items(DETECTOR)
    answers = []
    for rule_id, rule in DETECTOR_RULES.items():
        enabled, severity, values = effective(rule_id, configuration.anomaly, configuration.cameras)
        item = stored.get(rule_id)
        answers.append(
            DetectorRuleAnswer(
                id=rule_id,
                family=rule.family,
                name_vi=rule.name_vi,
                name_en=rule.name_en,
                enabled=enabled,
                severity=severity.value,
                settings=values,
                override=item.body if item else None,
                version=item.version if item else 0,
                fields=[DetectorField.model_validate(f) for f in field_list(rule)],
            )
        )
    return DetectorRuleList(rules=answers)


@api.get("/api/v1/config/history", tag="config")
async def history(request: web.Request, query: HistoryQuery) -> ChangeList:
    """Configuration changes

    Newest first."""
    changes = _settings(request).history(query.kind, query.key, query.limit)
    return ChangeList(changes=[_change(c) for c in changes])


@api.post("/api/v1/config/history/{id}/rollback", tag="config", errors=(404,))
async def rollback(request: web.Request, id: WholeNumber) -> ConfigChangeAnswer:
    """Put back what a change replaced

    Recorded as a new change; the caller must be allowed to change that kind (403)."""
    settings = _settings(request)
    target = settings.change(id)
    if target is None:
        raise error_answer(web.HTTPNotFound, f"no configuration change {id}")
    principal = principal_of(request)
    if not principal.may(CONFIG_WRITERS[target.kind]):
        raise error_answer(
            web.HTTPForbidden, f"role {principal.role} may not change {target.kind}s"
        )
    with _answering_rejections():
        change = settings.rollback(target.id, principal.name)
    _audit_change(request, change)
    return _change(change)


@contextlib.contextmanager
def _answering_rejections() -> Iterator[None]:
    """SettingRejected → 400 with problems; StaleSetting → 409 with the current version."""
    try:
        yield
    except StaleSetting as exc:
        raise error_answer(
            web.HTTPConflict, str(exc), current_version=exc.current, problems=_problems(exc)
        ) from None
    except SettingRejected as exc:
        raise error_answer(web.HTTPBadRequest, str(exc), problems=_problems(exc)) from None


def _problems(exc: SettingRejected) -> list[dict[str, str]]:
    return [{"field": field, "message": message} for field, message in exc.problems]


def _audit_change(request: web.Request, change: ConfigChange) -> None:
    audit(
        request,
        change.actor,
        f"{change.kind}.{change.action}",
        OK,
        key=change.key,
        change_id=change.id,
        old=change.old,
        new=change.new,
    )


def _change(change: ConfigChange) -> ConfigChangeAnswer:
    return ConfigChangeAnswer.of(change, time=iso_utc(change.ts_ms))
