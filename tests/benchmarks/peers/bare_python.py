"""The bare-Python floor of bench_nodered: the least a Python consumer can do for the job the
Node-RED flow and ``ioc serve`` do there — MQTT readings → InfluxDB 1.x, nothing else.

    paho-mqtt network thread (``loop_start``), QoS 1 subscription to
    ``<prefix>/stations/+/readings`` in a persistent session (clean session off, fixed client
    id) → on_message: ``json.loads``; topic → tag ``station``; ``values`` → fields; ``ts`` →
    timestamp in ms; one line-protocol line appended to a list
    → a flusher thread POSTs the lines to ``/write?db=...&precision=ms`` (http.client, one
    keep-alive connection) whenever 1,000 have accumulated and at least every 0.5 s, in
    writes of at most 1,000 lines (the flow's ``join``: 1,000 points or 0.5 s).

Acknowledgement: paho's default, a PUBACK as soon as on_message has returned, i.e. on
receipt with the line only in this process's memory — as Node-RED's mqtt.js does. What is
in memory when the process dies, or what InfluxDB refuses (logged, dropped, like the flow's
``influxdb batch`` node), is lost. No validation, no duplicate check, no rejections kept.

Prints ``connected`` (one line) on each successful CONNACK, for the harness to time; SIGTERM
or SIGINT: disconnect, write what is left, exit. Run by bench_nodered as

    python tests/benchmarks/peers/bare_python.py --port 1883 --prefix bench/x/ioc/v1 \\
        --client-id bench-floor-x --influx-url http://127.0.0.1:8086 --database bench_x

It imports nothing from the project (its start-up is measured): the batch constants are
passed by the harness, the defaults equal bench_nodered's BATCH_POINTS / BATCH_TIMEOUT_S.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import sys
import threading
import urllib.parse
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

BATCH_POINTS = 1_000  # = bench_nodered.BATCH_POINTS (the harness passes it explicitly)
BATCH_TIMEOUT_S = 0.5  # = bench_nodered.BATCH_TIMEOUT_S
MEASUREMENT = "reading"
_ESCAPE = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\="})  # tag values, keys


def say(text: str) -> None:
    print(text, flush=True)


def to_line(topic: str, payload: bytes | bytearray) -> str:
    """One reading as a line of line protocol (numbers as floats, as the flow writes them)."""
    reading = json.loads(payload)
    station = topic.rsplit("/", 2)[-2].translate(_ESCAPE)
    fields = ",".join(
        f"{key.translate(_ESCAPE)}={_field(value)}" for key, value in reading["values"].items()
    )
    return f"{MEASUREMENT},station={station} {fields} {round(reading['ts'] * 1000)}"


def _field(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value))
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class Writer:
    """The accumulated lines and the thread that POSTs them."""

    def __init__(self, influx_url: str, database: str, batch: int, timeout_s: float) -> None:
        url = urllib.parse.urlsplit(influx_url)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 8086
        query = urllib.parse.urlencode({"db": database, "precision": "ms"})
        self._path = f"/write?{query}"
        self._batch, self._timeout_s = batch, timeout_s
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._full = threading.Event()
        self._stopping = threading.Event()
        self._connection: http.client.HTTPConnection | None = None
        self.received = self.dropped = self.written = self.writes = 0
        self._thread = threading.Thread(target=self._run, name="flusher")

    def start(self) -> None:
        self._thread.start()

    def add(self, topic: str, payload: bytes | bytearray) -> None:
        try:
            line = to_line(topic, payload)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            self.dropped += 1
            say(f"dropped a message on {topic}: {type(exc).__name__}: {exc}")
            return
        with self._lock:
            self._lines.append(line)
            self.received += 1
            if len(self._lines) >= self._batch:
                self._full.set()

    def stop(self) -> None:
        """Write what is left and end the thread."""
        self._stopping.set()
        self._full.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._full.wait(self._timeout_s)
            self._full.clear()
            stopping = self._stopping.is_set()
            with self._lock:
                lines, self._lines = self._lines, []
            for start in range(0, len(lines), self._batch):
                self._post(lines[start : start + self._batch])
            if stopping:
                return

    def _post(self, lines: list[str]) -> None:
        body = "\n".join(lines).encode()
        for attempt in (1, 2):  # once more on a fresh connection if the kept-alive one died
            try:
                if self._connection is None:
                    self._connection = http.client.HTTPConnection(self._host, self._port, 30)
                self._connection.request("POST", self._path, body)
                response = self._connection.getresponse()
                answer = response.read()
            except (OSError, http.client.HTTPException) as exc:
                if self._connection is not None:
                    self._connection.close()
                self._connection = None
                if attempt == 2:
                    say(f"write of {len(lines)} lines failed: {exc}")
                continue
            if response.status == 204:
                self.written += len(lines)
                self.writes += 1
            else:
                say(f"write of {len(lines)} lines refused: {response.status} {answer[:200]!r}")
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="the broker's port")
    parser.add_argument("--prefix", required=True, help="topic prefix, e.g. bench/x/ioc/v1")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--influx-url", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--batch-points", type=int, default=BATCH_POINTS)
    parser.add_argument("--batch-timeout", type=float, default=BATCH_TIMEOUT_S)
    parser.add_argument("--label", default="", help="ignored: names the process for ps")
    args = parser.parse_args(argv)

    writer = Writer(args.influx_url, args.database, args.batch_points, args.batch_timeout)
    topic = f"{args.prefix}/stations/+/readings"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=args.client_id, clean_session=False)

    def on_connect(client: mqtt.Client, _: Any, flags: Any, reason: Any, __: Any) -> None:
        if reason.is_failure:
            say(f"CONNACK refused: {reason}")
            return
        say("connected")
        client.subscribe(topic, qos=1)

    def on_message(_: mqtt.Client, __: Any, message: mqtt.MQTTMessage) -> None:
        writer.add(message.topic, message.payload)

    client.on_connect = on_connect
    client.on_message = on_message
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    writer.start()
    client.connect(args.host, args.port, keepalive=60)
    client.loop_start()
    while not stop.wait(1.0):
        pass
    client.disconnect()
    client.loop_stop()
    writer.stop()
    say(
        f"stopped: {writer.received:,} messages, {writer.written:,} lines written in "
        f"{writer.writes:,} writes, {writer.dropped:,} dropped"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
