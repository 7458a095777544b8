"""``ioc watch`` without a server: frames to lines (both languages, JSON), and the resume
bookkeeping (which ``since`` to reconnect with, no event printed twice, resyncs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ioc.cli import _parser
from ioc.watch import Feed, Style, default_url, render, socket_url

RECEIVED = datetime(2026, 12, 5, 1, 0, 0, tzinfo=UTC)  # 08:00 in Hanoi
PARAMETERS = {"dust": {"label_vi": "Bụi tổng", "label_en": "Total dust", "unit": "mg/Nm³"}}


def alert(**changes: Any) -> dict[str, Any]:
    return {
        "id": "7",
        "rule_id": "dust",
        "rule_name": "Bụi ống khói",
        "station_id": "STK-1",
        "station_name": "Ống khói 1",
        "parameter": "dust",
        "severity": "critical",
        "state": "open",
        "opened_at": "2026-12-05T00:03:22.000Z",
        "last_seen": "2026-12-05T00:08:22.000Z",
        "resolved_at": None,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "closed_at": None,
        "value": 260.5,
        "limit": 200,
    } | changes


def snapshot(seq: int, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "snapshot",
        "seq": seq,
        "server_time": "2026-12-05T00:10:00.000Z",
        "stations": [{"id": "STK-1"}],
        "alerts": list(alerts),
        "parameters": PARAMETERS,
        "heartbeat_s": 2.5,
    }


def event(seq: int, name: str, **changes: Any) -> dict[str, Any]:
    return {"type": "alert", "seq": seq, "event": name, "alert": alert(**changes)}


def test_an_alert_event_is_one_line_in_vietnam_time_vietnamese_by_default() -> None:
    (line,) = render(event(5, "opened"), Style(), RECEIVED, PARAMETERS)
    assert line.startswith("05/12 07:03:22")  # 00:03:22 UTC
    for text in ("KHẨN", "STK-1 Ống khói 1", "Bụi ống khói", "đang mở"):
        assert text in line
    assert line.endswith("Cảnh báo mới: Bụi tổng 260.5 mg/Nm³ (giới hạn 200 mg/Nm³)")


def test_english_and_the_time_of_the_event_itself() -> None:
    frame = event(
        6,
        "acknowledged",
        state="acknowledged",
        acknowledged_at="2026-12-05T00:30:00Z",
        acknowledged_by="an.nguyen",
    )
    (line,) = render(frame, Style("en"), RECEIVED, PARAMETERS)
    assert line.startswith("05/12 07:30:00")
    for text in ("CRITICAL", "acknowledged", "Total dust 260.5 mg/Nm³ (limit 200 mg/Nm³)"):
        assert text in line
    assert line.endswith("(by an.nguyen)")
    # An event whose time the alert does not carry shows when it arrived.
    (escalated,) = render(event(7, "escalated"), Style("en"), RECEIVED, PARAMETERS)
    assert escalated.startswith("05/12 08:00:00") and "Not acknowledged: " in escalated


def test_a_snapshot_is_a_table_of_its_open_alerts() -> None:
    older = alert(id="3", station_id="AIR-1", station_name="Hoàn Kiếm", severity="warning")
    lines = render(snapshot(4, alert(), older), Style(), RECEIVED, PARAMETERS)
    assert lines[0] == "Cảnh báo đang mở lúc 05/12 07:10:00: 2"
    header, first, second = lines[1:]
    assert header.split()[:2] == ["Thời", "gian"] and "Nội dung" in header
    assert "KHẨN" in first and "AIR-1 Hoàn Kiếm" in second and "CẢNH BÁO" in second
    # columns line up
    assert header.index("Trạm") == first.index("STK-1") == second.index("AIR-1")
    empty = render(snapshot(4), Style("en"), RECEIVED, PARAMETERS)
    assert empty == ["Open alerts at 05/12 07:10:00: 0", "(no alerts)"]
    resync = render(snapshot(9, alert()), Style("en"), RECEIVED, PARAMETERS, resync=True)
    assert resync[0].startswith("Resync")


def test_json_is_one_object_per_line() -> None:
    (line,) = render(event(5, "opened"), Style(as_json=True), RECEIVED)
    assert json.loads(line) == event(5, "opened")
    (table,) = render(snapshot(4, alert()), Style(as_json=True), RECEIVED, resync=True)
    assert json.loads(table) == {
        "type": "snapshot",
        "seq": 4,
        "resync": True,
        "server_time": "2026-12-05T00:10:00.000Z",
        "alerts": [alert()],
    }


def test_other_frames_print_nothing_but_errors_do() -> None:
    for frame in (
        {"type": "heartbeat", "seq": 3, "server_time": "x", "interval_s": 1},
        {"type": "stations", "seq": 3, "stations": []},
        {"type": "camera", "seq": 3},
        {"type": "pong"},
    ):
        assert render(frame, Style(), RECEIVED) == []
    assert render({"type": "error", "reason": "nope"}, Style("en"), RECEIVED) == [
        "The server reports an error: nope"
    ]


def test_resume_from_the_last_seq_seen_printing_nothing_twice() -> None:
    feed = Feed(Style("en"))
    assert feed.since() is None  # the first connection: a snapshot
    assert feed.receive(snapshot(4, alert()), RECEIVED)[0].startswith("Open alerts")
    assert feed.since() == 4 and feed.parameters == PARAMETERS and feed.heartbeat_s == 2.5
    assert len(feed.receive(event(5, "opened"), RECEIVED)) == 1
    assert feed.receive({"type": "stations", "seq": 6, "stations": []}, RECEIVED) == []
    assert feed.since() == 6  # every seq counts, printed or not
    heartbeat = {"type": "heartbeat", "seq": 8, "server_time": "x", "interval_s": 10}
    assert feed.receive(heartbeat, RECEIVED) == []
    assert feed.since() == 6 and feed.lost_after_s() == 30  # three intervals of 10 s
    # reconnected with since=6: the server replays 7; a repeated 5 or 6 is not printed again
    assert feed.receive(event(5, "opened"), RECEIVED) == []
    assert len(feed.receive(event(7, "resolved", state="resolved"), RECEIVED)) == 1
    assert feed.since() == 7


def test_a_snapshot_after_the_first_is_a_resync_and_restarts_the_count() -> None:
    feed = Feed()
    feed.receive(snapshot(40), RECEIVED)
    feed.receive(event(41, "opened"), RECEIVED)
    lines = feed.receive(snapshot(2, alert()), RECEIVED)  # the service restarted
    assert lines[0].startswith("Đồng bộ lại lúc") and feed.snapshots == 2
    assert feed.since() == 2
    assert len(feed.receive(event(3, "updated"), RECEIVED)) == 1


def test_socket_url() -> None:
    assert socket_url("http://127.0.0.1:8080", None) == "ws://127.0.0.1:8080/ws"
    assert socket_url("https://ioc.example.vn/", 17) == "wss://ioc.example.vn/ws?since=17"
    assert socket_url("http://proxy/ioc", 0) == "ws://proxy/ioc/ws?since=0"


def test_the_default_url_is_the_configured_web_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ioc.yaml"
    path.write_text("web:\n  host: 0.0.0.0\n  port: 18080\n")
    assert default_url(path) == "http://127.0.0.1:18080"
    monkeypatch.setenv("IOC_WEB__HOST", "10.0.0.5")
    assert default_url(path) == "http://10.0.0.5:18080"


def test_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_TOKEN", "t0ken")
    args = _parser().parse_args(["watch", "--url", "http://h:1", "--lang", "en", "--json"])
    assert (args.url, args.token, args.lang, args.json) == ("http://h:1", "t0ken", "en", True)
    monkeypatch.delenv("IOC_TOKEN")
    args = _parser().parse_args(["watch", "--user", "an"])
    assert (args.user, args.token, args.lang, args.json) == ("an", None, "vi", False)
