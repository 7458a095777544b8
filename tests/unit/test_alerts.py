"""The alert book's lifecycle: rule transitions, operator actions, flapping, silences and
escalation. The book runs on an in-memory database with a clock the tests move."""

from collections.abc import Iterator

import pytest

from alerts.config import AlertsConfig
from alerts.lifecycle import (
    ACKNOWLEDGED,
    CLOSED,
    COMMENTED,
    ESCALATED,
    OPENED,
    RESOLVED,
    UPDATED,
    AlertBook,
    InvalidSilence,
    InvalidTransition,
    UnknownAlert,
    UnknownSilence,
)
from ioc.config import IocConfig, RuleConfig
from ioc.errors import IocError
from ioc.messages import Alert, AlertState, RuleTransition, Severity

RULES = {r.id: r for r in IocConfig().analytics.rules}  # stack_dust: critical, above 200
MINUTE = 60_000
T0 = 1_800_000_000_000


class Clock:
    def __init__(self, now_ms: int = T0) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def fire(
    value: float = 250.0,
    ts: int = T0,
    station: str = "STK-1",
    rule: str = "stack_dust",
    severity: Severity = Severity.CRITICAL,
    retroactive: bool = False,
) -> RuleTransition:
    return RuleTransition(
        rule_id=rule,
        station_id=station,
        parameter="dust",
        firing=True,
        value=value,
        limit=200.0,
        ts_ms=ts,
        severity=severity,
        retroactive=retroactive,
    )


def clear(
    value: float = 150.0, ts: int = T0 + MINUTE, station: str = "STK-1", rule: str = "stack_dust"
) -> RuleTransition:
    return RuleTransition(
        rule_id=rule,
        station_id=station,
        parameter="dust",
        firing=False,
        value=value,
        limit=200.0,
        ts_ms=ts,
    )


def config(**changes: object) -> AlertsConfig:
    values: dict[str, object] = {
        "database": ":memory:",
        "flap_window_s": 600,
        "flap_threshold": 2,
        "escalate_after_min": 10,
    }
    return AlertsConfig.model_validate({**values, **changes})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def book(clock: Clock) -> Iterator[AlertBook]:
    book = AlertBook(RULES, config(), clock=clock)
    yield book
    book.shutdown()


def opened(book: AlertBook, **kwargs: object) -> Alert:
    [(event, alert)] = book.apply([fire(**kwargs)])  # type: ignore[arg-type]
    assert event == OPENED
    return alert


def in_state(book: AlertBook, state: AlertState) -> Alert:
    """A fresh alert brought into ``state`` by the shortest valid path."""
    alert = opened(book)
    if state is AlertState.ACKNOWLEDGED:
        return book.acknowledge(alert.id, "an")
    if state in (AlertState.RESOLVED, AlertState.CLOSED):
        alert = book.resolve(alert.id, "an")
    if state is AlertState.CLOSED:
        alert = book.close(alert.id, "an")
    return alert


def test_the_full_lifecycle_by_rule_and_operator(book: AlertBook, clock: Clock) -> None:
    seen: list[tuple[str, Alert]] = []
    book.subscribe(seen.extend)
    alert = opened(book)
    assert alert.state is AlertState.OPEN and alert.severity is Severity.CRITICAL
    assert (alert.raised_ms, alert.last_seen_ms, alert.peak, alert.count) == (T0, T0, 250, 1)
    assert book.open_alerts() == [alert]

    clock.now_ms += MINUTE
    acked = book.acknowledge(alert.id, "lan", "crew on the way")
    assert acked.state is AlertState.ACKNOWLEDGED
    assert (acked.acknowledged_ms, acked.acknowledged_by) == (clock.now_ms, "lan")
    assert book.open_alerts() == [acked]

    [(event, resolved)] = book.apply([clear(ts=T0 + 5 * MINUTE)])
    assert event == RESOLVED and resolved.id == alert.id
    assert (resolved.state, resolved.resolved_ms, resolved.resolved_by) == (
        AlertState.RESOLVED,
        T0 + 5 * MINUTE,
        None,
    )
    assert book.open_alerts() == [] and book.query(AlertState.RESOLVED) == [resolved]

    closed = book.close(alert.id, "minh", "filter replaced")
    assert closed.state is AlertState.CLOSED and closed.closed_ms == clock.now_ms
    assert book.get(alert.id) == closed

    assert [e for e, _ in seen] == [OPENED, ACKNOWLEDGED, RESOLVED, CLOSED]
    history = book.history(alert.id)
    assert [(h.action, h.from_state, h.to_state, h.user, h.comment) for h in history] == [
        ("opened", None, AlertState.OPEN, None, ""),
        ("acknowledged", AlertState.OPEN, AlertState.ACKNOWLEDGED, "lan", "crew on the way"),
        ("resolved", AlertState.ACKNOWLEDGED, AlertState.RESOLVED, None, ""),
        ("closed", AlertState.RESOLVED, AlertState.CLOSED, "minh", "filter replaced"),
    ]
    assert [h.value for h in history[::2]] == [250, 150]


def test_an_operator_resolves_an_open_alert_by_hand(book: AlertBook, clock: Clock) -> None:
    alert = opened(book)
    resolved = book.resolve(alert.id, "lan", "sensor fault")
    assert resolved.state is AlertState.RESOLVED
    assert (resolved.resolved_ms, resolved.resolved_by) == (clock.now_ms, "lan")
    assert book.open_alerts() == []
    assert book.apply([clear()]) == []  # the condition clearing later changes nothing


INVALID = [
    (AlertState.ACKNOWLEDGED, "acknowledge", "acknowledge needs an alert that is open"),
    (AlertState.RESOLVED, "acknowledge", "acknowledge needs an alert that is open"),
    (AlertState.CLOSED, "acknowledge", "acknowledge needs an alert that is open"),
    (AlertState.RESOLVED, "resolve", "resolve needs an alert that is open or acknowledged"),
    (AlertState.CLOSED, "resolve", "resolve needs an alert that is open or acknowledged"),
    (AlertState.OPEN, "close", "close needs an alert that is resolved"),
    (AlertState.ACKNOWLEDGED, "close", "close needs an alert that is resolved"),
    (AlertState.CLOSED, "close", "close needs an alert that is resolved"),
]


@pytest.mark.parametrize(("state", "action", "needs"), INVALID)
def test_invalid_transitions_are_refused(
    book: AlertBook, state: AlertState, action: str, needs: str
) -> None:
    alert = in_state(book, state)
    seen: list[tuple[str, Alert]] = []
    book.subscribe(seen.extend)
    with pytest.raises(InvalidTransition) as refused:
        getattr(book, action)(alert.id, "lan")
    assert isinstance(refused.value, IocError)
    assert (refused.value.alert_id, refused.value.state) == (alert.id, state)
    assert str(refused.value) == f"cannot {action} alert {alert.id}: it is {state}; {needs}"
    assert book.get(alert.id) == alert and seen == []
    assert len(book.history(alert.id)) == {"open": 1, "acknowledged": 2, "resolved": 2}.get(
        state, 3
    )


def test_unknown_alerts_are_named(book: AlertBook) -> None:
    for call in (
        lambda: book.get("41"),
        lambda: book.history("41"),
        lambda: book.acknowledge("41", "lan"),
        lambda: book.comment("41", "lan", "hello"),
        lambda: book.get("not-a-number"),
    ):
        with pytest.raises(UnknownAlert, match="no alert has id"):
            call()


def test_comments_are_kept_in_any_state(book: AlertBook, clock: Clock) -> None:
    seen: list[tuple[str, Alert]] = []
    book.subscribe(seen.extend)
    alert = in_state(book, AlertState.CLOSED)
    clock.now_ms += MINUTE
    assert book.comment(alert.id, "minh", "root cause: bag filter") == alert
    assert seen[-1] == (COMMENTED, alert)
    last = book.history(alert.id)[-1]
    assert (last.action, last.user, last.comment, last.ts_ms) == (
        "commented",
        "minh",
        "root cause: bag filter",
        clock.now_ms,
    )


def test_a_retrigger_updates_the_active_alert(book: AlertBook) -> None:
    alert = opened(book)
    book.acknowledge(alert.id, "lan")
    events = book.apply(
        [
            fire(320.0, ts=T0 + MINUTE),
            fire(280.0, ts=T0 + 2 * MINUTE, severity=Severity.WARNING),
        ]
    )
    assert [e for e, _ in events] == [UPDATED, UPDATED]
    updated = events[-1][1]
    assert updated.id == alert.id and updated.state is AlertState.ACKNOWLEDGED
    assert (updated.count, updated.peak, updated.value) == (3, 320.0, 280.0)
    assert (updated.last_seen_ms, updated.severity) == (T0 + 2 * MINUTE, Severity.WARNING)
    assert book.open_alerts() == [updated]


def test_the_peak_of_a_below_rule_is_the_lowest_value(clock: Clock) -> None:
    rule = RuleConfig(id="do_low", name="Dissolved oxygen", parameter="do", below=4.0)
    book = AlertBook({rule.id: rule}, config(), clock=clock)
    book.apply([fire(3.5, rule="do_low"), fire(2.0, rule="do_low"), fire(3.0, rule="do_low")])
    [alert] = book.open_alerts()
    assert (alert.peak, alert.count) == (2.0, 3)
    book.shutdown()


def test_one_active_alert_per_rule_and_station(book: AlertBook) -> None:
    events = book.apply([fire(), fire(300.0), fire(station="STK-2")])
    assert [e for e, _ in events] == [OPENED, UPDATED, OPENED]
    assert book.apply([clear(station="STK-9")]) == []
    assert len({a.id for a in book.open_alerts()}) == 2


def test_firing_again_soon_after_clearing_reopens_the_alert(book: AlertBook) -> None:
    alert = opened(book)
    book.apply([clear(ts=T0 + MINUTE)])
    [(event, again)] = book.apply([fire(260.0, ts=T0 + 6 * MINUTE)])  # within 10 minutes
    assert event == OPENED and again.id == alert.id
    assert (again.state, again.resolved_ms, again.flaps, again.flapping) == (
        AlertState.OPEN,
        None,
        1,
        False,
    )
    assert (again.count, again.opened_ms) == (2, T0)
    assert [h.action for h in book.history(alert.id)] == ["opened", "resolved", "reopened"]

    book.apply([clear(ts=T0 + 7 * MINUTE)])
    [(_, fresh)] = book.apply([fire(ts=T0 + 17 * MINUTE)])  # 10 minutes after the clear
    assert fresh.id != alert.id and fresh.flaps == 0


def test_clearing_and_firing_in_one_batch_reopens_the_same_alert(book: AlertBook) -> None:
    events = book.apply([fire(), clear(), fire(ts=T0 + 2 * MINUTE)])
    assert [e for e, _ in events] == [OPENED, RESOLVED, OPENED]
    assert len({a.id for _, a in events}) == 1 and events[-1][1].flaps == 1


def test_an_alert_that_keeps_flapping_is_marked(book: AlertBook) -> None:
    alert = opened(book)
    flags = []
    for n in range(1, 5):  # clears and fires again every 2 minutes; threshold 2 in 10 min
        book.apply([clear(ts=T0 + (2 * n - 1) * MINUTE)])
        [(_, again)] = book.apply([fire(ts=T0 + 2 * n * MINUTE)])
        flags.append((again.flaps, again.flapping))
    assert again.id == alert.id
    assert flags == [(1, False), (2, False), (3, True), (4, True)]
    [(_, resolved)] = book.apply([clear(ts=T0 + 9 * MINUTE)])
    assert resolved.flapping  # its resolution is not notified either


def test_a_reopened_acknowledged_alert_stays_acknowledged(book: AlertBook) -> None:
    alert = in_state(book, AlertState.ACKNOWLEDGED)
    book.apply([clear()])
    [(event, again)] = book.apply([fire(ts=T0 + 2 * MINUTE)])
    assert event == OPENED and again.id == alert.id
    assert again.state is AlertState.ACKNOWLEDGED and again.acknowledged_by == "an"


def test_a_closed_alert_is_never_reopened(book: AlertBook) -> None:
    alert = in_state(book, AlertState.CLOSED)
    [(event, fresh)] = book.apply([fire(ts=T0 + MINUTE)])
    assert event == OPENED and fresh.id != alert.id and fresh.flaps == 0


def test_alerts_inside_a_silence_are_recorded_and_flagged(book: AlertBook) -> None:
    maintenance = book.add_silence(
        station_id="STK-1",
        start_ms=T0,
        end_ms=T0 + 60 * MINUTE,
        reason="bag filter maintenance",
        user="minh",
    )
    later = book.add_silence(
        rule_id="stack_dust",
        start_ms=T0 + 2 * 60 * MINUTE,
        end_ms=T0 + 3 * 60 * MINUTE,
        reason="later",
        user="minh",
    )
    events = book.apply([fire(), fire(station="STK-2")])
    assert [(a.station_id, a.silenced) for _, a in events] == [("STK-1", True), ("STK-2", False)]
    assert {a.station_id for a in book.open_alerts()} == {"STK-1", "STK-2"}
    [(_, updated)] = book.apply([fire(ts=T0 + 60 * MINUTE)])  # the window ended
    assert updated.station_id == "STK-1" and not updated.silenced
    assert book.silences() == [maintenance, later]


def test_silences_are_validated_listed_and_removed(book: AlertBook, clock: Clock) -> None:
    with pytest.raises(InvalidSilence, match="needs a station, a rule or both"):
        book.add_silence(start_ms=T0, end_ms=T0 + MINUTE, reason="?", user="lan")
    with pytest.raises(InvalidSilence, match="must end after it starts"):
        book.add_silence(station_id="STK-1", start_ms=T0, end_ms=T0, reason="?", user="lan")
    ended = book.add_silence(
        station_id="STK-1", start_ms=T0 - 2 * MINUTE, end_ms=T0, reason="past", user="lan"
    )
    coming = book.add_silence(
        rule_id="stack_dust",
        start_ms=T0 + MINUTE,
        end_ms=T0 + 2 * MINUTE,
        reason="next",
        user="lan",
    )
    assert (coming.created_by, coming.created_ms) == ("lan", clock.now_ms)
    assert book.silences() == [coming]
    book.remove_silence(coming.id)
    assert book.silences() == []
    with pytest.raises(UnknownSilence):
        book.remove_silence(coming.id)
    assert ended.covers("stack_dust", "STK-1", T0 - MINUTE)
    assert not ended.covers("stack_dust", "STK-2", T0 - MINUTE)


def test_a_critical_alert_left_open_escalates_once(book: AlertBook) -> None:
    seen: list[tuple[str, Alert]] = []
    book.subscribe(seen.extend)
    critical = opened(book)
    warning = opened(book, station="STK-2", severity=Severity.WARNING)
    acked = book.acknowledge(opened(book, station="STK-3").id, "lan")
    book.add_silence(station_id="STK-4", start_ms=T0, end_ms=T0 + MINUTE, reason="m", user="x")
    silenced = opened(book, station="STK-4")
    assert silenced.silenced
    seen.clear()

    assert book.check_escalations(T0 + 10 * MINUTE - 1) == []
    [(event, escalated)] = book.check_escalations(T0 + 10 * MINUTE)
    assert event == ESCALATED and escalated.id == critical.id and escalated.escalated
    assert book.check_escalations(T0 + 60 * MINUTE) == []
    assert seen == [(ESCALATED, escalated)]
    assert book.get(critical.id).escalated and book.history(critical.id)[-1].action == "escalated"
    assert not any(book.get(a.id).escalated for a in (warning, acked, silenced))


def test_retroactive_transitions_are_recorded_as_such(book: AlertBook) -> None:
    alert = opened(book, retroactive=True)
    assert alert.retroactive
    book.apply([fire(ts=T0 + MINUTE)])
    assert [h.retroactive for h in book.history(alert.id)] == [True, False]


def test_every_subscriber_gets_every_event_despite_a_broken_one(book: AlertBook) -> None:
    def broken(events: list[tuple[str, Alert]]) -> None:
        raise RuntimeError("subscriber bug")

    seen: list[tuple[str, Alert]] = []
    book.subscribe(broken)
    book.subscribe(seen.extend)
    returned = book.apply([fire()])
    acked = book.acknowledge(returned[0][1].id, "lan")
    assert seen == [*returned, (ACKNOWLEDGED, acked)]
    assert book.apply([]) == [] and len(seen) == 2


def test_query_filters_and_orders_newest_first(book: AlertBook) -> None:
    first = opened(book)
    second = opened(book, station="STK-2", ts=T0 + MINUTE, severity=Severity.WARNING)
    third = book.resolve(opened(book, station="STK-3", ts=T0 + 2 * MINUTE).id, "lan")
    assert [a.id for a in book.query()] == [third.id, second.id, first.id]
    assert book.query(state=AlertState.RESOLVED) == [third]
    assert book.query(state=[AlertState.OPEN, AlertState.RESOLVED], limit=2) == [third, second]
    assert book.query(severity=Severity.WARNING) == [second]
    assert book.query(station_id="STK-1") == [first]
    assert book.query(since_ms=T0 + MINUTE, until_ms=T0 + 2 * MINUTE) == [second]
