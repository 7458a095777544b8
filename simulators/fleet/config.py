"""Settings of the fleet simulator (its own section; the wiring step plugs it into IocConfig)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ioc.section import Section


class FleetConfig(Section):
    vehicles: int = Field(500, ge=1, le=100_000, description="Number of simulated vehicles.")
    seed: int = Field(2026, description="Random seed: same seed, same fleet and same fixes.")
    moving_interval_s: int = Field(
        30, ge=1, le=30, description="Seconds between fixes while moving (REFERENCE §6: <= 30)."
    )
    stopped_interval_s: int = Field(
        900, ge=30, le=900, description="Seconds between fixes while stopped (<= 15 min)."
    )
    speedup: float = Field(
        1.0, gt=0, description="Simulated seconds per real second when publishing live."
    )
    history_s: int = Field(
        0,
        ge=0,
        le=7 * 86_400,
        description="Live publishing starts this many simulated seconds in the past and "
        "catches up at `speedup`; no fix is ever published before its timestamp.",
    )
    gps_noise_m: float = Field(3.0, ge=0, le=50, description="GPS noise (σ, metres).")
    episodes: bool = Field(True, description="Script the ground-truth episodes.")
    image_every_s: float = Field(
        240.0, ge=0, le=3600, description="A driver image this often while moving; 0 = none."
    )

    @model_validator(mode="after")
    def _cadences(self) -> FleetConfig:
        if self.stopped_interval_s % self.moving_interval_s:
            raise ValueError("stopped_interval_s must be a multiple of moving_interval_s")
        return self
