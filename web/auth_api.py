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
from typing import Any, TypeVar

from aiohttp import web

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
from web.requests import (
    bad_request,
    count_param,
    json_body,
    json_error,
    text_field,
    time_param,
    whole_number,
)

STATIC_DIR = Path(__file__).parent / "static"
MAX_AUDIT_ROWS = 5_000
T = TypeVar("T")


def add_auth_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page)
    app.router.add_post("/api/v1/auth/login", login_session)
    app.router.add_post("/api/v1/auth/token", login_token)
    app.router.add_post("/api/v1/auth/logout", logout)
    app.router.add_get("/api/v1/auth/me", me)
    app.router.add_post("/api/v1/auth/password", change_own_password)
    app.router.add_get("/api/v1/users", list_users)
    app.router.add_post("/api/v1/users", add_user)
    app.router.add_patch("/api/v1/users/{username}", update_user)
    app.router.add_delete("/api/v1/users/{username}", remove_user)
    app.router.add_post("/api/v1/users/{username}/password", reset_password)
    app.router.add_get("/api/v1/audit", list_audit)
    app.router.add_get("/api/v1/apikeys", list_api_keys)
    app.router.add_post("/api/v1/apikeys", create_api_key)
    app.router.add_delete("/api/v1/apikeys/{id}", revoke_api_key)


async def login_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "login.html")


async def _login(request: web.Request, kind: str) -> tuple[str, dict[str, Any]]:
    body = await json_body(request, {"username", "password"}, frozenset({"username", "password"}))
    username = text_field(body, "username", max_length=64)
    password = text_field(body, "password", max_length=1024)
    accounts = request.app[ACCOUNTS]
    address = client_address(request)
    try:
        token, login = await accounts.login(username, password, address, kind)
    except LoginLocked as exc:
        request.app[AUDIT].record(username, "login", "", DENIED, address, reason=str(exc))
        error = json_error(web.HTTPTooManyRequests, str(exc), retry_after_s=exc.retry_after_s)
        error.headers["Retry-After"] = str(exc.retry_after_s)
        raise error from None
    except LoginRefused as exc:
        request.app[AUDIT].record(username, "login", "", FAILED, address, reason=str(exc))
        raise json_error(web.HTTPUnauthorized, str(exc)) from None
    request.app[AUDIT].record(username, "login", "", OK, address, kind=kind)
    principal = login_principal(login, kind, token)
    return token, {
        "user": _me(principal.name, login.user, principal.capabilities),
        "expires_at": iso_utc(login.expires_ms),
    }


async def login_session(request: web.Request) -> web.Response:
    token, answer = await _login(request, "session")
    response = web.json_response(answer)
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


async def login_token(request: web.Request) -> web.Response:
    token, answer = await _login(request, "bearer")
    return web.json_response({"token": token, "token_type": "bearer", **answer})


async def logout(request: web.Request) -> web.Response:
    principal = principal_of(request)
    request.app[ACCOUNTS].logout(principal.token)
    audit(request, principal.name, "logout", OK)
    response = web.json_response({"logged_out": principal.name})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    principal = principal_of(request)
    user = request.app[ACCOUNTS].user(principal.name)
    assert user is not None
    return web.json_response(_me(principal.name, user, principal.capabilities))


def _me(name: str, user: User, capabilities: frozenset[Can]) -> dict[str, Any]:
    return {
        "username": name,
        "role": user.role.value,
        "enterprise": user.enterprise,
        "display_name": user.display_name,
        "capabilities": sorted(c.value for c in capabilities),
    }


async def change_own_password(request: web.Request) -> web.Response:
    principal = principal_of(request)
    body = await json_body(request, {"current", "new"}, frozenset({"current", "new"}))
    accounts = request.app[ACCOUNTS]
    try:
        await accounts.login(
            principal.name,
            text_field(body, "current", max_length=1024),
            client_address(request),
            "bearer",
        )
    except (LoginRefused, LoginLocked) as exc:
        audit(request, principal.name, "user.password", FAILED, reason=str(exc))
        raise json_error(web.HTTPForbidden, "the current password is wrong") from None
    _account_change(accounts.set_password, principal.name, text_field(body, "new", max_length=1024))
    audit(request, principal.name, "user.password", OK, user=principal.name)
    response = web.json_response({"changed": True, "note": "every login of the user ended"})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def list_users(request: web.Request) -> web.Response:
    return web.json_response({"users": [_user_json(u) for u in request.app[ACCOUNTS].users()]})


async def add_user(request: web.Request) -> web.Response:
    body = await json_body(
        request,
        {"username", "role", "password", "enterprise", "display_name"},
        frozenset({"username", "role", "password"}),
    )
    role = _role(body.get("role"))
    enterprise = _enterprise(request, body.get("enterprise"))
    user = _account_change(
        request.app[ACCOUNTS].add_user,
        text_field(body, "username", max_length=64),
        role,
        text_field(body, "password", max_length=1024),
        enterprise,
        text_field(body, "display_name", max_length=200),
    )
    audit(request, principal_of(request).name, "user.create", OK, user=user.username, role=role)
    return web.json_response(_user_json(user), status=201)


async def update_user(request: web.Request) -> web.Response:
    body = await json_body(request, {"role", "enterprise", "display_name", "disabled"})
    username = request.match_info["username"]
    disabled = body.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise bad_request("`disabled` must be true or false")
    user = _account_change(
        request.app[ACCOUNTS].update_user,
        username,
        role=_role(body["role"]) if "role" in body else None,
        enterprise=_enterprise(request, body.get("enterprise")),
        display_name=text_field(body, "display_name", max_length=200)
        if "display_name" in body
        else None,
        disabled=disabled,
    )
    audit(request, principal_of(request).name, "user.update", OK, user=username, change=body)
    return web.json_response(_user_json(user))


async def remove_user(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    if username == principal_of(request).name:
        raise json_error(web.HTTPConflict, "you cannot remove your own account")
    _account_change(request.app[ACCOUNTS].remove_user, username)
    audit(request, principal_of(request).name, "user.delete", OK, user=username)
    return web.json_response({"removed": username})


async def reset_password(request: web.Request) -> web.Response:
    body = await json_body(request, {"password"}, frozenset({"password"}))
    username = request.match_info["username"]
    _account_change(
        request.app[ACCOUNTS].set_password, username, text_field(body, "password", max_length=1024)
    )
    audit(request, principal_of(request).name, "user.password", OK, user=username)
    return web.json_response({"changed": True})


async def list_audit(request: web.Request) -> web.Response:
    query = request.query
    limit = count_param(query, "limit", 200, MAX_AUDIT_ROWS)
    entries = request.app[AUDIT].query(
        actor=query.get("actor"),
        action=query.get("action"),
        outcome=query.get("outcome"),
        since_ms=time_param(query, "since"),
        limit=limit,
    )
    return web.json_response({"entries": [_audit_json(e) for e in entries]})


async def list_api_keys(request: web.Request) -> web.Response:
    principal = principal_of(request)
    accounts = request.app[ACCOUNTS]
    if principal.enterprise is not None:
        keys = accounts.api_keys(principal.enterprise)
    elif "enterprise" in request.query:
        keys = accounts.api_keys(request.query["enterprise"] or None)
    else:
        keys = accounts.api_keys(everyone=True)
    return web.json_response({"api_keys": [_key_json(k) for k in keys]})


async def create_api_key(request: web.Request) -> web.Response:
    principal = principal_of(request)
    body = await json_body(request, {"label", "enterprise"}, frozenset({"label"}))
    label = text_field(body, "label", max_length=200).strip()
    if not label:
        raise bad_request("`label` must say what the key is for")
    if principal.enterprise is not None:
        if body.get("enterprise") not in (None, principal.enterprise):
            raise json_error(web.HTTPForbidden, "an enterprise makes keys for itself only")
        enterprise: str | None = principal.enterprise
    else:
        enterprise = _enterprise(request, body.get("enterprise"))
    key, record = request.app[ACCOUNTS].create_api_key(enterprise, label, principal.name)
    audit(request, principal.name, "apikey.create", OK, key_id=record.id, enterprise=enterprise)
    return web.json_response(
        {**_key_json(record), "key": key, "note": "shown once: store it now"}, status=201
    )


async def revoke_api_key(request: web.Request) -> web.Response:
    principal = principal_of(request)
    raw = request.match_info["id"]
    accounts = request.app[ACCOUNTS]
    key_id = whole_number(raw)
    key = accounts.api_key(key_id) if key_id is not None else None
    if key is None or (principal.enterprise is not None and key.enterprise != principal.enterprise):
        raise json_error(web.HTTPNotFound, f"no API key {raw} of yours")
    revoked = accounts.revoke_api_key(key.id)
    audit(request, principal.name, "apikey.revoke", OK, key_id=key.id, enterprise=key.enterprise)
    return web.json_response(_key_json(revoked))


def _account_change(change: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return change(*args, **kwargs)
    except UnknownUser as exc:
        raise json_error(web.HTTPNotFound, str(exc)) from None
    except InvalidAccount as exc:
        raise bad_request(str(exc)) from None


def _role(raw: object) -> Role:
    try:
        return Role(str(raw))
    except ValueError:
        raise bad_request(f"`role` must be one of {', '.join(r.value for r in Role)}") from None


def _enterprise(request: web.Request, raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or raw not in request.app[appkeys.REGISTRY].enterprises:
        raise bad_request(f"`enterprise` {raw!r} is not a known enterprise")
    return raw


def _user_json(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role.value,
        "enterprise": user.enterprise,
        "display_name": user.display_name,
        "disabled": user.disabled,
        "created_at": iso_utc(user.created_ms),
    }


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "enterprise": key.enterprise,
        "label": key.label,
        "created_by": key.created_by,
        "created_at": iso_utc(key.created_ms),
        "revoked_at": iso_utc(key.revoked_ms) if key.revoked_ms else None,
    }


def _audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "time": iso_utc(entry.ts_ms),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "address": entry.address,
        "detail": entry.detail,
    }
