"""The journey rules against the fleet simulator's ground truth: a day of the demo province's
fleet (scripted speeding in every band, 4 h and 10 h driving, lost signal while moving and
stopped, a truck in a town centre at forbidden hours, a school zone crossed between two fixes,
a GPS jump, a late backlog) through the registry's zones and limits (ioc.fleet) and the
kernel, as the service runs them. Every scripted violation is found with its band and times;
clean vehicles and the GPS jump give none."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from analytics.journeys import JourneyConfig, JourneyKernel, JourneyOutput
from ioc.clock import LOCAL_TZ
from ioc.fleet import FleetFile, FleetRegistry
from simulators.fleet import FleetConfig, FleetSimulator, GroundTruth, build_registry

MINUTE_MS = 60_000


@pytest.fixture(scope="module")
def day() -> tuple[list[GroundTruth], JourneyOutput]:
    config = FleetConfig(vehicles=60, seed=2026)
    simulator = FleetSimulator(config)
    fleet = FleetRegistry(FleetFile.model_validate(build_registry(config)))
    kernel = JourneyKernel(fleet.journey_config(JourneyConfig()), fleet.kernel_vehicles())
    index = {plate: n for n, plate in enumerate(kernel.ids)}
    row = np.array([index[v.id] for v in simulator.vehicles])
    start = int(datetime(2026, 12, 7, tzinfo=LOCAL_TZ).timestamp() * 1000)
    found = JourneyOutput()
    for batch in simulator.run(start, 86_400):  # as sent: a tick's fixes, the backlog late
        out = kernel.process(
            row[batch.vehicle], batch.ts_ms, batch.lat, batch.lon, batch.speed, batch.ignition
        )
        _extend(found, out)
    _extend(found, kernel.flush())
    return simulator.ground_truth, found


def _extend(into: JourneyOutput, out: JourneyOutput) -> None:
    for name in ("speeding", "driving", "signal", "zone_violations"):
        getattr(into, name).extend(getattr(out, name))


def truth(day: tuple[list[GroundTruth], JourneyOutput], kind: str) -> list[GroundTruth]:
    found = [g for g in day[0] if g.kind == kind]
    assert found, f"the simulator scripted no {kind}"
    return found


def test_every_speeding_episode_is_found_with_its_band_and_times(
    day: tuple[list[GroundTruth], JourneyOutput],
) -> None:
    scripted = truth(day, "speeding")
    expected = sorted((g.vehicle, g.band, g.start_ms, g.end_ms, g.peak_kmh) for g in scripted)
    found = sorted((s.vehicle, s.band, s.start_ms, s.end_ms, s.peak_kmh) for s in day[1].speeding)
    assert found == expected
    assert {g.band for g in scripted} == {"5-10", "10-20", "20-35", ">35"}


def test_a_gps_jump_is_no_speeding(day: tuple[list[GroundTruth], JourneyOutput]) -> None:
    jumped = {g.vehicle for g in truth(day, "gps_jump")}
    assert not jumped & {s.vehicle for s in day[1].speeding}


def test_driving_time_violations_are_the_scripted_ones(
    day: tuple[list[GroundTruth], JourneyOutput],
) -> None:
    for kind, rule in (("continuous_driving", "continuous"), ("daily_driving", "daily")):
        scripted = truth(day, kind)
        violations = [d for d in day[1].driving if d.rule == rule and d.kind == "violation"]
        assert {d.vehicle for d in violations} == {g.vehicle for g in scripted}, kind
        for g in scripted:
            at = [d.at_ms for d in violations if d.vehicle == g.vehicle]
            assert at and all(g.start_ms < t <= g.end_ms for t in at), (kind, g, at)
        warned = {d.vehicle for d in day[1].driving if d.rule == rule and d.kind == "warning"}
        assert warned == {g.vehicle for g in scripted}, f"{kind}: warned before"


def test_lost_signal_while_moving_and_while_stopped(
    day: tuple[list[GroundTruth], JourneyOutput],
) -> None:
    found = {(s.vehicle, s.last_ms, s.restored_ms, s.moving) for s in day[1].signal}
    for kind, moving in (("gap_moving", True), ("gap_stopped", False)):
        for g in truth(day, kind):
            assert (g.vehicle, g.start_ms, g.end_ms, moving) in found, (kind, g)
    scripted = {g.vehicle for g in day[0] if g.kind.startswith("gap_")}
    assert {s.vehicle for s in day[1].signal} == scripted


def test_restricted_zones_inside_and_crossed_between_fixes(
    day: tuple[list[GroundTruth], JourneyOutput],
) -> None:
    violations = day[1].zone_violations
    for kind in ("zone_intrusion", "zone_crossing"):
        for g in truth(day, kind):
            at = [
                v.at_ms
                for v in violations
                if (v.vehicle, v.zone) == (g.vehicle, g.zone)
                and g.start_ms - MINUTE_MS <= v.at_ms <= g.end_ms
            ]
            assert len(at) == 1, (kind, g, at)
    scripted = [g for g in day[0] if g.kind in ("zone_intrusion", "zone_crossing")]
    assert len(violations) == len(scripted)
