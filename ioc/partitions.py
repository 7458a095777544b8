"""The worker layout's stage boundaries (``ioc serve --workers N``, docs/deployment.md):

    ingest worker ──{prefix}/internal/analytics/<p>──▶ analytics partition p
    analytics partition ──{prefix}/internal/output──▶ the service (alert book, wall)

A station belongs to exactly one partition (:func:`assign_partitions`: strips of equal count),
so its windows, rule state and duplicate filter live in one place; its neighbours' readings
reach it too (the halo) for the cross-station checks. Messages are
typed frozen dataclasses sent as MessagePack (msgspec: ~0.4 µs to encode and ~1 µs to decode
and check a reading), QoS 1 on the service's own broker; a receiver acknowledges one only
once what it did with it is durable, so a process killed at any moment loses nothing (the
broker sends it again).
"""

from __future__ import annotations

import heapq
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import msgspec
import numpy as np

from analytics.air_quality import AqiNow
from analytics.anomaly import EARTH_RADIUS_KM
from analytics.config import AnomalyConfig
from analytics.forest_fire import FireNow
from ioc.messages import Reading, RuleTransition
from ioc.registry import StationRegistry

INTERNAL = "internal"


def partition_of(station_id: str, partitions: int) -> int:
    """A partition for a station outside any neighbourhood map: a stable hash of its id."""
    return zlib.crc32(station_id.encode()) % partitions


@dataclass(frozen=True, slots=True)
class PartitionMap:
    """Which partition owns each station, and which other partitions see its readings too:
    a station near another partition's stations (within the anomaly checks' neighbour
    radius, of a neighbour kind) is in that partition's *halo*, so the sensor-fault /
    pollution-event check there sees every neighbour, as the one process does. A halo
    station's own results are its owner's alone."""

    owner: dict[str, int]
    destinations: dict[str, tuple[int, ...]]  # owner first, then the halos it is in
    partitions: int

    def stations_of(self, partition: int) -> tuple[frozenset[str], frozenset[str]]:
        """(owned, owned and halo) stations of a partition."""
        owned = frozenset(s for s, p in self.owner.items() if p == partition)
        seen = frozenset(s for s, ps in self.destinations.items() if partition in ps)
        return owned, seen


def assign_partitions(
    registry: StationRegistry, partitions: int, anomaly: AnomalyConfig
) -> PartitionMap:
    """Owners by area: the stations in west-to-east order (then south-north, id), cut into
    ``partitions`` strips of equal count; halos from the neighbour radius. The same in every
    process that has the same configuration."""
    stations = sorted(registry, key=lambda s: (s.lon, s.lat, s.id))
    owner = {s.id: i * partitions // max(len(stations), 1) for i, s in enumerate(stations)}
    destinations: dict[str, tuple[int, ...]] = {s: (p,) for s, p in owner.items()}
    near = [s for s in stations if s.kind in set(anomaly.neighbour_kinds)]
    if partitions > 1 and len(near) > 1:
        from scipy.spatial import cKDTree  # only here: ingest does not need SciPy otherwise

        lat, lon = np.radians([s.lat for s in near]), np.radians([s.lon for s in near])
        xyz = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
        chord = 2 * np.sin(anomaly.neighbour_radius_km / EARTH_RADIUS_KM / 2) * (1 + 1e-12)
        halos: dict[str, set[int]] = {}
        for a, b in cKDTree(xyz).query_pairs(chord):
            first, second = near[a].id, near[b].id
            if owner[first] != owner[second]:
                halos.setdefault(first, set()).add(owner[second])
                halos.setdefault(second, set()).add(owner[first])
        for station, seen_by in halos.items():
            destinations[station] += tuple(sorted(seen_by))
    return PartitionMap(owner, destinations, partitions)


def partition_registry(registry: StationRegistry, stations: frozenset[str]) -> StationRegistry:
    """The registry of these stations (a partition's own and halo)."""
    return StationRegistry([s for s in registry if s.id in stations], registry.enterprises)


def analytics_topic(prefix: str, partition: int) -> str:
    return f"{prefix}/{INTERNAL}/analytics/{partition}"


def output_topic(prefix: str) -> str:
    return f"{prefix}/{INTERNAL}/output"


def internal_filter(prefix: str) -> str:
    """Every internal topic (the service account's ACL)."""
    return f"{prefix}/{INTERNAL}/#"


@dataclass(frozen=True, slots=True)
class Forwarded:
    """Readings an ingest process sends to one partition, and its *watermark*: every message
    it received before ``watermark_ms`` (its clock) has been forwarded. Sent to every
    partition after each batch, and alone when idle, so a partition can put each station's
    readings back in order (:class:`OrderedMerge`) although the broker spread them over the
    workers. ``worker`` -1: the service itself (HTTP and files), not waited for."""

    worker: int
    watermark_ms: int
    readings: list[Reading] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PartitionOutput:
    """What a partition did with a batch of readings or a clock tick, for the service: the
    readings it kept (the station board), rule transitions (the alert book), the stations'
    latest metrics, and its current AQI and fire danger (the analytics API). ``warm_up``
    marks the transitions of the history replayed at the partition's start: the alert book
    is brought in line with them (ioc.warmup.reconcile) instead of applying them."""

    partition: int
    readings: list[Reading] = field(default_factory=list)
    transitions: list[RuleTransition] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    aqi: list[AqiNow] = field(default_factory=list)
    fire: list[FireNow] = field(default_factory=list)
    warm_up: bool = False


_encoder = msgspec.msgpack.Encoder()
_forwarded = msgspec.msgpack.Decoder(Forwarded)
_output = msgspec.msgpack.Decoder(PartitionOutput)


def encode(message: Forwarded | PartitionOutput) -> bytes:
    return _encoder.encode(message)


def decode_forwarded(payload: bytes) -> Forwarded:
    """Raises msgspec.ValidationError or DecodeError on anything else."""
    return _forwarded.decode(payload)


def decode_output(payload: bytes) -> PartitionOutput:
    return _output.decode(payload)


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes) -> None: ...

    async def flushed(self) -> None: ...


class NoticePublisher:
    """A :class:`Publisher` on a connection's outbox (QoS 1, sent again after a reconnection
    of a persistent session), without waiting: for what is answered before it is analysed
    (HTTP and files)."""

    def __init__(self, publish_nowait: Callable[[str, bytes], None]) -> None:
        self.publish = publish_nowait

    async def flushed(self) -> None:
        return None


class PartitionRouter:
    """An ingest process's side of the boundary: after each batch, one :class:`Forwarded`
    to every partition (its readings, possibly none, and the watermark)."""

    def __init__(
        self, prefix: str, partitions: PartitionMap, publisher: Publisher, worker: int = -1
    ) -> None:
        self._topics = [analytics_topic(prefix, p) for p in range(partitions.partitions)]
        self._publish = publisher.publish
        self.flushed = publisher.flushed  # what was forwarded is in the broker's hands
        self._worker = worker
        self.partitions = partitions  # replaced whole when the registry changes

    def forward(self, readings: list[Reading], watermark_ms: int) -> None:
        by_partition: list[list[Reading]] = [[] for _ in self._topics]
        destinations = self.partitions.destinations
        for reading in readings:
            sent_to = destinations.get(reading.station_id)
            if sent_to is None:  # validated, so registered: a station added since this started
                sent_to = (partition_of(reading.station_id, len(self._topics)),)
            for p in sent_to:
                by_partition[p].append(reading)
        for topic, batch in zip(self._topics, by_partition, strict=True):
            if batch or self._worker >= 0:
                self._publish(topic, encode(Forwarded(self._worker, watermark_ms, batch)))


M = TypeVar("M")  # what a reading came in (acknowledged once all its readings are released)


@dataclass(slots=True)
class _Held(Generic[M]):
    message: M
    left: int
    arrival_ms: int


class OrderedMerge(Generic[M]):
    """A partition's side: readings from several ingest workers, released in the order the
    broker handed them out. A reading is held until every worker's watermark has passed the
    time it was received (then nothing received before it can still come: a clock of one
    host, or hosts in step to a few ms, in milliseconds); if a reading
    waits longer than ``hold_max_ms`` (a worker is down or restarting), everything held
    goes. Released readings are sorted by time; messages are given back for acknowledgement
    once all their readings are released."""

    def __init__(self, workers: int, hold_max_ms: int) -> None:
        self._marks = [-1] * workers  # -1: not heard from yet
        self._hold_max_ms = hold_max_ms
        self._held: list[tuple[int, int, Reading, _Held[M]]] = []  # a heap by received time
        self._messages: deque[_Held[M]] = deque()  # in arrival order
        self._seq = 0
        self._done: list[M] = []  # messages with nothing (left) to hold

    def add(self, forwarded: Forwarded, message: M, arrival_ms: int) -> None:
        worker = forwarded.worker
        own = 0 <= worker < len(self._marks)
        if own:
            self._marks[worker] = max(self._marks[worker], forwarded.watermark_ms)
        if not forwarded.readings:
            self._done.append(message)
            return
        held = _Held(message, len(forwarded.readings), arrival_ms)
        self._messages.append(held)
        for reading in forwarded.readings:
            self._seq += 1  # the service's own readings (worker -1): nothing to wait for
            heapq.heappush(
                self._held, (reading.received_ms if own else -1, self._seq, reading, held)
            )

    def release(self, now_ms: int) -> tuple[list[Reading], list[M]]:
        """The readings that may go now, in time order, and the messages done with."""
        done, self._done = self._done, []
        held, messages = self._held, self._messages
        if not held:
            return [], done
        overdue = messages[0].arrival_ms <= now_ms - self._hold_max_ms
        watermark = max(r for r, _, _, _ in held) + 1 if overdue else min(self._marks)
        released: list[Reading] = []
        while held and held[0][0] < watermark:
            _, _, reading, holder = heapq.heappop(held)
            released.append(reading)
            holder.left -= 1
            if holder.left == 0:
                done.append(holder.message)
        while messages and messages[0].left == 0:
            messages.popleft()
        released.sort(key=_time)
        return released, done

    def held(self) -> int:
        return len(self._held)

    def next_deadline_ms(self) -> int | None:
        """When the oldest held reading is overdue, if any is held."""
        return self._messages[0].arrival_ms + self._hold_max_ms if self._messages else None


def _time(reading: Reading) -> int:
    return reading.ts_ms
