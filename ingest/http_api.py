"""HTTP ingest: enterprises (and state gateways) post readings with their API key.

    POST /api/v1/ingest         JSON readings or SenML (application/senml+json)
    POST /api/v1/ingest/files   station data files: multipart (one or many), or one raw
                                body with ?filename=<STATION>_<YYYYMMDDhhmmss>.txt; a file
                                above ingest.max_file_bytes is a 413

``Authorization: Bearer <api key>`` (or an enterprise user's login, as the portal does): an
enterprise writes its own stations only (web.access). The
answer lists what was accepted and every refusal with its reason; good items of a partly bad
batch are accepted, and everything refused is kept in the dead-letter store. Accepted data is
durable (spooled) before the answer is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import ConfigDict, Field

from ingest.decode import decode_reading, decode_senml, loads
from ingest.station_files import (
    FileResult,
    LineResult,
    read_station_file,
    refused_file,
    validate_station_file,
)
from ingest.validate import Origin, ReadingValidator, internal_error, message_rejection
from ioc import appkeys
from ioc.clock import now_ms
from ioc.messages import Reading, Rejection, RejectReason
from web.access import principal_of
from web.api import Answer, ApiRoutes, Query, error_answer

MAX_BODY_BYTES = 20 * 1024 * 1024
IN_THREAD_BYTES = 64 * 1024  # a file larger than this is read in a worker thread
log = logging.getLogger(__name__)


api = ApiRoutes()
#: The bodies are what devices send: read by the tolerant decoders (ingest.decode), item by
#: item, so one bad item is refused with its reason and its neighbours are stored. These
#: models describe them for the document; the answers are built without a model on this hot
#: path and described by the models below (the contract test checks they agree).


class ReadingItem(Answer):
    """One reading (docs/protocol.md); unknown fields are ignored."""

    model_config = ConfigDict(extra="allow")
    station_id: str
    ts: float | str = Field(description="Epoch seconds, or ISO 8601 with an offset.")
    values: dict[str, float]
    units: dict[str, str] | None = None
    status: dict[str, int | str] | None = Field(
        None, description="0/measuring, 1/calibrating, 2/device_error per parameter."
    )


class ReadingBatch(Answer):
    readings: list[ReadingItem]


class SenMLRecord(Answer):
    """RFC 8428 record; name `<station_id>:<parameter>`."""

    model_config = ConfigDict(extra="allow")
    bn: str | None = None
    bt: float | None = None
    bu: str | None = None
    n: str | None = None
    u: str | None = None
    v: float | None = None
    t: float | None = None


class RejectionAnswer(Answer):
    station_id: str | None
    parameter: str | None
    reason: RejectReason
    detail: str


class IngestResult(Answer):
    accepted: int = Field(description="Values accepted.")
    accepted_readings: int = Field(description="Readings accepted.")
    rejected: list[RejectionAnswer]


class LineAnswer(Answer):
    line: int
    parameter: str | None
    accepted: bool
    reason: RejectReason | None = None
    detail: str | None = None
    status_missing: bool | None = None


class FileAnswer(Answer):
    name: str
    station_id: str | None
    encoding: str
    accepted: int
    rejected: int
    status_missing: int = Field(description="Lines without a status column.")
    lines: list[LineAnswer]


class FileResults(Answer):
    files: list[FileAnswer]


class FileQuery(Query):
    filename: str | None = Field(
        None,
        description="The file's name when the body is one raw file: "
        "`<STATION>_<YYYYMMDDhhmmss>.txt`.",
    )


def add_ingest_routes(app: web.Application) -> None:
    api.add_to(app)


@api.post(
    "/api/v1/ingest",
    tag="ingest",
    errors=(400, 503),
    answer=IngestResult,
    request_media={
        "application/json": ReadingItem | ReadingBatch | list[SenMLRecord],
        "application/senml+json": list[SenMLRecord],
    },
)
async def ingest_readings(request: web.Request) -> web.StreamResponse:
    """Send readings

    A reading, a batch `{"readings": [...]}` or a SenML pack (a JSON array, or
    `Content-Type: application/senml+json`). Good items of a partly bad batch are accepted;
    every refusal is listed with its reason and kept in the dead-letter store. Accepted data
    is durable before the answer."""
    body = await request.read()
    origin = Origin("http", now_ms(), body, principal_of(request).enterprise)
    try:
        parsed = loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise error_answer(web.HTTPBadRequest, f"body is not JSON: {exc}") from None
    validator = request.app[appkeys.VALIDATOR]
    readings: list[Reading] = []
    rejections: list[Rejection] = []
    if isinstance(parsed, list) or "senml" in request.content_type:
        try:
            readings = decode_senml(validator, origin, parsed, rejections)
        except Exception:  # a bug: the pack is refused, and kept
            log.exception("decoding failed on a SenML pack")
            rejections.append(internal_error(origin))
    else:
        items = parsed.get("readings", [parsed]) if isinstance(parsed, dict) else None
        if not isinstance(items, list):
            raise error_answer(web.HTTPBadRequest, 'send a reading, {"readings": [...]} or SenML')
        for index, item in enumerate(items):
            try:
                _decode_item(validator, origin, index, item, readings, rejections)
            except Exception:  # a bug: this item is refused, and kept; the others go on
                log.exception("decoding failed on item %d of an HTTP batch", index)
                station_id = item.get("station_id") if isinstance(item, dict) else None
                rejections.append(
                    internal_error(origin, station_id if isinstance(station_id, str) else None)
                )
    request.app[appkeys.PIPELINE].accept(readings, rejections)
    await request.app[appkeys.STORE].spool.sync()
    return web.json_response(
        {
            "accepted": sum(len(r.values) for r in readings),
            "accepted_readings": len(readings),
            "rejected": [_rejection_json(r) for r in rejections],
        }
    )


def _decode_item(
    validator: ReadingValidator,
    origin: Origin,
    index: int,
    item: object,
    readings: list[Reading],
    rejections: list[Rejection],
) -> None:
    """One item of a batch of reading objects, with its own JSON as the refusal's payload."""
    item_origin = replace(origin, payload=json.dumps(item).encode())
    station_id = item.get("station_id") if isinstance(item, dict) else None
    if not isinstance(station_id, str):
        detail = f"item {index}: `station_id` is missing"
        rejections.append(message_rejection(item_origin, RejectReason.MALFORMED, detail))
        return
    reading = decode_reading(validator, item_origin, station_id, item, rejections)
    if reading is not None:
        readings.append(reading)


@api.post(
    "/api/v1/ingest/files",
    tag="ingest",
    errors=(413, 503),
    answer=FileResults,
    request_media={
        "multipart/form-data": {
            "type": "object",
            "properties": {"files": {"type": "array", "items": {"type": "string"}}},
        },
        "text/plain": {"type": "string", "description": "One station file (with ?filename=)."},
    },
)
async def ingest_files(request: web.Request, query: FileQuery) -> web.StreamResponse:
    """Send station data files

    `multipart/form-data` with one or many files, or one file as the body with
    `?filename=<STATION>_<YYYYMMDDhhmmss>.txt`. Each line gets a result; a file above
    `ingest.max_file_bytes` is a 413."""
    limit = request.app[appkeys.CONFIG].ingest.max_file_bytes
    files: list[tuple[str, bytes]] = []
    if request.content_type.startswith("multipart/"):
        try:
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if not _is_utf8(part.name) or not _is_utf8(part.filename):
                    raise error_answer(web.HTTPBadRequest, "a part's name is not UTF-8")
                if part.filename:
                    received = bytearray()
                    while chunk := await part.read_chunk():
                        received += chunk
                        _refuse_above(limit, part.filename, len(received))
                    files.append((part.filename, bytes(part.decode(bytes(received)))))
        except (ValueError, HttpProcessingError) as exc:  # no boundary, a bad part header
            reason = f"unreadable multipart body: {exc}".strip()
            raise error_answer(web.HTTPBadRequest, reason) from None
    else:
        query_name = query.filename
        if not query_name:
            raise error_answer(web.HTTPBadRequest, "multipart files, or a body with ?filename=")
        _refuse_above(limit, query_name, request.content_length or 0)
        received = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            received += chunk
            _refuse_above(limit, query_name, len(received))
        files.append((query_name, bytes(received)))
    if not files:
        raise error_answer(web.HTTPBadRequest, "no file in the request")
    owner = principal_of(request).enterprise
    results = [await process_file(request.app, owner, name, data) for name, data in files]
    await request.app[appkeys.STORE].spool.sync()
    return web.json_response({"files": [file_result_json(r) for r in results]})


def _refuse_above(limit: int, name: str, size: int) -> None:
    if size > limit:
        detail = f"file {name!r} is larger than {limit} bytes (ingest.max_file_bytes)"
        raise web.HTTPRequestEntityTooLarge(
            max_size=limit,
            actual_size=size,
            text=json.dumps({"error": detail}, ensure_ascii=False),
            content_type="application/json",
        )


async def process_file(
    app: web.Application, owner: str | None, name: str, data: bytes
) -> FileResult:
    """Validate one station file and hand its readings and refusals to the pipeline; a bug
    refuses the file (``internal_error``, kept) and not the other files of the request.

    ``owner`` must be an enterprise of the registry in force (checked now, not at start): a
    drop-folder subfolder naming no enterprise has its files refused."""
    origin = Origin("file", now_ms(), data, owner)
    config = app[appkeys.CONFIG].ingest
    if owner is not None and owner not in app[appkeys.REGISTRY].enterprises:
        detail = f"{owner!r} is not an enterprise of the registry: its files are refused"
        result = refused_file(origin, name, RejectReason.NOT_OWNER, detail)
    elif len(data) > config.max_file_bytes:
        detail = f"file larger than {config.max_file_bytes} bytes (ingest.max_file_bytes)"
        result = refused_file(replace(origin, payload=b""), name, RejectReason.TOO_LARGE, detail)
    else:
        try:
            args = (origin, name, data, config.file_symbols, config.file_time_tolerance_s)
            if len(data) > IN_THREAD_BYTES:
                read = await asyncio.to_thread(read_station_file, *args)
            else:
                read = read_station_file(*args)
            result = validate_station_file(app[appkeys.VALIDATOR], origin, read)
        except Exception:
            log.exception("station file %r failed", name)
            rejection = internal_error(origin)
            result = refused_file(origin, name, rejection.reason, rejection.detail)
    app[appkeys.PIPELINE].accept(result.readings, result.rejections)
    return result


def _is_utf8(text: str | None) -> bool:
    """False for text with bytes that were not UTF-8 (aiohttp keeps them as surrogates)."""
    try:
        (text or "").encode()
    except UnicodeEncodeError:
        return False
    return True


def file_result_json(result: FileResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "station_id": result.station_id,
        "encoding": result.encoding,
        "accepted": result.accepted,
        "rejected": sum(not line.accepted for line in result.lines),
        "status_missing": result.status_missing,
        "lines": [line_result_json(line) for line in result.lines],
    }


def line_result_json(line: LineResult) -> dict[str, Any]:
    return (
        {"line": line.line, "parameter": line.parameter, "accepted": line.accepted}
        | ({"reason": line.reason, "detail": line.detail} if not line.accepted else {})
        | ({"status_missing": True} if line.status_missing else {})
    )


def _rejection_json(r: Rejection) -> dict[str, Any]:
    return {
        "station_id": r.station_id,
        "parameter": r.parameter,
        "reason": r.reason.value,
        "detail": r.detail,
    }
