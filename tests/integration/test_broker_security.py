"""The broker the project generates, with its accounts, over a real Mosquitto: no account can
take over another's session, nor read data it does not own."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from ingest.credentials import Account, Credentials, write_broker_files
from ingest.inbox import Inbox
from ingest.mqtt_source import MqttLink
from ioc.config import MqttConfig
from ioc.messages import RawMessage
from ioc.private_services import PrivateMosquitto, free_port
from tests.factories import registry
from tests.integration.conftest import eventually, running_subscriber
from tests.reliability import Outcome, record

pytestmark = pytest.mark.adversarial

QUEUED = 200


@dataclass(frozen=True, slots=True)
class SecuredBroker:
    broker: PrivateMosquitto
    accounts: dict[str, Account]
    prefix: str

    def client(self, username: str, **options: object) -> aiomqtt.Client:
        account = self.accounts[username]
        return aiomqtt.Client(
            "127.0.0.1",
            self.broker.port,
            username=account.username,
            password=account.password,
            **options,  # type: ignore[arg-type]
        )

    def service_config(self) -> MqttConfig:
        service = self.accounts["ioc-service"]
        return MqttConfig.model_validate(
            {
                "port": self.broker.port,
                "topic_prefix": self.prefix,
                "client_id": "ioc-ingest",
                "username": service.username,
                "password": service.password,
            }
        )


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[SecuredBroker]:
    reg = registry(tmp_path)
    credentials, _ = Credentials.generate(reg)
    prefix = f"sec/{uuid.uuid4().hex[:8]}"
    directory = tmp_path / "broker"
    auth = write_broker_files(credentials, reg, prefix, directory)
    broker = PrivateMosquitto(directory, free_port(), auth)
    broker.start()
    yield SecuredBroker(broker, {a.username: a for a in credentials.accounts}, prefix)
    broker.stop()


async def round_trip(client: aiomqtt.Client, topic: str) -> None:
    """A SUBSCRIBE answered by the broker: whatever it sent this client before is in."""
    await client.subscribe(topic, qos=1)


async def test_an_enterprise_using_the_service_client_id_gets_none_of_its_session(
    secured: SecuredBroker,
) -> None:
    inbox: Inbox[RawMessage] = Inbox(QUEUED * 2)
    config = secured.service_config()
    async with running_subscriber(MqttLink(config, inbox)):
        pass  # the persistent session and its subscriptions exist; the service is down now
    topic = f"{secured.prefix}/stations/AIR-1/readings"
    sent = {json.dumps({"n": i}).encode() for i in range(QUEUED)}
    async with secured.client("ioc-publisher") as publisher:
        for body in sorted(sent):
            await publisher.publish(topic, body, qos=1)
    async with secured.client("ENT-B", identifier=config.client_id, clean_session=False) as thief:
        await round_trip(thief, topic)
        stolen = len(thief.messages)
    received: set[bytes] = set()
    link = MqttLink(config, inbox)
    async with running_subscriber(link):

        async def all_received() -> bool:
            messages = inbox.take(QUEUED * 2)
            received.update(message.payload for message in messages)
            link.acknowledge(messages)
            return len(received) >= QUEUED

        with contextlib.suppress(AssertionError):
            await eventually(all_received, within_s=10)
    record(
        Outcome(
            "attack: an enterprise takes the service's client id",
            "MQTT QoS 1 (persistent session)",
            QUEUED,
            len(received),
            0,
            QUEUED - len(received),
            0,
            f"{stolen} delivered to the intruder",
        )
    )
    assert (stolen, len(received)) == (0, QUEUED)
    assert received == sent


@pytest.mark.parametrize("username", ["ENT-B", "ioc-publisher"])
async def test_accounts_read_nothing_they_do_not_own(secured: SecuredBroker, username: str) -> None:
    prefix = secured.prefix
    others = [
        "#",
        f"{prefix}/#",
        f"{prefix}/stations/+/readings",
        f"{prefix}/stations/STK-1/readings",  # ENT-A's station
        f"{prefix}/stations/+/senml",
        f"{prefix}/rejected",
        f"{prefix}/cameras/+/frames",
    ]
    async with (
        secured.client(username) as snoop,
        secured.client("ioc-service") as control,
    ):
        await snoop.subscribe([(topic, 1) for topic in others])
        await control.subscribe([(f"{prefix}/stations/+/readings", 1)])
        async with secured.client("ENT-A") as owner:
            await owner.publish(f"{prefix}/stations/STK-1/readings", b'{"own": 1}', qos=1)
        async with contextlib.AsyncExitStack() as stack:
            # One connection per account: the broker uses the user name as client id.
            publisher = (
                snoop
                if username == "ioc-publisher"
                else await stack.enter_async_context(secured.client("ioc-publisher"))
            )
            await publisher.publish(f"{prefix}/stations/AIR-1/readings", b'{"state": 1}', qos=1)
            await publisher.publish(f"{prefix}/stations/AIR-1/senml", b"[]", qos=1)
        async with secured.client("ioc-camera-publisher") as camera:
            await camera.publish(f"{prefix}/cameras/CAM-1/frames", b"\xff\xd8", qos=1)
        await control.publish(f"{prefix}/rejected", b'{"reason": "x"}', qos=1)
        await eventually(lambda: _true(len(control.messages) == 2))  # the broker routed them
        await round_trip(snoop, f"{prefix}/stations/AIR-2/readings")
        assert len(snoop.messages) == 0


async def _true(value: bool) -> bool:
    return value
