"""Small builders shared by the unit and integration tiers."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from ioc.accounts import Role
from ioc.audit import AuditLog
from ioc.fleet import FleetFile, FleetRegistry
from ioc.messages import RawMessage
from ioc.registry import StationRegistry
from web.access import PRINCIPAL, ROLE_CAPABILITIES, Principal

REGISTRY_DOC: dict[str, Any] = {
    "enterprises": [{"id": "ENT-A", "name": "Enterprise A"}, {"id": "ENT-B", "name": "B"}],
    "parameter_sets": {
        "air": {
            "pm25": {"unit": "ug/m3", "min": 0, "max": 1000},
            "pm10": {"unit": "ug/m3", "min": 0, "max": 2000},
            "no2": {"unit": "ug/m3", "min": 0, "max": 5000},
        },
        "stack": {"dust": {"unit": "mg/Nm3", "min": 0, "max": 10000}},
    },
    "stations": [
        {
            "id": "AIR-1",
            "name": "Air one",
            "kind": "air",
            "lat": 11.9,
            "lon": 108.4,
            "parameters": "air",
            "interval_s": 60,
        },
        {
            "id": "AIR-2",
            "name": "Air two",
            "kind": "air",
            "lat": 11.95,
            "lon": 108.45,
            "parameters": "air",
            "interval_s": 60,
        },
        {
            "id": "STK-1",
            "name": "Stack one",
            "kind": "stack",
            "owner": "ENT-A",
            "lat": 11.8,
            "lon": 108.3,
            "parameters": "stack",
            "interval_s": 60,
        },
    ],
}

TEST_RULES: list[dict[str, Any]] = [
    {
        "id": "pm25_instant",
        "name": "PM2.5 instant",
        "parameter": "pm25",
        "kinds": ["air"],
        "above": 100,
        "clear_at": 80,
        "severity": "critical",
    },
    {
        "id": "pm25_24h",
        "name": "PM2.5 24h",
        "parameter": "pm25",
        "kinds": ["air"],
        "window": "24h",
        "above": 45,
        "clear_at": 43,
    },
    {"id": "dust", "name": "Dust", "parameter": "dust", "kinds": ["stack"], "above": 200},
]


def write_registry(path: Path) -> Path:
    path.write_text(yaml.safe_dump(REGISTRY_DOC, allow_unicode=True))
    return path


def registry(tmp_path: Path) -> StationRegistry:
    return StationRegistry.from_file(write_registry(tmp_path / "stations.yaml"))


def now_ms() -> int:
    return int(time.time() * 1000)


_last_ts = 0.0


def fresh_ts() -> float:
    """Now, in epoch seconds, and never the same millisecond twice (no false duplicates)."""
    global _last_ts
    _last_ts = max(round(time.time(), 3), round(_last_ts + 0.001, 3))
    return _last_ts


def payload(values: dict[str, Any], ts: Any = None, **extra: Any) -> bytes:
    body = {"ts": fresh_ts() if ts is None else ts, "values": values, **extra}
    return json.dumps(body).encode()


def raw(
    station: str, body: bytes, prefix: str = "ioc/v1", received_ms: int | None = None
) -> RawMessage:
    return RawMessage(
        topic=f"{prefix}/stations/{station}/readings",
        payload=body,
        received_ms=now_ms() if received_ms is None else received_ms,
    )


def acting_as(name: str, role: Role, enterprise: str | None = None) -> Any:
    """Middleware of unit-tier apps: every request comes from this user (no login)."""
    principal = Principal(name, role, enterprise, "bearer", ROLE_CAPABILITIES[role])

    @web.middleware
    async def as_user(request: web.Request, handler: Any) -> Any:
        request[PRINCIPAL] = principal
        return await handler(request)

    return as_user


def memory_audit() -> AuditLog:
    return AuditLog(sqlite3.connect(":memory:"), keep_days=30)


def two_companies() -> FleetRegistry:
    """Companies VT-A (bus 49A11111, written 49A-111.11) and VT-B (truck 49C22222)."""
    return FleetRegistry(
        FleetFile.model_validate(
            {
                "companies": [{"id": "VT-A", "name": "A"}, {"id": "VT-B", "name": "B"}],
                "vehicles": [
                    {"id": "49A-111.11", "type": "bus", "company": "VT-A"},
                    {"id": "49C22222", "type": "truck", "company": "VT-B"},
                ],
            }
        )
    )
