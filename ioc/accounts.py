"""Who may do what: user accounts with roles, logins (sessions and bearer tokens) and the
enterprises' API keys, kept in the service's SQLite database.

Roles: ``admin`` (everything, accounts, stations, enterprises, audit), ``officer``
(thresholds and rules, silences), ``operator`` (acknowledges and handles alerts), ``viewer``
(the wall, read only) and ``enterprise`` (bound to one enterprise: its own stations, data
files, API keys and refused data). What each role may call is in :mod:`web.access`.

Passwords are hashed with scrypt (salted, cost ``access.scrypt_n``); login tokens and API keys
are random and only their SHA-256 is kept.

Lock-out: a user with ``max_login_failures`` failed logins within ``lockout_s`` is refused for
``lockout_s`` even with the right password. An attempt counts as a failure from before its
password check (scrypt, slow) until it succeeds, so a burst of concurrent attempts gets no more
guesses than sequential ones. An address with five times as many failures is refused too, but
not for users who have logged in from it since the service started: the centre's people share
one proxy address, and one person guessing there must not lock out the rest (each still has
their own user lock).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from enum import StrEnum

from ioc.config import AccessConfig
from ioc.errors import AccessError

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
TOKEN_BYTES = 32
API_KEY_PREFIX = "ioc_"
ADDRESS_FAILURES_FACTOR = 5  # an address is locked after 5x the failures that lock a user
FAILURES_TRACKED = 10_000  # keys with failures kept before the expired ones are dropped
KEEP_EXPIRED_MS = 7 * 86_400_000  # an expired token is still recognised (to say "expired")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    enterprise TEXT,
    password_hash TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    disabled INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS logins (
    token_sha256 TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_sha256 TEXT NOT NULL UNIQUE,
    enterprise TEXT,
    label TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
"""


class Role(StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    OPERATOR = "operator"
    VIEWER = "viewer"
    ENTERPRISE = "enterprise"


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: Role
    enterprise: str | None
    display_name: str
    disabled: bool
    created_ms: int


@dataclass(frozen=True, slots=True)
class Login:
    """A valid login token of a user: ``kind`` is ``session`` (cookie) or ``bearer``."""

    user: User
    kind: str
    expires_ms: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    enterprise: str | None  # None: a state gateway key, may write for every station
    label: str
    created_by: str
    created_ms: int
    revoked_ms: int | None


class LoginRefused(AccessError):
    """Wrong user name or password, or a disabled account (one message for all: no hint)."""


class LoginLocked(AccessError):
    """Too many failed logins for this user or address; ``retry_after_s`` says how long."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class TokenRejected(AccessError):
    """A token that is unknown, expired (``expired``) or of a disabled user."""

    def __init__(self, reason: str, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


class InvalidAccount(AccessError):
    """An account change that cannot be made (bad name, short password, unknown user...)."""


class UnknownUser(InvalidAccount):
    """No user by that name."""


def hash_password(password: str, n: int) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=8, p=1, dklen=32)
    return f"scrypt${n}$8$1${_b64(salt)}${_b64(digest)}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(got, expected)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def sha256_hex(secret: str) -> str:
    """How tokens and API keys are kept (also in the accounts file of ``ioc credentials``)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


class AccountBook:
    """Users, login tokens and API keys, on the event loop's SQLite connection. Setting a
    password hashes it in place (tens of ms: rare, admin actions); :meth:`login` checks it in a
    worker thread."""

    def __init__(self, db: sqlite3.Connection, config: AccessConfig) -> None:
        self._db = db
        self._config = config
        db.executescript(SCHEMA)
        self._failures: dict[str, deque[float]] = defaultdict(deque)  # key → failure times
        self._in_flight: Counter[str] = Counter()  # key → attempts being checked
        self._known_users: dict[str, set[str]] = defaultdict(set)  # address → logged in from it
        # A well-formed hash to check against when the user does not exist: same cost.
        self._decoy = hash_password(secrets.token_hex(8), config.scrypt_n)

    # --- users -------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        role: Role,
        password: str,
        enterprise: str | None = None,
        display_name: str = "",
    ) -> User:
        if not USERNAME.match(username):
            raise InvalidAccount(f"user name {username!r} must match {USERNAME.pattern}")
        if (role == Role.ENTERPRISE) != (enterprise is not None):
            raise InvalidAccount("an enterprise user needs an enterprise; other roles none")
        self._check_password(password)
        if self.user(username) is not None:
            raise InvalidAccount(f"user {username!r} exists")
        with self._db:
            self._db.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?, ?, 0, ?)",
                (
                    username,
                    role.value,
                    enterprise,
                    hash_password(password, self._config.scrypt_n),
                    display_name,
                    _now_ms(),
                ),
            )
        return self._user_or_fail(username)

    def update_user(
        self,
        username: str,
        *,
        role: Role | None = None,
        enterprise: str | None = None,
        display_name: str | None = None,
        disabled: bool | None = None,
    ) -> User:
        user = self._user_or_fail(username)
        role = role or user.role
        enterprise = enterprise if role == Role.ENTERPRISE else None
        if role == Role.ENTERPRISE and enterprise is None:
            enterprise = user.enterprise
        if (role == Role.ENTERPRISE) != (enterprise is not None):
            raise InvalidAccount("an enterprise user needs an enterprise")
        with self._db:
            self._db.execute(
                "UPDATE users SET role = ?, enterprise = ?, display_name = ?, disabled = ? "
                "WHERE username = ?",
                (
                    role.value,
                    enterprise,
                    user.display_name if display_name is None else display_name,
                    int(user.disabled if disabled is None else disabled),
                    username,
                ),
            )
            if disabled or role != user.role:
                self._db.execute("DELETE FROM logins WHERE username = ?", (username,))
        return self._user_or_fail(username)

    def set_password(self, username: str, password: str) -> None:
        """New password; every login of the user ends."""
        self._user_or_fail(username)
        self._check_password(password)
        with self._db:
            self._db.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?",
                (hash_password(password, self._config.scrypt_n), username),
            )
            self._db.execute("DELETE FROM logins WHERE username = ?", (username,))

    def remove_user(self, username: str) -> None:
        self._user_or_fail(username)
        with self._db:
            self._db.execute("DELETE FROM logins WHERE username = ?", (username,))
            self._db.execute("DELETE FROM users WHERE username = ?", (username,))

    def user(self, username: str) -> User | None:
        row = self._db.execute(
            "SELECT username, role, enterprise, display_name, disabled, created_ms "
            "FROM users WHERE username = ?",
            (username,),
        ).fetchone()
        return None if row is None else _user(row)

    def users(self) -> list[User]:
        rows = self._db.execute(
            "SELECT username, role, enterprise, display_name, disabled, created_ms "
            "FROM users ORDER BY username"
        ).fetchall()
        return [_user(row) for row in rows]

    def has_admin(self) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM users WHERE role = 'admin' AND disabled = 0 LIMIT 1"
        ).fetchone()
        return row is not None

    # --- logins ------------------------------------------------------------------------

    async def login(
        self, username: str, password: str, address: str, kind: str
    ) -> tuple[str, Login]:
        """Check the password (scrypt, in a worker thread) and issue a token; ``kind`` is
        ``session`` (cookie) or ``bearer``."""
        user_key, address_key = keys = (f"user:{username}", f"address:{address}")
        now = time.monotonic()
        self._check_lockout(user_key, now)
        if username not in self._known_users.get(address, ()):  # spares who logged in here
            self._check_lockout(address_key, now)
        # From here until it succeeds the attempt counts as a failure: no await between the
        # checks and this line, so concurrent attempts see each other.
        self._in_flight.update(keys)
        good = False
        try:
            good = await self._password_is_right(username, password)
        finally:
            for key in keys:
                self._in_flight[key] -= 1
                if not self._in_flight[key]:
                    del self._in_flight[key]
                if not good:
                    self._failures[key].append(time.monotonic())
            if not good and len(self._failures) > FAILURES_TRACKED:
                self._forget_expired_failures(time.monotonic())
        if not good:
            raise LoginRefused("wrong user name or password")
        self._failures.pop(user_key, None)
        self._known_users[address].add(username)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        created = _now_ms()
        expires = created + int(self._config.session_ttl_s * 1000)
        with self._db:
            self._db.execute(
                "DELETE FROM logins WHERE expires_ms < ?", (created - KEEP_EXPIRED_MS,)
            )
            self._db.execute(
                "INSERT INTO logins VALUES (?, ?, ?, ?, ?)",
                (sha256_hex(token), username, kind, created, expires),
            )
        return token, Login(self._user_or_fail(username), kind, expires)

    async def _password_is_right(self, username: str, password: str) -> bool:
        """The user exists, is enabled and this is their password (same cost otherwise)."""
        row = self._db.execute(
            "SELECT password_hash, disabled FROM users WHERE username = ?", (username,)
        ).fetchone()
        stored = row[0] if row else self._decoy
        good = await asyncio.to_thread(password_matches, password, stored)
        return good and row is not None and not row[1]

    def _forget_expired_failures(self, now: float) -> None:
        """Drop the keys whose failures all left the window: sprayed user names and
        addresses that are never tried again must not stay in memory."""
        window = self._config.lockout_s
        self._failures = defaultdict(
            deque, {k: f for k, f in self._failures.items() if now - f[-1] <= window}
        )

    def _check_lockout(self, key: str, now: float) -> None:
        """Refuse when the failures within the window, with the attempts in flight, reach
        the limit (an address's is five times a user's)."""
        window = self._config.lockout_s
        failures = self._failures.get(key, deque())
        while failures and now - failures[0] > window:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
        limit = self._config.max_login_failures
        if key.startswith("address:"):
            limit *= ADDRESS_FAILURES_FACTOR
        if len(failures) + self._in_flight[key] >= limit:
            retry = int(window - (now - failures[-1])) + 1 if failures else 1
            raise LoginLocked(
                f"too many failed logins; try again in {retry} s", retry_after_s=retry
            )

    def check_token(self, token: str) -> Login:
        row = self._db.execute(
            "SELECT username, kind, expires_ms FROM logins WHERE token_sha256 = ?",
            (sha256_hex(token),),
        ).fetchone()
        if row is None:
            raise TokenRejected("unknown or revoked token; log in again")
        if row[2] <= _now_ms():
            raise TokenRejected("the login has expired; log in again", expired=True)
        user = self.user(row[0])
        if user is None or user.disabled:
            raise TokenRejected("the account is disabled")
        return Login(user, row[1], row[2])

    def logout(self, token: str) -> None:
        with self._db:
            self._db.execute("DELETE FROM logins WHERE token_sha256 = ?", (sha256_hex(token),))

    # --- API keys ------------------------------------------------------------------------

    def create_api_key(
        self, enterprise: str | None, label: str, created_by: str
    ) -> tuple[str, ApiKey]:
        """A new key; the plain key is returned once and never stored."""
        key = API_KEY_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        return key, self.import_api_key(sha256_hex(key), enterprise, label, created_by)

    def import_api_key(
        self, key_sha256: str, enterprise: str | None, label: str, created_by: str
    ) -> ApiKey:
        with self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO api_keys "
                "(key_sha256, enterprise, label, created_by, created_ms) VALUES (?, ?, ?, ?, ?)",
                (key_sha256, enterprise, label, created_by, _now_ms()),
            )
        row_id = cursor.lastrowid if cursor.rowcount else None
        if row_id is None:
            found = self._db.execute(
                "SELECT id FROM api_keys WHERE key_sha256 = ?", (key_sha256,)
            ).fetchone()
            row_id = found[0]
        key = self.api_key(int(row_id))
        assert key is not None
        return key

    def api_keys(self, enterprise: str | None = None, everyone: bool = False) -> list[ApiKey]:
        """Keys of one enterprise (``None``: state gateway keys), or all with ``everyone``."""
        columns = "id, enterprise, label, created_by, created_ms, revoked_ms"
        if everyone:
            rows = self._db.execute(f"SELECT {columns} FROM api_keys ORDER BY id").fetchall()
        else:
            rows = self._db.execute(
                f"SELECT {columns} FROM api_keys WHERE enterprise IS ? ORDER BY id", (enterprise,)
            ).fetchall()
        return [ApiKey(*row) for row in rows]

    def api_key(self, key_id: int) -> ApiKey | None:
        row = self._db.execute(
            "SELECT id, enterprise, label, created_by, created_ms, revoked_ms "
            "FROM api_keys WHERE id = ?",
            (key_id,),
        ).fetchone()
        return None if row is None else ApiKey(*row)

    def revoke_api_key(self, key_id: int) -> ApiKey:
        with self._db:
            self._db.execute(
                "UPDATE api_keys SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL",
                (_now_ms(), key_id),
            )
        key = self.api_key(key_id)
        if key is None:
            raise InvalidAccount(f"no API key {key_id}")
        return key

    def check_api_key(self, key: str) -> ApiKey | None:
        """The key's record if it is valid (known, not revoked)."""
        row = self._db.execute(
            "SELECT id FROM api_keys WHERE key_sha256 = ? AND revoked_ms IS NULL",
            (sha256_hex(key),),
        ).fetchone()
        return None if row is None else self.api_key(row[0])

    # --- helpers -------------------------------------------------------------------------

    def _check_password(self, password: str) -> None:
        if len(password) < self._config.password_min_length:
            raise InvalidAccount(
                f"the password needs at least {self._config.password_min_length} characters"
            )

    def _user_or_fail(self, username: str) -> User:
        user = self.user(username)
        if user is None:
            raise UnknownUser(f"no user {username!r}")
        return user


def _user(row: tuple[str, str, str | None, str, int, int]) -> User:
    return User(row[0], Role(row[1]), row[2], row[3], bool(row[4]), row[5])
