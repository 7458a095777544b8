"""Station data files as station loggers write them (shared/domain/REFERENCE.md §1.1):

    file name  <STATION>_<YYYYMMDDhhmmss>.txt  (or <PROVINCE>_<ENTERPRISE>_<STATION>_<ts>.txt)
    each line  <parameter> <value> <unit> <YYYYMMDDhhmmss> <status>   (tab or spaces)

Parameter symbols map to registry keys through ``ingest.file_symbols`` (``PM2,5`` → pm25),
local time (Asia/Ho_Chi_Minh) becomes UTC, and status codes 00/01/02 stay with the value.

Tolerated as loggers write them: UTF-8 with or without a byte-order mark, UTF-16 with one,
Windows-1258 (cp1258) when the bytes are not UTF-8; CRLF; a blank unit (pH); no status column
(taken as measuring, flagged ``status_missing``). Refused with a reason: a file name without a
station and a real date, an empty file, a line whose time is further than the tolerance from
the file name's time. Each line gets a result: accepted, or rejected with its reason.

Reading a file (:func:`read_station_file`) touches no shared state, so a big file can be read
in a worker thread; validating it (:func:`validate_station_file`) belongs on the event loop.
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
_TIME = re.compile(r"\d{14}")
_STATUS = {
    "00": InstrumentStatus.MEASURING,
    "01": InstrumentStatus.CALIBRATING,
    "02": InstrumentStatus.DEVICE_ERROR,
}
_BYTE_ORDER_MARKS = [
    (b"\xef\xbb\xbf", "utf-8-sig", "utf-8 with BOM"),
    (b"\xff\xfe", "utf-16", "utf-16"),
    (b"\xfe\xff", "utf-16", "utf-16"),
]


@dataclass(frozen=True, slots=True)
class LineResult:
    line: int
    parameter: str | None
    accepted: bool
    reason: str = ""
    detail: str = ""
    status_missing: bool = False


@dataclass(slots=True)
class FileResult:
    name: str
    station_id: str | None
    encoding: str = ""
    readings: list[Reading] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    lines: list[LineResult] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return sum(line.accepted for line in self.lines)

    @property
    def status_missing(self) -> int:
        return sum(line.status_missing for line in self.lines)

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


def refused_file(origin: Origin, name: str, reason: RejectReason, detail: str) -> FileResult:
    """The result of a file refused as a whole (line 0), its refusal keeping the file."""
    result = FileResult(name, None)
    result.rejections.append(message_rejection(origin, reason, detail))
    result.lines.append(LineResult(0, None, False, reason.value, detail))
    return result


@dataclass(slots=True)
class _Group:
    """The lines of one file at one timestamp: one reading."""

    values: dict[str, object] = field(default_factory=dict)
    units: dict[str, object] = field(default_factory=dict)
    status: dict[str, InstrumentStatus] = field(default_factory=dict)
    status_missing: set[str] = field(default_factory=set)
    lines: dict[str, tuple[int, str]] = field(default_factory=dict)  # parameter → (number, text)


@dataclass(slots=True)
class ReadFile:
    """A file read but not yet validated: lines refused so far, the rest grouped by time."""

    result: FileResult
    groups: dict[int, _Group] = field(default_factory=dict)


def parse_local_ts(text: str) -> int | None:
    try:
        moment = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=LOCAL_TZ)
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)


def decode_file(data: bytes) -> tuple[str, str]:
    """The text of a file and the name of the encoding it was read in."""
    for mark, codec, named in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return data.decode(codec, "replace"), named
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1258"), "cp1258 (Windows-1258)"
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), "utf-8 (undecodable bytes replaced)"


def read_station_file(
    origin: Origin,
    name: str,
    data: bytes,
    symbols: Mapping[str, str],
    time_tolerance_s: float | None,
) -> ReadFile:
    """Decode and parse one file; no registry, no validator: safe in a worker thread."""
    match = _NAME.match(name.rsplit("/", 1)[-1])
    if match is None:
        detail = f"file name {name!r} is not <STATION>_<YYYYMMDDhhmmss>.txt"
        return ReadFile(refused_file(origin, name, RejectReason.MALFORMED, detail))
    file_ts_ms = parse_local_ts(match["ts"])
    if file_ts_ms is None:
        detail = f"the time in the file name, {match['ts']}, is not a date (YYYYMMDDhhmmss)"
        return ReadFile(refused_file(origin, name, RejectReason.BAD_TIMESTAMP, detail))
    text, encoding = decode_file(data)
    if not text.strip():
        detail = "the file is empty: no lines to read"
        read = ReadFile(refused_file(origin, name, RejectReason.MALFORMED, detail))
        read.result.station_id, read.result.encoding = match["station"], encoding
        return read
    read = ReadFile(FileResult(name, match["station"], encoding))
    result = read.result
    lowered = {k.lower(): v for k, v in symbols.items()}
    tolerance_ms = None if time_tolerance_s is None else time_tolerance_s * 1000
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = _fields(raw)
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
        if tolerance_ms is not None and abs(ts_ms - file_ts_ms) > tolerance_ms:
            minutes = abs(ts_ms - file_ts_ms) / 60_000
            detail = (
                f"time {ts_text} is {minutes:.0f} min from the file name's {match['ts']} "
                f"(more than {tolerance_ms / 60_000:.0f} min)"
            )
            result.refuse(origin, number, raw, parameter, RejectReason.BAD_TIMESTAMP, detail)
            continue
        group = read.groups.setdefault(ts_ms, _Group())
        first = group.lines.get(parameter)
        if first is not None:
            detail = f"repeats line {first[0]}: {parameter} at {ts_text} is already in the file"
            result.refuse(origin, number, raw, parameter, RejectReason.DUPLICATE, detail)
            continue
        group.values[parameter] = _number(value_text)
        group.units[parameter] = unit
        if len(fields) == 4:
            group.status_missing.add(parameter)
        elif (code := _STATUS[fields[4]]) is not InstrumentStatus.MEASURING:
            group.status[parameter] = code
        group.lines[parameter] = (number, raw)
    return read


def validate_station_file(
    validator: ReadingValidator, origin: Origin, read: ReadFile
) -> FileResult:
    """Validate the grouped lines of a read file: readings grouped by their timestamp."""
    result = read.result
    bare = replace(origin, payload=b"")  # a refusal keeps its line, not the file
    for ts_ms, group in read.groups.items():
        rejections: list[Rejection] = []
        reading = validator.validate(
            bare,
            result.station_id or "",
            ts_ms,
            group.values,
            rejections,
            group.units,
            group.status,
            frozenset(group.status_missing),
        )
        if reading is not None:
            result.readings.append(reading)
        refused = {r.parameter: r for r in rejections}
        whole = next((r for r in rejections if r.parameter is None), None)
        for parameter, (number, raw) in group.lines.items():
            rejection = refused.get(parameter) or whole
            if rejection is None:
                missing = parameter in group.status_missing
                result.lines.append(LineResult(number, parameter, True, status_missing=missing))
            else:
                result.refuse(origin, number, raw, parameter, rejection.reason, rejection.detail)
    result.lines.sort(key=lambda line: line.line)
    return result


def ingest_station_file(
    validator: ReadingValidator,
    origin: Origin,
    name: str,
    data: bytes,
    symbols: Mapping[str, str],
    time_tolerance_s: float | None = None,
) -> FileResult:
    """Read and validate one file in one go (a small file, or a test)."""
    read = read_station_file(origin, name, data, symbols, time_tolerance_s)
    return validate_station_file(validator, origin, read)


def _fields(raw: str) -> list[str]:
    """A line's fields: split at tabs when it has them (a field may then be blank: the unit of
    pH), else at spaces, where a missing unit shows as the time in the third field."""
    if "\t" in raw:
        fields = [f.strip() for f in raw.strip().split("\t")]
        if len(fields) in (4, 5):
            return fields
    fields = raw.split()
    if len(fields) in (3, 4) and _TIME.fullmatch(fields[2]):
        fields.insert(2, "")
    return fields


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
