"""The worker layout over the broker, so that its children can run on any machine that
reaches it (ioc.workers; docs/deployment.md "Scaling out"):

    <prefix>/internal/configuration    retained, QoS 1, from the service: the configuration
                                       in force (stations, rules, overrides) and its version.
                                       A child starts with it and ends when it changes.
    <prefix>/internal/workers/<name>   QoS 0, every STATUS_S, from a child started with
                                       ``ioc worker <name>`` (another machine): ready, and counters.

Both are under the service account's ACL (``<prefix>/internal/#``). The children on the
service's machine tell it the same on their standard output (ioc.workers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt
import orjson

from ingest.mqtt_source import broker_client
from ioc.config import IocConfig
from ioc.config_store import STATION_KINDS, ConfigStore
from ioc.partitions import INTERNAL

log = logging.getLogger(__name__)
STATUS_S = 1.0
CONFIGURATION_WAIT_S = 30.0  # a child without the configuration by then: fails (started again)
RECONNECT_S = 1.0


def configuration_topic(prefix: str) -> str:
    return f"{prefix}/{INTERNAL}/configuration"


def status_topic(prefix: str, name: str = "+") -> str:
    return f"{prefix}/{INTERNAL}/workers/{name}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The configuration database's items (``{kind: {key: body}}``) at one version."""

    version: int
    items: dict[str, dict[str, Any]]

    def encode(self) -> bytes:
        return orjson.dumps({"version": self.version, "items": self.items})

    @classmethod
    def decode(cls, payload: bytes) -> Snapshot:
        """Raises ValueError if ``payload`` is not one."""
        document = orjson.loads(payload)
        if not isinstance(document, dict):
            raise ValueError("not an object")
        version, items = document.get("version"), document.get("items")
        if type(version) is not int or not isinstance(items, dict):  # not a bool either
            raise ValueError("no version or items")
        return cls(version, items)

    @classmethod
    def of(cls, store: ConfigStore) -> Snapshot:
        """The stations' side of the configuration: the transport fleet (companies, vehicles,
        drivers) is the service's alone, and a fleet change restarts no child."""
        return cls(store.version(STATION_KINDS), store.snapshot(STATION_KINDS))


StatusSink = Callable[[str, dict[str, Any]], None]


class LayoutFeed:
    """The service's side: the configuration, retained, at start and after each change; what
    the children elsewhere say, to ``on_status(name, status)``."""

    def __init__(self, config: IocConfig, store: ConfigStore, on_status: StatusSink) -> None:
        self._config = config
        self._store = store
        self._on_status = on_status
        self._changed = asyncio.Event()
        self.published = asyncio.Event()  # the configuration in force is on the broker
        store.subscribe(lambda change, configuration: self._changed.set())

    async def run(self) -> None:
        """Until cancelled, connecting again after the broker is lost."""
        mqtt = self._config.mqtt
        while True:
            try:
                feed = mqtt.connection("layout")
                async with broker_client(feed, feed.client_id) as client:
                    await client.subscribe(status_topic(mqtt.topic_prefix), qos=0)
                    self._changed.set()
                    publishing = asyncio.create_task(self._publish(client))
                    try:
                        async for message in client.messages:
                            self._status(str(message.topic), message.payload)
                    finally:
                        publishing.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await publishing
            except aiomqtt.MqttError as exc:
                log.warning("layout feed: %s; connecting again", exc)
                await asyncio.sleep(RECONNECT_S)

    async def _publish(self, client: aiomqtt.Client) -> None:
        topic = configuration_topic(self._config.mqtt.topic_prefix)
        while True:
            await self._changed.wait()
            self._changed.clear()
            snapshot = Snapshot.of(self._store)
            await client.publish(topic, snapshot.encode(), qos=1, retain=True)
            log.info("layout feed: configuration version %d published", snapshot.version)
            self.published.set()

    def _status(self, topic: str, payload: Any) -> None:
        name = topic.rsplit("/", 1)[-1]
        try:
            status = orjson.loads(payload)
        except (orjson.JSONDecodeError, TypeError):
            log.warning("layout feed: unreadable status of %s", name)
            return
        if isinstance(status, dict):
            self._on_status(name, status)


class ConfigurationWatch:
    """A child's side: the configuration it starts with (:attr:`snapshot`), :meth:`changed`
    once another version is published, and :meth:`report` of its status."""

    def __init__(self, config: IocConfig, name: str) -> None:
        self._config = config
        self._name = name
        self._client: aiomqtt.Client | None = None
        self.snapshot = Snapshot(0, {})

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator[ConfigurationWatch]:
        """Connected, with the configuration in force (waits for the service to publish it
        at most :data:`CONFIGURATION_WAIT_S`, then raises TimeoutError)."""
        mqtt = self._config.mqtt
        watch = mqtt.connection(f"{self._name}-layout")
        async with broker_client(watch, watch.client_id) as client:
            self._client = client
            try:
                await client.subscribe(configuration_topic(mqtt.topic_prefix), qos=1)
                self.snapshot = await asyncio.wait_for(self._next(), CONFIGURATION_WAIT_S)
                yield self
            finally:
                self._client = None

    async def changed(self) -> None:
        """Returns once a configuration other than :attr:`snapshot` is published."""
        while (await self._next()).version == self.snapshot.version:
            pass

    async def _next(self) -> Snapshot:
        assert self._client is not None
        async for message in self._client.messages:
            try:
                payload = message.payload
                return Snapshot.decode(payload if isinstance(payload, bytes) else b"")
            except ValueError as exc:
                log.warning("unreadable configuration on the broker: %s", exc)
        raise aiomqtt.MqttError("the broker connection ended")

    async def report(self, status: dict[str, Any]) -> None:
        """Publish ``status`` (QoS 0) for the service's health."""
        if self._client is not None:
            topic = status_topic(self._config.mqtt.topic_prefix, self._name)
            await self._client.publish(topic, orjson.dumps(status), qos=0)
