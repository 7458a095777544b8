"""What ``make run`` starts (``ioc dev``), tried as a user would: the wall comes up with live
data and an alert, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from ioc.private_services import free_port

ALERT_DEADLINE_S = 120


def get_json(url: str, token: str = "", body: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def processes_using(path: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def test_ioc_dev_brings_up_the_wall_with_an_alert_and_stops_cleanly(tmp_path: Path) -> None:
    var = tmp_path / "var"
    config = tmp_path / "ioc.yaml"
    config.write_text(
        f"registry: {Path('config/stations.yaml').resolve()}\n"
        f"web: {{port: {free_port()}}}\n"
        "simulator: {interval_s: 1, backfill_hours: 1, first_episode_after_s: 1, seed: 7}\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "ioc", "dev", "-c", str(config), "--var", str(var)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("IOC_")},
    )
    started = time.monotonic()
    output: list[str] = []
    try:
        assert process.stdout is not None
        wall_url = ""
        for line in process.stdout:
            output.append(line)
            if "wall:" in line:
                wall_url = line.split("wall:")[1].strip()
                break
        assert wall_url.startswith("http://"), "".join(output)
        base = wall_url.removesuffix("/wall")
        with urllib.request.urlopen(wall_url, timeout=5) as page:  # → the login page
            assert page.status == 200 and b"<html" in page.read().lower()
            assert "/login" in page.url
        logins = dict(
            line.split(" ", 1) for line in (var / "dev-logins.txt").read_text().splitlines()
        )
        assert set(logins) >= {"admin", "officer", "operator", "viewer"}
        login = {"username": "viewer", "password": logins["viewer"]}
        token = get_json(f"{base}/api/v1/auth/token", body=login)["token"]

        alerts: list[dict[str, Any]] = []
        while not alerts and time.monotonic() - started < ALERT_DEADLINE_S:
            time.sleep(1)
            alerts = get_json(f"{base}/api/v1/alerts?state=all", token)["alerts"]
        assert alerts, f"no alert within {ALERT_DEADLINE_S}s"
        stations = get_json(f"{base}/api/v1/stations", token)["stations"]
        assert sum(s["status"] in ("ok", "alert") for s in stations) >= 100
        health = get_json(f"{base}/api/v1/health")
        assert health["store"]["written_points"] > 0
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        output.append(rest)
    assert process.returncode == 0, "".join(output)
    assert "[ioc dev] stopped" in "".join(output)
    assert processes_using(var) == []
