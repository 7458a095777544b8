"""Units as regulations and station loggers write them, converted to the registry's unit.

Parsing and conversion are ``pint``'s; this module only teaches it the spellings of the trade
(``µg/Nm³``, ``ug/Nm3``, ``oC``, ``-`` for pH, ``Pt-Co``, ``MPN/100mL``, ``ppb``) and caches the
result per (parameter, unit sent, registry unit), so the hot path pays a dict lookup and one
multiply-add per value, never a pint call.

- ``Nm³`` (normal cubic metre) is the cubic metre at the reference conditions: QCVN limits are
  printed per Nm³ and the registry's ``ug/m3`` means the same, so the two are one unit.
- ``ppm``/``ppb`` of a gas become a mass concentration at the reference conditions
  (``ReferenceConditions``: configuration, see docs/protocol.md) with the gas's molar mass.
- pH, turbidity (NTU), colour (Pt-Co) and bacteria counts (MPN) are their own dimensions: no
  other unit converts to them. pH may be sent as ``pH``, ``-`` or a blank unit.
- Every conversion pint knows is affine (``°C → °F`` too), so a conversion is kept as a
  ``scale`` and an ``offset``.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ioc.registry import normalize_unit

if TYPE_CHECKING:
    import pint

    Quantity = pint.Quantity[Any]

MAX_UNIT_CHARS = 40  # a longer "unit" is refused without parsing it
MAX_CACHED = 4_096  # conversions remembered; past that, unusual units are worked out each time
# Working a unit out through pint costs ~250 µs (a cached one ~0.2 µs): new units are worked
# out at most this many at once, then this many a second, so that a flood of made-up units is
# refused cheaply instead of costing a thousand times a real one.
NEW_UNITS_BURST = 200
NEW_UNITS_PER_S = 20.0


@functools.cache
def _registry() -> pint.UnitRegistry[Any]:
    """pint's registry with the trade's units, made when a unit is first worked out: importing
    pint costs ~0.5 s, which a start (and an ingest worker's) does not need to pay."""
    import pint

    registry: pint.UnitRegistry[Any] = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    registry.define("pH_value = [acidity] = pH")
    registry.define("nephelometric_turbidity_unit = [turbidity] = NTU")
    registry.define("platinum_cobalt_unit = [colour] = Pt_Co")
    registry.define("most_probable_number = [bacteria] = MPN")
    registry.define("ppb = 1e-9")
    return registry


# Whole spellings (lower-cased) that pint cannot read as they are.
_SPELLINGS = {
    "": "pH",
    "-": "pH",
    "ph": "pH",
    "c": "degC",
    "oc": "degC",
    "°c": "degC",
    "ºc": "degC",
    "degc": "degC",
    "deg c": "degC",
    "of": "degF",
    "°f": "degF",
    "k": "K",
    "ntu": "NTU",
    "pt-co": "Pt_Co",
    "pt/co": "Pt_Co",
    "ptco": "Pt_Co",
    "mg/l pt-co": "Pt_Co",
    "mg/l pt": "Pt_Co",
}
_NORMAL_CUBIC = re.compile(r"(?<![A-Za-z])N\s*m(?=3|\*\*3)", re.IGNORECASE)  # Nm3 → m3
_POWER = re.compile(r"(?<=[A-Za-z])([23])(?![\d.])")  # m3 → m**3
_PER_SCALED = re.compile(r"/\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)")  # /100mL → /(100 mL)


@dataclass(frozen=True, slots=True)
class ReferenceConditions:
    """Temperature and pressure at which a gas's volume fraction becomes a concentration."""

    temperature_c: float = 25.0
    pressure_kpa: float = 101.325


@dataclass(frozen=True, slots=True)
class Conversion:
    """``value * scale + offset`` is the value in the registry's unit."""

    scale: float
    offset: float

    @property
    def identity(self) -> bool:
        return self.scale == 1.0 and self.offset == 0.0

    def apply(self, value: float) -> float:
        return value * self.scale + self.offset


IDENTITY = Conversion(1.0, 0.0)


class UnitRefused(Exception):
    """The unit sent cannot be read, or cannot become the registry's unit; says why."""


class UnitConverter:
    def __init__(
        self,
        reference: ReferenceConditions,
        molar_masses_g_mol: Mapping[str, float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reference = reference
        self._molar_masses = dict(molar_masses_g_mol)
        self._cache: dict[tuple[str, str, str], Conversion | UnitRefused] = {}
        self._clock = clock
        self._budget = float(NEW_UNITS_BURST)
        self._budget_at = clock()

    def conversion(self, parameter: str, sent: str, target: str) -> Conversion:
        """How a value of ``parameter`` sent in ``sent`` becomes one in ``target`` (the
        registry's unit); raises :class:`UnitRefused` with the reason."""
        key = (parameter, sent, target)
        known = self._cache.get(key)
        if known is None:
            if normalize_unit(sent) == normalize_unit(target):  # "µg/m³" for "ug/m3": no pint
                return IDENTITY
            if not self._spend_budget():
                raise UnitRefused(
                    "a unit not seen before, while too many new units arrive (sent again later, "
                    "it is worked out)"
                )
            try:
                known = self._work_out(parameter, sent, target)
            except UnitRefused as refusal:
                known = refusal
            if len(self._cache) < MAX_CACHED:
                self._cache[key] = known
        if isinstance(known, UnitRefused):
            raise known
        return known

    def _spend_budget(self) -> bool:
        now = self._clock()
        refilled = self._budget + (now - self._budget_at) * NEW_UNITS_PER_S
        self._budget, self._budget_at = min(float(NEW_UNITS_BURST), refilled), now
        if self._budget < 1:
            return False
        self._budget -= 1
        return True

    def _work_out(self, parameter: str, sent: str, target: str) -> Conversion:
        if len(sent) > MAX_UNIT_CHARS:
            raise UnitRefused(f"not a unit ({len(sent)} characters)")
        try:
            wanted = parse_unit(target)
        except UnitRefused:
            raise UnitRefused(f"the registry's unit {target!r} is not one pint reads") from None
        given = parse_unit(sent)
        if given.dimensionless and wanted.check("[mass]/[length]**3"):
            if parameter not in self._molar_masses:
                raise UnitRefused(
                    f"a volume fraction, and {parameter} has no molar mass to convert it with "
                    "(ingest.gas_molar_masses_g_mol)"
                )
            given = self._as_mass_concentration(parameter, given)
        import pint  # loaded by parse_unit already

        try:
            at_zero = float(given.__class__(0 * given.magnitude, given.units).to(wanted.units).m)
            at_one = float(given.to(wanted.units).m)
        except pint.DimensionalityError:
            if sent.strip() in ("", "-"):
                raise UnitRefused("no unit given (a blank or '-' is pH's unit only)") from None
            raise UnitRefused("another kind of quantity") from None
        # 12 significant digits: pint's chain of factors leaves noise (L/s → m3/h = 3.6000…01)
        scale = float(f"{(at_one - at_zero) / float(wanted.magnitude):.12g}")
        offset = float(f"{at_zero / float(wanted.magnitude):.12g}")
        if not (math.isfinite(scale) and math.isfinite(offset)) or scale == 0:
            raise UnitRefused("not a unit")  # "nan", "inf"
        return Conversion(scale, offset)

    def _as_mass_concentration(self, parameter: str, fraction: Quantity) -> Quantity:
        """A volume fraction of a gas (ppm, ppb) as mass per volume at the reference
        conditions: fraction × p / (R T) × molar mass."""
        units = _registry()
        temperature = units.Quantity(self._reference.temperature_c, "degC").to("K")
        pressure = units.Quantity(self._reference.pressure_kpa, "kPa")
        molar_mass = units.Quantity(self._molar_masses[parameter], "g/mol")
        moles = pressure / (units.Quantity(1, "molar_gas_constant") * temperature)
        concentration: Quantity = (fraction.to("") * moles * molar_mass).to("ug/m**3")
        return concentration


def parse_unit(text: str) -> Quantity:
    """A unit as a pint quantity of 1 (or of 0.01 for ``/100mL``); raises UnitRefused."""
    spelled = text.strip()
    spelled = _SPELLINGS.get(spelled.lower(), spelled).replace("^2", "2").replace("^3", "3")
    if spelled[:1].isdigit():
        raise UnitRefused("not a unit (it starts with a number)")
    if "*" in spelled or "^" in spelled:  # powers are m2 and m3: "9**9**9" would never end
        raise UnitRefused("not a unit (powers are written m3, not m**3)")
    spelled = spelled.replace("µ", "u").replace("μ", "u").replace("³", "3").replace("²", "2")
    spelled = _PER_SCALED.sub(r"/(\1 \2)", _POWER.sub(r"**\1", _NORMAL_CUBIC.sub("m", spelled)))
    units = _registry()
    for attempt in (spelled, spelled.lower()):  # "UG/M3", "MG/L" as well
        try:
            parsed = units.parse_expression(attempt)
        except Exception:  # pint's parser raises many kinds (ZeroDivisionError for 1/0)
            continue
        if isinstance(parsed, units.Quantity):
            return parsed
    raise UnitRefused("not a unit")
