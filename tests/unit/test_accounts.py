"""Accounts: password hashing, logins and lock-out, tokens and API keys."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from ioc.accounts import (
    ADDRESS_FAILURES_FACTOR,
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
    # others behind the same address (a proxy) may still log in
    await book.login("ent", PASSWORD, "10.0.0.1", "bearer")


async def test_a_locked_address_still_lets_in_users_who_logged_in_from_it(
    book: AccountBook,
) -> None:
    """The centre's people share one proxy address: guesses from it lock the address for
    users who never logged in from it, not for those who did (each still has a user lock)."""
    book.add_user("mai", Role.VIEWER, PASSWORD)
    await book.login("ent", PASSWORD, "10.0.0.1", "bearer")
    for i in range(ADDRESS_FAILURES_FACTOR * CONFIG.max_login_failures):
        with pytest.raises(LoginRefused):
            await book.login(f"guess-{i}", "nope", "10.0.0.1", "bearer")
    with pytest.raises(LoginLocked):
        await book.login("mai", PASSWORD, "10.0.0.1", "bearer")
    with pytest.raises(LoginLocked):
        await book.login("guess-new", "nope", "10.0.0.1", "bearer")
    await book.login("ent", PASSWORD, "10.0.0.1", "bearer")
    await book.login("mai", PASSWORD, "10.0.0.2", "bearer")  # another address is not locked


async def test_a_burst_of_concurrent_guesses_gets_no_more_than_the_limit(
    book: AccountBook,
) -> None:
    """Attempts in flight count as failures until they succeed: 41 logins at once, the right
    password last, reach the password check at most ``max_login_failures`` times."""
    passwords = ["guess"] * 40 + [PASSWORD]
    results = await asyncio.gather(
        *(book.login("lan", p, "10.0.0.1", "bearer") for p in passwords),
        return_exceptions=True,
    )
    checked = [r for r in results if not isinstance(r, LoginLocked)]
    assert all(isinstance(r, (LoginRefused, tuple)) for r in checked), results
    assert len(checked) <= CONFIG.max_login_failures, results
    assert sum(isinstance(r, LoginLocked) for r in results) >= 41 - CONFIG.max_login_failures
    # all wrong: exactly the limit is checked, every other attempt is refused unchecked
    wrong = await asyncio.gather(
        *(book.login("ent", "guess", "10.0.0.3", "bearer") for _ in range(41)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, LoginRefused) for r in wrong) == CONFIG.max_login_failures
    assert sum(isinstance(r, LoginLocked) for r in wrong) == 41 - CONFIG.max_login_failures


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


async def test_sprayed_user_names_do_not_stay_in_memory(
    book: AccountBook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failures of names never tried again leave the window and are dropped once many keys are
    tracked, so spraying made-up names from many addresses cannot grow memory forever."""
    monkeypatch.setattr("ioc.accounts.FAILURES_TRACKED", 20)
    clock = [1_000.0]
    monkeypatch.setattr("ioc.accounts.time.monotonic", lambda: clock[0])
    for n in range(40):
        with pytest.raises(LoginRefused):
            await book.login(f"sprayed-{n}", "wrong", f"10.0.{n}.1", "bearer")
    assert len(book._failures) > 20  # all within the window: still counted
    clock[0] += CONFIG.lockout_s + 1
    with pytest.raises(LoginRefused):
        await book.login("one-more", "wrong", "10.1.0.1", "bearer")
    assert set(book._failures) == {"user:one-more", "address:10.1.0.1"}
