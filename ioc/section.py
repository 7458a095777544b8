"""The base of every configuration section (its own module so that section models can live
next to the code they configure without import cycles)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

StationKind = Literal["air", "weather", "stack", "wastewater", "groundwater"]
#: What a groundwater abstraction licence sets per well, which a rule may take as its limit.
LicenceLimit = Literal["max_level_m", "permitted_m3_day"]


class Section(BaseModel):
    """Unknown keys are rejected; a loaded section never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
