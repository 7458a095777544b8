"""The live lane's ledger: of the two copies of a message published while the lane runs (one
on the lane, one on the persistent session), whichever comes first is processed, the other is
skipped — once per copy, and nothing else is skipped."""

from hypothesis import given
from hypothesis import strategies as st

from ingest.live_lane import LIVE_SESSION, LaneLedger, LaneStats
from ioc.messages import RawMessage


def kept(payload: bytes, mid: int = 0, topic: str = "p/stations/A/readings") -> RawMessage:
    return RawMessage(topic, payload, 0, mid=mid, qos=1, session=1)


def live(payload: bytes, topic: str = "p/stations/A/readings") -> RawMessage:
    return RawMessage(topic, payload, 0, session=LIVE_SESSION)


def run(ledger: LaneLedger, batch: list[RawMessage]) -> list[RawMessage]:
    todo, _ = ledger.select(batch)
    ledger.commit()
    return todo


def test_the_persistent_copy_of_a_live_message_is_skipped_and_only_it() -> None:
    stats = LaneStats()
    ledger = LaneLedger(stats)
    ledger.lane_open = True
    assert run(ledger, [live(b"1")]) == [live(b"1")]
    backlog = [kept(b"0", 1), kept(b"1", 2), kept(b"1", 3, "p/stations/B/readings")]
    assert [m.mid for m in run(ledger, backlog)] == [1, 3]
    assert stats.copies_skipped == 1
    ledger.lane_closed()
    ledger.forget_live()
    assert [m.mid for m in run(ledger, backlog)] == [1, 2, 3]  # skipped once only


def test_a_persistent_copy_that_comes_first_makes_the_live_one_skipped() -> None:
    ledger = LaneLedger(LaneStats())
    ledger.lane_open = True
    assert run(ledger, [kept(b"x")]) == [kept(b"x")]
    assert run(ledger, [live(b"x")]) == []
    assert run(ledger, [live(b"x")]) == [live(b"x")]  # a second live copy: sent twice


def test_a_batch_the_spool_refused_is_selected_alike_again() -> None:
    ledger = LaneLedger(LaneStats())
    ledger.lane_open = True
    run(ledger, [live(b"x")])
    first = ledger.select([kept(b"x"), kept(b"y")])
    assert ledger.select([kept(b"x"), kept(b"y")]) == first  # nothing committed in between


def test_without_the_lane_nothing_is_remembered() -> None:
    ledger = LaneLedger(LaneStats())
    assert run(ledger, [kept(b"x")]) == [kept(b"x")]
    ledger.lane_open = True
    assert run(ledger, [live(b"x")]) == [live(b"x")]  # the earlier copy was not remembered


def test_past_its_limit_the_ledger_forgets_and_the_copy_is_processed() -> None:
    stats = LaneStats()
    ledger = LaneLedger(stats, limit=1)
    ledger.lane_open = True
    run(ledger, [live(b"1"), live(b"2")])
    assert run(ledger, [kept(b"1"), kept(b"2")]) == [kept(b"2")] and stats.forgotten == 1


@given(
    published=st.lists(st.sampled_from([b"a", b"b", b"c"]), max_size=12),
    backlog=st.lists(st.sampled_from([b"d", b"e"]), max_size=8),
    data=st.data(),
)
def test_each_message_published_while_the_lane_runs_is_processed_once(
    published: list[bytes], backlog: list[bytes], data: st.DataObject
) -> None:
    """Live copies come in order; persistent copies come in order, behind the backlog; the
    two streams interleave in any way and are cut into batches anyhow."""
    ledger = LaneLedger(LaneStats())
    ledger.lane_open = True
    lane = [live(p) for p in published]
    persistent = [kept(p) for p in backlog + published]
    arrivals: list[RawMessage] = []
    while lane or persistent:
        source = (
            lane
            if not persistent
            else persistent
            if not lane
            else data.draw(st.sampled_from([lane, persistent]))
        )
        arrivals.append(source.pop(0))
    processed: list[bytes] = []
    while arrivals:
        size = data.draw(st.integers(1, 5))
        batch, arrivals = arrivals[:size], arrivals[size:]
        processed += [m.payload for m in run(ledger, batch)]
    assert sorted(processed) == sorted(backlog + published)


def test_the_copy_lag_is_how_long_the_oldest_live_message_waits_for_its_copy() -> None:
    now = [100.0]
    ledger = LaneLedger(LaneStats(), clock=lambda: now[0])
    ledger.lane_open = True
    assert ledger.copy_lag_s() == 0.0
    run(ledger, [live(b"1")])
    now[0] = 101.0
    run(ledger, [live(b"2")])
    now[0] = 103.5
    assert ledger.copy_lag_s() == 3.5  # b"1", since 100
    run(ledger, [kept(b"0"), kept(b"1")])
    assert ledger.copy_lag_s() == 2.5  # b"2", since 101
    run(ledger, [kept(b"2")])
    assert ledger.copy_lag_s() == 0.0
