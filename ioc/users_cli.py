"""``ioc users``: accounts from the command line (the first admin, password resets)::

    ioc users add NAME --role admin|officer|operator|viewer|enterprise [--enterprise ID]
    ioc users list
    ioc users passwd NAME
    ioc users disable NAME | enable NAME

The password is asked twice on the terminal, or read from one line of standard input with
``--password-stdin`` (scripts). Every change is in the audit log as actor ``cli``.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from ioc.accounts import AccountBook, InvalidAccount, Role
from ioc.audit import OK, AuditLog
from ioc.clock import iso_utc
from ioc.config import IocConfig
from ioc.database import open_database
from ioc.fleet import FleetRegistry
from ioc.registry import StationRegistry


def add_users_parser(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("action", choices=["add", "list", "passwd", "disable", "enable"])
    sub.add_argument("name", nargs="?", help="user name")
    sub.add_argument("--role", choices=[r.value for r in Role], help="role of a new user")
    sub.add_argument("--enterprise", help="enterprise or transport company of an enterprise user")
    sub.add_argument("--display-name", default="", help="name shown in the console")
    sub.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )


def users_command(args: argparse.Namespace, config: IocConfig, registry: StationRegistry) -> int:
    db = open_database(config.access.database)
    try:
        accounts = AccountBook(db, config.access)
        audit = AuditLog(db, config.access.audit_keep_days)
        if args.action == "list":
            for user in accounts.users():
                flags = " (disabled)" if user.disabled else ""
                enterprise = f" [{user.enterprise}]" if user.enterprise else ""
                print(f"{user.username:<24} {user.role.value:<10}{enterprise}{flags}")
            return 0
        if not args.name:
            print("error: give the user name", file=sys.stderr)
            return 2
        if args.action == "add":
            if args.role is None:
                print("error: --role is required", file=sys.stderr)
                return 2
            companies = (
                FleetRegistry.from_file(config.vehicles.fleet).companies
                if config.vehicles.fleet
                else {}
            )
            if args.enterprise and args.enterprise not in {**registry.enterprises, **companies}:
                print(f"error: unknown enterprise {args.enterprise!r}", file=sys.stderr)
                return 2
            user = accounts.add_user(
                args.name, Role(args.role), _password(args), args.enterprise, args.display_name
            )
            print(f"added {user.username} ({user.role.value}), created {iso_utc(user.created_ms)}")
        elif args.action == "passwd":
            accounts.set_password(args.name, _password(args))
            print(f"new password for {args.name}; their logins have ended")
        else:
            accounts.update_user(args.name, disabled=args.action == "disable")
            print(f"{args.name} {args.action}d")
        audit.record("cli", f"user.{args.action}", args.name, OK, "localhost")
        return 0
    except InvalidAccount as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InvalidAccount("the two passwords differ")
    return first
