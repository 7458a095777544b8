"""Units as regulations and loggers write them: spellings, conversions to the registry's unit,
refusals with their reason, and round trips through pint (property tests)."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.units import Conversion, ReferenceConditions, UnitConverter, UnitRefused
from ingest.validate import Origin, ReadingValidator
from ioc.config import DEFAULT_GAS_MOLAR_MASSES, IngestConfig
from ioc.messages import Reading, Rejection, RejectReason
from store.lines import ReadingSerializer
from tests.factories import now_ms, registry
from tests.reliability import scale

PROPERTY = settings(
    max_examples=scale(200, 2_000), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def units() -> UnitConverter:
    """A converter whose clock moves a second a call: its budget of new units never ends."""
    return UnitConverter(
        ReferenceConditions(), DEFAULT_GAS_MOLAR_MASSES, itertools.count().__next__
    )


@pytest.mark.parametrize(
    ("parameter", "sent", "target"),
    [
        ("pm25", "ug/Nm3", "ug/m3"),
        ("pm25", "µg/Nm³", "ug/m3"),
        ("pm25", "µg/m³", "ug/m3"),
        ("pm25", "UG/M3", "ug/m3"),
        ("dust", "mg/m3", "mg/Nm3"),
        ("temp", "oC", "C"),
        ("temp", "°C", "C"),
        ("temp", "degC", "C"),
        ("ph", "-", "pH"),
        ("ph", "pH", "pH"),
        ("ph", "", "pH"),
        ("flow", "m³/h", "m3/h"),
        ("flow", "m^3/h", "m3/h"),
        ("turbidity", "NTU", "NTU"),
        ("colour", "Pt/Co", "Pt-Co"),
        ("coliform", "MPN/100mL", "MPN/100 mL"),
        ("cod", "mg/l", "mg/L"),
    ],
)
def test_spellings_of_the_same_unit_need_no_conversion(
    units: UnitConverter, parameter: str, sent: str, target: str
) -> None:
    assert units.conversion(parameter, sent, target).identity


@pytest.mark.parametrize(
    ("parameter", "sent", "target", "value", "expected"),
    [
        ("dust", "ug/Nm3", "mg/Nm3", 2500.0, 2.5),
        ("pm25", "mg/Nm3", "ug/m3", 0.035, 35.0),
        ("flow", "L/s", "m3/h", 10.0, 36.0),
        ("coliform", "MPN/mL", "MPN/100mL", 3.0, 300.0),
        ("temp", "K", "C", 300.0, 26.85),
        ("temp", "°F", "C", 212.0, 100.0),
        # at 25 °C and 101.325 kPa a mole of gas is 24.465 L: 1 ppm SO2 = 64.066/24.465 mg/m3
        ("so2", "ppm", "ug/m3", 1.0, 2618.64),
        ("no2", "ppb", "ug/m3", 100.0, 188.04),
        ("co", "ppm", "mg/Nm3", 10.0, 11.4488),
    ],
)
def test_convertible_units_are_converted(
    units: UnitConverter, parameter: str, sent: str, target: str, value: float, expected: float
) -> None:
    assert units.conversion(parameter, sent, target).apply(value) == pytest.approx(expected, 1e-4)


def test_the_reference_conditions_are_configuration() -> None:
    at_zero_c = UnitConverter(ReferenceConditions(0.0, 101.325), DEFAULT_GAS_MOLAR_MASSES)
    assert at_zero_c.conversion("so2", "ppm", "ug/m3").apply(1.0) == pytest.approx(2858.3, 1e-4)


@pytest.mark.parametrize(
    ("parameter", "sent", "target", "reason"),
    [
        ("no2", "m3/h", "ug/m3", "another kind of quantity"),
        ("ph", "%", "pH", "another kind of quantity"),
        ("cod", "NTU", "mg/L", "another kind of quantity"),
        ("pm25", "ppm", "ug/m3", "a volume fraction, and pm25 has no molar mass"),
        ("flow", "", "m3/h", "no unit given (a blank or '-' is pH's unit only)"),
        ("cod", "-", "mg/L", "no unit given"),
        ("pm25", "ug/m3", "furlongs of ug", "the registry's unit 'furlongs of ug' is not one"),
        ("pm25", "bogus", "ug/m3", "not a unit"),
        ("pm25", "1/0", "ug/m3", "not a unit"),
        ("pm25", "ug/m**9", "ug/m3", "not a unit (powers are written m3"),
        ("pm25", "1e308 ug/m3", "ug/m3", "not a unit (it starts with a number)"),
        ("pm25", "u" * 41, "ug/m3", "not a unit (41 characters)"),
    ],
)
def test_a_wrong_unit_is_refused_with_its_reason(
    units: UnitConverter, parameter: str, sent: str, target: str, reason: str
) -> None:
    with pytest.raises(UnitRefused, match="^" + re.escape(reason)):
        units.conversion(parameter, sent, target)


def test_a_refusal_is_remembered_like_a_conversion(units: UnitConverter) -> None:
    for _ in range(2):
        with pytest.raises(UnitRefused):
            units.conversion("no2", "furlong", "ug/m3")


def test_a_flood_of_made_up_units_is_refused_without_working_each_out() -> None:
    from ingest.units import NEW_UNITS_BURST, NEW_UNITS_PER_S

    now = [0.0]
    units = UnitConverter(ReferenceConditions(), DEFAULT_GAS_MOLAR_MASSES, lambda: now[0])
    assert units.conversion("dust", "ug/Nm3", "mg/Nm3").scale == 0.001
    for n in range(NEW_UNITS_BURST - 1):
        with pytest.raises(UnitRefused, match=r"^not a unit$"):
            units.conversion("pm25", f"made-up-{n}", "ug/m3")
    with pytest.raises(UnitRefused, match=r"^a unit not seen before, while too many new units"):
        units.conversion("pm25", "mg/m3", "ug/m3")
    assert units.conversion("dust", "ug/Nm3", "mg/Nm3").scale == 0.001  # known: still converted
    now[0] += 1 / NEW_UNITS_PER_S
    assert units.conversion("pm25", "mg/m3", "ug/m3").scale == 1000.0  # later, worked out


MASS_CONCENTRATIONS = ["ng/m3", "ug/m3", "ug/Nm3", "mg/m3", "mg/Nm3", "g/m3", "mg/L", "ug/L"]
TEMPERATURES = ["C", "oC", "°C", "K", "degF"]
FLOWS = ["m3/h", "m3/s", "L/s", "L/min", "m3/day"]
GASES = ["ppm", "ppb", "ug/m3", "mg/Nm3"]


@PROPERTY
@given(
    family=st.sampled_from([MASS_CONCENTRATIONS, TEMPERATURES, FLOWS]),
    data=st.data(),
    value=st.floats(-1e6, 1e6, allow_nan=False),
)
def test_a_conversion_and_its_inverse_give_back_the_value(
    units: UnitConverter, family: list[str], data: st.DataObject, value: float
) -> None:
    there_unit = data.draw(st.sampled_from(family))
    back_unit = data.draw(st.sampled_from(family))
    there = units.conversion("x", there_unit, back_unit)
    back = units.conversion("x", back_unit, there_unit)
    assert back.apply(there.apply(value)) == pytest.approx(value, rel=1e-9, abs=1e-6)


@PROPERTY
@given(gas=st.sampled_from(sorted(DEFAULT_GAS_MOLAR_MASSES)), ppb=st.floats(0, 1e6))
def test_ppb_of_a_gas_is_a_thousandth_of_its_ppm(
    units: UnitConverter, gas: str, ppb: float
) -> None:
    from_ppb = units.conversion(gas, "ppb", "ug/m3").apply(ppb)
    from_ppm = units.conversion(gas, "ppm", "ug/m3").apply(ppb / 1000)
    assert from_ppb == pytest.approx(from_ppm, rel=1e-9, abs=1e-9)


@PROPERTY
@given(text=st.text(max_size=50))
def test_any_unit_text_is_converted_or_refused_with_a_reason(
    units: UnitConverter, text: str
) -> None:
    try:
        conversion = units.conversion("pm25", text, "ug/m3")
    except UnitRefused as refusal:
        assert str(refusal)
    else:
        assert isinstance(conversion, Conversion) and math.isfinite(conversion.scale)


def test_a_converted_value_keeps_the_unit_it_arrived_in(tmp_path: Path) -> None:
    validator = ReadingValidator(registry(tmp_path), IngestConfig())
    rejections: list[Rejection] = []
    origin = Origin("http", now_ms())
    values = {"pm25": 0.04, "pm10": 60.0, "no2": 50.0}
    units = {"pm25": "mg/Nm3", "pm10": "µg/Nm³", "no2": "ppb"}
    reading = validator.validate(origin, "AIR-1", now_ms(), values, rejections, units)
    assert rejections == [] and reading is not None
    assert reading.values == pytest.approx({"pm25": 40.0, "pm10": 60.0, "no2": 94.02}, 1e-4)
    assert reading.sent_units == {"pm25": "mg/Nm3", "no2": "ppb"}
    [line] = ReadingSerializer(registry(tmp_path)).lines([reading])
    assert 'pm25_unit="mg/Nm3"' in line and 'no2_unit="ppb"' in line and "pm10_unit" not in line


def test_a_converted_value_outside_the_range_is_refused_in_the_registry_unit(
    tmp_path: Path,
) -> None:
    validator = ReadingValidator(registry(tmp_path), IngestConfig())
    rejections: list[Rejection] = []
    reading = validator.validate(
        Origin("http", now_ms()), "AIR-1", now_ms(), {"pm25": 2, "pm10": 10**400}, rejections,
        {"pm25": "mg/m3", "pm10": "mg/m3"},
    )  # fmt: skip
    assert reading is None
    assert [(r.parameter, r.reason) for r in rejections] == [
        ("pm25", RejectReason.OUT_OF_RANGE),
        ("pm10", RejectReason.OUT_OF_RANGE),
    ]
    assert "pm25=2000.0 outside the plausible range 0.0..1000.0 ug/m3" in rejections[0].detail


def test_status_missing_is_stored_as_a_flag(tmp_path: Path) -> None:
    reading = Reading("AIR-1", 1, {"pm25": 5.0}, 1, status_missing=frozenset({"pm25"}))
    [line] = ReadingSerializer(registry(tmp_path)).lines([reading])
    assert line.endswith("pm25=5.0,pm25_status_missing=true 1")
