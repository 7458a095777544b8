"""The figures and report lines of bench_nodered (no broker: synthetic runs), and the
bare-Python floor's line protocol."""

from __future__ import annotations

import importlib.util
import sys

from tests.benchmarks.bench_nodered import (
    BARE_PYTHON,
    BATCH_POINTS,
    BATCH_TIMEOUT_S,
    NodeRedResult,
    SideRun,
    format_result,
)
from tests.benchmarks.bench_report import nodered_section


def _run(side: str, rate: float, cpu_us: float) -> SideRun:
    stored = 30_000
    return SideRun(
        side=side,
        queued=stored,
        stored=stored,
        lost=0,
        spawned_at=1000.0,
        connected_at=1001.0,
        written_at=1001.0 + stored / rate,
        logged_connected_at=1001.0,
        cpu_since_spawn_s=0.5 + cpu_us * stored / 1e6,
        cpu_at_connect_s=0.5,
        cpu_percent={side: 90.0, "mosquitto": 30.0, "other": 1.0},
    )


def _result(with_floor: bool = True) -> NodeRedResult:
    return NodeRedResult(
        ours=[_run("ours", 10_000, 100)],
        peer=[_run("node-red", 5_000, 200)],
        floor=[_run("floor", 20_000, 40)] if with_floor else [],
        versions={"node-red": "4.0.0"},
        backlog=30_000,
    )


def test_floor_figures() -> None:
    figures = _result().figures()
    assert round(figures["floor_msg_per_s"]) == 20_000
    assert round(figures["floor_cpu_us_per_message"]) == 40
    assert round(figures["ratio_ours_over_floor"], 2) == 0.5
    assert round(figures["cpu_ratio_floor_over_ours"], 2) == 0.4
    assert round(figures["ratio_ours_over_node_red"], 2) == 2.0


def test_no_floor_no_floor_figures() -> None:
    figures = _result(with_floor=False).figures()
    assert not [name for name in figures if "floor" in name]
    assert "bare Python floor" not in format_result(_result(with_floor=False))


def test_floor_line_and_report() -> None:
    text = format_result(_result())
    assert "bare Python floor" in text and "20,000 msg/s" in text and "0.50×" in text
    section = "\n".join(nodered_section(_result()))
    assert "bare Python floor, median" in section
    assert "Ours ÷ the bare-Python floor: 0.50×" in section


def test_bare_python_line_protocol_and_constants() -> None:
    spec = importlib.util.spec_from_file_location("bare_python", BARE_PYTHON)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bare_python"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["bare_python"]
    assert (module.BATCH_POINTS, module.BATCH_TIMEOUT_S) == (BATCH_POINTS, BATCH_TIMEOUT_S)
    payload = b'{"ts":1700000000.123,"values":{"pm25":12.3,"co":1,"note":"a \\"b\\"","ok":true}}'
    line = module.to_line("bench/x/ioc/v1/stations/AQ 1/readings", payload)
    assert line == (
        'reading,station=AQ\\ 1 pm25=12.3,co=1.0,note="a \\"b\\"",ok=true 1700000000123'
    )


def test_the_middle_span_leaves_start_up_and_the_last_write_out() -> None:
    from tests.benchmarks.bench_stack import StoredSample, middle_span

    samples = [
        StoredSample(100.0, 0, 0.0),  # the consumer not started yet
        StoredSample(101.0, 0, 1.0),  # starting up: CPU, nothing stored
        StoredSample(101.5, 1_500, 1.1),  # 10 % first reached here
        StoredSample(102.0, 6_000, 1.3),
        StoredSample(102.5, 13_500, 1.5),  # 90 %
        StoredSample(104.0, 15_000, 1.6),  # the last write, long after
    ]
    rate, cpu_us = middle_span(samples, 15_000)
    assert rate == 12_000 / 1.0 and round(cpu_us, 3) == round(1e6 * 0.4 / 12_000, 3)
    assert middle_span(samples[:3], 15_000) == (0.0, 0.0)  # 90 % never seen
