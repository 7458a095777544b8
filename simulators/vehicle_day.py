"""The demo fleet's scripted day (:mod:`simulators.fleet`: speeding in every band, 4 h and
10 h of driving, lost signal while moving and stopped, a truck in a town centre at forbidden
hours, a school zone crossed between two fixes, a GPS jump, a late backlog) through the
journey analytics the service runs: the registry's zones and limits (:mod:`ioc.fleet`), the
journey kernel on each tick's fixes as sent (the backlog late), its clock ``tick`` after each,
the alert transitions (:func:`analytics.journeys.transitions.journey_transitions`) into an
alert book (in memory, on the simulated clock) whose opened alerts are counted. The
simulator's ground truth of violations becomes the scorer's episodes
(:data:`simulators.scenario.VEHICLE_TARGET`); a GPS jump and a backlog are no violation.
"""

from __future__ import annotations

import numpy as np

from alerts.lifecycle import OPENED, AlertBook
from analytics.journeys import JourneyConfig, JourneyKernel, JourneyOutput
from analytics.journeys.transitions import journey_transitions
from ioc.fleet import FleetFile, FleetRegistry
from simulators.fleet import FleetConfig, FleetSimulator, build_registry
from simulators.scenario import VEHICLE_TARGET, Episode, RaisedAlert


def replay_fleet(
    start_ms: int, seconds: int, vehicles: int, seed: int
) -> tuple[list[RaisedAlert], list[Episode], int]:
    """(alerts opened, ground-truth violations, fixes) of ``seconds`` of the fleet's day."""
    config = FleetConfig(vehicles=vehicles, seed=seed)
    simulator = FleetSimulator(config)
    fleet = FleetRegistry(FleetFile.model_validate(build_registry(config)))
    kernel = JourneyKernel(fleet.journey_config(JourneyConfig()), fleet.kernel_vehicles())
    index = {plate: n for n, plate in enumerate(kernel.ids)}
    row = np.array([index[v.id] for v in simulator.vehicles])
    raised: list[RaisedAlert] = []
    fixes = 0
    clock = [start_ms]
    book = AlertBook({}, clock=lambda: clock[0])
    book.subscribe(
        lambda events: raised.extend(
            RaisedAlert(a.rule_id, a.station_id, a.opened_ms, a.parameter, a.incident_id)
            for e, a in events
            if e == OPENED
        )
    )

    def apply(out: JourneyOutput) -> None:
        book.apply(journey_transitions(out))

    try:
        for batch in simulator.run(start_ms, seconds):
            fixes += len(batch.ts_ms)
            if len(batch.ts_ms):
                clock[0] = max(clock[0], int(batch.ts_ms.max()))
            apply(
                kernel.process(
                    row[batch.vehicle],
                    batch.ts_ms,
                    batch.lat,
                    batch.lon,
                    batch.speed,
                    batch.ignition,
                )
            )
            apply(kernel.tick(clock[0]))
        apply(kernel.flush())
    finally:
        book.shutdown()
    truth = [
        Episode(g.kind, g.vehicle, g.band or g.zone or "", g.start_ms, g.end_ms)
        for g in simulator.ground_truth
        if g.kind in VEHICLE_TARGET
    ]
    return raised, truth, fixes
