"""Station data files as station loggers write them (shared/domain/REFERENCE.md §1.1):

    file name  <STATION>_<YYYYMMDDhhmmss>.txt  (or <PROVINCE>_<ENTERPRISE>_<STATION>_<ts>.txt)
    each line  <parameter> <value> <unit> <YYYYMMDDhhmmss> <status>   (tab or spaces)

Parameter symbols map to registry keys through ``ingest.file_symbols`` (``PM2,5`` → pm25),
local time (Asia/Ho_Chi_Minh) becomes UTC, and status codes 00/01/02 stay with the value.
Each line gets a result: accepted, or rejected with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from ingest.validate import PAYLOAD_KEPT_CHARS, Origin, ReadingValidator, message_rejection
from ioc.clock import LOCAL_TZ
from ioc.messages import InstrumentStatus, Reading, Rejection, RejectReason

_NAME = re.compile(r"^(?:.*_)?(?P<station>[^_]+)_(?P<ts>\d{14})\.txt$", re.IGNORECASE)
_STATUS = {
    "00": InstrumentStatus.MEASURING,
    "01": InstrumentStatus.CALIBRATING,
    "02": InstrumentStatus.DEVICE_ERROR,
}


@dataclass(frozen=True, slots=True)
class LineResult:
    line: int
    parameter: str | None
    accepted: bool
    reason: str = ""
    detail: str = ""


@dataclass(slots=True)
class FileResult:
    name: str
    station_id: str | None
    readings: list[Reading] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    lines: list[LineResult] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(line.accepted for line in self.lines)

    def refuse(
        self,
        origin: Origin,
        number: int,
        text: str,
        parameter: str | None,
        reason: RejectReason,
        detail: str,
    ) -> None:
        """Line ``number`` is refused: its result, and a rejection that keeps the line."""
        self.lines.append(LineResult(number, parameter, False, reason.value, detail))
        line_origin = replace(origin, payload=text[:PAYLOAD_KEPT_CHARS].encode())
        rejection = message_rejection(
            line_origin, reason, f"line {number}: {detail}", self.station_id
        )
        self.rejections.append(replace(rejection, parameter=parameter))


def parse_local_ts(text: str) -> int | None:
    try:
        moment = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=LOCAL_TZ)
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)


def ingest_station_file(
    validator: ReadingValidator,
    origin: Origin,
    name: str,
    text: str,
    symbols: Mapping[str, str],
) -> FileResult:
    """Parse and validate one file; readings are grouped by their timestamp."""
    match = _NAME.match(name.rsplit("/", 1)[-1])
    if match is None:
        result = FileResult(name, None)
        detail = f"file name {name!r} is not <STATION>_<YYYYMMDDhhmmss>.txt"
        result.rejections.append(message_rejection(origin, RejectReason.MALFORMED, detail))
        result.lines.append(LineResult(0, None, False, RejectReason.MALFORMED.value, detail))
        return result
    station_id = match["station"]
    result = FileResult(name, station_id)
    lowered = {k.lower(): v for k, v in symbols.items()}
    groups: dict[int, _Group] = {}  # by timestamp
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields:
            continue
        problem = _line_problem(fields)
        if problem:
            result.refuse(origin, number, raw, None, *problem)
            continue
        symbol, value_text, unit, ts_text = fields[:4]
        parameter = lowered.get(symbol.lower(), symbol.lower())
        ts_ms = parse_local_ts(ts_text)
        if ts_ms is None:
            detail = f"time {ts_text!r} is not YYYYMMDDhhmmss"
            result.refuse(origin, number, raw, parameter, RejectReason.BAD_TIMESTAMP, detail)
            continue
        group = groups.setdefault(ts_ms, _Group())
        first = group.lines.get(parameter)
        if first is not None:
            detail = f"repeats line {first[0]}: {parameter} at {ts_text} is already in the file"
            result.refuse(origin, number, raw, parameter, RejectReason.DUPLICATE, detail)
            continue
        group.values[parameter] = _number(value_text)
        group.units[parameter] = unit
        code = _STATUS.get(fields[4] if len(fields) > 4 else "00")
        if code is not None and code is not InstrumentStatus.MEASURING:
            group.status[parameter] = code
        group.lines[parameter] = (number, raw)
    bare = replace(origin, payload=b"")  # a refusal keeps its line, not the file
    for ts_ms, group in groups.items():
        rejections: list[Rejection] = []
        reading = validator.validate(
            bare, station_id, ts_ms, group.values, rejections, group.units, group.status
        )
        if reading is not None:
            result.readings.append(reading)
        refused = {r.parameter: r for r in rejections}
        whole = next((r for r in rejections if r.parameter is None), None)
        for parameter, (number, raw) in group.lines.items():
            rejection = refused.get(parameter) or whole
            if rejection is None:
                result.lines.append(LineResult(number, parameter, True))
            else:
                result.refuse(origin, number, raw, parameter, rejection.reason, rejection.detail)
    result.lines.sort(key=lambda line: line.line)
    return result


@dataclass(slots=True)
class _Group:
    """The lines of one file at one timestamp: one reading."""

    values: dict[str, object] = field(default_factory=dict)
    units: dict[str, object] = field(default_factory=dict)
    status: dict[str, InstrumentStatus] = field(default_factory=dict)
    lines: dict[str, tuple[int, str]] = field(default_factory=dict)  # parameter → (number, text)


def _line_problem(fields: list[str]) -> tuple[RejectReason, str] | None:
    if len(fields) < 4:
        return RejectReason.MALFORMED, (
            f"expected <parameter> <value> <unit> <time> <status>, got {len(fields)} fields"
        )
    if len(fields) > 4 and fields[4] not in _STATUS:
        return RejectReason.MALFORMED, f"status {fields[4]!r} is not 00, 01 or 02"
    return None


def _number(text: str) -> object:
    """``35.2`` or ``35,2``; anything else stays text (the validator refuses it by name)."""
    try:
        return float(text.replace(",", ".") if "." not in text else text)
    except ValueError:
        return text
