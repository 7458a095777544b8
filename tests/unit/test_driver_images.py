"""Driver images: the decoder takes real JPEGs of the size the law asks and refuses the rest
with a reason; the store keeps them by time and purges them; the rule finds a vehicle moving
without an image for too long."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from analytics.journeys.images import RULE, DriverImageRule
from ingest.driver_images import DriverImage, DriverImageDecoder, DriverImageStore
from ingest.validate import Origin
from ioc.messages import PositionFix, PositionRejection, RejectReason
from ioc.vehicles_config import DriverImagesConfig

TOPIC = "ioc/v1/vehicles/49B-123.45/images"
NOW = 1_796_450_000_000
MINUTE = 60_000


def picture(width: int = 640, height: int = 480, kind: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(out, kind)
    return out.getvalue()


def message(**body: object) -> bytes:
    return json.dumps(body).encode()


def decode(
    payload: bytes, topic: str = TOPIC
) -> tuple[DriverImage | None, list[PositionRejection]]:
    refused: list[PositionRejection] = []
    decoder = DriverImageDecoder(DriverImagesConfig(directory=Path("unused")))
    return decoder.decode(Origin("mqtt", NOW, payload), topic, refused), refused


def test_a_jpeg_of_the_required_size_is_taken_with_its_tags() -> None:
    jpeg = picture()
    body = message(
        ts=NOW - 5000,
        jpeg=base64.b64encode(jpeg).decode(),
        driver="790123456789",
        lat=11.94,
        lon=108.45,
    )
    image, refused = decode(body)
    assert refused == []
    assert image == DriverImage(
        "49B12345", NOW - 5000, jpeg, 640, 480, "790123456789", 11.94, 108.45
    )


def test_an_image_without_a_time_takes_its_arrival() -> None:
    image, _ = decode(message(jpeg=base64.b64encode(picture()).decode()))
    assert image is not None and image.ts_ms == NOW


def reason_of(payload: bytes, topic: str = TOPIC) -> tuple[RejectReason, str]:
    image, refused = decode(payload, topic)
    assert image is None and len(refused) == 1
    return refused[0].reason, refused[0].detail


def test_bad_images_are_refused_with_their_reason() -> None:
    b64 = base64.b64encode
    assert reason_of(message(jpeg=b64(picture(320, 240)).decode())) == (
        RejectReason.OUT_OF_RANGE,
        "320×240 is smaller than 640×480",
    )
    assert reason_of(message(jpeg=b64(picture(kind="PNG")).decode()))[0] == RejectReason.MALFORMED
    assert reason_of(message(jpeg="not base64!"))[1] == "`jpeg` is not base64"
    assert (
        reason_of(message(jpeg=b64(b"\xff\xd8\xff garbage").decode()))[0] == RejectReason.MALFORMED
    )
    assert reason_of(b"\xff\xd8\xff raw bytes")[1] == "not JSON"
    assert reason_of(message(ts="yesterday", jpeg=b64(picture()).decode()))[0] == (
        RejectReason.BAD_TIMESTAMP
    )
    assert reason_of(b"{}", "ioc/v1/vehicles/NOT A PLATE/images")[0] == RejectReason.INVALID_PLATE


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000) | st.text(max_size=200).map(str.encode))
def test_any_payload_gives_an_image_or_one_reason(payload: bytes) -> None:
    image, refused = decode(payload)
    assert (image is None) == (len(refused) == 1)


def test_the_store_keeps_images_by_time_and_purges_old_ones(tmp_path: Path) -> None:
    store = DriverImageStore(tmp_path, keep_days=92)
    jpeg = picture()
    for ts in (NOW - 100 * 86_400_000, NOW - MINUTE, NOW):
        store.save(DriverImage("49B12345", ts, jpeg, 640, 480))
    assert store.names("49B12345", NOW - MINUTE, NOW + 1) == [NOW - MINUTE, NOW]
    path = store.path("49B12345", f"{NOW}.jpg")
    assert path is not None and path.read_bytes() == jpeg
    assert store.path("49B12345", "../../etc/passwd") is None
    assert store.path("../49B12345", f"{NOW}.jpg") is None
    assert store.purge(NOW) == 1
    assert store.names("49B12345", 0, NOW + 1) == [NOW - MINUTE, NOW]


def test_a_vehicle_moving_without_an_image_is_in_violation_until_its_next_one() -> None:
    rule = DriverImageRule(["49B12345"], max_gap_s=900)
    for vehicle in ("49B12345", "49C99999"):  # only the first must send images
        rule.seen(vehicle, NOW)
    moving = {"49B12345", "49C99999"}
    assert rule.check(NOW + 14 * MINUTE, moving.__contains__) == []
    [late] = rule.check(NOW + 16 * MINUTE, moving.__contains__)
    assert (late.rule_id, late.station_id, late.firing, late.value) == (RULE, "49B12345", True, 960)
    assert rule.check(NOW + 17 * MINUTE, moving.__contains__) == []  # once per episode
    [back] = rule.image("49B12345", NOW + 18 * MINUTE)
    assert (back.firing, back.ts_ms) == (False, NOW + 18 * MINUTE)
    assert rule.check(NOW + 20 * MINUTE, moving.__contains__) == []


def test_a_vehicle_standing_still_needs_no_image() -> None:
    rule = DriverImageRule(["49B12345"], max_gap_s=900)
    rule.seen("49B12345", NOW)
    assert rule.check(NOW + 60 * MINUTE, lambda vehicle: False) == []


def test_a_vehicle_that_need_not_send_images_is_never_in_violation_for_sending_one() -> None:
    rule = DriverImageRule(["49B12345"], max_gap_s=900)
    rule.seen("49C99999", NOW)
    assert rule.image("49C99999", NOW) == []  # a truck sent an image anyway
    assert rule.check(NOW + 60 * MINUTE, lambda vehicle: True) == []


def test_the_clock_of_a_batch_of_fixes_starts_at_each_vehicles_first_fix_as_one_by_one() -> None:
    fixes = [
        PositionFix(vehicle, NOW + k * MINUTE, 10.8, 106.7, 30.0)
        for k, vehicle in enumerate(["49B12345", "49C99999", "49B12345", "49B67890"])
    ]
    batch = DriverImageRule(["49B12345", "49B67890"], max_gap_s=900)
    batch.seen_all(fixes)
    single = DriverImageRule(["49B12345", "49B67890"], max_gap_s=900)
    for fix in fixes:
        single.seen(fix.vehicle, fix.ts_ms)
    moving = {"49B12345", "49C99999", "49B67890"}.__contains__
    at = NOW + 17 * MINUTE  # 49B12345 late since its first fix, 49B67890 (from +3) not yet
    assert [t.station_id for t in batch.check(at, moving)] == ["49B12345"]
    assert [t.station_id for t in single.check(at, moving)] == ["49B12345"]
    assert batch.check(at + 2 * MINUTE, moving)[0].station_id == "49B67890"
