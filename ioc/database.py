"""The service's own SQLite database (accounts, audit log, versioned configuration)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_database(path: Path | str) -> sqlite3.Connection:
    """Open (creating its folder) with WAL journaling: readers never wait for a writer."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), isolation_level="DEFERRED")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=5000")
    return db
