"""The configuration people change while the service runs: stations, enterprises, parameter
sets and rules, and the transport registry (companies, vehicles, drivers, zones, speed-limit
tables), in the service's SQLite database.

On first start the database is seeded from the registry file and the rules of the config
file (history action ``seed``); from then on the database is the source and the files only
seed an empty database. Every change is a row of ``config_changes`` (who, when, old → new);
:meth:`ConfigStore.rollback` puts back what a change replaced, as a new change. A change is
refused unless the whole configuration it leads to is valid (registry and rules together);
listeners (:meth:`ConfigStore.subscribe`) then apply it to the running service.

The transport registry is seeded from ``vehicles.fleet`` the first time there is one (an
older database gets it then too); the file's road data (towns, roads, the simulator's routes)
stays in the file and is joined to the items to make :attr:`Configuration.fleet`. A vehicle's
key is its normalised plate (``49A-123.45`` → ``49A12345``; the stored ``id`` is normalised), a
driver's its licence number, a speed-limit table's its road class.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from analytics.cameras.config import CamerasConfig
from analytics.config import AnomalyConfig, FieldProblem, RuleConfig
from analytics.detector_rules import (
    DETECTOR_RULES,
    DetectorProblem,
    DetectorRuleBase,
    anomaly_in_force,
    cameras_in_force,
    parse_override,
)
from analytics.journeys import JourneyConfig
from analytics.limits import rule_problems
from ingest.plates import PlateError, normalise_plate
from ioc.errors import AccessError, ConfigError
from ioc.fleet import (
    ROAD_CLASSES,
    CompanyEntry,
    DriverEntry,
    FleetFile,
    FleetRegistry,
    SpeedLimitTable,
    VehicleEntry,
    ZoneEntry,
)
from ioc.registry import StationRegistry

RULE, STATION, ENTERPRISE, PARAMETER_SET = "rule", "station", "enterprise", "parameter_set"
COMPANY, VEHICLE, DRIVER, ZONE, SPEED_LIMIT = "company", "vehicle", "driver", "zone", "speed_limit"
FLEET_KINDS = (COMPANY, VEHICLE, DRIVER, ZONE, SPEED_LIMIT)
#: overrides of the built-in anomaly and camera rules (analytics.detector_rules), by rule id
DETECTOR = "detector"
KINDS = (RULE, STATION, ENTERPRISE, PARAMETER_SET, *FLEET_KINDS, DETECTOR)
#: what the worker layout's children run with (ioc.layout_feed): not the transport fleet
STATION_KINDS = tuple(kind for kind in KINDS if kind not in FLEET_KINDS)
REGISTRY_KINDS = frozenset({STATION, ENTERPRISE, PARAMETER_SET})
#: the field of a fleet item that is its key (speed-limit tables: keyed by road class)
FLEET_KEY_FIELD = {COMPANY: "id", VEHICLE: "id", DRIVER: "licence", ZONE: "id"}
SYSTEM = "system"
SQLITE_MAX_INTEGER = 2**63 - 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS config_items (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS config_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    action TEXT NOT NULL,
    old TEXT,
    new TEXT,
    rollback_of INTEGER
);
CREATE INDEX IF NOT EXISTS config_changes_item ON config_changes (kind, key, id);
"""


class SettingRejected(AccessError):
    """A change that would make the configuration invalid. ``problems`` are (field, message)
    pairs; the field is a path inside the item (``levels.0.above``) or ``""`` when the
    problem is with the configuration as a whole."""

    def __init__(self, kind: str, key: str, problems: list[tuple[str, str]]) -> None:
        self.kind = kind
        self.key = key
        self.problems = problems
        super().__init__(
            f"{kind} {key!r}: " + "; ".join(f"{f}: {m}" if f else m for f, m in problems)
        )


class StaleSetting(SettingRejected):
    """The item changed since the editor read it; ``current`` is its version now."""

    def __init__(self, kind: str, key: str, current: int | None) -> None:
        super().__init__(
            kind, key, [("", f"changed by someone else meanwhile (now version {current})")]
        )
        self.current = current


@dataclass(frozen=True, slots=True)
class Item:
    body: dict[str, Any]
    version: int  # id of the change that made it


@dataclass(frozen=True, slots=True)
class ConfigChange:
    id: int
    ts_ms: int
    actor: str
    kind: str
    key: str
    action: str  # seed, create, update, delete, rollback
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    rollback_of: int | None


@dataclass(frozen=True, slots=True)
class Configuration:
    """A valid whole: what the service runs with."""

    registry: StationRegistry
    rules: list[RuleConfig]
    fleet: FleetRegistry
    #: the built-in rules' overrides, and the anomaly and camera settings they lead to
    detectors: dict[str, DetectorRuleBase]
    anomaly: AnomalyConfig
    cameras: CamerasConfig


Listener = Callable[[ConfigChange, Configuration], None]


class ConfigStore:
    def __init__(
        self,
        db: sqlite3.Connection,
        roads: FleetFile | None = None,
        journeys: JourneyConfig | None = None,
        anomaly: AnomalyConfig | None = None,
        cameras: CamerasConfig | None = None,
    ) -> None:
        """``roads``: the fleet file, of which the towns, roads and routes are used (the
        demo's road data); ``journeys``: the journey settings the fleet's limits complete (a
        vehicle type needs a speed limit in one or the other); ``anomaly`` and ``cameras``:
        the files' settings that the built-in rules' overrides (kind ``detector``) change."""
        self._db = db
        db.executescript(SCHEMA)
        self._listeners: list[Listener] = []
        self._roads = roads or FleetFile()
        self._journeys = journeys or JourneyConfig()
        self._anomaly = anomaly or AnomalyConfig()
        self._cameras = cameras or CamerasConfig()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # --- reading -------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return self._db.execute("SELECT 1 FROM config_items LIMIT 1").fetchone() is None

    def items(self, kind: str) -> dict[str, Item]:
        rows = self._db.execute(
            "SELECT key, body, version FROM config_items WHERE kind = ? ORDER BY key", (kind,)
        ).fetchall()
        return {key: Item(json.loads(body), version) for key, body, version in rows}

    def item(self, kind: str, key: str) -> Item | None:
        row = self._db.execute(
            "SELECT body, version FROM config_items WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return None if row is None else Item(json.loads(row[0]), row[1])

    def current(self) -> Configuration:
        return self._build(self.snapshot())

    def snapshot(self, kinds: Sequence[str] = KINDS) -> dict[str, dict[str, Any]]:
        """The items' bodies, ``{kind: {key: body}}`` (what :meth:`configuration_of` reads)."""
        return {kind: {k: i.body for k, i in self.items(kind).items()} for kind in kinds}

    def version(self, kinds: Sequence[str] = KINDS) -> int:
        """The number of the latest change of these kinds (0: none yet)."""
        marks = ", ".join("?" * len(kinds))
        row = self._db.execute(
            f"SELECT max(id) FROM config_changes WHERE kind IN ({marks})", tuple(kinds)
        ).fetchone()
        return int(row[0] or 0)

    def configuration_of(self, snapshot: dict[str, dict[str, Any]]) -> Configuration:
        """The configuration of another database's :meth:`snapshot`, completed with this
        store's files (a worker of the layout, from the broker: ioc.layout_feed)."""
        return self._build({kind: snapshot.get(kind, {}) for kind in KINDS})

    def history(
        self, kind: str | None = None, key: str | None = None, limit: int = 100
    ) -> list[ConfigChange]:
        where, args = ["1 = 1"], []
        for column, value in (("kind", kind), ("key", key)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        rows = self._db.execute(
            f"SELECT * FROM config_changes WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [_change(row) for row in rows]

    def change(self, change_id: int) -> ConfigChange | None:
        if not 0 <= change_id <= SQLITE_MAX_INTEGER:  # no such change (and SQLite would raise)
            return None
        row = self._db.execute("SELECT * FROM config_changes WHERE id = ?", (change_id,)).fetchone()
        return None if row is None else _change(row)

    # --- changing ------------------------------------------------------------------------

    def seed(self, registry_document: dict[str, Any], rules: Sequence[RuleConfig]) -> int:
        """Fill an empty database from the files; returns the number of items."""
        items = [
            (ENTERPRISE, str(e.get("id")), e) for e in registry_document.get("enterprises") or []
        ]
        items += [
            (PARAMETER_SET, k, v)
            for k, v in (registry_document.get("parameter_sets") or {}).items()
        ]
        items += [(STATION, str(s.get("id")), s) for s in registry_document.get("stations") or []]
        items += [(RULE, r.id, r.model_dump(mode="json", exclude_defaults=True)) for r in rules]
        with self._db:
            for kind, key, body in items:
                self._write(SYSTEM, kind, key, "seed", None, body, None)
        return len(items)

    def seed_fleet(self, fleet: FleetFile) -> int:
        """The transport registry of the fleet file, unless one was ever kept here (even if
        since emptied); returns the number of items seeded."""
        marks = ", ".join("?" * len(FLEET_KINDS))
        if self._db.execute(
            f"SELECT 1 FROM config_changes WHERE kind IN ({marks}) LIMIT 1", FLEET_KINDS
        ).fetchone():
            return 0
        items: list[tuple[str, str, dict[str, Any]]] = [
            (COMPANY, c.id, c.model_dump(mode="json", exclude_defaults=True))
            for c in fleet.companies
        ]
        items += [(DRIVER, d.licence, _dump(d)) for d in fleet.drivers]
        items += [(VEHICLE, v.id, _dump(v)) for v in fleet.vehicles]
        items += [(ZONE, z.id, _dump(z)) for z in fleet.zones]
        items += [
            (SPEED_LIMIT, k, {str(t): kmh for t, kmh in v.items()})
            for k, v in fleet.speed_limits.items()
        ]
        with self._db:
            for kind, key, body in items:
                self._write(SYSTEM, kind, key, "seed", None, body, None)
        return len(items)

    def check(self, kind: str, key: str, body: dict[str, Any] | None) -> Configuration:
        """The configuration with this item set (None: removed); raises SettingRejected."""
        if kind == RULE and body is not None:
            body = {**body, "id": body.get("id", key)}
            if body["id"] != key:
                raise SettingRejected(kind, key, [("id", f"must be {key!r}, the rule's id")])
        body = _with_key(kind, key, body)
        everything = {k: {key_: i.body for key_, i in self.items(k).items()} for k in KINDS}
        if body is None:
            everything[kind].pop(key, None)
        else:
            everything[kind][key] = body
        try:
            return self._build(everything, focus=(kind, key))
        except ConfigError as exc:
            own = ""
            if kind == STATION and body is not None:
                own = f"stations.{list(everything[STATION]).index(key)}."
            problems = [
                # shown next to its field: the field, and the text after "where: "
                (field.removeprefix(own), problem.split(": ", 1)[-1])
                if own and field.startswith(own)
                else ("", problem)
                for field, problem in zip(exc.fields, exc.problems, strict=True)
            ]
            raise SettingRejected(kind, key, problems) from None

    def put(
        self,
        kind: str,
        key: str,
        body: dict[str, Any],
        actor: str,
        expected_version: int | None = None,
    ) -> ConfigChange:
        """Create or replace an item, once the configuration it leads to is valid."""
        current = self._expect(kind, key, expected_version)
        if kind == RULE:
            body = {**body, "id": body.get("id", key)}
        body = _with_key(kind, key, body) or body
        configuration = self.check(kind, key, body)
        action = "create" if current is None else "update"
        return self._commit(actor, kind, key, action, current, body, None, configuration)

    def delete(
        self, kind: str, key: str, actor: str, expected_version: int | None = None
    ) -> ConfigChange:
        current = self._expect(kind, key, expected_version)
        if current is None:
            raise SettingRejected(kind, key, [("", "no such item")])
        configuration = self.check(kind, key, None)
        return self._commit(actor, kind, key, "delete", current, None, None, configuration)

    def rollback(self, change_id: int, actor: str) -> ConfigChange:
        """Put back what change ``change_id`` replaced (remove what it created)."""
        change = self.change(change_id)
        if change is None:
            raise SettingRejected("change", str(change_id), [("", "no such change")])
        current = self.item(change.kind, change.key)
        configuration = self.check(change.kind, change.key, change.old)
        return self._commit(
            actor,
            change.kind,
            change.key,
            "rollback",
            current,
            change.old,
            change_id,
            configuration,
        )

    def _expect(self, kind: str, key: str, expected_version: int | None) -> Item | None:
        if kind not in KINDS:
            raise SettingRejected(kind, key, [("", f"kind must be one of {', '.join(KINDS)}")])
        current = self.item(kind, key)
        found = None if current is None else current.version
        if expected_version is not None and expected_version != (found or 0):
            raise StaleSetting(kind, key, found)
        return current

    def _commit(
        self,
        actor: str,
        kind: str,
        key: str,
        action: str,
        current: Item | None,
        body: dict[str, Any] | None,
        rollback_of: int | None,
        configuration: Configuration,
    ) -> ConfigChange:
        with self._db:
            change_id = self._write(
                actor, kind, key, action, current.body if current else None, body, rollback_of
            )
        change = self.change(change_id)
        assert change is not None
        for listener in self._listeners:
            listener(change, configuration)
        return change

    def _write(
        self,
        actor: str,
        kind: str,
        key: str,
        action: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        rollback_of: int | None,
    ) -> int:
        cursor = self._db.execute(
            "INSERT INTO config_changes (ts_ms, actor, kind, key, action, old, new, rollback_of) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                int(time.time() * 1000),
                actor,
                kind,
                key,
                action,
                None if old is None else json.dumps(old, ensure_ascii=False),
                None if new is None else json.dumps(new, ensure_ascii=False),
                rollback_of,
            ),
        )
        change_id = int(cursor.lastrowid or 0)
        if new is None:
            self._db.execute("DELETE FROM config_items WHERE kind = ? AND key = ?", (kind, key))
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO config_items VALUES (?, ?, ?, ?)",
                (kind, key, json.dumps(new, ensure_ascii=False), change_id),
            )
        return change_id

    # --- validation ----------------------------------------------------------------------

    def _build(
        self, everything: dict[str, dict[str, Any]], focus: tuple[str, str] | None = None
    ) -> Configuration:
        document = {
            "enterprises": list(everything[ENTERPRISE].values()),
            "parameter_sets": everything[PARAMETER_SET],
            "stations": list(everything[STATION].values()),
        }
        registry = StationRegistry.from_document(document, "registry")
        rules: list[RuleConfig] = []
        for key, body in everything[RULE].items():
            try:
                rules.append(RuleConfig.model_validate(body))
            except ValidationError as exc:
                if focus == (RULE, key):
                    raise SettingRejected(RULE, key, field_problems(exc)) from None
                raise ConfigError(f"rules.{key}", [str(exc)]) from None
        problems = rule_problems(rules, registry)
        if focus is not None and focus[0] == RULE and focus[1] in problems:
            raise SettingRejected(RULE, focus[1], [("parameter", problems[focus[1]])])
        if problems:
            raise ConfigError("rules", [f"rules.{k}: {p}" for k, p in problems.items()])
        fleet = self._fleet(everything, focus)
        return Configuration(registry, rules, fleet, *self._detectors(everything, focus))

    def _detectors(
        self, everything: dict[str, dict[str, Any]], focus: tuple[str, str] | None
    ) -> tuple[dict[str, DetectorRuleBase], AnomalyConfig, CamerasConfig]:
        """The built-in rules' overrides, and the anomaly and camera settings with them."""
        overrides: dict[str, DetectorRuleBase] = {}
        for key, body in everything[DETECTOR].items():
            try:
                overrides[key] = parse_override(key, body)
            except (ValidationError, DetectorProblem) as exc:
                problems = exc.problems if isinstance(exc, DetectorProblem) else field_problems(exc)
                if focus == (DETECTOR, key):
                    raise SettingRejected(DETECTOR, key, problems) from None
                raise ConfigError(f"detector.{key}", [str(exc)]) from None
        try:
            anomaly = anomaly_in_force(self._anomaly, overrides)
            cameras = cameras_in_force(self._cameras, overrides)
        except DetectorProblem as exc:
            if focus is not None and focus[0] == DETECTOR:
                raise SettingRejected(DETECTOR, focus[1], _named(focus[1], exc.problems)) from None
            raise ConfigError("detector", [str(exc)]) from None
        return overrides, anomaly, cameras

    def _fleet(
        self, everything: dict[str, dict[str, Any]], focus: tuple[str, str] | None
    ) -> FleetRegistry:
        """The fleet registry of the items and the file's road data, checked item by item
        (a field problem of the item being changed is its own) and as a whole."""
        parsed: dict[str, list[Any]] = {}
        for kind, model in _FLEET_MODELS.items():
            parsed[kind] = []
            for key, body in everything[kind].items():
                try:
                    entry = model.model_validate(body)
                    found = None if kind == SPEED_LIMIT else getattr(entry, _key_field(kind))
                    problem = _key_problem(kind, key, found)
                except ValidationError as exc:
                    if focus == (kind, key):
                        raise SettingRejected(kind, key, field_problems(exc)) from None
                    raise ConfigError(f"{kind}s.{key}", [str(exc)]) from None
                if problem is not None:
                    if focus == (kind, key):
                        raise SettingRejected(kind, key, [problem])
                    raise ConfigError(f"{kind}s.{key}", [problem[1]])
                parsed[kind].append(entry)
        document = FleetFile.model_construct(
            companies=parsed[COMPANY],
            vehicles=parsed[VEHICLE],
            drivers=parsed[DRIVER],
            zones=parsed[ZONE],
            speed_limits={
                key: table.root
                for key, table in zip(everything[SPEED_LIMIT], parsed[SPEED_LIMIT], strict=True)
            },
            towns=self._roads.towns,
            roads=self._roads.roads,
            routes=self._roads.routes,
        )
        fleet = FleetRegistry(document)
        wrong = fleet.problems(self._journeys)
        own = [(field, message) for kind, key, field, message in wrong if (kind, key) == focus]
        if focus is not None and own:
            raise SettingRejected(focus[0], focus[1], own)
        if wrong:
            raise ConfigError(
                "fleet", [f"{kind} {key}: {field}: {m}" for kind, key, field, m in wrong]
            )
        return fleet


def field_problems(error: ValidationError) -> list[tuple[str, str]]:
    """(field path, message) per problem, for editors to show next to the field. A check
    across fields (:class:`analytics.config.FieldProblem`) names its field itself."""
    problems = []
    for e in error.errors():
        where = [str(p) for p in e["loc"]]
        cause = e.get("ctx", {}).get("error")
        if isinstance(cause, FieldProblem):
            where.append(cause.field)
        message = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        problems.append((".".join(where), message.removeprefix("Value error, ")))
    return problems


_FLEET_MODELS: dict[str, type[BaseModel]] = {
    COMPANY: CompanyEntry,
    DRIVER: DriverEntry,
    VEHICLE: VehicleEntry,
    ZONE: ZoneEntry,
    SPEED_LIMIT: SpeedLimitTable,
}


def _named(rule_id: str, problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A problem of the settings as a whole shown at the rule's field it names, if any."""
    rule = DETECTOR_RULES.get(rule_id)
    fields = rule.fields if rule else ()
    named = []
    for field, message in problems:
        found = sorted((message.find(f), f) for f in fields if f in message)
        named.append((field or (found[0][1] if found else ""), message))  # the first named
    return named


def _key_field(kind: str) -> str:
    return FLEET_KEY_FIELD[kind]


def _key_problem(kind: str, key: str, found: Any) -> tuple[str, str] | None:
    """The item's key must be its id (a vehicle's: the normalised plate)."""
    if kind == SPEED_LIMIT:
        if key not in ROAD_CLASSES:
            return ("", f"the key is a road class: one of {', '.join(ROAD_CLASSES)}")
        return None
    if found != key:
        field = _key_field(kind)
        what = "the normalised plate" if kind == VEHICLE else f"the {field}"
        return (field, f"{found!r} is {what}: the key must be it, not {key!r}")
    return None


def _with_key(kind: str, key: str, body: dict[str, Any] | None) -> dict[str, Any] | None:
    """A fleet item's key field, when left out, is its key; a plate is kept normalised."""
    if body is None or kind not in FLEET_KEY_FIELD:
        return body
    field = FLEET_KEY_FIELD[kind]
    body = {**body, field: body.get(field, key)}
    if kind == VEHICLE and isinstance(body[field], str):
        with contextlib.suppress(PlateError):  # else refused with its reason by the validation
            body[field] = normalise_plate(body[field])
    return body


def _dump(entry: BaseModel) -> dict[str, Any]:
    return entry.model_dump(mode="json", exclude_defaults=True, exclude_none=True)


def _change(row: tuple[Any, ...]) -> ConfigChange:
    id_, ts, actor, kind, key, action, old, new, rollback_of = row
    return ConfigChange(
        id_,
        ts,
        actor,
        kind,
        key,
        action,
        None if old is None else json.loads(old),
        None if new is None else json.loads(new),
        rollback_of,
    )
