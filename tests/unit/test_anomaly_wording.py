"""Anomaly alerts in words (e-mail, text webhooks, ``ioc watch``) name their baseline, never
their detector's threshold as a limit; limit alerts keep their limit."""

from __future__ import annotations

from dataclasses import replace

from alerts.wording import AlertFacts, body, one_line
from ioc.messages import Alert, AlertState, Severity
from ioc.watch import Style, render
from tests.unit.test_watch import PARAMETERS, RECEIVED, event

SPIKE = Alert(
    id="3",
    rule_id="anomaly.spike",
    station_id="AIR-1",
    parameter="pm25",
    severity=Severity.INFO,
    state=AlertState.OPEN,
    opened_ms=1_800_000_000_000,
    value=132.0,
    limit=8.0,
    baseline=8.0,
)


def facts(alert: Alert) -> AlertFacts:
    return AlertFacts(alert, station_name="Air one", rule_name="Spike", unit="µg/m³")


def test_an_anomaly_says_baseline_in_both_languages_and_a_limit_rule_says_limit() -> None:
    vi, en = one_line("opened", facts(SPIKE), "vi"), one_line("opened", facts(SPIKE), "en")
    assert "132 µg/m³ (nền 8 µg/m³)" in vi and "giới hạn" not in vi
    assert "132 µg/m³ (baseline 8 µg/m³)" in en and "limit" not in en
    assert "Value: 132 µg/m³ (baseline 8 µg/m³)" in body("opened", facts(SPIKE), "en")
    # without a baseline, the threshold (a score) is still no limit
    bare = one_line("opened", facts(replace(SPIKE, baseline=None)), "en")
    assert "132 µg/m³," in bare and "limit" not in bare
    dust = replace(SPIKE, rule_id="dust", value=250.0, limit=200.0, baseline=None)
    assert "250 µg/m³ (limit 200 µg/m³)" in one_line("opened", facts(dust), "en")


def test_ioc_watch_shows_an_anomaly_with_its_baseline() -> None:
    frame = event(5, "opened", rule_id="anomaly.spike", value=400.5, limit=8.0, baseline=40.0)
    (vi,) = render(frame, Style(), RECEIVED, PARAMETERS)
    assert vi.endswith("Bụi tổng 400.5 mg/Nm³ (nền 40 mg/Nm³)")
    (en,) = render(frame, Style("en"), RECEIVED, PARAMETERS)
    assert en.endswith("Total dust 400.5 mg/Nm³ (baseline 40 mg/Nm³)")
