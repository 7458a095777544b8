import json
from typing import Any

from web.broadcast import Broadcaster, WallClient


def make(queue: int = 5, replay: int = 100) -> Broadcaster:
    return Broadcaster(queue, replay, snapshot=lambda: {"stations": [], "alerts": []})


def drain(b: Broadcaster, client: WallClient) -> list[dict[str, Any]]:
    frames = []
    while not client.queue.empty():
        item = client.queue.get_nowait()
        frames.append(json.loads(b.snapshot_for(client) if item is None else item))
    return frames


def test_a_new_client_gets_a_snapshot_then_events_in_order() -> None:
    b = make()
    b.publish({"type": "alert", "n": 0})
    client = b.attach(since=None)
    b.publish({"type": "alert", "n": 1})  # before the snapshot went out: part of it
    assert [(f["type"], f["seq"]) for f in drain(b, client)] == [("snapshot", 2)]
    b.publish({"type": "alert", "n": 2})
    b.publish({"type": "alert", "n": 3})
    assert [(f["type"], f["seq"]) for f in drain(b, client)] == [("alert", 3), ("alert", 4)]


def test_a_resuming_client_gets_exactly_what_it_missed() -> None:
    b = make(queue=50)
    for n in range(10):
        b.publish({"type": "alert", "n": n})
    client = b.attach(since=6)
    assert [f["seq"] for f in drain(b, client)] == [7, 8, 9, 10]
    assert drain(b, b.attach(since=10)) == []


def test_a_resume_point_no_longer_kept_gets_a_snapshot() -> None:
    b = make(queue=50, replay=3)
    for n in range(10):
        b.publish({"type": "alert", "n": n})
    assert [f["type"] for f in drain(b, b.attach(since=2))] == ["snapshot"]
    assert [f["type"] for f in drain(b, b.attach(since=99))] == ["snapshot"]  # server restarted


def test_a_stalled_client_is_resynced_and_does_not_hold_back_others() -> None:
    b = make(queue=5)
    stalled, healthy = b.attach(None), b.attach(None)
    drain(b, healthy)
    drain(b, stalled)  # took its snapshot, then stops reading
    for n in range(20):
        b.publish({"type": "alert", "n": n})
        if n % 4 == 0:
            assert all(f["type"] == "alert" for f in drain(b, healthy))
    assert b.stats.resyncs == 1
    frames = drain(b, stalled)
    assert [f["type"] for f in frames] == ["snapshot"] and frames[0]["seq"] == 20
    b.publish({"type": "alert"})
    assert [f["seq"] for f in drain(b, stalled)] == [21]


def test_heartbeats_carry_the_sequence_without_advancing_it() -> None:
    b = make()
    client = b.attach(None)
    drain(b, client)
    b.publish({"type": "alert"})
    b.heartbeat("2026-11-23T08:00:00Z", 2.5)
    frames = drain(b, client)
    assert [(f["type"], f["seq"]) for f in frames] == [("alert", 1), ("heartbeat", 1)]
    assert frames[1]["server_time"] == "2026-11-23T08:00:00Z" and frames[1]["interval_s"] == 2.5
