"""REST API of vehicles (transport journey monitoring, issue #13)::

    GET      /api/v1/vehicles                     latest position and state of every vehicle
                                                  (a transport company's user: its own)
    GET      /api/v1/vehicles/{id}/track          a local day's fixes: GeoJSON or GPX
    GET|POST /api/v1/osmand                       positions in the OsmAnd protocol (Traccar)

The OsmAnd route takes what phone apps and trackers send to a Traccar server (query string,
form body or the JSON form; ingest.osmand): point the app's server URL at
``http://<host>:<port>/api/v1/osmand``. The protocol has no authentication: a device
configured with a secret (``vehicles.osmand_devices``) must add ``key=<secret>`` to its URL.
A refusal answers 400 (401 for a missing or wrong secret) and is recorded like every other.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from xml.sax.saxutils import escape

from aiohttp import web
from pydantic import Field

from ingest.osmand import OsmAndDecoder, OsmAndRefused
from ingest.positions import refusal
from ingest.validate import Origin
from ioc import appkeys
from ioc.clock import LOCAL_TZ, iso_utc, now_ms
from ioc.messages import PositionRejection, RejectReason
from store.journey_book import VIOLATION_KINDS
from web.access import principal_of
from web.api import JSON, Answer, ApiRoutes, Query, error_answer, respond
from web.journeys_api import check_vehicle, local_day
from web.store_query import query_store

api = ApiRoutes()
OSMAND_DECODER: web.AppKey[OsmAndDecoder] = web.AppKey("osmand_decoder", OsmAndDecoder)
MAX_TRACK_FIXES = 20_000  # a day at one fix every 5 s
GPX = "application/gpx+xml"
MAX_TODAY = 100_000  # violations of a company in a day, counted at most


class VehicleAnswer(Answer):
    id: str = Field(description="Normalised plate, e.g. 49B15613.")
    plate: str = Field(description="As printed, e.g. 49B-156.13.")
    type: str | None
    company: str | None
    lat: float
    lon: float
    speed: float = Field(description="km/h")
    heading: float | None
    ts: str = Field(json_schema_extra={"format": "date-time"})
    state: Literal["moving", "stopped", "offline", "violating"]


class VehicleCounts(Answer):
    online: int
    moving: int
    violations_today: int


class VehicleList(Answer):
    vehicles: list[VehicleAnswer]
    counts: VehicleCounts


class TrackAnswer(Answer):
    """A GeoJSON FeatureCollection with one LineString of the day's fixes (none: empty)."""

    type: Literal["FeatureCollection"]
    features: list[dict[str, Any]]


class Accepted(Answer):
    accepted: int


class DayQuery(Query):
    date: str | None = Field(
        None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="Local day (Asia/Ho_Chi_Minh), YYYY-MM-DD; default today.",
    )


class TrackQuery(DayQuery):
    format: Literal["geojson", "gpx"] = "geojson"


class DriverImageAnswer(Answer):
    time: str = Field(json_schema_extra={"format": "date-time"})
    url: str


class DriverImageList(Answer):
    vehicle: str
    images: list[DriverImageAnswer]


class RoadLine(Answer):
    id: str
    name: str
    points: list[tuple[float, float]] = Field(description="[lat, lon] waypoints, in order.")


class TownCircle(Answer):
    id: str
    lat: float
    lon: float
    urban_radius_m: float


class FleetMap(Answer):
    roads: list[RoadLine]
    towns: list[TownCircle]


def add_vehicle_routes(app: web.Application) -> None:
    app[OSMAND_DECODER] = OsmAndDecoder(app[appkeys.CONFIG].vehicles)
    api.add_to(app)


@api.get("/api/v1/vehicles", tag="vehicles")
async def list_vehicles(request: web.Request) -> VehicleList:
    """Vehicles: latest position and state

    Moving, stopped, offline (silent longer than the stopped-signal limit) or violating (a
    journey violation within the last minutes). A transport company's user sees its own
    company's vehicles only, and counts of those."""
    board = request.app[appkeys.VEHICLE_BOARD]
    now = now_ms()
    company = principal_of(request).enterprise
    if company is None:
        return VehicleList.model_validate(
            {"vehicles": board.snapshot(now), "counts": board.counts(now)}
        )
    rows = [row for row in board.snapshot(now) if row["company"] == company]
    midnight = datetime.fromtimestamp(now / 1000, LOCAL_TZ).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    today = request.app[appkeys.JOURNEYS].violations(
        companies=[company],
        kinds=[k for k in VIOLATION_KINDS if k != "signal_lost"],
        since_ms=int(midnight.timestamp() * 1000),
        limit=MAX_TODAY,
    )
    counts = {
        "online": sum(row["state"] != "offline" for row in rows),
        "moving": sum(row["state"] in ("moving", "violating") for row in rows),
        "violations_today": len(today),
    }
    return VehicleList.model_validate({"vehicles": rows, "counts": counts})


@api.get("/api/v1/fleet/map", tag="vehicles")
async def fleet_map(request: web.Request) -> FleetMap:
    """The transport registry's roads and towns

    What the speed-limit classes are drawn from — roads as waypoint lines (each becomes
    corridor zones of its segments' classes), towns as their urban circles — for drawing
    zones against them in the console."""
    document = request.app[appkeys.PIPELINE].vehicles.fleet.document
    roads = [
        RoadLine(id=key, name=road.name, points=[(p[0], p[1]) for p in road.waypoints])
        for key, road in document.roads.items()
    ]
    towns = [
        TownCircle(id=key, lat=t.lat, lon=t.lon, urban_radius_m=t.urban_radius_m)
        for key, t in document.towns.items()
    ]
    return FleetMap(roads=roads, towns=towns)


@api.get(
    "/api/v1/vehicles/{id}/track",
    tag="vehicles",
    errors=(403, 404, 503),
    answer=TrackAnswer,
    answer_media={GPX: {"type": "string", "contentMediaType": GPX}},
)
async def vehicle_track(request: web.Request, id: str, query: TrackQuery) -> web.StreamResponse:
    """A vehicle's track of one local day

    GeoJSON (a LineString with `times` and `speeds` in its properties) or GPX 1.1; fixes
    flagged as GPS jumps are left out. A transport company's user: its own vehicles only."""
    check_vehicle(request, id)
    day, start_ms, end_ms = _vehicle_day(request, id, query)
    rows = await query_store(
        request,
        f"SELECT lat, lon, speed, gps_jump FROM position WHERE vehicle = '{id}' "
        f"AND time >= {start_ms}ms AND time < {end_ms}ms ORDER BY time LIMIT {MAX_TRACK_FIXES}",
    )
    fixes = [r for r in rows if not r.get("gps_jump")]
    if query.format == "gpx":
        return web.Response(text=_gpx(id, fixes), content_type=GPX)
    return respond(_geojson(id, day, fixes), kind=TrackAnswer)


def _vehicle_day(request: web.Request, vehicle: str, query: DayQuery) -> tuple[date, int, int]:
    """The local day asked for a registered vehicle: (day, start ms, end ms); 404, 400."""
    if vehicle not in request.app[appkeys.PIPELINE].vehicles.fleet.vehicles:
        raise error_answer(web.HTTPNotFound, f"no vehicle {vehicle!r}")
    return local_day(query.date)


@api.get("/api/v1/vehicles/{id}/images", tag="vehicles", errors=(404,))
async def driver_images(request: web.Request, id: str, query: DayQuery) -> DriverImageList:
    """A vehicle's driver images of one local day

    Oldest first; each `url` gives the JPEG. Kept `vehicles.images.keep_days` (92)."""
    _, start_ms, end_ms = _vehicle_day(request, id, query)
    store = request.app[appkeys.PIPELINE].vehicles.image_store
    times = store.names(id, start_ms, end_ms)
    images = [
        DriverImageAnswer(time=iso_utc(t) or "", url=f"/api/v1/vehicles/{id}/images/{t}.jpg")
        for t in times
    ]
    return DriverImageList(vehicle=id, images=images)


@api.get(
    "/api/v1/vehicles/{id}/images/{name}",
    tag="vehicles",
    errors=(404,),
    answer_media={"image/jpeg": {"type": "string", "contentMediaType": "image/jpeg"}},
)
async def driver_image(request: web.Request, id: str, name: str) -> web.StreamResponse:
    """One driver image (`<ms>.jpg`)"""
    path = request.app[appkeys.PIPELINE].vehicles.image_store.path(id, name)
    if path is None:
        raise error_answer(web.HTTPNotFound, "no such image")
    return web.FileResponse(path)


def _geojson(vehicle: str, day: date, fixes: list[dict[str, Any]]) -> TrackAnswer:
    features = []
    if fixes:
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[r["lon"], r["lat"]] for r in fixes],
                },
                "properties": {
                    "vehicle": vehicle,
                    "date": day.isoformat(),
                    "times": [iso_utc(int(r["time"])) for r in fixes],
                    "speeds": [r["speed"] for r in fixes],
                },
            }
        )
    return TrackAnswer(type="FeatureCollection", features=features)


def _gpx(vehicle: str, fixes: list[dict[str, Any]]) -> str:
    points = "".join(
        f'<trkpt lat="{r["lat"]}" lon="{r["lon"]}"><time>{iso_utc(int(r["time"]))}</time></trkpt>'
        for r in fixes
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="ioc-backend" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><name>{escape(vehicle)}</name><trkseg>{points}</trkseg></trk></gpx>\n"
    )


OSMAND_MEDIA = {
    "application/x-www-form-urlencoded": {"type": "string"},
    JSON: {"type": "object", "description": "The JSON form (device_id, location{...})."},
}


@api.get("/api/v1/osmand", tag="vehicles", errors=(400, 401), answer=Accepted)
async def osmand_get(request: web.Request) -> web.StreamResponse:
    """Send a position (OsmAnd protocol, query string)

    Traccar-compatible: `id`, `timestamp`, `lat`, `lon` (or `location`), `speed` (knots
    unless the device is configured otherwise), `bearing`, `altitude`, `accuracy`, `hdop`,
    `batt`, `driverUniqueId`, other keys kept as attributes; `key` the device's secret."""
    return await _osmand(request)


@api.post(
    "/api/v1/osmand", tag="vehicles", errors=(400, 401), answer=Accepted, request_media=OSMAND_MEDIA
)
async def osmand_post(request: web.Request) -> web.StreamResponse:
    """Send a position (OsmAnd protocol, form or JSON body)

    As the query form, or Traccar's JSON form (`device_id`, `location{timestamp,
    coords{latitude, longitude, speed m/s, heading, accuracy, altitude}, odometer,
    battery}`)."""
    return await _osmand(request)


async def _osmand(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    received = now_ms()
    origin = Origin("osmand", received, request.path_qs.encode() + b"\n" + body)
    vehicles = request.app[appkeys.PIPELINE].vehicles
    refused: list[PositionRejection] = []
    try:
        fix = request.app[OSMAND_DECODER].decode_request(
            request.path_qs, body, request.content_type, received
        )
    except OsmAndRefused as exc:
        refused.append(refusal(origin, exc.reason, exc.detail, exc.device_id))
        fix = None
    checked = None if fix is None else vehicles.validator.validate(origin, fix, refused)
    vehicles.accept([checked] if checked else [], refused)
    await request.app[appkeys.STORE].spool.sync()
    if checked is None:
        reason = refused[0].reason if refused else RejectReason.MALFORMED
        kind = web.HTTPUnauthorized if reason == RejectReason.UNAUTHORIZED else web.HTTPBadRequest
        detail = refused[0].detail if refused else "refused"
        raise error_answer(kind, detail, refused=reason.value)
    return respond(Accepted(accepted=1))
