"""SQLite persistence of the alert book: alerts, every change made to them, and silences.

One store per database file and process: the AlertBook that owns it is the only writer. WAL
journal with ``synchronous=NORMAL``: a commit survives a crash of the process (an OS crash
may lose the latest ones), and readers never wait for the writer. Writes happen inside
:meth:`AlertStore.transaction`, one per batch of changes; reads inside it see those writes.

Schema (``PRAGMA user_version`` 2)::

    alerts    one row per alert; the columns are the fields of ioc.messages.Alert
              (id INTEGER PRIMARY KEY AUTOINCREMENT: ids are never reused); incident_id
              and incident_kind (alerts.incidents), baseline, since version 2
    history   seq, alert_id, action, ts_ms (when it happened: data time for rule changes),
              recorded_ms, from_state, to_state, user (NULL: the rule or the book),
              value, comment, retroactive
    silences  id, station_id, rule_id (NULL: any), start_ms, end_ms, reason, created_by,
              created_ms

Upgrades: a database of an older version gets the columns it lacks (:data:`ADDED_COLUMNS`,
``ALTER TABLE ... ADD COLUMN`` when ``PRAGMA table_info`` lacks them, see
:func:`add_missing_columns`), then their values: each old alert is an incident of its own, and
has no baseline. Opening it again changes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from alerts.incidents import alert_kind
from ioc.messages import Alert, AlertState, Severity

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id TEXT NOT NULL,
    station_id TEXT NOT NULL,
    parameter TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,
    opened_ms INTEGER NOT NULL,
    value REAL NOT NULL,
    "limit" REAL NOT NULL,
    resolved_ms INTEGER,
    raised_ms INTEGER,
    last_seen_ms INTEGER,
    peak REAL,
    count INTEGER NOT NULL,
    flaps INTEGER NOT NULL,
    flapping INTEGER NOT NULL,
    silenced INTEGER NOT NULL,
    escalated INTEGER NOT NULL,
    retroactive INTEGER NOT NULL,
    acknowledged_ms INTEGER,
    acknowledged_by TEXT,
    resolved_by TEXT,
    closed_ms INTEGER,
    incident_id TEXT,
    incident_kind TEXT
);
CREATE INDEX IF NOT EXISTS alerts_by_state ON alerts (state);
CREATE INDEX IF NOT EXISTS alerts_by_key ON alerts (rule_id, station_id, id);
CREATE INDEX IF NOT EXISTS alerts_by_opened ON alerts (opened_ms);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    recorded_ms INTEGER NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    user TEXT,
    value REAL,
    comment TEXT NOT NULL,
    retroactive INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_alert ON history (alert_id, action, ts_ms);
CREATE TABLE IF NOT EXISTS silences (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    station_id TEXT,
    rule_id TEXT,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
"""
#: Columns of ``alerts`` newer than version 1, (name, SQL type): added to an older database.
ADDED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("incident_id", "TEXT"),
    ("incident_kind", "TEXT"),
    ("baseline", "REAL"),
)
#: Indexes on added columns (created once the columns exist).
ADDED_INDEXES = "CREATE INDEX IF NOT EXISTS alerts_by_incident ON alerts (incident_id, id);"

_COLUMNS = tuple(f.name for f in fields(Alert))
_BOOLEANS = frozenset(f.name for f in fields(Alert) if f.type in (bool, "bool"))
_SAVE_ALERT = "INSERT INTO alerts ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {}".format(
    ", ".join(f'"{c}"' for c in _COLUMNS),
    ", ".join("?" for _ in _COLUMNS),
    ", ".join(f'"{c}" = excluded."{c}"' for c in _COLUMNS if c != "id"),
)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change of an alert. ``user`` is None when the rule or the book made it."""

    alert_id: str
    action: str
    ts_ms: int  # when it happened: the transition's data time, or the operator's action
    recorded_ms: int  # wall-clock time it was recorded
    to_state: AlertState
    from_state: AlertState | None = None
    user: str | None = None
    value: float | None = None
    comment: str = ""
    retroactive: bool = False


@dataclass(frozen=True, slots=True)
class Silence:
    """A maintenance window: alerts of the station and/or rule firing inside it are silenced."""

    id: str
    station_id: str | None  # None: every station
    rule_id: str | None  # None: every rule
    start_ms: int
    end_ms: int
    reason: str
    created_by: str
    created_ms: int

    def covers(self, rule_id: str, station_id: str, ts_ms: int) -> bool:
        return (
            self.start_ms <= ts_ms < self.end_ms
            and self.station_id in (None, station_id)
            and self.rule_id in (None, rule_id)
        )


class AlertStore:
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        with self._db:
            self._db.executescript(SCHEMA)
            add_missing_columns(self._db, "alerts", ADDED_COLUMNS)
            self._db.executescript(ADDED_INDEXES)
            _fill_incidents(self._db)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'alerts'").fetchone()
        self._last_id = row[0] if row else 0

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit every write made inside at the end, or none if it raises."""
        with self._db:
            yield

    def next_id(self) -> str:
        self._last_id += 1
        return str(self._last_id)

    def save(self, alert: Alert) -> None:
        row = [getattr(alert, name) for name in _COLUMNS]
        row[0] = int(alert.id)
        self._db.execute(_SAVE_ALERT, row)

    def record(self, entry: HistoryEntry) -> None:
        self._db.execute(
            "INSERT INTO history (alert_id, action, ts_ms, recorded_ms, from_state, to_state,"
            " user, value, comment, retroactive) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                int(entry.alert_id),
                entry.action,
                entry.ts_ms,
                entry.recorded_ms,
                entry.from_state,
                entry.to_state,
                entry.user,
                entry.value,
                entry.comment,
                entry.retroactive,
            ),
        )

    def alert(self, alert_id: str) -> Alert | None:
        key = _row_id(alert_id)
        if key is None:
            return None
        row = self._db.execute("SELECT * FROM alerts WHERE id = ?", (key,)).fetchone()
        return _alert(row) if row else None

    def active(self) -> list[Alert]:
        """Open and acknowledged alerts."""
        rows = self._db.execute("SELECT * FROM alerts WHERE state IN ('open', 'acknowledged')")
        return [_alert(row) for row in rows]

    def latest(self, rule_id: str, station_id: str) -> Alert | None:
        """The newest alert of a rule at a station, whatever its state."""
        row = self._db.execute(
            "SELECT * FROM alerts WHERE rule_id = ? AND station_id = ? ORDER BY id DESC LIMIT 1",
            (rule_id, station_id),
        ).fetchone()
        return _alert(row) if row else None

    def query(
        self,
        *,
        states: Collection[AlertState] = (),
        severity: Severity | None = None,
        station_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts opened in [since, until), newest first; empty ``states`` = any state."""
        where: list[str] = []
        args: list[Any] = []
        if states:
            where.append(f"state IN ({', '.join('?' for _ in states)})")
            args += states
        for clause, arg in (
            ("severity = ?", severity),
            ("station_id = ?", station_id),
            ("opened_ms >= ?", since_ms),
            ("opened_ms < ?", until_ms),
        ):
            if arg is not None:
                where.append(clause)
                args.append(arg)
        sql = "SELECT * FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.execute(f"{sql} ORDER BY opened_ms DESC, id DESC LIMIT ?", (*args, limit))
        return [_alert(row) for row in rows]

    def incident(self, incident_id: str) -> list[Alert]:
        """The alerts of an incident, oldest first (none: no such incident)."""
        rows = self._db.execute(
            "SELECT * FROM alerts WHERE incident_id = ? ORDER BY id", (incident_id,)
        )
        return [_alert(row) for row in rows]

    def incident_ids(self, since_ms: int | None, until_ms: int | None) -> Iterator[str]:
        """Ids of the incidents opened (their first alert) in [since, until), newest first;
        read as they are iterated."""
        opened = "MIN(opened_ms)"
        having = [
            f"{opened} >= ?" if since_ms is not None else "",
            f"{opened} < ?" if until_ms is not None else "",
        ]
        clauses = [h for h in having if h]
        args = [a for a in (since_ms, until_ms) if a is not None]
        sql = "SELECT incident_id FROM alerts GROUP BY incident_id"
        if clauses:
            sql += " HAVING " + " AND ".join(clauses)
        for (incident_id,) in self._db.execute(f"{sql} ORDER BY {opened} DESC, MIN(id) DESC", args):
            yield str(incident_id)

    def set_incident_kind(self, incident_id: str, kind: str) -> None:
        """Write an incident's (new) classification on every one of its alerts."""
        self._db.execute(
            "UPDATE alerts SET incident_kind = ? WHERE incident_id = ?", (kind, incident_id)
        )

    def history(self, alert_id: str) -> list[HistoryEntry]:
        rows = self._db.execute(
            "SELECT * FROM history WHERE alert_id = ? ORDER BY seq", (int(alert_id),)
        )
        return [
            HistoryEntry(
                alert_id=alert_id,
                action=row["action"],
                ts_ms=row["ts_ms"],
                recorded_ms=row["recorded_ms"],
                to_state=AlertState(row["to_state"]),
                from_state=AlertState(row["from_state"]) if row["from_state"] else None,
                user=row["user"],
                value=row["value"],
                comment=row["comment"],
                retroactive=bool(row["retroactive"]),
            )
            for row in rows
        ]

    def count_actions(self, alert_id: str, action: str, since_ms: int) -> int:
        """How often ``action`` happened to the alert at or after ``since_ms`` (data time)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM history WHERE alert_id = ? AND action = ? AND ts_ms >= ?",
            (int(alert_id), action, since_ms),
        ).fetchone()
        return int(row[0])

    def add_silence(
        self,
        station_id: str | None,
        rule_id: str | None,
        start_ms: int,
        end_ms: int,
        reason: str,
        created_by: str,
        created_ms: int,
    ) -> Silence:
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO silences (station_id, rule_id, start_ms, end_ms, reason, created_by,"
                " created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (station_id, rule_id, start_ms, end_ms, reason, created_by, created_ms),
            )
        return Silence(
            str(cursor.lastrowid),
            station_id,
            rule_id,
            start_ms,
            end_ms,
            reason,
            created_by,
            created_ms,
        )

    def delete_silence(self, silence_id: str) -> bool:
        key = _row_id(silence_id)
        if key is None:
            return False
        with self._db:
            cursor = self._db.execute("DELETE FROM silences WHERE id = ?", (key,))
        return cursor.rowcount > 0

    def silences(self) -> list[Silence]:
        rows = self._db.execute("SELECT * FROM silences ORDER BY start_ms, id")
        return [Silence(**{**dict(row), "id": str(row["id"])}) for row in rows]

    def purge(self, before_ms: int) -> int:
        """Delete alerts closed before ``before_ms`` with their history, and silences that
        ended before it. Returns how many alerts were deleted."""
        closed = "SELECT id FROM alerts WHERE state = 'closed' AND closed_ms < ?"
        with self._db:
            self._db.execute(f"DELETE FROM history WHERE alert_id IN ({closed})", (before_ms,))
            deleted = self._db.execute(f"DELETE FROM alerts WHERE id IN ({closed})", (before_ms,))
            self._db.execute("DELETE FROM silences WHERE end_ms < ?", (before_ms,))
        return deleted.rowcount


def add_missing_columns(
    db: sqlite3.Connection, table: str, columns: Collection[tuple[str, str]]
) -> list[str]:
    """Add to ``table`` each (name, SQL type) of ``columns`` it does not have yet; returns
    the names added. Idempotent."""
    have = {row[1] for row in db.execute(f'PRAGMA table_info("{table}")')}
    added = [(name, kind) for name, kind in columns if name not in have]
    for name, kind in added:
        db.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {kind}')
    return [name for name, _ in added]


def _fill_incidents(db: sqlite3.Connection) -> None:
    """Alerts written before incidents (version 1): each one is an incident of its own."""
    db.execute("UPDATE alerts SET incident_id = CAST(id AS TEXT) WHERE incident_id IS NULL")
    rules = db.execute("SELECT DISTINCT rule_id FROM alerts WHERE incident_kind IS NULL")
    for (rule_id,) in rules.fetchall():
        db.execute(
            "UPDATE alerts SET incident_kind = ? WHERE incident_kind IS NULL AND rule_id = ?",
            (alert_kind(rule_id), rule_id),
        )


def _row_id(text: str) -> int | None:
    """The row id an id from outside names, or None if it cannot name one."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _alert(row: sqlite3.Row) -> Alert:
    values = dict(row)
    values["id"] = str(values["id"])
    values["severity"] = Severity(values["severity"])
    values["state"] = AlertState(values["state"])
    for name in _BOOLEANS:
        values[name] = bool(values[name])
    return Alert(**values)
