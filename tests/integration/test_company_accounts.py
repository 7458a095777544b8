"""A transport company's MQTT account over the real Mosquitto with the generated ACL: its
devices write its own vehicles' topics; what it sends for another company's vehicle never
reaches the service."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiomqtt

from ingest.credentials import Credentials, write_broker_files
from ioc.private_services import PrivateMosquitto, free_port
from tests.factories import registry, two_companies


async def test_a_company_publishes_its_own_vehicles_only(tmp_path: Path) -> None:
    reg, fleet = registry(tmp_path), two_companies()
    credentials, _ = Credentials.generate(reg, fleet=fleet)
    accounts = {a.username: a for a in credentials.accounts}
    prefix = f"co/{uuid.uuid4().hex[:8]}"
    auth = write_broker_files(credentials, reg, prefix, tmp_path / "broker", fleet)
    broker = PrivateMosquitto(tmp_path / "broker", free_port(), auth)
    broker.start()

    def client(username: str) -> aiomqtt.Client:
        account = accounts[username]
        return aiomqtt.Client(
            "127.0.0.1", broker.port, username=account.username, password=account.password
        )

    try:
        async with client("ioc-service") as service:
            await service.subscribe(f"{prefix}/vehicles/+/positions", qos=1)
            async with client("VT-A") as company:
                own = f"{prefix}/vehicles/49A11111/positions"
                other = f"{prefix}/vehicles/49C22222/positions"
                await company.publish(other, b'{"stolen": true}', qos=1)
                await company.publish(own, b'{"own": true}', qos=1)
            received = []
            async with asyncio.timeout(10):
                async for message in service.messages:
                    received.append((message.topic.value, message.payload))
                    if message.topic.value == own:
                        break
            assert received == [(own, b'{"own": true}')]  # the stolen one, sent first, is gone
    finally:
        broker.stop()
