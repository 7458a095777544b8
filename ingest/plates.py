"""Vietnamese number plates: validation and the normalised form vehicles are known by.

A plate is a two-digit province code (11-99), a series and a number:

- series: one letter (``49A-123.45``), two letters (``51LD-123.45``, ``80NG-...``) or a letter
  and a digit (motorbikes, ``29A1-234.56``); letters A-Z and Đ;
- number: five digits (``123.45``, since 2010) or four (``1234``, older plates).

The normalised form is what the Traffic Police system expects (Circular 71/2024/TT-BCA,
"no separators", e.g. ``30E00555``): upper case, without spaces, ``-`` and ``.``. Input is
tolerant: lower case and spaces anywhere, a ``-`` between province and series or series and
number, a ``.`` inside a five-digit number (``49a 123.45``, ``29-A1 234.56``, ``49A12345``).

Without separators ``29A12345`` may be series A with 12345 or series A1 with 2345: both
plates have the same normalised id, as in the national system.
"""

from __future__ import annotations

import re

MAX_PLATE_CHARS = 20  # longer input is refused without looking further

# After upper-casing and removing spaces.
_PLATE = re.compile(r"([0-9]{2})-?([A-ZĐ]{1,2}|[A-ZĐ][0-9])-?([0-9]{3}\.?[0-9]{2}|[0-9]{4})")
_COMPACT = re.compile(r"[0-9]{2}(?:[A-ZĐ]{1,2}|[A-ZĐ][0-9])[0-9]{4,5}")
_SEPARATORS = str.maketrans("", "", "-.")


class PlateError(ValueError):
    """The text is no Vietnamese number plate; the message says why."""


def normalise_plate(text: str) -> str:
    """``49A-123.45`` → ``49A12345``; raises :class:`PlateError` with the reason."""
    if not isinstance(text, str):
        raise PlateError(f"a plate must be text, not {type(text).__name__}")
    if _COMPACT.fullmatch(text):  # the common case: already normalised
        if text[:2] < "11":
            raise PlateError(f"plate {text!r}: province code {text[:2]} is not 11-99")
        return text
    if len(text) > MAX_PLATE_CHARS:
        raise PlateError(f"plate {text[:MAX_PLATE_CHARS]!r}… is longer than {MAX_PLATE_CHARS}")
    cleaned = "".join(text.split()).upper()
    if not cleaned:
        raise PlateError("the plate is empty")
    match = _PLATE.fullmatch(cleaned)
    if match is None:
        raise PlateError(
            f"plate {text!r} is not <province 2 digits><series: 1-2 letters or letter+digit>"
            "<4 or 5 digits>, e.g. 49A-123.45, 51LD-123.45, 29A1-234.56, 29A-1234"
        )
    province = match.group(1)
    if province < "11":
        raise PlateError(f"plate {text!r}: province code {province} is not 11-99")
    return cleaned.translate(_SEPARATORS)


def is_plate(text: str) -> bool:
    try:
        normalise_plate(text)
    except PlateError:
        return False
    return True


def format_plate(plate: str) -> str:
    """The usual printed form of a plate: ``49A12345`` → ``49A-123.45``, ``29A1234`` →
    ``29A-1234``, ``51LD12345`` → ``51LD-123.45``. A letter+digit series cannot be told from a
    normalised id (``29A123456`` is read as A1, as a one-letter series cannot take six digits).
    Raises :class:`PlateError` for what is no plate."""
    compact = normalise_plate(plate)
    series_end = len(compact) - len(compact[2:].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZĐ"))
    number = compact[series_end:]
    if len(number) == 6:  # letter+digit series and five digits
        series_end += 1
        number = number[1:]
    head = compact[:series_end]
    if len(number) == 5:
        return f"{head}-{number[:3]}.{number[3:]}"
    return f"{head}-{number}"
