"""Vietnamese number plates: normalisation, refusals, and properties over any text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.plates import PlateError, format_plate, is_plate, normalise_plate


@pytest.mark.parametrize(
    ("sent", "normalised"),
    [
        ("49A-123.45", "49A12345"),
        ("30E-005.55", "30E00555"),
        ("51LD-123.45", "51LD12345"),
        ("29A1-234.56", "29A123456"),
        ("29-A1 234.56", "29A123456"),
        ("29A-1234", "29A1234"),
        ("51ld-123.45", "51LD12345"),
        (" 49a 123.45 ", "49A12345"),
        ("49A12345", "49A12345"),
        ("80NG-123.45", "80NG12345"),
        ("29B1-1234", "29B11234"),
    ],
)
def test_plates_are_normalised(sent: str, normalised: str) -> None:
    assert normalise_plate(sent) == normalised
    assert is_plate(sent)


@pytest.mark.parametrize(
    ("sent", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("00A-123.45", "province code 00"),
        ("49-123.45", "is not <province"),
        ("49ABC-123.45", "is not <province"),
        ("49A-12.345", "is not <province"),
        ("49A-123456", "is not <province"),
        ("49A-123", "is not <province"),
        ("4９A12345", "is not <province"),  # a full-width digit
        ("TM-12-34", "is not <province"),
        ("49A-123.45-67890-12345", "longer than"),
    ],
)
def test_invalid_plates_say_why(sent: str, why: str) -> None:
    with pytest.raises(PlateError, match=why):
        normalise_plate(sent)
    assert not is_plate(sent)


@pytest.mark.parametrize(
    ("plate", "printed"),
    [
        ("49A12345", "49A-123.45"),
        ("30E00555", "30E-005.55"),
        ("51LD12345", "51LD-123.45"),
        ("29A123456", "29A1-234.56"),
        ("29A1234", "29A-1234"),
    ],
)
def test_format_prints_the_usual_form(plate: str, printed: str) -> None:
    assert format_plate(plate) == printed


LETTER = st.sampled_from("ABCDEFGHKLMNPSTUVXYZ")
SERIES = st.one_of(
    LETTER,
    st.tuples(LETTER, LETTER).map("".join),
    st.tuples(LETTER, st.integers(0, 9)).map(lambda t: f"{t[0]}{t[1]}"),
)


@st.composite
def written_plates(draw: st.DrawFn) -> tuple[str, str]:
    """(a plate as a person or a device may write it, its normalised form)."""
    province = draw(st.integers(11, 99))
    series = draw(SERIES)
    five = draw(st.booleans())
    digits = draw(st.integers(0, 99_999 if five else 9_999))
    number = f"{digits:05d}" if five else f"{digits:04d}"
    dot = "." if five and draw(st.booleans()) else ""
    shown = f"{number[:3]}{dot}{number[3:]}" if five else number
    dash1 = draw(st.sampled_from(["", "-"]))
    dash2 = draw(st.sampled_from(["", "-", " ", " - "]))
    text = f"{province}{dash1}{series}{dash2}{shown}"
    if draw(st.booleans()):
        text = text.lower()
    if draw(st.booleans()):
        text = f" {text} "
    return text, f"{province}{series}{number}"


@given(written_plates())
def test_every_written_form_normalises(sample: tuple[str, str]) -> None:
    text, expected = sample
    assert normalise_plate(text) == expected


@given(written_plates())
def test_normalising_is_idempotent_and_format_round_trips(sample: tuple[str, str]) -> None:
    plate = normalise_plate(sample[0])
    assert normalise_plate(plate) == plate
    assert normalise_plate(format_plate(plate)) == plate


@given(st.text(max_size=40))
def test_any_text_is_a_plate_or_a_plate_error(text: str) -> None:
    try:
        plate = normalise_plate(text)
    except PlateError as error:
        assert str(error)
    else:
        assert plate.isalnum() and plate == plate.upper() and 7 <= len(plate) <= 9
