"""The worker layout's settings, the configuration it takes from the broker, and how the
service follows children that run elsewhere (ioc.config WorkersConfig, ioc.layout_feed,
ioc.workers Supervisor, ``ioc worker``)."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from analytics.config import AnomalyConfig, RuleConfig
from ioc import cli
from ioc.config import (
    AUTO_MIN_CORES,
    AUTO_SPARE_CORES,
    IocConfig,
    WorkersConfig,
    load_config,
)
from ioc.config_store import FLEET_KINDS, ConfigStore
from ioc.layout_feed import Snapshot
from ioc.workers import Supervisor
from tests.factories import REGISTRY_DOC, TEST_RULES


@pytest.mark.parametrize(
    ("cores", "workers"),
    [(1, 0), (2, 0), (AUTO_MIN_CORES - 1, 0), (AUTO_MIN_CORES, AUTO_MIN_CORES - AUTO_SPARE_CORES)],
)
def test_auto_is_one_process_below_the_threshold_and_then_the_spare_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert WorkersConfig().ingest == "auto"
    assert WorkersConfig().ingest_count() == workers


def test_the_children_are_named_partitions_first() -> None:
    layout = WorkersConfig(ingest=2, partitions=3)
    assert layout.child_names() == [
        "analytics-0",
        "analytics-1",
        "analytics-2",
        "ingest-0",
        "ingest-1",
    ]
    assert layout.local_children() == layout.child_names()
    assert WorkersConfig(ingest=0).child_names() == []


def test_run_here_picks_the_children_of_this_machine() -> None:
    layout = WorkersConfig(ingest=2, run_here=["ingest-1", "analytics-0"])
    assert layout.local_children() == ["analytics-0", "ingest-1"]


def test_run_here_can_come_from_the_environment(tmp_path: Any) -> None:
    environ = {"IOC_WORKERS__INGEST": "2", "IOC_WORKERS__RUN_HERE": "ingest-1, analytics-0"}
    layout = load_config(None, environ).workers
    assert layout.local_children() == ["analytics-0", "ingest-1"]


@pytest.mark.parametrize(
    ("run_here", "problem"),
    [
        (["ingest-2"], "no such child ingest-2"),
        (["analytics-5"], "no such child analytics-5"),
        (["camera-0"], "String should match pattern"),
        (["ingest-01"], "String should match pattern"),
    ],
)
def test_run_here_refuses_children_the_layout_does_not_have(
    run_here: list[str], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        WorkersConfig(ingest=2, run_here=run_here)


def test_a_snapshot_comes_back_as_the_same_configuration() -> None:
    memory = sqlite3.connect(":memory:")
    store = ConfigStore(memory)
    store.seed(REGISTRY_DOC, [RuleConfig.model_validate(r) for r in TEST_RULES])
    snapshot = Snapshot.decode(Snapshot.of(store).encode())
    assert snapshot.version == store.version() > 0
    elsewhere = ConfigStore(sqlite3.connect(":memory:"), anomaly=AnomalyConfig())
    rebuilt, here = elsewhere.configuration_of(snapshot.items), store.current()
    assert [s.id for s in rebuilt.registry] == [s.id for s in here.registry]
    assert rebuilt.rules == here.rules
    assert not set(snapshot.items) & set(FLEET_KINDS)  # drivers and vehicles stay home


@given(st.binary(max_size=200))
def test_any_bytes_are_a_snapshot_or_a_value_error(payload: bytes) -> None:
    try:
        snapshot = Snapshot.decode(payload)
    except ValueError:
        return
    assert isinstance(snapshot.version, int) and isinstance(snapshot.items, dict)


@given(
    version=st.none() | st.integers(-(2**63), 2**63 - 1) | st.text() | st.floats(),
    items=st.none()
    | st.lists(st.integers(0, 9))
    | st.dictionaries(st.text(), st.dictionaries(st.text(), st.integers(0, 9))),
)
def test_a_snapshot_needs_an_integer_version_and_a_map_of_items(version: Any, items: Any) -> None:
    payload = orjson.dumps({"version": version, "items": items})
    if isinstance(version, int) and isinstance(items, dict):
        assert Snapshot.decode(payload) == Snapshot(version, items)
    else:
        with pytest.raises(ValueError):
            Snapshot.decode(payload)


def test_the_service_follows_the_children_elsewhere_by_their_status() -> None:
    config = IocConfig.model_validate(
        {"workers": {"ingest": 2, "run_here": ["analytics-0", "analytics-1", "ingest-0"]}}
    )
    supervisor = Supervisor.of(config)
    assert [c.name for c in supervisor.children] == ["analytics-0", "analytics-1", "ingest-0"]
    assert list(supervisor.remote) == ["ingest-1"]
    for child in supervisor.children:
        child.ready = True
    supervisor.note_status("ingest-7", {"ready": True})  # not of this layout: ignored
    assert not supervisor.all_ready.is_set()
    supervisor.note_status("ingest-1", {"ready": True, "counters": {"messages": 5}})
    assert supervisor.all_ready.is_set()
    elsewhere = supervisor.health()[-1]
    assert elsewhere == {
        "name": "ingest-1",
        "elsewhere": True,
        "running": True,
        "ready": True,
        "counters": {"messages": 5},
    }


@pytest.mark.parametrize(
    ("workers", "child", "says"),
    [
        ({"ingest": 0}, "ingest-0", "the layout has no ingest-0; its children: none"),
        ({"ingest": 2}, "ingest-1", "the service starts ingest-1 itself"),
        (
            {"ingest": 2, "run_here": ["analytics-0"]},
            "analytics-2",
            "the layout has no analytics-2",
        ),
    ],
)
def test_ioc_worker_refuses_a_child_that_is_not_its_to_run(
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
    workers: dict[str, Any],
    child: str,
    says: str,
) -> None:
    path = tmp_path / "ioc.yaml"
    path.write_text(orjson.dumps({"workers": workers}).decode())
    assert cli.main(["worker", child, "-c", str(path)]) == 2
    assert says in capsys.readouterr().err
