"""Who may call what. Every route has an entry in :data:`ROUTE_ACCESS`; the middleware
:func:`access_control` refuses a route that has none (fail closed).

Credentials, in this order: ``Authorization: Bearer <token or API key>``, then the session
cookie of the pages. A login token (``POST /api/v1/auth/token`` or the cookie of
``POST /api/v1/auth/login``) carries the user's role; an enterprise API key may only send data.

=============  =====================================================================
capability     roles
=============  =====================================================================
read           viewer, operator, officer, admin: the wall, its feed, alerts, AQI ...
own_data       the above, and enterprise users for their own stations only
operate        operator, officer, admin: acknowledge, resolve, close, comment alerts
configure      officer, admin: rules and thresholds, backtests, silences, history
administer     admin: users, stations, enterprises, the audit log
ingest         enterprise users, admin, API keys: post readings and station files
portal         enterprise users (their enterprise), admin (any)
signed_in      any logged-in user: who am I, log out, change own password
public         no login: the login page, static files, health, the OpenAPI document and
               its page /api/docs
=============  =====================================================================

Refusals answer 401 (no or bad credential: log in) or 403 (logged in, not allowed) with
``{"error": reason}``; pages redirect to ``/login`` instead of a 401. A refusal with a
credential, and every 403, goes to the audit log.

The session cookie is accepted for changes (any method but GET/HEAD/OPTIONS) and for the
websocket (it acknowledges alerts) only from the service's own origin or
``access.allowed_origins``: a browser sends ``Origin`` with both, so another site's page cannot
act with a user's cookie. A bearer token needs no origin. Every answer, refusals, 404s and the
server's own errors included, carries :data:`SECURITY_HEADERS` (:func:`add_security_headers`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, urlsplit

from aiohttp import web

from ioc import appkeys
from ioc.accounts import API_KEY_PREFIX, AccountBook, ApiKey, Login, Role, TokenRejected
from ioc.audit import DENIED, AuditLog
from ioc.registry import Station
from web.api import error_answer

log = logging.getLogger(__name__)
SESSION_COOKIE = "ioc_session"


class Can(StrEnum):
    PUBLIC = "public"
    SIGNED_IN = "signed_in"
    READ = "read"
    OWN_DATA = "own_data"
    OPERATE = "operate"
    CONFIGURE = "configure"
    ADMINISTER = "administer"
    INGEST = "ingest"
    PORTAL = "portal"


_VIEWER = frozenset({Can.SIGNED_IN, Can.READ, Can.OWN_DATA})
ROLE_CAPABILITIES: dict[Role, frozenset[Can]] = {
    Role.VIEWER: _VIEWER,
    Role.OPERATOR: _VIEWER | {Can.OPERATE},
    Role.OFFICER: _VIEWER | {Can.OPERATE, Can.CONFIGURE},
    Role.ADMIN: frozenset(Can) - {Can.PUBLIC},
    Role.ENTERPRISE: frozenset({Can.SIGNED_IN, Can.OWN_DATA, Can.INGEST, Can.PORTAL}),
}
API_KEY_CAPABILITIES = frozenset({Can.INGEST})

#: (method, route path) → what the caller must be able to do.
ROUTE_ACCESS: dict[tuple[str, str], Can] = {
    ("GET", "/"): Can.PUBLIC,
    ("GET", "/login"): Can.PUBLIC,
    ("GET", "/static"): Can.PUBLIC,
    ("GET", "/api/v1/health"): Can.PUBLIC,
    ("GET", "/api/v1/openapi.json"): Can.PUBLIC,
    ("GET", "/api/docs"): Can.PUBLIC,  # the document above, to read and try (web/api_docs.py)
    ("GET", "/vendor/swagger-ui"): Can.PUBLIC,  # Swagger UI's files
    ("POST", "/api/v1/auth/login"): Can.PUBLIC,
    ("POST", "/api/v1/auth/token"): Can.PUBLIC,
    ("POST", "/api/v1/auth/logout"): Can.SIGNED_IN,
    ("GET", "/api/v1/auth/me"): Can.SIGNED_IN,
    ("POST", "/api/v1/auth/password"): Can.SIGNED_IN,
    ("GET", "/wall"): Can.READ,
    ("GET", "/ws"): Can.READ,
    ("GET", "/console"): Can.CONFIGURE,
    ("GET", "/portal"): Can.PORTAL,
    ("GET", "/api/v1/stations"): Can.OWN_DATA,
    ("GET", "/api/v1/readings"): Can.OWN_DATA,
    ("GET", "/api/v1/rejected"): Can.OWN_DATA,
    ("GET", "/api/v1/alerts"): Can.READ,
    ("GET", "/api/v1/alerts/{id}"): Can.READ,
    ("POST", "/api/v1/alerts/{id}/{action}"): Can.OPERATE,
    ("POST", "/api/v1/alerts/{id}/comment"): Can.OPERATE,
    ("GET", "/api/v1/incidents"): Can.READ,
    ("GET", "/api/v1/incidents/{id}"): Can.READ,
    ("GET", "/api/v1/silences"): Can.READ,
    ("POST", "/api/v1/silences"): Can.CONFIGURE,
    ("DELETE", "/api/v1/silences/{id}"): Can.CONFIGURE,
    ("POST", "/api/v1/rules/backtest"): Can.CONFIGURE,
    ("POST", "/api/v1/detector-rules/{id}/backtest"): Can.CONFIGURE,
    # the built-in anomaly and camera rules: their names serve whoever reads alerts
    ("GET", "/api/v1/detector-rules"): Can.READ,
    ("GET", "/api/v1/aqi"): Can.READ,
    ("GET", "/api/v1/fire-danger"): Can.READ,
    ("GET", "/api/v1/cameras"): Can.READ,
    ("GET", "/api/v1/basemap"): Can.READ,  # the wall's map settings (web/basemap_api.py)
    ("GET", "/api/v1/basemap/outlines"): Can.READ,
    ("GET", "/api/v1/cameras/{id}/snapshots/{name}"): Can.READ,
    ("POST", "/api/v1/ingest"): Can.INGEST,
    ("POST", "/api/v1/ingest/files"): Can.INGEST,
    ("GET", "/api/v1/config/history"): Can.CONFIGURE,
    ("POST", "/api/v1/config/history/{id}/rollback"): Can.CONFIGURE,
    ("GET", "/api/v1/users"): Can.ADMINISTER,
    ("POST", "/api/v1/users"): Can.ADMINISTER,
    ("PATCH", "/api/v1/users/{username}"): Can.ADMINISTER,
    ("DELETE", "/api/v1/users/{username}"): Can.ADMINISTER,
    ("POST", "/api/v1/users/{username}/password"): Can.ADMINISTER,
    ("GET", "/api/v1/audit"): Can.ADMINISTER,
    ("GET", "/api/v1/apikeys"): Can.PORTAL,
    ("POST", "/api/v1/apikeys"): Can.PORTAL,
    ("DELETE", "/api/v1/apikeys/{id}"): Can.PORTAL,
    ("GET", "/api/v1/portal/stations"): Can.PORTAL,
    # A transport company's user (an enterprise user of a fleet company) sees its own
    # vehicles, trips, violations and monthly summary (web/journeys_api.py confines it).
    ("GET", "/api/v1/vehicles"): Can.OWN_DATA,
    ("GET", "/api/v1/vehicles/{id}/track"): Can.OWN_DATA,
    ("GET", "/api/v1/vehicles/{id}/trips"): Can.OWN_DATA,
    ("GET", "/api/v1/violations"): Can.OWN_DATA,
    ("GET", "/api/v1/companies/{id}/summary"): Can.OWN_DATA,
    ("GET", "/api/v1/fleet/map"): Can.READ,
    ("GET", "/api/v1/vehicles/{id}/images"): Can.READ,
    ("GET", "/api/v1/vehicles/{id}/images/{name}"): Can.READ,
    # Trackers and phone apps (OsmAnd protocol) have no login: a device secret in the URL.
    ("POST", "/api/v1/journeys/backtest"): Can.CONFIGURE,
    ("GET", "/api/v1/osmand"): Can.PUBLIC,
    ("POST", "/api/v1/osmand"): Can.PUBLIC,
    ("GET", "/api/v1/portal/alerts"): Can.PORTAL,
    # Monthly reports (web/reports_api.py): the province's and any enterprise's are the
    # regulator's (officers), not every wall viewer's; an enterprise gets its own.
    ("GET", "/api/v1/reports/monthly"): Can.CONFIGURE,
    ("GET", "/reports/monthly"): Can.CONFIGURE,
    ("GET", "/api/v1/portal/reports/monthly"): Can.PORTAL,
    ("GET", "/portal/report"): Can.PORTAL,
    # The daily provincial report (web/reports_api.py): the regulator's, as the monthly one.
    ("GET", "/api/v1/reports/daily"): Can.CONFIGURE,
    ("GET", "/reports/daily"): Can.CONFIGURE,
    # The station page (web/station_page.py): the wall's people; its data as the readings
    # (an enterprise user: its own stations only).
    ("GET", "/stations/{id}"): Can.READ,
    ("GET", "/api/v1/stations/{id}/history"): Can.OWN_DATA,
    ("GET", "/api/v1/stations/{id}/export"): Can.OWN_DATA,
}
# The configuration: officers read all and change rules; admins change the registry. In the
# transport registry, officers (the transport department's) keep vehicles, drivers, zones and
# speed limits, their daily work that grants nobody access; admins add companies, which
# become portal accounts like enterprises.
for _kind, _writer in (
    ("rules", Can.CONFIGURE),
    ("stations", Can.ADMINISTER),
    ("enterprises", Can.ADMINISTER),
    ("parameter-sets", Can.ADMINISTER),
    ("companies", Can.ADMINISTER),
    ("vehicles", Can.CONFIGURE),
    ("drivers", Can.CONFIGURE),
    ("zones", Can.CONFIGURE),
    ("speed-limits", Can.CONFIGURE),
    ("detector-rules", Can.CONFIGURE),  # the built-in anomaly and camera rules' settings
):
    ROUTE_ACCESS[("GET", f"/api/v1/config/{_kind}")] = Can.CONFIGURE
    ROUTE_ACCESS[("GET", f"/api/v1/config/{_kind}/{{key}}")] = Can.CONFIGURE
    ROUTE_ACCESS[("PUT", f"/api/v1/config/{_kind}/{{key}}")] = _writer
    ROUTE_ACCESS[("DELETE", f"/api/v1/config/{_kind}/{{key}}")] = _writer
#: Who may change an item of each configuration kind (also checked on rollback).
CONFIG_WRITERS = {
    kind: Can.CONFIGURE for kind in ("rule", "vehicle", "driver", "zone", "speed_limit", "detector")
} | {kind: Can.ADMINISTER for kind in ("station", "enterprise", "parameter_set", "company")}

WEBSOCKET = ("GET", "/ws")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def content_security_policy(tile_origin: str | None = None) -> str:
    """The pages load only their own scripts, styles and images (the portal's completeness bars
    set a style attribute) and are never framed; the wall's map also loads the images of its
    tile server (``web.basemap.tile_url``), whose origin is ``tile_origin``."""
    images = f"img-src 'self' data: {tile_origin}" if tile_origin else "img-src 'self' data:"
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "style-src-attr 'unsafe-inline'",
            images,
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


#: The policy without a tile server.
CONTENT_SECURITY_POLICY = content_security_policy()
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

ACCOUNTS = web.AppKey("accounts", AccountBook)
AUDIT = web.AppKey("audit", AuditLog)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (``role`` set) or an API key (``role`` None)."""

    name: str
    role: Role | None
    enterprise: str | None  # the enterprise a user or key is confined to
    via: str  # session (cookie), bearer (login token) or api_key
    capabilities: frozenset[Can]
    token: str = ""  # the login token itself (to log out)

    def may(self, capability: Can) -> bool:
        return capability in self.capabilities

    def sees(self, station: Station) -> bool:
        return self.enterprise is None or station.owner == self.enterprise


PRINCIPAL = web.RequestKey("principal", Principal)


def principal_of(request: web.Request) -> Principal:
    """The caller of a route that needs a login (set by :func:`access_control`)."""
    return request[PRINCIPAL]


def client_address(request: web.Request) -> str:
    return request.remote or ""


def route_key(request: web.Request) -> tuple[str, str] | None:
    route = request.match_info.route
    resource = route.resource
    if resource is None:  # 404/405: aiohttp's own answers
        return None
    method = "GET" if route.method == "HEAD" else route.method
    return method, resource.canonical


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def access_control(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who may call the route (:func:`_check_access`)."""
    return await _check_access(request, handler)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer as it goes out (``on_response_prepare``): pages, API, refusals, and the
    server's own 404s and 500s that no middleware sees."""
    config = request.app.get(appkeys.CONFIG)
    tile_origin = config.web.basemap.tile_origin() if config is not None else None
    response.headers.update(security_headers(tile_origin))


@functools.cache
def security_headers(tile_origin: str | None) -> dict[str, str]:
    """:data:`SECURITY_HEADERS`, with the tile server's origin in the policy if there is one."""
    if tile_origin is None:
        return SECURITY_HEADERS
    return SECURITY_HEADERS | {"Content-Security-Policy": content_security_policy(tile_origin)}


async def _check_access(request: web.Request, handler: Handler) -> web.StreamResponse:
    key = route_key(request)
    if key is None:
        return await handler(request)
    need = ROUTE_ACCESS.get(key)
    if need is None:
        log.error("route %s %s has no access policy: refused", *key)
        raise error_answer(web.HTTPForbidden, "this route has no access policy")
    page = not key[1].startswith("/api/") and key != WEBSOCKET
    try:
        principal = authenticate(request)
    except TokenRejected as exc:
        if need == Can.PUBLIC:  # e.g. the login page with a stale cookie: let them log in
            return await handler(request)
        audit(request, "anonymous", "access", DENIED, reason=str(exc))
        if page:
            raise _to_login(request, clear_cookie=True) from None
        raise error_answer(web.HTTPUnauthorized, str(exc), expired=exc.expired) from None
    if principal is not None:
        request[PRINCIPAL] = principal
    if need == Can.PUBLIC:
        return await handler(request)
    if principal is None:
        if page:
            raise _to_login(request)
        raise error_answer(
            web.HTTPUnauthorized,
            "log in first: send `Authorization: Bearer <token>` (POST /api/v1/auth/token)",
        )
    if not principal.may(need):
        who = f"role {principal.role}" if principal.role else "an API key"
        reason = f"{who} may not do this (needs {need.value})"
        audit(request, principal.name, "access", DENIED, reason=reason)
        if page:
            raise web.HTTPForbidden(text=f"403: {reason}", content_type="text/plain")
        raise error_answer(web.HTTPForbidden, reason)
    if principal.via == "session" and (request.method not in SAFE_METHODS or key == WEBSOCKET):
        _check_same_origin(request, principal)
    return await handler(request)


def authenticate(request: web.Request) -> Principal | None:
    """The caller, or None without credentials; raises :class:`TokenRejected` for bad ones."""
    accounts = request.app[ACCOUNTS]
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise TokenRejected("send `Authorization: Bearer <token or API key>`")
        key = accounts.check_api_key(secret)
        if key is not None:
            return api_key_principal(key)
        if secret.startswith(API_KEY_PREFIX):
            raise TokenRejected("unknown or revoked API key")
        return login_principal(accounts.check_token(secret), "bearer", secret)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return login_principal(accounts.check_token(cookie), "session", cookie)
    return None


def login_principal(login: Login, via: str, token: str) -> Principal:
    user = login.user
    return Principal(
        user.username, user.role, user.enterprise, via, ROLE_CAPABILITIES[user.role], token
    )


def api_key_principal(key: ApiKey) -> Principal:
    return Principal(f"apikey:{key.id}", None, key.enterprise, "api_key", API_KEY_CAPABILITIES)


def audit(request: web.Request, actor: str, action: str, outcome: str, **detail: object) -> None:
    request.app[AUDIT].record(
        actor,
        action,
        f"{request.method} {request.path}",
        outcome,
        client_address(request),
        **detail,
    )


def check_station(request: web.Request, station_id: str) -> None:
    """403 (audited) when the caller is confined to an enterprise that does not own it."""
    principal = principal_of(request)
    if principal.enterprise is None:
        return
    station = request.app[appkeys.REGISTRY].get(station_id)
    if station is None or not principal.sees(station):
        reason = f"station {station_id!r} is not one of enterprise {principal.enterprise}'s"
        audit(request, principal.name, "access", DENIED, reason=reason, station=station_id)
        raise error_answer(web.HTTPForbidden, reason, station_id=station_id)


def visible_station_ids(request: web.Request) -> list[str] | None:
    """The station ids the caller may see, or None for all."""
    principal = principal_of(request)
    if principal.enterprise is None:
        return None
    return [s.id for s in request.app[appkeys.REGISTRY] if principal.sees(s)]


def _check_same_origin(request: web.Request, principal: Principal) -> None:
    """Cookie-authenticated changes and websockets must come from our own pages, or those of
    ``access.allowed_origins`` (SameSite=Strict does the rest): a browser sends ``Origin`` on
    cross-site requests and on every websocket handshake."""
    origin = request.headers.get("Origin")
    allowed = request.app[appkeys.CONFIG].access.allowed_origins
    if origin and urlsplit(origin).netloc != request.host and origin.lower() not in allowed:
        reason = f"cross-site request from {origin} refused"
        audit(request, principal.name, "access", DENIED, reason=reason)
        raise error_answer(web.HTTPForbidden, reason)


def _to_login(request: web.Request, clear_cookie: bool = False) -> web.HTTPFound:
    redirect = web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}")
    if clear_cookie:
        redirect.del_cookie(SESSION_COOKIE, path="/")
    return redirect
