"""Camera simulator → MQTT → camera worker → InfluxDB metrics, and a device alert with its
evidence snapshot served over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from analytics.cameras.config import CamerasConfig
from ioc import appkeys
from ioc.config import IocConfig
from simulators.cameras import CameraStream, Fault, TrafficScene, publish_cameras
from tests.integration.conftest import RunningService, eventually, run_service

FPS = 5.0


@pytest.fixture
async def camera_service(config: IocConfig, tmp_path: Path) -> AsyncIterator[RunningService]:
    camera = CamerasConfig().cameras[0].model_dump()
    camera["health"] = {**camera["health"], "alert_after_s": 1.0, "clear_after_s": 1.0}
    cameras = CamerasConfig.model_validate(
        {
            "cameras": [camera],
            "metrics_interval_s": 1.0,
            "snapshot_interval_s": 1.0,
            "snapshot_dir": str(tmp_path / "snapshots"),
        }
    )
    config = config.model_copy(update={"cameras": cameras})
    async with run_service(config) as service:
        yield service


async def test_a_dark_camera_raises_a_device_alert_with_its_evidence(
    camera_service: RunningService,
) -> None:
    service = camera_service
    camera_id = service.config.cameras.cameras[0].id
    stream = CameraStream(camera_id, TrafficScene(3, fps=FPS), [Fault("dark", 2.0, 60.0)])
    sent = await publish_cameras(service.config.mqtt, [stream], FPS, duration_s=6.0)
    assert sent >= 25
    book = service.app[appkeys.ALERTS]

    async def dark_alert() -> list[Any]:
        return [a for a in book.open_alerts() if a.rule_id == "camera.dark"]

    [alert] = await eventually(dark_alert, 10)  # type: ignore[misc]
    assert alert.station_id == camera_id

    async def metrics() -> list[dict[str, Any]]:
        return await service.app[appkeys.STORE].query(
            f"SELECT frames, dark FROM camera WHERE camera = '{camera_id}'"
        )

    rows = await eventually(metrics, 10)
    assert sum(r["frames"] for r in rows) > 0  # type: ignore[attr-defined]
    async with service.http() as http:
        async with http.get(f"{service.url}/api/v1/alerts/{alert.id}") as response:
            evidence = (await response.json())["alert"]["snapshot"]
        async with http.get(f"{service.url}{evidence}") as response:
            assert response.status == 200
            assert (await response.read())[:2] == b"\xff\xd8"  # a JPEG
        async with http.get(f"{service.url}/api/v1/cameras") as response:
            [state] = (await response.json())["cameras"]
    assert state["camera"] == camera_id and "camera.dark" in state["alerts"]
    assert state["analysing"] is False  # counting pauses while the picture is unusable
