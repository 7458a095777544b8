"""The exception tree of the IOC backend.

::

    IocError
    ├── ConfigError            a configuration or registry file is invalid (path, problems)
    ├── ServiceStartError      a private Mosquitto/InfluxDB could not be started (name, log tail)
    ├── StoreError             InfluxDB refused or could not be reached (status, body)
    │   └── StoreUnavailable   the database could not be reached at all; retried later
    ├── StorageFull            the spool takes nothing more: disk full, failed fsync or its
    │                          size limit (reason, errno); input is refused until there is room
    ├── AccessError            (ioc/accounts.py, ioc/settings.py) refused access or change
    │   ├── LoginRefused       wrong user name or password
    │   ├── LoginLocked        too many failed logins (retry_after_s)
    │   ├── TokenRejected      unknown, expired (expired=True) or disabled login
    │   ├── InvalidAccount     an account change that cannot be made
    │   └── SettingRejected    a configuration change that does not validate (problems)
    │       └── StaleSetting   the item changed since the editor read it (current version)
    └── AlertError             (alerts/lifecycle.py) an alert action that cannot be done
        ├── UnknownAlert       no alert with that id
        ├── InvalidTransition  the alert's state does not allow the action (id, state, action)
        ├── UnknownSilence     no silence with that id
        └── InvalidSilence     a silence without target or with end before start

Rejected input is never an exception: it is a :class:`ioc.messages.Rejection` value that
flows to the rejection topic and the dead-letter store.
"""

from __future__ import annotations

import errno


class IocError(Exception):
    """Base class of every error the backend raises on purpose."""


class ConfigError(IocError):
    """A configuration or station-registry file is invalid.

    ``problems`` holds one human-readable line per problem, each naming where it is;
    ``fields``, where known, the dotted path of each one's field (``stations.2.owner``), for
    editors to show it next to that field.
    """

    def __init__(self, path: str, problems: list[str], fields: list[str] | None = None) -> None:
        self.path = path
        self.problems = problems
        self.fields = fields or [""] * len(problems)
        super().__init__(f"{path}: " + "; ".join(problems))


class AccessError(IocError):
    """A login, token or change refused; the message says why, for the person concerned."""


class ServiceStartError(IocError):
    """A private service (Mosquitto, InfluxDB) did not come up; ``log_tail`` says why."""

    def __init__(self, name: str, reason: str, log_tail: str = "") -> None:
        self.name = name
        self.reason = reason
        self.log_tail = log_tail
        super().__init__(f"{name} did not start: {reason}" + (f"\n{log_tail}" if log_tail else ""))


class StoreError(IocError):
    """InfluxDB answered a write or query with an error."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        super().__init__(f"InfluxDB answered {status}: {body[:500]}")


class StoreUnavailable(StoreError):
    """InfluxDB could not be reached (connection refused, timeout); the write is retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(0, reason)


class StorageFull(IocError, OSError):
    """The spool cannot take more lines: the disk is full (ENOSPC, EDQUOT, EFBIG), an fsync
    failed (EIO), or the spool holds its size limit while InfluxDB is not taking the points.

    Input is refused meanwhile — HTTP 503, MQTT messages not acknowledged, drop-folder files
    left in place — and the service leaves the state by itself when there is room again. An
    ``OSError`` too (``errno``, ``strerror``), so code that survives a failing disk survives it.
    """

    def __init__(self, reason: str, code: int = errno.ENOSPC) -> None:
        super().__init__(code, reason)
        self.reason = reason
