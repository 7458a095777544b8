"""The audit log: logins, refused requests, configuration changes, alert actions and account
changes, with who, when, from where and the outcome. Admins read it (``GET /api/v1/audit``)."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    address TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts_ms);
CREATE INDEX IF NOT EXISTS audit_actor ON audit (actor, ts_ms);
"""
OK, DENIED, FAILED = "ok", "denied", "failed"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    ts_ms: int
    actor: str  # user name, "apikey:<id>", "anonymous" or "system"
    action: str  # e.g. login, logout, access, rule.update, alert.ack, apikey.create
    target: str  # what it was about: a route, a rule id, an alert id ...
    outcome: str  # ok, denied, failed
    address: str  # the client's address
    detail: dict[str, Any]


class AuditLog:
    def __init__(self, db: sqlite3.Connection, keep_days: int) -> None:
        self._db = db
        self._keep_ms = keep_days * 86_400_000
        db.executescript(SCHEMA)

    def record(
        self,
        actor: str,
        action: str,
        target: str = "",
        outcome: str = OK,
        address: str = "",
        **detail: Any,
    ) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO audit (ts_ms, actor, action, target, outcome, address, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    int(time.time() * 1000),
                    actor,
                    action,
                    target,
                    outcome,
                    address,
                    json.dumps(detail, ensure_ascii=False, default=str),
                ),
            )

    def query(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        since_ms: int | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        """Newest first. ``action`` matches a prefix: ``rule`` finds ``rule.update``."""
        where: list[str] = ["1 = 1"]
        args: list[str | int] = []
        for column, value in (("actor", actor), ("outcome", outcome)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if action is not None:
            where.append("(action = ? OR action LIKE ?)")
            args += [action, f"{action}.%"]
        if since_ms is not None:
            where.append("ts_ms >= ?")
            args.append(since_ms)
        rows = self._db.execute(
            "SELECT id, ts_ms, actor, action, target, outcome, address, detail FROM audit "
            f"WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [
            AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7])) for r in rows
        ]

    def purge(self, now_ms: int) -> int:
        with self._db:
            cursor = self._db.execute(
                "DELETE FROM audit WHERE ts_ms < ?", (now_ms - self._keep_ms,)
            )
        return cursor.rowcount
