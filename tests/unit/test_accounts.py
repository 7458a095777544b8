"""Accounts: password hashing, logins and lock-out, tokens and API keys."""

from __future__ import annotations

import sqlite3

import pytest

from ioc.accounts import (
    AccountBook,
    InvalidAccount,
    LoginLocked,
    LoginRefused,
    Role,
    TokenRejected,
    hash_password,
    password_matches,
)
from ioc.config import AccessConfig

CONFIG = AccessConfig(scrypt_n=2**10, max_login_failures=3, lockout_s=60)
PASSWORD = "a long enough password"


@pytest.fixture
def book() -> AccountBook:
    accounts = AccountBook(sqlite3.connect(":memory:"), CONFIG)
    accounts.add_user("lan", Role.OFFICER, PASSWORD, display_name="Lan")
    accounts.add_user("ent", Role.ENTERPRISE, PASSWORD, enterprise="ENT-A")
    return accounts


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password(PASSWORD, 2**10), hash_password(PASSWORD, 2**10)
    assert first.startswith("scrypt$1024$") and first != second and PASSWORD not in first
    assert password_matches(PASSWORD, first) and not password_matches("wrong", first)
    assert not password_matches(PASSWORD, "not a hash")


async def test_a_login_gives_a_token_that_names_the_user(book: AccountBook) -> None:
    token, login = await book.login("lan", PASSWORD, "10.0.0.1", "bearer")
    assert login.user.role == Role.OFFICER
    assert book.check_token(token).user.username == "lan"
    book.logout(token)
    with pytest.raises(TokenRejected, match="unknown or revoked"):
        book.check_token(token)


async def test_wrong_passwords_lock_the_user_out_even_with_the_right_one(
    book: AccountBook,
) -> None:
    for _ in range(CONFIG.max_login_failures):
        with pytest.raises(LoginRefused, match="wrong user name or password"):
            await book.login("lan", "nope", "10.0.0.1", "bearer")
    with pytest.raises(LoginLocked) as locked:
        await book.login("lan", PASSWORD, "10.0.0.2", "bearer")
    assert 0 < locked.value.retry_after_s <= CONFIG.lockout_s + 1
    # others behind the same address (a proxy) may still log in...
    await book.login("ent", PASSWORD, "10.0.0.1", "bearer")
    # ...until the address itself has failed five times as often
    for i in range(4 * CONFIG.max_login_failures):
        with pytest.raises(LoginRefused):
            await book.login(f"guess-{i}", "nope", "10.0.0.1", "bearer")
    with pytest.raises(LoginLocked):
        await book.login("ent", PASSWORD, "10.0.0.1", "bearer")


async def test_unknown_users_fail_like_wrong_passwords(book: AccountBook) -> None:
    with pytest.raises(LoginRefused, match="wrong user name or password"):
        await book.login("nobody", PASSWORD, "10.0.0.1", "bearer")


async def test_an_expired_token_says_so(book: AccountBook) -> None:
    token, _ = await book.login("lan", PASSWORD, "10.0.0.1", "bearer")
    book._db.execute("UPDATE logins SET expires_ms = 1")
    with pytest.raises(TokenRejected, match="expired") as rejected:
        book.check_token(token)
    assert rejected.value.expired


async def test_disabling_a_user_or_a_new_password_ends_their_logins(book: AccountBook) -> None:
    token, _ = await book.login("lan", PASSWORD, "10.0.0.1", "bearer")
    book.update_user("lan", disabled=True)
    with pytest.raises(TokenRejected):
        book.check_token(token)
    with pytest.raises(LoginRefused):
        await book.login("lan", PASSWORD, "10.0.0.1", "bearer")
    book.update_user("lan", disabled=False)
    token, _ = await book.login("lan", PASSWORD, "10.0.0.1", "bearer")
    book.set_password("lan", "another long password")
    with pytest.raises(TokenRejected):
        book.check_token(token)


def test_account_rules(book: AccountBook) -> None:
    with pytest.raises(InvalidAccount, match="at least 10 characters"):
        book.add_user("short", Role.VIEWER, "short")
    with pytest.raises(InvalidAccount, match="needs an enterprise"):
        book.add_user("x", Role.ENTERPRISE, PASSWORD)
    with pytest.raises(InvalidAccount, match="exists"):
        book.add_user("lan", Role.VIEWER, PASSWORD)
    with pytest.raises(InvalidAccount, match="must match"):
        book.add_user("bad name", Role.VIEWER, PASSWORD)


def test_api_keys_are_shown_once_kept_hashed_and_revocable(book: AccountBook) -> None:
    key, record = book.create_api_key("ENT-A", "logger 1", "ent")
    assert key.startswith("ioc_")
    stored = book._db.execute("SELECT key_sha256 FROM api_keys").fetchall()
    assert key not in str(stored)
    assert book.check_api_key(key) == record
    assert [k.id for k in book.api_keys("ENT-A")] == [record.id]
    assert book.api_keys("ENT-B") == []
    book.revoke_api_key(record.id)
    assert book.check_api_key(key) is None
