"""Persistence: a new book on the same SQLite file carries on where the last one stopped."""

import sqlite3
from dataclasses import replace
from pathlib import Path

from alerts.lifecycle import OPENED, AlertBook
from alerts.store import SCHEMA, AlertStore
from ioc.messages import Alert, AlertState, RuleTransition, Severity
from tests.unit.test_alerts import MINUTE, RULES, T0, Clock, clear, config, fire

DAY = 86_400_000


def reopen(path: Path, clock: Clock, **changes: object) -> AlertBook:
    return AlertBook(RULES, config(database=str(path), **changes), clock=clock)


def test_a_restart_keeps_active_alerts_history_and_silences(tmp_path: Path) -> None:
    path, clock = tmp_path / "var" / "alerts.sqlite3", Clock()
    book = reopen(path, clock)
    [(_, first)] = book.apply([fire()])
    book.acknowledge(first.id, "lan", "on it")
    book.apply([fire(300.0, ts=T0 + MINUTE)])
    [(_, second)] = book.apply([fire(station="STK-2", retroactive=True)])
    [(_, done)] = book.apply([fire(station="STK-3")])
    book.apply([clear(station="STK-3")])
    book.close(done.id, "minh")
    silence = book.add_silence(
        station_id="STK-9", start_ms=T0, end_ms=T0 + DAY, reason="calibration", user="lan"
    )
    active, history = book.open_alerts(), book.history(first.id)
    book.shutdown()

    again = reopen(path, clock)
    assert again.open_alerts() == active
    assert [a.id for a in active] == [second.id, first.id]
    assert again.history(first.id) == history
    assert [h.action for h in history] == ["opened", "acknowledged", "updated"]
    assert again.history(second.id)[0].retroactive
    assert again.get(done.id).state is AlertState.CLOSED
    assert again.silences() == [silence]
    [(event, fresh)] = again.apply([fire(station="STK-4")])
    assert event == OPENED and int(fresh.id) > max(int(a.id) for a in (first, second, done))
    [(event, updated)] = again.apply([fire(400.0, ts=T0 + 2 * MINUTE)])
    assert (event, updated.id, updated.count, updated.peak) == ("updated", first.id, 3, 400.0)
    again.shutdown()


def test_a_restart_neither_forgets_a_flap_nor_escalates_twice(tmp_path: Path) -> None:
    path, clock = tmp_path / "alerts.sqlite3", Clock()
    book = reopen(path, clock)
    *_, (_, alert) = book.apply([fire(), clear(ts=T0 + MINUTE), fire(ts=T0 + 2 * MINUTE)])
    assert [e for e, _ in book.check_escalations(T0 + 10 * MINUTE)] == ["escalated"]
    book.apply([clear(ts=T0 + 3 * MINUTE)])
    book.shutdown()

    again = reopen(path, clock)
    [(event, reopened)] = again.apply([fire(ts=T0 + 4 * MINUTE)])
    assert (event, reopened.id, reopened.flaps) == (OPENED, alert.id, 2)
    assert again.check_escalations(T0 + 60 * MINUTE) == []
    again.shutdown()


def test_every_field_of_an_alert_survives_the_database(tmp_path: Path) -> None:
    alert = Alert(
        id="7",
        rule_id="stack_dust",
        station_id="STK-1",
        parameter="dust",
        severity=Severity.INFO,
        state=AlertState.CLOSED,
        opened_ms=1,
        value=2.5,
        limit=3.5,
        baseline=1.25,
        resolved_ms=4,
        raised_ms=5,
        last_seen_ms=6,
        peak=7.5,
        count=8,
        flaps=9,
        flapping=True,
        silenced=True,
        escalated=True,
        retroactive=True,
        acknowledged_ms=10,
        acknowledged_by="lan",
        resolved_by="minh",
        closed_ms=11,
    )
    store = AlertStore(str(tmp_path / "a.sqlite3"))
    with store.transaction():
        store.save(alert)
    assert store.alert("7") == alert
    store.close()


def columns(db: sqlite3.Connection) -> list[str]:
    return [row[1] for row in db.execute("PRAGMA table_info(alerts)")]


def test_a_version_1_database_gets_the_baseline_column_and_keeps_its_alerts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v1.sqlite3"
    with sqlite3.connect(path) as db:  # as version 1 left it: no baseline column
        db.executescript(SCHEMA)
        db.execute("PRAGMA user_version = 1")
        db.execute(
            "INSERT INTO alerts (rule_id, station_id, parameter, severity, state, opened_ms, value,"
            ' "limit", count, flaps, flapping, silenced, escalated, retroactive) VALUES'
            " ('stack_dust', 'STK-1', 'dust', 'critical', 'open', ?, 250, 200, 1, 0, 0, 0, 0, 0)",
            (T0,),
        )
        assert "baseline" not in columns(db)
    db.close()
    for _ in range(2):  # the upgrade is idempotent
        book = reopen(path, Clock())
        [old] = book.open_alerts()
        assert (old.id, old.value, old.limit, old.baseline) == ("1", 250.0, 200.0, None)
        book.shutdown()
    with sqlite3.connect(path) as db:
        assert columns(db).count("baseline") == 1
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.close()


def test_an_anomaly_alert_keeps_its_baseline_across_a_restart(tmp_path: Path) -> None:
    path, clock = tmp_path / "alerts.sqlite3", Clock()
    spike = RuleTransition(
        "anomaly.spike", "AIR-1", "pm25", True, 132.0, 8.0, T0, Severity.INFO, baseline=8.2
    )
    book = reopen(path, clock)
    [(_, alert)] = book.apply([spike])
    assert (alert.value, alert.limit, alert.baseline) == (132.0, 8.0, 8.2)
    [(_, again)] = book.apply([replace(spike, value=140.0, ts_ms=T0 + MINUTE, baseline=8.4)])
    assert again.baseline == 8.4  # an update carries the latest
    book.shutdown()
    [kept] = reopen(path, clock).open_alerts()
    assert kept.baseline == 8.4
    [(_, limit)] = reopen(tmp_path / "other.sqlite3", clock).apply([fire()])
    assert limit.baseline is None


def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite3"
    reopen(path, Clock()).shutdown()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_old_closed_alerts_are_purged_and_their_ids_never_reused(tmp_path: Path) -> None:
    path, clock = tmp_path / "alerts.sqlite3", Clock()
    book = reopen(path, clock, retention_days=30)
    [(_, kept)] = book.apply([fire(station="STK-2")])
    book.resolve(kept.id, "lan")  # resolved, not closed: kept however old
    [(_, old)] = book.apply([fire()])  # the newest id
    book.resolve(old.id, "lan")
    book.close(old.id, "lan")
    book.add_silence(station_id="STK-1", start_ms=T0, end_ms=T0 + DAY, reason="m", user="x")
    book.shutdown()

    clock.now_ms += 32 * DAY
    again = reopen(path, clock, retention_days=30)  # purges when it opens
    assert again.query() == [again.get(kept.id)]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM silences").fetchone() == (0,)
        assert db.execute(
            "SELECT COUNT(*) FROM history WHERE alert_id = ?", (int(old.id),)
        ).fetchone() == (0,)
    [(_, fresh)] = again.apply([fire(station="STK-3", ts=T0 + 32 * DAY)])
    assert int(fresh.id) > int(old.id)
    assert again.purge(clock.now_ms) == 0
    again.shutdown()
