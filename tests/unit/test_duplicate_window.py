"""The validator's duplicate window: what it remembers per station after a flood, and that it
still refuses what it has seen and forgets what could not be stored."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

from ingest.validate import DEDUP_TIMESTAMPS_PER_STATION, Origin, ReadingValidator
from ioc.config import IngestConfig
from ioc.messages import Rejection, RejectReason
from tests.factories import now_ms, registry

VALUES = {"pm25": 20.0, "pm10": 30.0, "no2": 10.0}


def test_a_flood_leaves_a_small_window_behind(tmp_path: Path) -> None:
    """A flood fills every station's window (4,096 timestamps) and it stays filled: it must be
    small. A set of names per timestamp took ~800 bytes (390 MB for 120 stations)."""
    validator = ReadingValidator(registry(tmp_path), IngestConfig())
    now, rejections = now_ms(), list[Rejection]()
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(DEDUP_TIMESTAMPS_PER_STATION * 2):
            validator.validate(Origin("mqtt", now), "AIR-1", now - i * 1000, VALUES, rejections)
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rejections == []
    assert retained / DEDUP_TIMESTAMPS_PER_STATION < 150  # bytes per remembered timestamp


def test_the_window_refuses_repeats_and_forgets_what_was_not_stored(tmp_path: Path) -> None:
    validator = ReadingValidator(registry(tmp_path), IngestConfig())
    now, rejections = now_ms(), list[Rejection]()
    first = validator.validate(Origin("mqtt", now), "AIR-1", now, VALUES, rejections)
    assert first is not None and first.values == VALUES
    again = validator.validate(Origin("mqtt", now), "AIR-1", now, {"pm25": 20.0}, rejections)
    assert again is None and [r.reason for r in rejections] == [RejectReason.DUPLICATE]
    validator.forget([first])
    rejections.clear()
    retry = validator.validate(Origin("mqtt", now), "AIR-1", now, VALUES, rejections)
    assert retry is not None and retry.values == VALUES and rejections == []
