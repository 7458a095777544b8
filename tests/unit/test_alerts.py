from alerts.lifecycle import OPENED, RESOLVED, AlertBook
from ioc.config import IocConfig
from ioc.messages import AlertState, RuleTransition

RULES = {r.id: r for r in IocConfig().analytics.rules}


def transition(
    firing: bool, value: float, station: str = "STK-1", ts: int = 1000
) -> RuleTransition:
    return RuleTransition(
        rule_id="stack_dust",
        station_id=station,
        parameter="dust",
        firing=firing,
        value=value,
        limit=200.0,
        ts_ms=ts,
    )


def test_an_alert_opens_and_resolves() -> None:
    book = AlertBook(RULES)
    [(event, alert)] = book.apply([transition(True, 250)])
    assert event == OPENED and alert.state is AlertState.OPEN and alert.severity == "critical"
    assert book.open_alerts() == [alert]
    [(event, resolved)] = book.apply([transition(False, 150, ts=2000)])
    assert event == RESOLVED and resolved.id == alert.id and resolved.resolved_ms == 2000
    assert book.open_alerts() == [] and book.resolved_alerts() == [resolved]


def test_one_open_alert_per_rule_and_station() -> None:
    book = AlertBook(RULES)
    events = book.apply(
        [transition(True, 250), transition(True, 300), transition(True, 260, station="STK-2")]
    )
    assert [e for e, _ in events] == [OPENED, OPENED]
    assert book.apply([transition(False, 1, station="STK-9")]) == []
    assert len({a.id for a in book.open_alerts()}) == 2
