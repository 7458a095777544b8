"""The driver-image rule (Decree 10/2020): a vehicle that must send driver images (passenger
vehicles of 8 seats or more, tractor units) and is moving with no image for ``max_gap_s`` is
in violation (``journey.no_driver_image``) until its next image comes.

The clock of an image is its own time; the clock of "no image" starts at the vehicle's last
image, or at its first fix when none came since the service started."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ioc.messages import PositionFix, RuleTransition, Severity

RULE = "journey.no_driver_image"


class DriverImageRule:
    def __init__(self, required: Iterable[str], max_gap_s: float) -> None:
        self._required = set(required)
        self._max_gap_ms = int(max_gap_s * 1000)
        self._since: dict[str, int] = {}  # vehicle → its last image (or first fix) time
        self._alerted: set[str] = set()

    def carry_over(self, previous: DriverImageRule) -> None:
        """Take over the clocks of ``previous`` (the rule before a registry change) for the
        vehicles that must still send images: a vehicle's time without an image and its open
        violation go on. A vehicle removed, or no longer of a type that must send images, is
        forgotten (an open alert of it stays open for the officer to close, or until its next
        image); a vehicle newly required starts its clock at its next fix."""
        self._since.update(
            (vehicle, since)
            for vehicle, since in previous._since.items()
            if vehicle in self._required
        )
        self._alerted.update(previous._alerted & self._required)

    def seen(self, vehicle: str, ts_ms: int) -> None:
        """A fix of ``vehicle``: the clock starts at its first one."""
        if vehicle in self._required:
            self._since.setdefault(vehicle, ts_ms)

    def seen_all(self, fixes: Iterable[PositionFix]) -> None:
        """:meth:`seen` for each of ``fixes``, in their order (one call for a batch)."""
        required, since = self._required, self._since
        for fix in fixes:
            vehicle = fix.vehicle
            if vehicle in required and vehicle not in since:
                since[vehicle] = fix.ts_ms

    def image(self, vehicle: str, ts_ms: int) -> list[RuleTransition]:
        """An image of ``vehicle``: the clock restarts, an open violation is resolved. An
        image of a vehicle that need not send any starts no clock."""
        if vehicle in self._required:
            self._since[vehicle] = max(ts_ms, self._since.get(vehicle, ts_ms))
        if vehicle not in self._alerted:
            return []
        self._alerted.discard(vehicle)
        return [RuleTransition(RULE, vehicle, "image_gap_s", False, 0.0, 0.0, ts_ms)]

    def check(self, now_ms: int, moving: Callable[[str], bool]) -> list[RuleTransition]:
        """Violations of the vehicles moving now without an image for too long."""
        found = []
        for vehicle, since in self._since.items():
            late_s = (now_ms - since) / 1000
            if (
                vehicle not in self._alerted
                and late_s * 1000 > self._max_gap_ms
                and moving(vehicle)
            ):
                self._alerted.add(vehicle)
                limit = self._max_gap_ms / 1000
                found.append(
                    RuleTransition(
                        RULE, vehicle, "image_gap_s", True, late_s, limit, now_ms, Severity.WARNING
                    )
                )
        return found
