"""Field types the API models share: times, counts, ids. Each validates and documents itself,
so a query parameter, a body field and the OpenAPI document agree."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator, WithJsonSchema

MAX_DIGITS = 18  # below 2**63: a whole number fits SQLite's INTEGER and InfluxDB's int64
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


def iso_ms(raw: object) -> int:
    """An ISO 8601 time with a UTC offset, in years 1678..2261 (what InfluxDB can store) →
    epoch ms."""
    if not isinstance(raw, str):
        raise ValueError("must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        raise ValueError("needs a UTC offset (Z or +07:00)")
    if not 1678 <= parsed.year <= 2261:
        raise ValueError(f"{raw!r} is outside the years 1678 to 2261")
    return int(parsed.timestamp() * 1000)


def whole_number(raw: str | None) -> int | None:
    """``raw`` as a number when it is 1 to 18 ASCII digits, else None. (``str.isdigit`` also
    takes "²", which ``int`` refuses; longer numbers overflow SQLite.)"""
    if raw and len(raw) <= MAX_DIGITS and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def _digits(raw: object) -> object:
    """Query text of a whole number: ASCII digits only (no "+5", "1_000" or "²")."""
    if isinstance(raw, str):
        number = whole_number(raw)
        if number is None:
            raise ValueError(f"{raw[:40]!r} is not a whole number")
        return number
    if isinstance(raw, int) and raw < 0:
        raise ValueError("must be a whole number (0 or more)")
    return raw


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("is required (it is blank)")
    return text


#: An ISO 8601 time with an offset, read as epoch milliseconds.
IsoTime = Annotated[
    int,
    PlainValidator(iso_ms),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "description": "ISO 8601 with an offset."}
    ),
]
#: A time in an answer: ISO 8601, UTC (``Z``).
UtcTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
#: A whole number written in the query string.
WholeNumber = Annotated[int, BeforeValidator(_digits)]
#: Text that must say something (not only spaces).
Text = Annotated[str, AfterValidator(_not_blank), Field(pattern=r"\S")]
#: A station, rule or other id as the registry writes them.
Id = Annotated[str, Field(pattern=ID_PATTERN)]


def count(default: int, maximum: int, description: str = "At most this many.") -> Any:
    """A ``limit``-like query parameter: 1..maximum, ``default`` when absent."""
    return Field(default, ge=1, le=maximum, description=f"{description} (default {default})")
