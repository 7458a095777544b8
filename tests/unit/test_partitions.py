"""The worker layout's boundaries (ioc.partitions): who owns a station, the typed messages,
and putting each station's readings back in order (OrderedMerge)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from analytics.air_quality import AqiNow
from analytics.config import AnomalyConfig
from analytics.partition import latest_per_station, station_of_line
from ingest.validate import ReceivedValues
from ioc.config import IocConfig
from ioc.messages import InstrumentStatus, Reading, Rejection, RuleTransition, Severity
from ioc.partitions import (
    Forwarded,
    OrderedMerge,
    PartitionMap,
    PartitionOutput,
    PartitionRouter,
    assign_partitions,
    decode_forwarded,
    decode_output,
    encode,
    partition_registry,
)
from ioc.registry import StationRegistry
from ioc.workers import config_document
from tests.factories import REGISTRY_DOC


def stations_at(positions: dict[str, tuple[float, float]]) -> StationRegistry:
    template = REGISTRY_DOC["stations"][0]
    document = {
        **REGISTRY_DOC,
        "stations": [
            {**template, "id": s, "lat": lat, "lon": lon} for s, (lat, lon) in positions.items()
        ],
    }
    return StationRegistry.from_document(document, "test")


def test_owners_are_balanced_strips_and_neighbours_across_a_border_are_seen_by_both() -> None:
    # west to east every 10 km: each station's neighbours (15 km) are the one each side
    registry = stations_at({f"S{n}": (11.0, 108.0 + n * 0.0917) for n in range(6)})
    partitions = assign_partitions(registry, 2, AnomalyConfig(neighbour_radius_km=15))
    assert partitions.owner == {"S0": 0, "S1": 0, "S2": 0, "S3": 1, "S4": 1, "S5": 1}
    assert partitions.destinations["S2"] == (0, 1)  # S3's neighbour: partition 1's halo
    assert partitions.destinations["S3"] == (1, 0)
    assert partitions.destinations["S0"] == (0,)
    owned, seen = partitions.stations_of(1)
    assert owned == {"S3", "S4", "S5"} and seen == {"S2", "S3", "S4", "S5"}
    halo = partition_registry(registry, seen)
    assert {s.id for s in halo} == seen


def test_without_neighbour_checks_there_is_no_halo() -> None:
    registry = stations_at({f"S{n}": (11.0, 108.0) for n in range(6)})  # one spot
    partitions = assign_partitions(registry, 3, AnomalyConfig(neighbour_kinds=[]))
    assert sorted(partitions.owner.values()) == [0, 0, 1, 1, 2, 2]
    assert all(len(d) == 1 for d in partitions.destinations.values())


def reading(station: str, ts: int, received: int) -> Reading:
    return Reading(station, ts, {"pm25": float(ts)}, received)


def test_messages_round_trip_typed() -> None:
    r = Reading(
        "AIR-1", 1, {"pm25": 1.5}, 2, {"pm25": InstrumentStatus.CALIBRATING}, frozenset({"pm25"})
    )
    forwarded = Forwarded(1, 5, [r])
    assert decode_forwarded(encode(forwarded)) == forwarded
    output = PartitionOutput(
        0,
        [r],
        [
            RuleTransition("x", "AIR-1", "pm25", True, 1.0, 2.0, 3, Severity.CRITICAL),
            RuleTransition("anomaly.spike", "AIR-1", "pm25", True, 132.0, 8.0, 4, baseline=8.2),
        ],
        {"AIR-1": {"aqi": 50.0}},
        [AqiNow("AIR-1", 3, 50.0, 1, {"pm25": 50.0}, 0, 40.0, False)],
    )
    assert decode_output(encode(output)) == output
    assert decode_output(encode(output)).transitions[1].baseline == 8.2
    with pytest.raises(msgspec.ValidationError):
        decode_forwarded(encode(output))


def test_the_router_sends_every_partition_the_watermark() -> None:
    sent: list[tuple[str, bytes]] = []

    class Recorder:
        def publish(self, topic: str, payload: bytes) -> None:
            sent.append((topic, payload))

        async def flushed(self) -> None:
            return None

    partitions = PartitionMap({"A": 0, "B": 1}, {"A": (0,), "B": (1, 0)}, 2)
    router = PartitionRouter("p", partitions, Recorder(), worker=3)
    router.forward([reading("A", 1, 10), reading("B", 2, 11), reading("A", 3, 12)], 12)
    got = {topic: decode_forwarded(payload) for topic, payload in sent}
    assert [r.ts_ms for r in got["p/internal/analytics/0"].readings] == [1, 2, 3]  # B: halo
    assert [r.ts_ms for r in got["p/internal/analytics/1"].readings] == [2]
    assert {f.watermark_ms for f in got.values()} == {12}
    sent.clear()
    router.forward([], 20)  # idle: the watermark alone
    assert len(sent) == 2


def test_a_reading_waits_for_every_workers_watermark() -> None:
    merge: OrderedMerge[str] = OrderedMerge(2, hold_max_ms=1000)
    # a watermark is the first time not yet forwarded: the worker's clock when it forwarded
    merge.add(Forwarded(0, 21, [reading("A", 2, 20)]), "m1", arrival_ms=0)
    assert merge.release(0) == ([], [])  # worker 1 not heard from: it may hold A@1
    merge.add(Forwarded(1, 15, [reading("A", 1, 15)]), "m2", arrival_ms=1)
    released, done = merge.release(1)
    assert [r.ts_ms for r in released] == []  # the watermark is 15: only what came before
    merge.add(Forwarded(1, 30, []), "m3", arrival_ms=2)
    released, done = merge.release(2)
    assert [r.ts_ms for r in released] == [1, 2]
    assert sorted(done) == ["m1", "m2", "m3"]


def test_a_silent_worker_holds_readings_for_hold_max_ms_only() -> None:
    merge: OrderedMerge[str] = OrderedMerge(2, hold_max_ms=1000)
    merge.add(Forwarded(0, 20, [reading("A", 2, 20)]), "m1", arrival_ms=0)
    assert merge.release(999) == ([], [])
    assert merge.next_deadline_ms() == 1000
    released, done = merge.release(1000)
    assert [r.ts_ms for r in released] == [2] and done == ["m1"]
    assert merge.next_deadline_ms() is None


@st.composite
def spread_streams(draw: st.DrawFn) -> tuple[int, list[list[Reading]]]:
    """Stations' readings in time order, handed out round-robin to workers (as Mosquitto
    does), each worker forwarding its share in batches."""
    workers = draw(st.integers(1, 3))
    stations = draw(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=60))
    ts: dict[str, int] = {}
    shares: list[list[Reading]] = [[] for _ in range(workers)]
    for received, station in enumerate(stations):
        ts[station] = ts.get(station, 0) + 1
        shares[received % workers].append(reading(station, ts[station], received))
    return workers, shares


@settings(max_examples=200, deadline=None)
@given(spread_streams(), st.data())
def test_each_station_comes_out_in_order_and_once(
    streams: tuple[int, list[list[Reading]]], data: st.DataObject
) -> None:
    workers, shares = streams
    merge: OrderedMerge[int] = OrderedMerge(workers, hold_max_ms=10**9)
    queues = [list(share) for share in shares]
    out: list[Reading] = []
    done: list[int] = []
    message = 0
    while any(queues):
        w = data.draw(st.sampled_from([i for i, q in enumerate(queues) if q]))
        n = data.draw(st.integers(1, len(queues[w])))
        batch, queues[w] = queues[w][:n], queues[w][n:]
        # the watermark: everything this worker was handed before its next message
        mark = queues[w][0].received_ms if queues[w] else 10**6
        message += 1
        merge.add(Forwarded(w, mark, batch), message, arrival_ms=0)
        released, finished = merge.release(0)
        out += released
        done += finished
    for w in range(workers):  # idle heartbeats
        merge.add(Forwarded(w, 10**6, []), -1, arrival_ms=0)
    released, finished = merge.release(0)
    out += released
    done += [m for m in finished if m != -1]
    assert sorted(done) == list(range(1, message + 1))
    assert sorted((r.station_id, r.ts_ms) for r in out) == sorted(
        (r.station_id, r.ts_ms) for share in shares for r in share
    )
    for station in "ABCD":
        times = [r.ts_ms for r in out if r.station_id == station]
        assert times == sorted(times)


def test_the_partition_refuses_what_another_worker_brought_already() -> None:
    received = ReceivedValues()
    refused: list[Rejection] = []
    first = received.keep_new([Reading("A", 1, {"pm25": 1.0, "pm10": 2.0}, 5)], refused)
    again = received.keep_new(
        [Reading("A", 1, {"pm25": 1.0, "no2": 3.0}, 6), Reading("A", 1, {"pm10": 2.0}, 6)],
        refused,
    )
    assert [r.values for r in first] == [{"pm25": 1.0, "pm10": 2.0}]
    assert [r.values for r in again] == [{"no2": 3.0}]
    assert [(r.reason.value, r.parameter) for r in refused] == [
        ("duplicate", "pm25"),
        ("duplicate", "pm10"),
    ]


def test_a_child_gets_the_configuration_with_its_secrets(tmp_path: Path) -> None:
    config = IocConfig.model_validate(
        {"mqtt": {"username": "svc", "password": "s3cret"}, "workers": {"ingest": 2}}
    )
    again = IocConfig.model_validate_json(config_document(config))
    assert again == config
    assert again.mqtt.password == SecretStr("s3cret")


def test_the_service_gets_each_stations_latest_values_of_a_batch() -> None:
    batch = [
        Reading("A", 1, {"pm25": 1.0, "pm10": 5.0}, 10),
        Reading("B", 1, {"pm25": 7.0}, 10),
        Reading("A", 2, {"pm25": 2.0}, 11),
    ]
    latest = {r.station_id: r for r in latest_per_station(batch)}
    assert latest["A"].ts_ms == 2 and latest["A"].values == {"pm25": 2.0, "pm10": 5.0}
    assert latest["B"] is batch[1]


def test_a_derived_line_is_known_by_its_station() -> None:
    assert station_of_line("aqi,period=hour,station=AIR-1 aqi=5 1") == "AIR-1"
    assert station_of_line("anomaly,kind=spike,station=W.2,parameter=pm25 value=1 1") == "W.2"
    assert station_of_line("other value=1 1") == ""
