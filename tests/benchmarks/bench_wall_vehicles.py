"""The wall's vehicle layer (issue #13) in Debian's headless Chromium: frames drawn per second
with 10,000 vehicles moving.

The service runs in this process (a private Mosquitto and InfluxDB in a temporary directory,
the test registry of tests/factories); a logged-in wall page is opened at 1600x900, then a
``vehicles`` frame with all 10,000 vehicles moved is published through the service's own
broadcaster every second, as the server's coalescing would send them. Each moved vehicle
glides to its new fix over a second, so the layer draws continuously while this goes on.

The figures are the layer's own (attributes of its canvas): ``fps`` is the frames drawn in the
last two seconds per second (requestAnimationFrame caps it at the display's rate, 60 in
headless Chromium), ``draw_ms`` the mean time to draw one frame over the last 60 frames. On
software rendering (``--disable-gpu``) and a shared machine they are indicative only.

``main()`` prints progress and returns the figures as a flat dict.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Page, async_playwright

from ingest.credentials import Credentials
from ioc import appkeys
from ioc.accounts import Role
from ioc.config import IocConfig
from tests.benchmarks.bench_stack import BenchStack, private_stack
from tests.factories import TEST_RULES, registry, write_registry
from tests.integration.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RunningService,
    logged_in_context,
    run_service,
)

VEHICLES = 10_000
SECONDS = 5
WIDTH, HEIGHT = 1600, 900
#: The test registry's stations span 11.8-11.95 N, 108.3-108.45 E: the fleet drives there.
LAT0, LAT1, LON0, LON1 = 11.8, 11.95, 108.3, 108.45
TYPES = ["bus", "coach", "truck", "container", "tractor", "taxi"]
STATES = ["moving"] * 7 + ["stopped"] * 2 + ["offline"]

Log = Callable[[str], None]


def fleet(count: int, seed: int = 13) -> list[dict[str, Any]]:
    """``count`` vehicles (the websocket contract's V) spread over the stations' box."""
    rng = random.Random(seed)
    vehicles = []
    for n in range(count):
        plate = f"51C{n:05d}"
        vehicles.append(
            {
                "id": plate,
                "plate": f"{plate[:3]}-{plate[3:6]}.{plate[6:]}",
                "type": rng.choice(TYPES),
                "company": f"VT-{rng.randint(1, 40):02d}",
                "lat": rng.uniform(LAT0, LAT1),
                "lon": rng.uniform(LON0, LON1),
                "speed": 0.0,
                "heading": rng.uniform(0, 360),
                "ts": "",
                "state": rng.choice(STATES),
            }
        )
    return vehicles


def drive(vehicles: list[dict[str, Any]], rng: random.Random, seconds: float = 1.0) -> None:
    """Every vehicle moves on (turning a little, bouncing off the box); 1 % violate."""
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for v in vehicles:
        speed = rng.uniform(20, 90)
        v["heading"] = (v["heading"] + rng.uniform(-25, 25)) % 360
        # Exaggerated (x30) so a move is a few pixels at this zoom.
        step = speed / 3600 * seconds / 111.32 * 30
        a = math.radians(v["heading"])
        v["lat"] += step * math.cos(a)
        v["lon"] += step * math.sin(a)
        if not LAT0 <= v["lat"] <= LAT1 or not LON0 <= v["lon"] <= LON1:
            v["heading"] = (v["heading"] + 180) % 360
            v["lat"] = min(LAT1, max(LAT0, v["lat"]))
            v["lon"] = min(LON1, max(LON0, v["lon"]))
        v["speed"] = round(speed, 1)
        v["ts"] = ts
        v["state"] = "violating" if rng.random() < 0.01 else "moving"


def counts(vehicles: list[dict[str, Any]]) -> dict[str, int]:
    online = sum(v["state"] != "offline" for v in vehicles)
    moving = sum(v["state"] in ("moving", "violating") for v in vehicles)
    return {"online": online, "moving": moving, "violations_today": 0}


async def layer_figures(page: Page) -> dict[str, float]:
    """The vehicle layer's own counters (attributes of its canvas)."""
    canvas = page.get_by_test_id("vehicle-canvas")
    figures = {}
    for name in ("fps", "frames", "draw-ms", "vehicles"):
        value = await canvas.get_attribute(f"data-{name}")
        figures[name.replace("-", "_")] = float(value) if value else 0.0
    return figures


async def publish_moving_fleet(
    service: RunningService,
    page: Page,
    count: int = VEHICLES,
    seconds: int = SECONDS,
    log: Log = print,
) -> dict[str, float]:
    """Publish ``count`` vehicles, then all of them moved once a second for ``seconds`` s;
    returns the layer's figures at the end (fps over the last two seconds of movement)."""
    broadcaster = service.app[appkeys.BROADCASTER]
    rng = random.Random(7)
    vehicles = fleet(count)
    broadcaster.publish({"type": "vehicles", "vehicles": vehicles, "counts": counts(vehicles)})
    canvas = page.get_by_test_id("vehicle-canvas")
    deadline = time.monotonic() + 30
    while await canvas.get_attribute("data-vehicles") != str(count):
        if time.monotonic() > deadline:
            raise AssertionError("the wall never held all the vehicles")
        await asyncio.sleep(0.1)
    before = await layer_figures(page)
    samples = []
    for second in range(seconds):
        tick = time.monotonic()
        drive(vehicles, rng)
        broadcaster.publish({"type": "vehicles", "vehicles": vehicles, "counts": counts(vehicles)})
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        sample = await layer_figures(page)
        samples.append(sample["fps"])
        log(f"[wall-vehicles] {second + 1} s: {sample['fps']:.1f} fps, "
            f"{sample['draw_ms']:.2f} ms per frame, {sample['frames']:.0f} frames")  # fmt: skip
    after = await layer_figures(page)
    return {
        "vehicles": after["vehicles"],
        "fps": after["fps"],
        "fps_min": min(samples[1:] or samples),
        "draw_ms": after["draw_ms"],
        "frames": after["frames"] - before["frames"],
        "seconds": float(seconds),
    }


def bench_config(directory: Path, stack: BenchStack) -> IocConfig:
    """The integration tests' configuration (tests/integration/conftest.py) on this stack."""
    unique = uuid.uuid4().hex[:10]
    credentials, _ = Credentials.generate(registry(directory))
    credentials.write(directory / "credentials.yaml")
    return IocConfig.model_validate(
        {
            "registry": str(write_registry(directory / "stations.yaml")),
            "mqtt": {
                "port": stack.mosquitto.port,
                "topic_prefix": f"bench/{unique}/ioc/v1",
                "client_id": f"ioc-bench-{unique}",
            },
            "influx": {
                "url": stack.influxdb.url,
                "database": f"bench_{unique}",
                "spool_dir": str(directory / "spool"),
            },
            "ingest": {
                "credentials_file": str(directory / "credentials.yaml"),
                "drop_folder": str(directory / "drop"),
            },
            "alerts": {"database": str(directory / "alerts.sqlite3")},
            "access": {"database": str(directory / "ioc.sqlite3"), "scrypt_n": 2**12},
            "cameras": {"snapshot_dir": str(directory / "snapshots")},
            "analytics": {"rules": TEST_RULES},
        }
    )


async def measure(stack: BenchStack, log: Log) -> dict[str, float]:
    async with (
        run_service(bench_config(stack.directory, stack)) as service,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await logged_in_context(browser, service, Role.VIEWER, WIDTH, HEIGHT)
            page = await context.new_page()
            await page.goto(f"{service.url}/wall")
            await page.wait_for_selector("body[data-connected='true']", timeout=15_000)
            return await publish_moving_fleet(service, page, VEHICLES, SECONDS, log)
        finally:
            await browser.close()


def main() -> dict[str, float]:
    t_start = time.monotonic()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - t_start:6.1f}s] {line}", flush=True)

    log(f"[wall-vehicles] {VEHICLES:,} vehicles moving, one frame a second, {SECONDS} s")
    with private_stack("wall-vehicles") as stack:
        figures = asyncio.run(measure(stack, log))
    figures["total_seconds"] = round(time.monotonic() - t_start, 1)
    log(
        f"[wall-vehicles] {figures['fps']:.1f} fps (lowest {figures['fps_min']:.1f}), "
        f"{figures['draw_ms']:.2f} ms per frame with {figures['vehicles']:,.0f} vehicles"
    )
    return figures


if __name__ == "__main__":
    print(main())
