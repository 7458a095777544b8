"""The whole processing stage fed directly, without broker or database: the store only
buffers (its writer task is not started), so what it would write can be read back."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from alerts.lifecycle import AlertBook
from analytics.config import AnalyticsConfig
from analytics.engine import AnalyticsEngine
from ingest.inbox import Inbox
from ingest.live_lane import LaneLedger, LaneStats
from ingest.rejections import RejectionSink
from ingest.validate import ReadingValidator
from ioc.config import InfluxConfig, IngestConfig, RuleConfig
from ioc.messages import RawMessage
from ioc.pipeline import LANE_BATCH, Pipeline
from store.influx import InfluxStore
from tests.factories import TEST_RULES, payload, raw, registry
from web.broadcast import Broadcaster
from web.station_board import StationBoard


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[dict[str, object]]:
    reg = registry(tmp_path)
    rules = [RuleConfig.model_validate(r) for r in TEST_RULES]
    published: list[tuple[str, bytes]] = []
    async with aiohttp.ClientSession() as session:
        store = InfluxStore(InfluxConfig(spool_dir=tmp_path / "spool", spool_fsync=False), session)
        board = StationBoard(reg, 3)
        broadcaster = Broadcaster(100, 100, lambda: {})
        alerts = AlertBook({r.id: r for r in rules})
        pipeline = Pipeline(
            registry=reg,
            rules={r.id: r for r in rules},
            validator=ReadingValidator(reg, IngestConfig()),
            store=store,
            rejections=RejectionSink(
                store,
                lambda t, p: published.append((t, p)),
                "ioc/v1/rejected",
                60,
                is_station=lambda s: reg.get(s) is not None,
            ),
            engine=AnalyticsEngine(AnalyticsConfig(rules=rules), reg),
            alerts=alerts,
            board=board,
            broadcaster=broadcaster,
            batch_size=100,
        )
        alerts.subscribe(pipeline.publish_alert_events)
        yield {
            "pipeline": pipeline,
            "store": store,
            "published": published,
            "broadcaster": broadcaster,
            "board": board,
        }


def buffered(store: InfluxStore) -> list[str]:
    """What the store would write next: the spool's content (its writer is not running)."""
    body, _, _ = store.spool.read_batch(10_000)
    return body.decode().splitlines()


async def test_valid_neighbours_of_bad_messages_are_stored(parts: dict) -> None:  # type: ignore[type-arg]
    pipeline: Pipeline = parts["pipeline"]
    pipeline.process(
        [
            raw("AIR-1", payload({"pm25": 10}, ts=1_795_000_000)),
            raw("AIR-1", b"garbage"),
            raw("GHOST", payload({"pm25": 10})),
            raw("AIR-2", payload({"pm25": 20, "pm7": 1}, ts=1_795_000_000)),
        ]
    )
    lines = buffered(parts["store"])
    readings = [line for line in lines if line.startswith("reading")]
    assert readings == [
        "reading,kind=air,owner=state,station=AIR-1 pm25=10.0 1795000000000",
        "reading,kind=air,owner=state,station=AIR-2 pm25=20.0 1795000000000",
    ]
    assert sum(line.startswith("rejected") for line in lines) == 3
    notices = [json.loads(p) for _, p in parts["published"]]
    assert [(n["station_id"], [r["reason"] for r in n["rejected"]]) for n in notices] == [
        ("AIR-1", ["malformed"]),
        ("GHOST", ["unknown_station"]),
        ("AIR-2", ["unknown_parameter"]),
    ]
    assert pipeline.stats.readings == 2 and pipeline.stats.rejections == 3


async def test_an_over_limit_value_reaches_the_wall_as_an_alert(parts: dict) -> None:  # type: ignore[type-arg]
    pipeline: Pipeline = parts["pipeline"]
    broadcaster: Broadcaster = parts["broadcaster"]
    client = broadcaster.attach(since=0)
    pipeline.process([raw("AIR-1", payload({"pm25": 150}))])
    pipeline.process([raw("AIR-1", payload({"pm25": 20}))])
    frames = [json.loads(client.queue.get_nowait()) for _ in range(client.queue.qsize())]
    assert [(f["event"], f["alert"]["rule_id"], f["alert"]["value"]) for f in frames] == [
        ("opened", "pm25_instant", 150.0),
        ("resolved", "pm25_instant", 20.0),
    ]
    assert any(line.startswith("alert,") for line in buffered(parts["store"]))


async def test_a_bug_on_one_message_refuses_that_message_only(
    parts: dict,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ioc.pipeline

    real = ioc.pipeline.decode_reading

    def buggy(validator, origin, station_id, body, rejections):  # type: ignore[no-untyped-def]
        if body.get("bug"):
            raise KeyError("a bug")
        return real(validator, origin, station_id, body, rejections)

    monkeypatch.setattr(ioc.pipeline, "decode_reading", buggy)
    pipeline: Pipeline = parts["pipeline"]
    good = [raw("AIR-1", payload({"pm25": n}, ts=1_795_000_000 + n)) for n in range(5)]
    poison = [
        raw("AIR-2", payload({"pm25": 1}, bug=True)),
        raw("AIR-2", b"[" * 100_000 + b"]" * 100_000),
        raw("AIR-2", payload({"pm25": 1}, ts=1e308)),
        raw("AIR-2", payload({"pm25": 1}, status={"pm25": "²"})),
    ]
    pipeline.process([good[0], *poison[:2], *good[1:3], *poison[2:], *good[3:]])
    lines = buffered(parts["store"])
    assert sum(line.startswith("reading,") for line in lines) == 6  # 5 good + the "²" one
    [notice] = [json.loads(p) for _, p in parts["published"]]
    reasons = [r["reason"] for r in notice["rejected"]]
    assert reasons == ["internal_error", "malformed", "bad_timestamp"]
    assert notice["station_id"] == "AIR-2" and notice["count"] == 3
    assert pipeline.stats.readings == 6 and pipeline.stats.rejections == 3


async def test_every_refusal_is_its_own_dead_letter_row_and_one_notice_per_station(
    parts: dict,  # type: ignore[type-arg]
) -> None:
    pipeline: Pipeline = parts["pipeline"]
    received = 1_795_000_000_000
    batch = [
        raw("AIR-1", payload({"pm25": -n}, ts=1_795_000_000 + n), received_ms=received)
        for n in range(1, 101)
    ]
    batch += [
        raw("AIR-2", payload({"pm25": -1, "pm10": -1}, ts=1_795_000_000), received_ms=received)
    ]
    pipeline.process(batch)
    pipeline.process([raw("AIR-1", payload({"pm25": -1}, ts=1_795_000_000), received_ms=received)])
    rejected = [line for line in buffered(parts["store"]) if line.startswith("rejected,")]
    keys = {(line.split(" ", 1)[0], line.rsplit(" ", 1)[1]) for line in rejected}
    assert len(rejected) == len(keys) == 103  # InfluxDB keeps one point per series and time
    notices = [json.loads(p) for _, p in parts["published"]]
    assert [(n["station_id"], n["count"], len(n["rejected"])) for n in notices] == [
        ("AIR-1", 100, 100),
        ("AIR-2", 2, 2),
        ("AIR-1", 1, 1),
    ]
    assert notices[0]["rejected"][0]["reason"] == "out_of_range"


async def test_a_flood_of_refusals_is_a_few_notices_and_a_full_outbox_counts_drops(
    tmp_path: Path,
) -> None:

    from ingest.inbox import Inbox
    from ingest.mqtt_source import OUTBOX_SIZE, MqttLink
    from ioc.config import MqttConfig
    from ioc.messages import Rejection, RejectReason

    link = MqttLink(MqttConfig(), Inbox(100))
    async with aiohttp.ClientSession() as session:
        store = InfluxStore(InfluxConfig(spool_dir=tmp_path / "spool", spool_fsync=False), session)
        sink = RejectionSink(
            store, link.publish_nowait, "ioc/v1/rejected", 60, is_station=lambda s: True
        )
        flood = [
            Rejection("http", RejectReason.OUT_OF_RANGE, "x", 1, f"AIR-{n % 3}", "pm25")
            for n in range(30_000)
        ]
        sink.handle(flood)
        assert (link._outbox.qsize(), link.stats.outbox_dropped) == (3, 0)
        for n in range(OUTBOX_SIZE):
            sink.handle([Rejection("http", RejectReason.MALFORMED, "x", n, f"S-{n % 7}")])
        assert (link._outbox.qsize(), link.stats.outbox_dropped) == (OUTBOX_SIZE, 3)
        assert store.spool.stats.appended_lines == 30_000 + OUTBOX_SIZE  # the record is whole


async def test_made_up_station_ids_add_no_series_and_no_state(tmp_path: Path) -> None:
    """100,000 refusals for 100,000 made-up station ids: the dead-letter rows keep each id as
    a field, not as a ``station`` tag (a new InfluxDB series each), and the sink's per-station
    state does not grow with them."""
    from ioc.messages import Rejection, RejectReason

    async with aiohttp.ClientSession() as session:
        store = InfluxStore(InfluxConfig(spool_dir=tmp_path / "spool", spool_fsync=False), session)
        sink = RejectionSink(
            store, lambda t, p: None, "ioc/v1/rejected", 60, is_station=lambda s: s == "AIR-1"
        )
        for n in range(100):
            sink.handle(
                [
                    Rejection("mqtt", RejectReason.UNKNOWN_STATION, "x", n, f"FAKE-{n}-{i}")
                    for i in range(1_000)
                ]
            )
        sink.handle([Rejection("mqtt", RejectReason.MALFORMED, "x", 1, "AIR-1")])
        body, count, _ = store.spool.read_batch(200_000)
    lines = body.decode().splitlines()
    assert count == 100_001
    assert sum(",station=" in line.split(" ", 1)[0] for line in lines) == 1  # AIR-1 only
    assert 'sent_station="FAKE-99-999"' in lines[-2]
    assert len(sink._last_logged) <= 2 and len(sink._last_stored) <= 2


async def test_while_the_live_lane_is_open_a_backlog_batch_is_not_topped_up(
    parts: dict,  # type: ignore[type-arg]
) -> None:
    """A live reading waits at most for the batch in progress: with the lane open, batches
    stay at LANE_BATCH even where gathering would take more (found by the catch-up latency
    benchmark: batches went back to batch_size, and the probes waited two of them)."""
    pipeline: Pipeline = parts["pipeline"]
    pipeline._batch_size, pipeline._gather_s = 4 * LANE_BATCH, 0.01
    pipeline.ledger = LaneLedger(LaneStats())
    pipeline.ledger.lane_open = True
    inbox: Inbox[RawMessage] = Inbox(10 * LANE_BATCH)
    start = int(time.time()) - 3600
    inbox.put_many(raw("AIR-1", payload({"pm25": 10}, ts=start + n)) for n in range(3000))
    sizes: list[int] = []
    done = asyncio.Event()

    def acknowledge(batch: list[RawMessage]) -> None:
        sizes.append(len(batch))
        if sum(sizes) >= 3000:
            done.set()

    runner = asyncio.create_task(pipeline.run(inbox, acknowledge))
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        runner.cancel()
    assert max(sizes) <= LANE_BATCH
