"""The fleet simulator: every vehicle advanced along its route at once, one numpy step per
tick (``moving_interval_s`` of simulated time), fixes emitted at the cadence of REFERENCE §6
(every tick while moving, every ``stopped_interval_s`` while stopped), and the scripted
episodes of the ground truth. Deterministic for a seed, start time and duration.

Per tick the only Python-level work is for the dozen scripted vehicles (episode controllers)
and for the fixes of restricted vehicle types near a zone (ground truth of zone events).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, fields

import numpy as np
import numpy.typing as npt

from simulators.fleet.config import FleetConfig
from simulators.fleet.episodes import BANDS, EpisodeKind, GroundTruth
from simulators.fleet.registry import EPISODE_ROLES, ZONES, Vehicle, Zone, build_vehicles
from simulators.fleet.roads import (
    LIMIT_TABLE,
    ROUTE_INDEX,
    VEHICLE_TYPES,
    Network,
    project,
    unproject,
)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

LOCAL_OFFSET_S = 7 * 3600  # Asia/Ho_Chi_Minh
BREAK_S = 15 * 60  # a stop this long ends continuous driving (REFERENCE §6, configuration)
CONTINUOUS_MAX_S = 4 * 3600
DAILY_MAX_S = 10 * 3600
LIMIT_LOOKAHEAD_M = 250.0  # clean drivers slow down this far before a lower limit
CLOSING_HOUR = 23.0  # everyone parks by then
#: Scripted over-speed (km/h over the limit): every fix in (low, peak], one fix at the peak.
SPEEDING_PLANS = {
    "speed-5": (5, 9),
    "speed-10": (10, 18),
    "speed-20": (20, 32),
    "speed-35": (35, 45),
}

NO_BREAK_S = 4 * 3600 + 25 * 60  # the scripted driver skips breaks this long, once a day
# stop kinds
NONE, DWELL, PICKUP, BREAK, PARK, LONG = range(6)


@dataclass(frozen=True, slots=True)
class FixBatch:
    """Columnar fixes sent during one tick, ordered by ``sent_ms``. ``vehicle`` indexes
    ``FleetSimulator.vehicles``; ``batch`` is -1 for a fix sent alone, else the id of the
    backlog (JSON array) it is sent in. ``limit_kmh``, ``jump``, ``true_lat``/``true_lon`` are
    ground truth (the applicable limit at the true position, a GPS jump, the true position),
    not part of the payload."""

    vehicle: I64
    ts_ms: I64
    sent_ms: I64
    lat: F64
    lon: F64
    speed: F64
    heading: F64
    accuracy: F64
    ignition: B
    door: B
    odometer: F64
    batch: I64
    limit_kmh: F64
    jump: B
    true_lat: F64
    true_lon: F64

    def __len__(self) -> int:
        return len(self.vehicle)

    def take(self, index: npt.NDArray[np.intp] | B) -> FixBatch:
        return FixBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(batches: list[FixBatch]) -> FixBatch:
        return FixBatch(
            **{
                f.name: np.concatenate([getattr(b, f.name) for b in batches])
                for f in fields(FixBatch)
            }
        )


@dataclass(slots=True)
class _Scripted:
    role: str
    vehicle: int
    at_s: float
    state: str = "armed"  # armed → active → done
    k: int = 0
    plan: list[float] = field(default_factory=list)
    limit: float = 0.0
    started_ms: int = 0
    until_s: float = 0.0
    last_ms: int = 0
    buffer: list[FixBatch] = field(default_factory=list)


def _local(t_s: float) -> tuple[int, float]:
    local = t_s + LOCAL_OFFSET_S
    return int(local // 86400), (local % 86400) / 3600.0


class FleetSimulator:
    """``run(start_ms, duration_s)`` yields one :class:`FixBatch` per tick; afterwards
    ``ground_truth`` lists the episodes that happened. ``vehicles`` and ``zones`` are the
    registry (fixed by the seed and the vehicle count)."""

    def __init__(self, config: FleetConfig | None = None, seed: int | None = None) -> None:
        self.config = config or FleetConfig()
        self.seed = self.config.seed if seed is None else seed
        self.network = Network()
        self.vehicles: list[Vehicle] = build_vehicles(
            self.config.vehicles, self.seed, self.config.episodes
        )
        self.zones: tuple[Zone, ...] = ZONES
        self.ground_truth: list[GroundTruth] = []
        self.roles = {
            role: i
            for i, (role, _, _) in enumerate(EPISODE_ROLES[: len(self.vehicles)])
            if self.config.episodes
        }

    # ----------------------------------------------------------------------------- set-up
    def _init_state(self, start_s: float) -> None:
        cfg, n, net = self.config, len(self.vehicles), self.network
        rng = self._rng = np.random.default_rng(self.seed)
        self._prng = random.Random(self.seed)
        self.ground_truth = []
        self._vtype = np.array([VEHICLE_TYPES.index(v.type) for v in self.vehicles], np.int64)
        self._route = np.array([ROUTE_INDEX[v.route] for v in self.vehicles], np.int64)
        taxi = self._vtype == VEHICLE_TYPES.index("taxi")
        self._taxi = taxi
        length = net.length[self._route]
        self._s = rng.uniform(0.05, 0.95, n) * length
        self._dir = np.where(rng.random(n) < 0.5, 1.0, -1.0)
        self._fnom = rng.uniform(0.72, 0.9, n)
        self._ar = np.zeros(n)
        self._shift_h = np.where(taxi, rng.uniform(6.0, 8.0, n), rng.uniform(5.0, 7.0, n))
        # a day's driving: the vehicle parks at the terminus where its next leg would exceed
        # ``_budget``, or wherever it is at ``_cap`` (clean vehicles: under 10 h a day)
        self._budget = rng.uniform(5.0, 8.0, n) * 3600
        self._cap = self._budget + 1.5 * 3600
        self._leg_s = length / (self._fnom * 55.0 / 3.6)  # a rough leg duration
        self._cont_max = np.full(n, 3.0 * 3600)
        self._dwell = np.stack([np.full(n, 20.0 * 60), np.full(n, 40.0 * 60)])
        self._odo = rng.uniform(20_000, 300_000, n)  # km
        self._offset_ms = rng.integers(0, cfg.moving_interval_s * 1000, n)
        self._heading = net.heading(net.piece(self._route, self._s), self._dir)
        roles = self.roles
        self._leg_s[list(roles.values())] = 0.0  # scripted vehicles drive on at 09:00
        if "continuous" in roles:  # no breaks for 4 h 25 min, short terminus stops
            v = roles["continuous"]
            self._cont_max[v] = NO_BREAK_S
            self._dwell[:, v] = (5 * 60, 8 * 60)
            self._budget[v] = self._cap[v] = 8 * 3600
            self._leg_s[v] = 0.0
        if "daily" in roles:
            v = roles["daily"]
            self._budget[v] = self._cap[v] = 10 * 3600 + 40 * 60
            self._leg_s[v] = 0.0
        for role in ("intrusion", "crossing"):
            if role in roles:
                self._shift_h[roles[role]] = 6.5
        self._stop_until = np.full(n, -np.inf)
        self._stop_start = np.full(n, -np.inf)
        self._stop_kind = np.zeros(n, np.int64)
        day, hour = _local(start_s)
        idle = (hour < self._shift_h) | (hour >= CLOSING_HOUR)
        self._park(idle, start_s)
        self._stop_start[idle] = start_s - 3600
        self._day = np.full(n, day, np.int64)
        self._day_drive = np.zeros(n)
        self._day_first_ms = np.full(n, -1, np.int64)
        self._cont_start = np.full(n, np.nan)  # sim time of the first moving fix after a break
        self._cont_start_ms = np.full(n, -1, np.int64)
        self._cont_drive = np.zeros(n)
        self._last_fix = np.full(n, -np.inf)
        self._prev_xy = np.full((2, n), np.nan)
        self._prev_ms = np.zeros(n, np.int64)
        self._inside: dict[tuple[int, str], tuple[int, int]] = {}
        self._backlogs = 0
        restricted = [
            np.isin(self._vtype, [VEHICLE_TYPES.index(t) for t in z.vehicle_types])
            for z in self.zones
        ]
        self._restricted = restricted
        self._restricted_any = np.any(restricted, axis=0)
        self._zone_geo = [_ZoneGeometry(z) for z in self.zones]
        self._scripted = self._schedule(start_s)
        if "crossing" in roles:
            zone = next(z for z in self.zones if z.id == "Z-LD-SCHOOL")
            assert zone.centre is not None
            r = int(self._route[roles["crossing"]])
            cx, cy = project(*zone.centre)
            fine = np.linspace(0.0, float(net.length[r]), 20_001)
            x, y, _ = net.position(np.full(fine.size, r), fine)
            self._cross_s = float(fine[np.argmin(np.hypot(x - cx, y - cy))])

    def _schedule(self, start_s: float) -> list[_Scripted]:
        """Episodes armed from the first 09:00-15:00 local window after start."""
        day, hour = _local(start_s)
        if 9.0 <= hour < 14.0:
            base = start_s + 600
        else:
            next_day = day + (1 if hour >= 9.0 else 0)
            base = next_day * 86400 - LOCAL_OFFSET_S + 9 * 3600
        minutes = {
            "speed-5": 0,
            "speed-10": 10,
            "speed-20": 20,
            "speed-35": 30,
            "gap-moving": 15,
            "gap-stopped": 25,
            "jump": 35,
            "backlog": 45,
        }
        return [
            _Scripted(role, self.roles[role], base + m * 60)
            for role, m in minutes.items()
            if role in self.roles
        ]

    def _park(self, mask: B, t: float) -> None:
        """Park until the vehicle's next shift (tomorrow's if it drove today)."""
        if not mask.any():
            return
        day, hour = _local(t)
        shift = self._shift_h[mask]
        today = day * 86400 - LOCAL_OFFSET_S + shift * 3600
        tomorrow = today + 86400
        before_shift = hour < shift
        self._stop_until[mask] = np.where(before_shift, today, tomorrow)
        self._stop_kind[mask] = PARK

    # ------------------------------------------------------------------------------- run
    def run(self, start_ms: int, duration_s: float) -> Iterator[FixBatch]:
        """Fixes from ``start_ms`` for ``duration_s`` simulated seconds, one batch a tick."""
        ticks = int(duration_s // self.config.moving_interval_s)
        return self.ticks(start_ms, ticks)

    def ticks(self, start_ms: int, count: int | None = None) -> Iterator[FixBatch]:
        """Like ``run`` but by tick count; ``None`` = forever (live publishing)."""
        dt = float(self.config.moving_interval_s)
        start_s = start_ms / 1000.0
        self._init_state(start_s)
        k = 0
        while count is None or k < count:
            k += 1
            yield self._tick(start_ms + k * int(dt * 1000), dt)
        self._finish()

    def run_all(self, start_ms: int, duration_s: float) -> FixBatch:
        """Every fix of ``run`` in one batch (offline use, tests)."""
        return FixBatch.concat(list(self.run(start_ms, duration_s)))

    def _tick(self, tick_ms: int, dt: float) -> FixBatch:
        cfg, net, rng = self.config, self.network, self._rng
        n = len(self.vehicles)
        t = tick_ms / 1000.0
        day, hour = _local(t)
        new_day = self._day != day
        if new_day.any():
            self._day[new_day] = day
            self._day_drive[new_day] = 0.0
            self._day_first_ms[new_day] = -1
            if "continuous" in self.roles and new_day[self.roles["continuous"]]:
                self._cont_max[self.roles["continuous"]] = NO_BREAK_S
        ts_ms = tick_ms + self._offset_ms
        moving = self._stop_until <= t - dt
        route, vtype, length = self._route, self._vtype, net.length[self._route]
        # -- speeds: each driver's share of the lowest limit within LIMIT_LOOKAHEAD_M
        here = net.limit(route, self._s, vtype)
        reach = self._dir * (here / 3.6 * dt * 1.2 + LIMIT_LOOKAHEAD_M)
        probes = np.concatenate(
            (self._s + reach, self._s + reach / 2, self._s - self._dir * LIMIT_LOOKAHEAD_M)
        )
        around = net.limit(np.tile(route, 3), probes, np.tile(vtype, 3)).reshape(3, n)
        lim = np.minimum(here, around.min(axis=0))
        rho, sigma = 0.85, 0.04
        self._ar = rho * self._ar + math.sqrt(1 - rho * rho) * sigma * rng.standard_normal(n)
        speed = np.clip(np.round(lim * self._fnom * (1.0 + self._ar)), 5.0, lim + 4.0)
        forced_stop = np.zeros(n, np.int64)  # stop kinds forced by episodes this tick
        forced_dur = np.zeros(n)
        self._control(t, dt, moving, here, speed, forced_stop, forced_dur)
        speed = np.where(moving, speed, 0.0)
        step = speed / 3.6 * dt
        s_new = self._s + self._dir * step
        arrived = moving & ((s_new >= length) | (s_new <= 0.0))
        s_new = np.clip(s_new, 0.0, length)
        step = np.abs(s_new - self._s)
        piece = net.piece(route, s_new)
        self._heading = np.where(moving, net.heading(piece, self._dir), self._heading)
        self._s = s_new
        self._odo += step / 1000.0
        first_moving = moving & np.isnan(self._cont_start)
        self._cont_start[first_moving] = t
        self._cont_start_ms[first_moving] = ts_ms[first_moving]
        first_today = moving & (self._day_first_ms < 0)
        self._day_first_ms[first_today] = ts_ms[first_today]
        self._cont_drive += np.where(moving, dt, 0.0)
        self._day_drive += np.where(moving, dt, 0.0)
        # -- stops decided at the end of the tick (the fix of this tick shows speed 0)
        u = rng.random(n)
        dur = np.zeros(n)
        kind = np.zeros(n, np.int64)
        pickup = moving & self._taxi & (u < dt / 900.0)
        kind[pickup], dur[pickup] = PICKUP, 60.0 + 240.0 * rng.random(int(pickup.sum()))
        self._dir = np.where(arrived, -self._dir, self._dir)
        dwell = self._dwell[0] + (self._dwell[1] - self._dwell[0]) * u
        kind[arrived], dur[arrived] = DWELL, dwell[arrived]
        tired = moving & (t - self._cont_start >= self._cont_max)
        kind[tired], dur[tired] = BREAK, (20.0 + 10.0 * u[tired]) * 60
        forced = forced_stop > 0
        kind[forced], dur[forced] = forced_stop[forced], forced_dur[forced]
        done = moving & (
            (self._day_drive >= self._cap)
            | (hour >= CLOSING_HOUR)
            | (arrived & (self._day_drive + self._leg_s > self._budget))
        )
        stopping = (kind > 0) & ~done
        self._stop_until[stopping] = t + dur[stopping]
        self._stop_kind[stopping] = kind[stopping]
        self._park(done, t)
        stopping |= done
        self._stop_start[stopping] = t
        rest = stopping & ((dur >= BREAK_S) | done)
        if rest.any():
            self._end_driving(rest, done, ts_ms)
        # -- which fixes are sent
        stopped_due = ~moving & (t - self._last_fix >= cfg.stopped_interval_s - 1e-6)
        emit = moving | stopped_due
        reported_speed = np.where(stopping, 0.0, speed)
        batch_of = np.full(n, -1, np.int64)
        self._suppress(t, emit, ts_ms)
        idx = np.flatnonzero(emit)
        x, y = net.point(piece[idx], route[idx], self._s[idx])
        noise = cfg.gps_noise_m
        nx = x + rng.normal(0.0, noise, idx.size) if noise else x
        ny = y + rng.normal(0.0, noise, idx.size) if noise else y
        jump = np.zeros(idx.size, np.bool_)
        self._jumps(idx, nx, ny, jump, ts_ms)
        true_lat, true_lon = unproject(x, y)
        lat, lon = unproject(nx, ny)
        stop_kind = self._stop_kind[idx]
        stopped_now = ~moving[idx] | stopping[idx]
        fixes = FixBatch(
            vehicle=idx.astype(np.int64),
            ts_ms=ts_ms[idx],
            sent_ms=ts_ms[idx].copy(),
            lat=np.round(lat, 6),
            lon=np.round(lon, 6),
            speed=reported_speed[idx],
            heading=np.round(self._heading[idx]),
            accuracy=np.round(rng.uniform(3.0, 8.0, idx.size), 1),
            ignition=~stopped_now | (t - self._stop_start[idx] < 300.0),
            door=stopped_now
            & ((stop_kind == DWELL) | (stop_kind == PICKUP))
            & (vtype[idx] != VEHICLE_TYPES.index("truck")),
            odometer=np.round(self._odo[idx], 1),
            batch=batch_of[idx],
            limit_kmh=LIMIT_TABLE[net.cls[piece[idx]], vtype[idx]],
            jump=jump,
            true_lat=true_lat,
            true_lon=true_lon,
        )
        self._last_fix[idx] = t
        self._zones(fixes, nx, ny)
        return self._backlog(t, fixes)

    # ------------------------------------------------------------------ episode machinery
    def _end_driving(self, rest: B, park: B, ts_ms: I64) -> None:
        for v in np.flatnonzero(rest):
            elapsed_ms = int(ts_ms[v] - self._cont_start_ms[v])
            if self._cont_start_ms[v] >= 0 and elapsed_ms > CONTINUOUS_MAX_S * 1000:
                self.ground_truth.append(
                    GroundTruth(
                        "continuous_driving",
                        self.vehicles[v].id,
                        int(self._cont_start_ms[v]),
                        int(ts_ms[v]),
                        driving_s=float(self._cont_drive[v]),
                    )
                )
                self._cont_max[v] = 3.0 * 3600  # one violation a day is enough
            if park[v] and self._day_drive[v] > DAILY_MAX_S:
                self.ground_truth.append(
                    GroundTruth(
                        "daily_driving",
                        self.vehicles[v].id,
                        int(self._day_first_ms[v]),
                        int(ts_ms[v]),
                        driving_s=float(self._day_drive[v]),
                    )
                )
        self._cont_start[rest] = np.nan
        self._cont_start_ms[rest] = -1
        self._cont_drive[rest] = 0.0

    def _control(
        self,
        t: float,
        dt: float,
        moving: B,
        here: F64,
        speed: F64,
        forced_stop: I64,
        forced_dur: F64,
    ) -> None:
        """Speeds and stops of the scripted vehicles for this tick."""
        net = self.network
        if "crossing" in self.roles:
            v = self.roles["crossing"]
            nominal = round(0.6 * here[v])
            speed[v] = nominal
            step = nominal / 3.6 * dt
            gap = (self._cross_s - self._s[v]) * self._dir[v]
            if moving[v] and step < gap <= 2 * step:
                speed[v] = (gap - step / 2) * 3.6 / dt  # the fix lands step/2 before the zone
        for ep in self._scripted:
            v = ep.vehicle
            if ep.state == "done" or t < ep.at_s:
                continue
            if ep.role.startswith("speed-"):
                if ep.state == "armed" and moving[v]:
                    low, peak = SPEEDING_PLANS[ep.role]
                    duration = 60.0 * (3 + self._prng.randrange(4))
                    fixes = int(duration // dt)
                    behind, ahead = net.uniform_run(
                        int(self._route[v]),
                        float(self._s[v]),
                        int(self._dir[v]),
                        int(self._vtype[v]),
                    )
                    need = (here[v] + peak) / 3.6 * (fixes + 1) * dt + 300.0
                    ok = behind > 150.0 and ahead > need
                    if ok and self._drives_on(v, t, dt, duration, need):
                        plan = [
                            float(self._prng.randint(int(low) + 1, int(peak))) for _ in range(fixes)
                        ]
                        plan[self._prng.randrange(fixes)] = peak
                        ep.state, ep.plan, ep.limit, ep.k = "active", plan, float(here[v]), 0
                if ep.state == "active":
                    speed[v] = ep.limit + ep.plan[ep.k]
                    if ep.k == 0:
                        ep.started_ms = self._fix_ms(v, t)
                    ep.last_ms = self._fix_ms(v, t)
                    ep.k += 1
                    if ep.k == len(ep.plan):
                        ep.state = "done"
                        self._record_speeding(ep, self._fix_ms(v, t))
            elif ep.role == "gap-stopped" and ep.state == "armed" and moving[v]:
                forced_stop[v], forced_dur[v] = LONG, 3600.0
                ep.state, ep.until_s = "active", t + 40 * 60
                ep.started_ms = self._fix_ms(v, t)
            elif ep.role in ("gap-moving", "backlog", "jump") and ep.state == "armed" and moving[v]:
                duration = 5 * 60 if ep.role == "gap-moving" else 10 * 60
                if self._drives_on(v, t, dt, duration, here[v] / 3.6 * (duration + dt) + 300):
                    ep.state = "active"
                    ep.until_s = t + duration
                    ep.started_ms = self._fix_ms(v, t)

    def _drives_on(self, v: int, t: float, dt: float, duration: float, distance: float) -> bool:
        """Whether vehicle ``v`` will keep driving for ``duration`` (no terminus within
        ``distance``, no break, day's end or closing hour due)."""
        to_end = (
            self._s[v] if self._dir[v] < 0 else self.network.length[self._route[v]] - self._s[v]
        )
        _, hour = _local(t)
        return bool(
            to_end > distance
            and t - self._cont_start[v] + duration < self._cont_max[v] - dt
            and self._day_drive[v] + duration < self._cap[v] - dt
            and hour + duration / 3600 < CLOSING_HOUR
        )

    def _fix_ms(self, v: int, t: float) -> int:
        return round(t * 1000) + int(self._offset_ms[v])

    def _record_speeding(self, ep: _Scripted, end_ms: int) -> None:
        top = max(ep.plan)
        band = next(b for b, lo, hi in BANDS if lo < min(ep.plan) and top <= hi)
        self.ground_truth.append(
            GroundTruth(
                "speeding",
                self.vehicles[ep.vehicle].id,
                ep.started_ms,
                end_ms,
                band=band,
                peak_kmh=ep.limit + top,
                limit_kmh=ep.limit,
            )
        )

    def _suppress(self, t: float, emit: B, ts_ms: I64) -> None:
        """Lost signal: gap episodes drop fixes after their start fix."""
        for ep in self._scripted:
            if ep.state != "active" or not ep.role.startswith("gap-"):
                continue
            v = ep.vehicle
            if ep.started_ms == self._fix_ms(v, t):
                emit[v] = True  # the last fix before the gap
            elif t <= ep.until_s:
                emit[v] = False
            elif emit[v]:
                kind: EpisodeKind = "gap_moving" if ep.role == "gap-moving" else "gap_stopped"
                self.ground_truth.append(
                    GroundTruth(kind, self.vehicles[v].id, ep.started_ms, int(ts_ms[v]))
                )
                ep.state = "done"

    def _jumps(self, idx: I64, x: F64, y: F64, jump: B, ts_ms: I64) -> None:
        for ep in self._scripted:
            if ep.role != "jump" or ep.state != "active":
                continue
            where = np.flatnonzero(idx == ep.vehicle)
            if not where.size:
                continue
            k = int(where[0])
            distance = self._prng.uniform(25_000.0, 40_000.0)
            angle = self._prng.uniform(0.0, 2 * math.pi)
            x[k] += distance * math.sin(angle)
            y[k] += distance * math.cos(angle)
            jump[k] = True
            self.ground_truth.append(
                GroundTruth(
                    "gps_jump",
                    self.vehicles[ep.vehicle].id,
                    int(ts_ms[ep.vehicle]),
                    int(ts_ms[ep.vehicle]),
                    displacement_m=round(distance, 1),
                )
            )
            ep.state = "done"

    def _backlog(self, t: float, fixes: FixBatch) -> FixBatch:
        for ep in self._scripted:
            if ep.role != "backlog" or ep.state != "active":
                continue
            mine = fixes.vehicle == ep.vehicle
            if t < ep.until_s:
                ep.buffer.append(fixes.take(mine))
                fixes = fixes.take(~mine)
                continue
            held = FixBatch.concat(ep.buffer)
            if len(held):
                sent = int(fixes.ts_ms[mine][0]) if mine.any() else self._fix_ms(ep.vehicle, t)
                batch_id = self._backlogs
                self._backlogs += 1
                held = FixBatch(
                    **{
                        **{f.name: getattr(held, f.name) for f in fields(FixBatch)},
                        "sent_ms": np.full(len(held), sent, np.int64),
                        "batch": np.full(len(held), batch_id, np.int64),
                    }
                )
                self.ground_truth.append(
                    GroundTruth(
                        "backlog",
                        self.vehicles[ep.vehicle].id,
                        int(held.ts_ms[0]),
                        int(held.ts_ms[-1]),
                        sent_ms=sent,
                        count=len(held),
                    )
                )
                fixes = FixBatch.concat([held, fixes])
            ep.state = "done"
        order = np.argsort(fixes.sent_ms, kind="stable")
        return fixes.take(order)

    def _zones(self, fixes: FixBatch, x: F64, y: F64) -> None:
        """Ground truth of zone events, from the reported positions of restricted vehicles."""
        cand = np.flatnonzero(self._restricted_any[fixes.vehicle] & ~fixes.jump)
        if not cand.size:
            return
        vs = fixes.vehicle[cand]
        px, py = self._prev_xy[0, vs], self._prev_xy[1, vs]
        cx, cy = x[cand], y[cand]
        ts = fixes.ts_ms[cand]
        for zone, geo, restricted in zip(self.zones, self._zone_geo, self._restricted, strict=True):
            near = geo.near(cx, cy, px, py) & restricted[vs]
            for k in np.flatnonzero(near):
                v, now = int(vs[k]), int(ts[k])
                hour = _local(now / 1000.0)[1]
                key = (v, zone.id)
                inside = geo.contains(float(cx[k]), float(cy[k]))
                if inside and zone.forbidden_at(hour):
                    first, _ = self._inside.get(key, (now, now))
                    self._inside[key] = (first, now)
                    continue
                self._close_intrusion(key)
                was_in = not math.isnan(px[k]) and geo.contains(float(px[k]), float(py[k]))
                mid_hour = _local((now + int(self._prev_ms[v])) / 2000.0)[1]
                if (
                    not inside
                    and not was_in
                    and not math.isnan(px[k])
                    and zone.forbidden_at(mid_hour)
                    and geo.crosses(float(px[k]), float(py[k]), float(cx[k]), float(cy[k]))
                ):
                    self.ground_truth.append(
                        GroundTruth(
                            "zone_crossing",
                            self.vehicles[v].id,
                            int(self._prev_ms[v]),
                            now,
                            zone=zone.id,
                        )
                    )
        self._prev_xy[0, vs], self._prev_xy[1, vs] = cx, cy
        self._prev_ms[vs] = ts

    def _close_intrusion(self, key: tuple[int, str]) -> None:
        span = self._inside.pop(key, None)
        if span is not None:
            self.ground_truth.append(
                GroundTruth(
                    "zone_intrusion", self.vehicles[key[0]].id, span[0], span[1], zone=key[1]
                )
            )

    def _finish(self) -> None:
        for key in list(self._inside):
            self._close_intrusion(key)
        for ep in self._scripted:
            if ep.state == "active" and ep.role.startswith("speed-") and ep.k:
                ep.plan = ep.plan[: ep.k]
                self._record_speeding(ep, ep.last_ms or ep.started_ms)
        self.ground_truth.sort(key=lambda g: (g.start_ms, g.vehicle, g.kind))


class _ZoneGeometry:
    """A zone in projected metres: containment, and whether a segment crosses it."""

    def __init__(self, zone: Zone) -> None:
        self.circle = zone.shape == "circle"
        if self.circle:
            assert zone.centre is not None and zone.radius_m is not None
            cx, cy = project(*zone.centre)
            self.cx, self.cy, self.r = float(cx), float(cy), float(zone.radius_m)
            self.box = (self.cx - self.r, self.cy - self.r, self.cx + self.r, self.cy + self.r)
        else:
            lat = np.array([p[0] for p in zone.polygon])
            lon = np.array([p[1] for p in zone.polygon])
            self.px, self.py = project(lat, lon)
            self.box = (
                float(self.px.min()),
                float(self.py.min()),
                float(self.px.max()),
                float(self.py.max()),
            )

    def near(self, x: F64, y: F64, px: F64, py: F64) -> B:
        """Fixes whose segment from the previous fix may touch the zone (bounding boxes)."""
        x0, y0, x1, y1 = self.box
        px = np.where(np.isnan(px), x, px)
        py = np.where(np.isnan(py), y, py)
        result: B = (
            (np.maximum(x, px) >= x0)
            & (np.minimum(x, px) <= x1)
            & (np.maximum(y, py) >= y0)
            & (np.minimum(y, py) <= y1)
        )
        return result

    def contains(self, x: float, y: float) -> bool:
        if self.circle:
            return math.hypot(x - self.cx, y - self.cy) <= self.r
        inside = False
        xs, ys = self.px, self.py
        j = len(xs) - 1
        for i in range(len(xs)):
            if (ys[i] > y) != (ys[j] > y):
                cross = xs[i] + (y - ys[i]) * (xs[j] - xs[i]) / (ys[j] - ys[i])
                if x < cross:
                    inside = not inside
            j = i
        return inside

    def crosses(self, ax: float, ay: float, bx: float, by: float) -> bool:
        if self.circle:
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy
            u = (
                0.0
                if length2 == 0
                else max(0.0, min(1.0, ((self.cx - ax) * dx + (self.cy - ay) * dy) / length2))
            )
            return math.hypot(ax + u * dx - self.cx, ay + u * dy - self.cy) <= self.r
        return any(
            self.contains(ax + (bx - ax) * f, ay + (by - ay) * f) for f in np.linspace(0, 1, 41)
        )
