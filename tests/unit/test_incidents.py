"""Incidents in the alert book: related alerts of a station (same parameter, or same reading)
are one incident whose classification is raised in place; and the upgrade of a database
written before incidents (schema version 1)."""

import re
import sqlite3
from pathlib import Path

import pytest

from alerts.incidents import KIND_PRIORITY, WEAKEST, alert_kind, stronger_kind
from alerts.lifecycle import AlertBook, UnknownIncident
from alerts.store import SCHEMA_VERSION, AlertStore
from ioc.messages import AlertState, RuleTransition, Severity
from tests.unit.test_alerts import MINUTE, RULES, T0, Clock, config

SPIKE, FAULT, EVENT = "anomaly.spike", "anomaly.sensor_fault", "anomaly.pollution_event"


def book(**changes: object) -> AlertBook:
    return AlertBook(RULES, config(**changes), clock=Clock())


def fire(
    rule: str,
    parameter: str = "pm25",
    ts: int = T0,
    station: str = "AIR-1",
    severity: Severity = Severity.WARNING,
    firing: bool = True,
) -> RuleTransition:
    return RuleTransition(
        rule_id=rule,
        station_id=station,
        parameter=parameter,
        firing=firing,
        value=120.0,
        limit=3.5,
        ts_ms=ts,
        severity=severity,
    )


def clear(rule: str, parameter: str = "pm25", ts: int = T0 + 30 * MINUTE) -> RuleTransition:
    return fire(rule, parameter, ts, firing=False)


def test_a_sensor_fault_then_a_pollution_event_on_the_parameter_is_one_reclassified_incident() -> (
    None
):
    alerts = book()
    [(_, fault)] = alerts.apply([fire(FAULT)])
    assert (fault.incident_id, fault.incident_kind) == (fault.id, "sensor_fault")
    assert alerts.incident(fault.id).kind == "sensor_fault"

    [(_, event)] = alerts.apply([fire(EVENT, ts=T0 + 5 * MINUTE, severity=Severity.INFO)])
    assert event.id != fault.id
    assert (event.incident_id, event.incident_kind) == (fault.id, "pollution_event")
    incident = alerts.incident(fault.id)
    assert incident.kind == "pollution_event"
    assert incident.member_ids == [fault.id, event.id]
    assert incident.severity is Severity.WARNING  # the highest of its active members
    assert incident.state is AlertState.OPEN
    # The older member carries the new classification too (its next event shows it).
    assert alerts.get(fault.id).incident_kind == "pollution_event"
    [(_, again)] = alerts.apply([fire(FAULT, ts=T0 + 6 * MINUTE)])
    assert again.incident_kind == "pollution_event"
    assert alerts.incidents(state=[AlertState.OPEN]) == [alerts.incident(fault.id)]


def test_a_weaker_member_does_not_lower_the_classification() -> None:
    alerts = book()
    [(_, event)] = alerts.apply([fire(EVENT)])
    [(_, spike)] = alerts.apply([fire(SPIKE, ts=T0 + MINUTE)])
    assert spike.incident_id == event.id
    assert alerts.incident(event.id).kind == "pollution_event"


def test_a_limit_alert_and_a_spike_on_the_same_reading_are_one_exceedance_incident() -> None:
    alerts = book()
    # Other parameters, the same reading (data time): related.
    events = alerts.apply(
        [
            fire(SPIKE, parameter="no2"),
            fire("stack_dust", parameter="dust", severity=Severity.CRITICAL),
        ]
    )
    [spike, limit] = [a for _, a in events]
    assert limit.incident_id == spike.id
    incident = alerts.incident(spike.id)
    assert (incident.kind, incident.severity) == ("exceedance", Severity.CRITICAL)
    assert alerts.get(spike.id).incident_kind == "exceedance"


def test_unrelated_alerts_start_their_own_incidents() -> None:
    alerts = book()
    [(_, a)] = alerts.apply([fire(FAULT)])
    # Another station; another parameter on another reading.
    [(_, b)] = alerts.apply([fire(EVENT, station="AIR-2", ts=T0 + MINUTE)])
    [(_, c)] = alerts.apply([fire(SPIKE, parameter="no2", ts=T0 + 2 * MINUTE)])
    assert [x.incident_id for x in (a, b, c)] == [a.id, b.id, c.id]
    assert [i.id for i in alerts.incidents(state=[AlertState.OPEN])] == [c.id, b.id, a.id]


def test_a_resolved_alert_is_no_incident_to_join_and_one_rule_stays_one_alert() -> None:
    alerts = book(flap_window_s=0)
    [(_, fault)] = alerts.apply([fire(FAULT)])
    alerts.apply([clear(FAULT)])
    [(_, event)] = alerts.apply([fire(EVENT, ts=T0 + 40 * MINUTE)])
    assert event.incident_id == event.id
    # The same rule firing again at the station: the same alert (re-triggered).
    [(event_kind, same)] = alerts.apply([fire(EVENT, ts=T0 + 41 * MINUTE)])
    assert (event_kind, same.id, same.count) == ("updated", event.id, 2)
    assert alerts.incident(fault.id).state is AlertState.RESOLVED


def test_an_incident_resolves_when_all_its_members_have() -> None:
    alerts = book()
    [(_, fault)] = alerts.apply([fire(FAULT)])
    alerts.apply([fire(EVENT, ts=T0 + MINUTE, severity=Severity.INFO)])
    assert alerts.incident(fault.id).severity is Severity.WARNING
    alerts.acknowledge(fault.id, "lan")
    assert alerts.incident(fault.id).state is AlertState.OPEN  # the event is still open
    alerts.apply([clear(FAULT)])
    incident = alerts.incident(fault.id)
    assert incident.state is AlertState.OPEN
    assert incident.severity is Severity.INFO  # the fault (warning) is no longer active
    alerts.apply([clear(EVENT)])
    assert alerts.incident(fault.id).state is AlertState.RESOLVED
    assert alerts.incidents(state=[AlertState.OPEN, AlertState.ACKNOWLEDGED]) == []
    assert [i.id for i in alerts.incidents()] == [fault.id]


def test_a_reopened_alert_joins_the_incident_active_at_its_station() -> None:
    alerts = book(flap_window_s=600)
    [(_, spike)] = alerts.apply([fire(SPIKE)])
    alerts.apply([clear(SPIKE, ts=T0 + MINUTE)])
    [(_, fault)] = alerts.apply([fire(FAULT, ts=T0 + 2 * MINUTE)])
    [(_, back)] = alerts.apply([fire(SPIKE, ts=T0 + 3 * MINUTE)])
    assert (back.id, back.flaps) == (spike.id, 1)  # reopened, not a new alert
    assert back.incident_id == fault.id
    assert alerts.incident(fault.id).kind == "sensor_fault"


def test_incidents_survive_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "alerts.sqlite3")
    alerts = book(database=path)
    [(_, fault)] = alerts.apply([fire(FAULT)])
    alerts.apply([fire(EVENT, ts=T0 + MINUTE)])
    before = alerts.incident(fault.id)
    alerts.shutdown()
    again = book(database=path)
    assert again.incident(fault.id) == before
    [(_, spike)] = again.apply([fire(SPIKE, ts=T0 + 2 * MINUTE)])
    assert (spike.incident_id, spike.incident_kind) == (fault.id, "pollution_event")


def test_an_unknown_incident_is_an_error() -> None:
    with pytest.raises(UnknownIncident):
        book().incident("42")


def test_the_kinds_and_their_priority() -> None:
    assert alert_kind("anomaly.sensor_fault") == "sensor_fault"
    assert alert_kind("stack_dust") == "exceedance"
    assert alert_kind("camera.smoke") == "camera.smoke"
    assert stronger_kind("sensor_fault", "pollution_event") == "pollution_event"
    assert stronger_kind("pollution_event", "sensor_fault") == "pollution_event"
    assert stronger_kind("spike", "exceedance") == "exceedance"
    assert stronger_kind("camera.smoke", "offline") == "offline"  # listed kinds first
    assert KIND_PRIORITY[:3] == ("exceedance", "pollution_event", "sensor_fault")


# --- the upgrade of a version-1 database ----------------------------------------------

V1_ALERTS = """
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, rule_id TEXT NOT NULL, station_id TEXT NOT NULL,
    parameter TEXT NOT NULL, severity TEXT NOT NULL, state TEXT NOT NULL,
    opened_ms INTEGER NOT NULL, value REAL NOT NULL, "limit" REAL NOT NULL,
    resolved_ms INTEGER, raised_ms INTEGER, last_seen_ms INTEGER, peak REAL,
    count INTEGER NOT NULL, flaps INTEGER NOT NULL, flapping INTEGER NOT NULL,
    silenced INTEGER NOT NULL, escalated INTEGER NOT NULL, retroactive INTEGER NOT NULL,
    acknowledged_ms INTEGER, acknowledged_by TEXT, resolved_by TEXT, closed_ms INTEGER
);
PRAGMA user_version = 1;
"""


def v1_database(path: Path) -> None:
    """An alerts database as the last release wrote it: two active alerts of one station on
    the same reading, and a resolved one."""
    db = sqlite3.connect(path)
    db.executescript(V1_ALERTS)
    row = "INSERT INTO alerts VALUES (NULL, ?, 'AIR-1', ?, ?, ?, ?, 3.0, 2.0, NULL, ?, ?, NULL, 1, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL)"  # noqa: E501
    for rule, parameter, severity, state in [
        ("anomaly.sensor_fault", "pm25", "warning", "open"),
        ("stack_dust", "dust", "critical", "open"),
        ("anomaly.spike", "no2", "info", "resolved"),
    ]:
        db.execute(row, (rule, parameter, severity, state, T0, T0, T0))
    db.commit()
    db.close()


def test_a_version_1_database_opens_and_each_old_alert_is_an_incident_of_its_own(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alerts.db"
    v1_database(path)
    alerts = book(database=str(path))
    old = alerts.query(limit=10)
    assert sorted((a.id, a.incident_id, a.incident_kind) for a in old) == [
        ("1", "1", "sensor_fault"),
        ("2", "2", "exceedance"),
        ("3", "3", "spike"),
    ]
    assert [i.member_ids for i in alerts.incidents()] == [["3"], ["2"], ["1"]]
    # New alerts join the old ones' incidents as usual.
    [(_, event)] = alerts.apply([fire(EVENT, ts=T0 + MINUTE)])
    assert (event.id, event.incident_id, event.incident_kind) == ("4", "1", "pollution_event")
    alerts.shutdown()

    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    columns = [row[1] for row in db.execute("PRAGMA table_info(alerts)")]
    assert columns.count("incident_id") == columns.count("incident_kind") == 1
    db.close()


def test_the_upgrade_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    v1_database(path)
    AlertStore(str(path)).close()
    store = AlertStore(str(path))  # a second open finds every column there: changes nothing
    assert [(a.id, a.incident_id) for a in store.active()] == [("1", "1"), ("2", "2")]
    store.close()


def test_the_wall_ranks_the_kinds_as_the_book_does() -> None:
    """web/static/wall/alert-list.js shows an incident's strongest kind: same order."""
    source = (Path(__file__).parents[2] / "web/static/wall/alert-list.js").read_text()
    match = re.search(r"KIND_ORDER = \[(.*?)\];", source, re.S)
    assert match is not None
    assert tuple(re.findall(r"'([a-z_.]+)'", match.group(1))) == KIND_PRIORITY
    weakest = re.search(r"WEAKEST_KINDS = \[(.*?)\];", source, re.S)
    assert weakest is not None
    assert tuple(re.findall(r"'([a-z_.]+)'", weakest.group(1))) == WEAKEST


def test_a_silent_vehicle_is_named_by_its_lost_signal_and_by_nothing_weaker() -> None:
    assert stronger_kind("journey.silent", "journey.signal_lost") == "journey.signal_lost"
    assert stronger_kind("journey.silent", "journey.speeding") == "journey.speeding"
    assert stronger_kind("journey.signal_lost", "journey.silent") == "journey.signal_lost"
