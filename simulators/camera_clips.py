"""The scenario's camera clips (:class:`simulators.scenario.CameraClip`) through the camera
analytics the service runs: each frame rendered by :mod:`simulators.cameras`, sent as the
JPEG a camera sends and analysed by a fresh :class:`~analytics.cameras.worker.CameraWorker`
(background model, tracking, occupancy, smoke, health, alarms with their delays), so the
camera families are scored on the real image path, clip by clip.

The ground truth is the scene's own (:class:`simulators.cameras.TrafficTruth`, the plume's
start), by each rule's definition: ``congestion`` while the outbound lanes are jammed, if
for at least the camera's ``congestion_after_s``; ``stopped_vehicle`` while the shoulder car
stands in the no-stopping zone, if for at least ``stopped_after_s``; ``smoke`` from the
plume's start to the clip's end.
"""

from __future__ import annotations

from collections.abc import Sequence

from analytics.cameras.config import CameraConfig, CamerasConfig
from analytics.cameras.worker import CameraWorker
from simulators.cameras import ForestScene, Scene, TrafficScene, encode_jpeg
from simulators.scenario import CameraClip, Episode, RaisedAlert

FOREST_FPS = 2.0  # the demo forest watch's rate (bench_cameras: smoke seen in ~17-19 s)
TRAFFIC_FPS = 10.0
NEVER_S = 1e9


def replay_clip(
    clip: CameraClip, camera: CameraConfig
) -> tuple[list[RaisedAlert], list[Episode], int]:
    """(alerts opened, ground-truth episodes, frames) of one clip."""
    scene: Scene
    if clip.kind == "forest":
        scene = ForestScene(clip.seed, fps=FOREST_FPS, smoke_start_s=clip.smoke_at_s)
    else:
        scene = TrafficScene(
            clip.seed,
            fps=TRAFFIC_FPS,
            night=clip.night,
            jam_first_s=NEVER_S if clip.jam_at_s is None else clip.jam_at_s,
            jam_every_s=NEVER_S,
            jam_s=clip.jam_s,
            stop_at_s=clip.stop_at_s,
            stop_s=clip.stop_s,
        )
    worker = CameraWorker(camera)
    raised: list[RaisedAlert] = []
    frames = 0
    while scene.t < clip.seconds:
        jpeg = encode_jpeg(scene.next_frame())
        ts_ms = clip.start_ms + round(scene.t * 1000)
        out = worker.process_jpeg(jpeg, ts_ms)
        frames += 1
        raised += [
            RaisedAlert(t.rule_id, camera.id, t.ts_ms, t.parameter)
            for t in out.transitions
            if t.firing
        ]
    return raised, _truth(clip, camera, scene), frames


def _truth(clip: CameraClip, camera: CameraConfig, scene: Scene) -> list[Episode]:
    def at(seconds: float) -> int:
        return clip.start_ms + round(min(seconds, clip.seconds) * 1000)

    if isinstance(scene, ForestScene):
        if clip.smoke_at_s is None:
            return []
        return [Episode("smoke", camera.id, "smoke_area_pct", at(clip.smoke_at_s), clip.end_ms)]
    assert isinstance(scene, TrafficScene)
    traffic = camera.traffic
    episodes = [
        Episode("congestion", camera.id, "occupancy_pct", at(a), at(b))
        for a, b in scene.truth.jams
        if a < clip.seconds and min(b, clip.seconds) - a >= traffic.congestion_after_s
    ]
    stop = scene.truth.stop
    if stop is not None and min(stop[1], clip.seconds) - stop[0] >= traffic.stopped_after_s:
        episodes.append(
            Episode("stopped_vehicle", camera.id, "stopped_s", at(stop[0]), at(stop[1]))
        )
    return episodes


def replay_clips(
    clips: Sequence[CameraClip], cameras: CamerasConfig | None = None
) -> tuple[list[RaisedAlert], list[Episode], int]:
    """:func:`replay_clip` of each clip, together."""
    by_id = {c.id: c for c in (cameras or CamerasConfig()).cameras}
    raised: list[RaisedAlert] = []
    episodes: list[Episode] = []
    frames = 0
    for clip in clips:
        alerts, truth, n = replay_clip(clip, by_id[clip.camera])
        raised += alerts
        episodes += truth
        frames += n
    return raised, episodes, frames
