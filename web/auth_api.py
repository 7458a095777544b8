"""Logging in and out, and the accounts that admins and enterprises manage::

    GET    /login                       the login page (VI/EN)
    POST   /api/v1/auth/login           {"username", "password"} → session cookie (pages)
    POST   /api/v1/auth/token           {"username", "password"} → {"token", "expires_at"}
    POST   /api/v1/auth/logout          ends the login used for this request
    GET    /api/v1/auth/me              the caller: name, role, enterprise, capabilities
    POST   /api/v1/auth/password        {"current", "new"}: change one's own password
    GET    /api/v1/users                admin: every user
    POST   /api/v1/users                admin: {"username", "role", "password", "enterprise",
                                        "display_name"}
    PATCH  /api/v1/users/{username}     admin: {"role", "enterprise", "display_name", "disabled"}
    DELETE /api/v1/users/{username}     admin
    POST   /api/v1/users/{username}/password   admin: {"password"}
    GET    /api/v1/audit                admin: ?actor=&action=&outcome=&since=&limit=
    GET    /api/v1/apikeys              enterprise: its keys; admin: all (?enterprise=)
    POST   /api/v1/apikeys              {"label"} (admin: and "enterprise", null = state
                                        gateway) → the key, shown once
    DELETE /api/v1/apikeys/{id}         revoke

A wrong password answers 401; too many of them 429 with ``Retry-After``. Each login, logout,
refusal and account change is in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import Field

from ioc import appkeys
from ioc.accounts import (
    ApiKey,
    InvalidAccount,
    LoginLocked,
    LoginRefused,
    Role,
    UnknownUser,
    User,
)
from ioc.audit import DENIED, FAILED, OK, AuditEntry
from ioc.clock import iso_utc
from web.access import (
    ACCOUNTS,
    AUDIT,
    SESSION_COOKIE,
    Can,
    audit,
    client_address,
    login_principal,
    principal_of,
)
from web.api import Answer, ApiRoutes, Body, Query, error_answer, respond
from web.fields import IsoTime, Text, UtcTime, WholeNumber, count

STATIC_DIR = Path(__file__).parent / "static"
MAX_AUDIT_ROWS = 5_000
T = TypeVar("T")
Password = Field(max_length=1024, json_schema_extra={"format": "password"})

api = ApiRoutes()


class Credentials(Body):
    username: str = Field(max_length=64)
    password: str = Password


class PasswordChange(Body):
    current: str = Password
    new: str = Password


class NewUser(Body):
    username: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    role: Role = Field(strict=False)  # JSON text: a strict enum would take only a Role
    password: str = Password
    enterprise: str | None = Field(
        None, description="A known enterprise id, or a transport company id (fleet registry)."
    )
    display_name: str = Field("", max_length=200)


class UserChange(Body):
    """Every field is optional: an empty body changes nothing."""

    role: Role | None = Field(None, strict=False)
    enterprise: str | None = None
    display_name: str | None = Field(None, max_length=200)
    disabled: bool | None = None


class NewPassword(Body):
    password: str = Password


class NewApiKey(Body):
    label: Text = Field(max_length=200, description="What the key is for.")
    enterprise: str | None = Field(None, description="Admins: its enterprise; null = state.")


class AuditQuery(Query):
    actor: str | None = Field(None, description="Only this actor.")
    action: str | None = Field(None, description="Only this action (e.g. login, access).")
    outcome: Literal["ok", "denied", "failed"] | None = Field(None, description="Only this.")
    since: IsoTime | None = Field(None, description="Only from this time on.")
    limit: WholeNumber = count(200, MAX_AUDIT_ROWS)


class ApiKeyQuery(Query):
    enterprise: str | None = Field(
        None, description="Admins: only this enterprise's keys (empty: state gateway keys)."
    )


class Me(Answer):
    username: str
    role: Role
    enterprise: str | None = Field(description="The enterprise the user is confined to.")
    display_name: str
    capabilities: list[Can]


class Login(Answer):
    """A session login."""

    user: Me
    expires_at: UtcTime


class Token(Login):
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    token_type: Literal["bearer"]


class LoggedOut(Answer):
    logged_out: str


class Changed(Answer):
    changed: bool
    note: str | None = None


class UserAnswer(Answer):
    username: str
    role: Role
    enterprise: str | None
    display_name: str
    disabled: bool
    created_at: UtcTime


class UserList(Answer):
    users: list[UserAnswer]


class Removed(Answer):
    removed: str


class AuditEntryAnswer(Answer):
    id: int
    time: UtcTime
    actor: str = Field(description="User name, `apikey:<id>`, `anonymous` or `system`.")
    action: str = Field(description="e.g. login, logout, access, rule.update, alert.ack.")
    target: str = Field(description="What it was about: a route, a rule id ...")
    outcome: Literal["ok", "denied", "failed"]
    address: str = Field(description="The client's address.")
    detail: dict[str, Any]


class AuditList(Answer):
    entries: list[AuditEntryAnswer]


class ApiKeyAnswer(Answer):
    id: int
    enterprise: str | None = Field(description="Its enterprise; null for a state gateway key.")
    label: str
    created_by: str
    created_at: UtcTime
    revoked_at: UtcTime | None


class ApiKeyList(Answer):
    api_keys: list[ApiKeyAnswer]


class NewApiKeyAnswer(ApiKeyAnswer):
    key: str = Field(description="Shown once: store it now.")
    note: str


def add_auth_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    api.add_to(app)


async def login_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "login.html")


async def _login(request: web.Request, body: Credentials, kind: str) -> tuple[str, Login]:
    accounts = request.app[ACCOUNTS]
    address = client_address(request)
    username = body.username
    try:
        token, login = await accounts.login(username, body.password, address, kind)
    except LoginLocked as exc:
        request.app[AUDIT].record(username, "login", "", DENIED, address, reason=str(exc))
        error = error_answer(web.HTTPTooManyRequests, str(exc), retry_after_s=exc.retry_after_s)
        error.headers["Retry-After"] = str(exc.retry_after_s)
        raise error from None
    except LoginRefused as exc:
        request.app[AUDIT].record(username, "login", "", FAILED, address, reason=str(exc))
        raise error_answer(web.HTTPUnauthorized, str(exc)) from None
    request.app[AUDIT].record(username, "login", "", OK, address, kind=kind)
    principal = login_principal(login, kind, token)
    user = _me(principal.name, login.user, principal.capabilities)
    return token, Login(user=user, expires_at=iso_utc(login.expires_ms) or "")


@api.post("/api/v1/auth/login", tag="auth", errors=(401, 429), answer=Login)
async def login_session(request: web.Request, body: Credentials) -> web.StreamResponse:
    """Log in for the pages (session cookie)

    Sets the `ioc_session` cookie (HttpOnly, SameSite=Strict). A wrong password is a 401;
    too many failures lock the user and address out (429)."""
    token, answer = await _login(request, body, "session")
    response = respond(answer)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(request.app[appkeys.CONFIG].access.session_ttl_s),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.app[appkeys.CONFIG].access.secure_cookies,
    )
    return response


@api.post("/api/v1/auth/token", tag="auth", errors=(401, 429))
async def login_token(request: web.Request, body: Credentials) -> Token:
    """Log in for a bearer token

    For programs: send the token as `Authorization: Bearer <token>`. A wrong password is a 401;
    too many failures lock the user and address out (429)."""
    token, answer = await _login(request, body, "bearer")
    return Token(token=token, token_type="bearer", user=answer.user, expires_at=answer.expires_at)


@api.post("/api/v1/auth/logout", tag="auth", answer=LoggedOut)
async def logout(request: web.Request) -> web.StreamResponse:
    """Log out

    Ends the login used for this request (and clears the session cookie)."""
    principal = principal_of(request)
    request.app[ACCOUNTS].logout(principal.token)
    audit(request, principal.name, "logout", OK)
    response = respond(LoggedOut(logged_out=principal.name))
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@api.get("/api/v1/auth/me", tag="auth")
async def me(request: web.Request) -> Me:
    """The caller: name, role, enterprise and capabilities"""
    principal = principal_of(request)
    user = request.app[ACCOUNTS].user(principal.name)
    assert user is not None
    return _me(principal.name, user, principal.capabilities)


def _me(name: str, user: User, capabilities: frozenset[Can]) -> Me:
    return Me(
        username=name,
        role=user.role,
        enterprise=user.enterprise,
        display_name=user.display_name,
        capabilities=sorted(capabilities),
    )


@api.post("/api/v1/auth/password", tag="auth", answer=Changed)
async def change_own_password(request: web.Request, body: PasswordChange) -> web.StreamResponse:
    """Change one's own password

    Needs the current password (403 when wrong). Every login of the user ends."""
    principal = principal_of(request)
    accounts = request.app[ACCOUNTS]
    try:
        await accounts.login(principal.name, body.current, client_address(request), "bearer")
    except (LoginRefused, LoginLocked) as exc:
        audit(request, principal.name, "user.password", FAILED, reason=str(exc))
        raise error_answer(web.HTTPForbidden, "the current password is wrong") from None
    _account_change(accounts.set_password, principal.name, body.new)
    audit(request, principal.name, "user.password", OK, user=principal.name)
    response = respond(Changed(changed=True, note="every login of the user ended"))
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@api.get("/api/v1/users", tag="users")
async def list_users(request: web.Request) -> UserList:
    """List every user"""
    return UserList(users=[_user(u) for u in request.app[ACCOUNTS].users()])


@api.post("/api/v1/users", tag="users", status=201)
async def add_user(request: web.Request, body: NewUser) -> UserAnswer:
    """Add a user

    An enterprise user needs `enterprise`."""
    user = _account_change(
        request.app[ACCOUNTS].add_user,
        body.username,
        body.role,
        body.password,
        _enterprise(request, body.enterprise, companies=True),
        body.display_name,
    )
    who = principal_of(request).name
    audit(request, who, "user.create", OK, user=user.username, role=body.role)
    return _user(user)


@api.patch("/api/v1/users/{username}", tag="users", errors=(404,))
async def update_user(request: web.Request, username: str, body: UserChange) -> UserAnswer:
    """Change a user

    Disabling a user or changing the role ends its logins. An unknown user is a 404. Every
    field is optional (an empty body changes nothing)."""
    user = _account_change(
        request.app[ACCOUNTS].update_user,
        username,
        role=body.role,
        enterprise=_enterprise(request, body.enterprise, companies=True),
        display_name=body.display_name,
        disabled=body.disabled,
    )
    change = body.model_dump(exclude_unset=True, mode="json")
    audit(request, principal_of(request).name, "user.update", OK, user=username, change=change)
    return _user(user)


@api.delete("/api/v1/users/{username}", tag="users", errors=(404, 409))
async def remove_user(request: web.Request, username: str) -> Removed:
    """Remove a user

    One's own account cannot be removed (409); an unknown user is a 404."""
    if username == principal_of(request).name:
        raise error_answer(web.HTTPConflict, "you cannot remove your own account")
    _account_change(request.app[ACCOUNTS].remove_user, username)
    audit(request, principal_of(request).name, "user.delete", OK, user=username)
    return Removed(removed=username)


@api.post("/api/v1/users/{username}/password", tag="users", errors=(404,))
async def reset_password(request: web.Request, username: str, body: NewPassword) -> Changed:
    """Set a user's password

    Every login of the user ends. A short password is a 400; an unknown user is a 404."""
    _account_change(request.app[ACCOUNTS].set_password, username, body.password)
    audit(request, principal_of(request).name, "user.password", OK, user=username)
    return Changed(changed=True)


@api.get("/api/v1/audit", tag="audit")
async def list_audit(request: web.Request, query: AuditQuery) -> AuditList:
    """Read the audit log

    Newest first."""
    entries = request.app[AUDIT].query(
        actor=query.actor,
        action=query.action,
        outcome=query.outcome,
        since_ms=query.since,
        limit=query.limit,
    )
    return AuditList(entries=[_audit_entry(e) for e in entries])


@api.get("/api/v1/apikeys", tag="apikeys")
async def list_api_keys(request: web.Request, query: ApiKeyQuery) -> ApiKeyList:
    """List API keys

    An enterprise user sees its own; an admin every key, or one enterprise's with
    `?enterprise=` (empty: state gateway keys)."""
    principal = principal_of(request)
    accounts = request.app[ACCOUNTS]
    if principal.enterprise is not None:
        keys = accounts.api_keys(principal.enterprise)
    elif query.enterprise is not None:
        keys = accounts.api_keys(query.enterprise or None)
    else:
        keys = accounts.api_keys(everyone=True)
    return ApiKeyList(api_keys=[_key(k) for k in keys])


@api.post("/api/v1/apikeys", tag="apikeys", status=201)
async def create_api_key(request: web.Request, body: NewApiKey) -> NewApiKeyAnswer:
    """Make an API key

    The key is in the answer once and never again. Enterprises make keys for themselves;
    admins for any enterprise (`enterprise`: null = a state gateway)."""
    principal = principal_of(request)
    label = body.label.strip()
    if principal.enterprise is not None:
        if body.enterprise not in (None, principal.enterprise):
            raise error_answer(web.HTTPForbidden, "an enterprise makes keys for itself only")
        enterprise: str | None = principal.enterprise
    else:
        enterprise = _enterprise(request, body.enterprise)
    key, record = request.app[ACCOUNTS].create_api_key(enterprise, label, principal.name)
    audit(request, principal.name, "apikey.create", OK, key_id=record.id, enterprise=enterprise)
    return NewApiKeyAnswer(**_key(record).model_dump(), key=key, note="shown once: store it now")


@api.delete("/api/v1/apikeys/{id}", tag="apikeys", errors=(404,))
async def revoke_api_key(request: web.Request, id: WholeNumber) -> ApiKeyAnswer:
    """Revoke an API key"""
    principal = principal_of(request)
    accounts = request.app[ACCOUNTS]
    key = accounts.api_key(id)
    if key is None or (principal.enterprise is not None and key.enterprise != principal.enterprise):
        raise error_answer(web.HTTPNotFound, f"no API key {id} of yours")
    revoked = accounts.revoke_api_key(key.id)
    audit(request, principal.name, "apikey.revoke", OK, key_id=key.id, enterprise=key.enterprise)
    return _key(revoked)


def _account_change(change: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return change(*args, **kwargs)
    except UnknownUser as exc:
        raise error_answer(web.HTTPNotFound, str(exc)) from None
    except InvalidAccount as exc:
        raise error_answer(web.HTTPBadRequest, str(exc)) from None


def _enterprise(
    request: web.Request, enterprise: str | None, companies: bool = False
) -> str | None:
    """A known enterprise of the station registry; with ``companies`` a transport company of
    the fleet registry too (its users see its vehicles: web/journeys_api.py)."""
    if enterprise is None or enterprise in request.app[appkeys.REGISTRY].enterprises:
        return enterprise
    if companies and enterprise in request.app[appkeys.PIPELINE].vehicles.fleet.companies:
        return enterprise
    raise error_answer(web.HTTPBadRequest, f"`enterprise` {enterprise!r} is not a known enterprise")


def _user(user: User) -> UserAnswer:
    return UserAnswer.of(user, created_at=iso_utc(user.created_ms))


def _key(key: ApiKey) -> ApiKeyAnswer:
    revoked_at = iso_utc(key.revoked_ms) if key.revoked_ms else None
    return ApiKeyAnswer.of(key, created_at=iso_utc(key.created_ms), revoked_at=revoked_at)


def _audit_entry(entry: AuditEntry) -> AuditEntryAnswer:
    return AuditEntryAnswer.of(entry, time=iso_utc(entry.ts_ms))
