"""The station registry: which stations exist, who owns them, what they measure and in which
unit, and how often they report. Read from a YAML file (see ``config/stations.yaml``).

File shape::

    enterprises: [{id: ENT-01, name: "..."}]
    parameter_sets:
      air: {pm25: {unit: ug/m3, min: 0, max: 1000, label_vi: "Bụi PM2.5", label_en: PM2.5}}
    stations:
      - {id: AIR-001, name: "...", kind: air, owner: state, lat: 11.94, lon: 108.44,
         parameters: air, interval_s: 300}
      - {id: ENT-07-GW01, name: "...", kind: groundwater, owner: ENT-07, ...,
         licence: {number: "12/GP-UBND", permitted_m3_day: 500, max_level_m: 30}}

A ``licence`` (groundwater wells only) holds what the abstraction licence sets for the well;
rules take their limit from it with ``above_licence`` (:mod:`analytics.config`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ioc.config import friendly_errors
from ioc.errors import ConfigError
from ioc.section import LicenceLimit, StationKind
from ioc.yaml_text import safe_load

STATE_OWNER = "state"
PARAMETER_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def normalize_unit(unit: str) -> str:
    """Compare units loosely: ``µg/m³``, ``ug/m3`` and ``UG/M3`` are the same unit."""
    unit = unit.strip().lower().replace("µ", "u").replace("μ", "u").replace("³", "3")
    return unit.replace("°", "").replace("deg", "")


UNIT_DISPLAY = {"ug/m3": "µg/m³", "mg/nm3": "mg/Nm³", "m3/h": "m³/h", "c": "°C", "degc": "°C"}


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    key: str
    unit: str
    low: float
    high: float
    label_vi: str
    label_en: str

    @property
    def unit_display(self) -> str:
        return UNIT_DISPLAY.get(normalize_unit(self.unit), self.unit)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Licence(_Strict):
    """What a groundwater abstraction licence sets for one well (REFERENCE §7; Circular
    17/2021 art. 13). A monitoring well may have none."""

    number: str = Field("", max_length=64, description="Licence number, for the record.")
    permitted_m3_day: float | None = Field(
        None, gt=0, le=1_000_000, description="Permitted abstraction of the well, m³/day."
    )
    max_level_m: float | None = Field(
        None,
        gt=0,
        le=500,
        description="Maximum permitted dynamic water level, m below ground (Decree 167/2018: "
        "at most 30 m in most porous aquifers).",
    )

    @model_validator(mode="after")
    def _sets_a_limit(self) -> Self:
        if self.permitted_m3_day is None and self.max_level_m is None:
            raise ValueError("a licence sets permitted_m3_day, max_level_m or both")
        return self

    def limit(self, key: LicenceLimit) -> float | None:
        value: float | None = getattr(self, key)
        return value


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    name: str
    kind: str
    owner: str
    lat: float
    lon: float
    interval_s: float
    parameters: Mapping[str, ParameterSpec]
    licence: Licence | None = None


class ParameterEntry(_Strict):
    unit: str = Field(min_length=1)
    min: float
    max: float
    label_vi: str = ""
    label_en: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min >= self.max:
            raise ValueError(f"min {self.min} must be below max {self.max}")
        return self


class EnterpriseEntry(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str


class StationEntry(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)
    name: str
    kind: StationKind
    owner: str = STATE_OWNER
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    parameters: str | dict[str, ParameterEntry]
    interval_s: float = Field(300.0, gt=0, le=86_400)
    licence: Licence | None = None


class _RegistryFile(_Strict):
    enterprises: list[EnterpriseEntry] = Field(default_factory=list)
    parameter_sets: dict[str, dict[str, ParameterEntry]] = Field(default_factory=dict)
    stations: list[StationEntry]


class StationRegistry:
    """Stations by id. Lookups are dict lookups: this sits on the per-message path."""

    def __init__(self, stations: list[Station], enterprises: Mapping[str, str]) -> None:
        self._stations = {s.id: s for s in stations}
        self.enterprises = MappingProxyType(dict(enterprises))

    def get(self, station_id: str) -> Station | None:
        return self._stations.get(station_id)

    def __iter__(self) -> Iterator[Station]:
        return iter(self._stations.values())

    def __len__(self) -> int:
        return len(self._stations)

    def parameters(self) -> dict[str, ParameterSpec]:
        """Every parameter key in use, with the first spec seen (for labels and units)."""
        result: dict[str, ParameterSpec] = {}
        for station in self._stations.values():
            for key, spec in station.parameters.items():
                result.setdefault(key, spec)
        return result

    @classmethod
    def from_file(cls, path: Path) -> StationRegistry:
        return cls.from_document(read_registry_document(path), str(path))

    @classmethod
    def from_document(cls, document: object, where: str) -> StationRegistry:
        """A registry from the file's content (also how the configuration database keeps it)."""
        try:
            parsed = _RegistryFile.model_validate(document)
        except ValidationError as exc:
            fields = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
            raise ConfigError(where, friendly_errors(exc), fields) from exc
        return cls._build(parsed, where)

    def replace_with(self, other: StationRegistry) -> None:
        """Take ``other``'s stations and enterprises, in place: every holder sees them."""
        self._stations = other._stations
        self.enterprises = other.enterprises

    @classmethod
    def _build(cls, parsed: _RegistryFile, where: str) -> StationRegistry:
        problems: list[str] = []
        enterprises = {e.id: e.name for e in parsed.enterprises}
        for name, entries in [*parsed.parameter_sets.items()] + [
            (s.id, s.parameters) for s in parsed.stations if isinstance(s.parameters, dict)
        ]:
            problems += [
                f"{name}.{key}: parameter key must match {PARAMETER_KEY.pattern}"
                for key in entries
                if not PARAMETER_KEY.match(key)
            ]
        sets = {
            name: {key: _spec(key, entry) for key, entry in params.items()}
            for name, params in parsed.parameter_sets.items()
        }
        stations: list[Station] = []
        seen: set[str] = set()
        fields = [""] * len(problems)

        def station_problem(i: int, entry: StationEntry, field: str, text: str) -> None:
            problems.append(f"stations.{i} ({entry.id}): {text}")
            fields.append(f"stations.{i}.{field}")

        for i, entry in enumerate(parsed.stations):
            if entry.id in seen:
                station_problem(i, entry, "id", "duplicate station id")
            seen.add(entry.id)
            if entry.owner != STATE_OWNER and entry.owner not in enterprises:
                station_problem(i, entry, "owner", f"owner {entry.owner!r} is not an enterprise")
            if entry.licence is not None and entry.kind != "groundwater":
                station_problem(i, entry, "licence", "only groundwater wells have a licence")
            if isinstance(entry.parameters, str):
                params = sets.get(entry.parameters)
                if params is None:
                    text = f"unknown parameter set {entry.parameters!r}"
                    station_problem(i, entry, "parameters", text)
                    continue
            else:
                params = {key: _spec(key, e) for key, e in entry.parameters.items()}
            stations.append(
                Station(
                    id=entry.id,
                    name=entry.name,
                    kind=entry.kind,
                    owner=entry.owner,
                    lat=entry.lat,
                    lon=entry.lon,
                    interval_s=entry.interval_s,
                    parameters=MappingProxyType(params),
                    licence=entry.licence,
                )
            )
        if problems:
            raise ConfigError(where, problems, fields)
        return cls(stations, enterprises)


def read_registry_document(path: Path) -> dict[str, Any]:
    """The registry file's content, checked to be a YAML mapping."""
    try:
        raw = safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise ConfigError(str(path), ["the top level must be a mapping"])
    return raw


def _spec(key: str, entry: ParameterEntry) -> ParameterSpec:
    return ParameterSpec(
        key=key,
        unit=entry.unit,
        low=entry.min,
        high=entry.max,
        label_vi=entry.label_vi or key,
        label_en=entry.label_en or key,
    )
