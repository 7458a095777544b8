"""The ``alerts`` configuration section: storage, flapping, escalation, webhooks and e-mail."""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator

from analytics.config import Area
from ioc.messages import Severity
from ioc.section import Section, StationKind

AlertEvent = Literal[
    "opened", "updated", "acknowledged", "resolved", "closed", "escalated", "commented"
]

Language = Literal["vi", "en"]

NOTIFIED_BY_DEFAULT: tuple[AlertEvent, ...] = ("opened", "escalated", "resolved")
CLOCK_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
EMAIL_ADDRESS = r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$"


class Webhook(Section):
    """A webhook with a chosen body: ``json`` ``{"event", "alert"}`` or ``text``, a one-line
    message for chat and SMS gateways: ``{**fields, text_key: "..."}``."""

    url: AnyHttpUrl = Field(description="Where the events are POSTed.")
    format: Literal["json", "text"] = Field(
        "json", description="`json`: the event and the alert; `text`: a one-line message."
    )
    language: Language = Field("vi", description="Language of the `text` message.")
    text_key: str = Field(
        "text",
        min_length=1,
        max_length=64,
        description="Key of the message in a `text` body (`text` for Slack, Telegram, Zalo "
        "bots; e.g. `message` for some SMS gateways).",
    )
    fields: dict[str, str | int] = Field(
        default_factory=dict,
        description="Constant keys added to a `text` body, e.g. `{chat_id: '-100123'}` for "
        "Telegram or `{to: '+8490...'}` for an SMS gateway.",
    )


class WebhookUrls(Section):
    """Per severity, the webhooks: a URL (JSON body) or a :class:`Webhook`."""

    info: list[AnyHttpUrl | Webhook] = Field(
        default_factory=list, description="Webhooks that receive events of info alerts."
    )
    warning: list[AnyHttpUrl | Webhook] = Field(
        default_factory=list, description="Webhooks that receive events of warning alerts."
    )
    critical: list[AnyHttpUrl | Webhook] = Field(
        default_factory=list, description="Webhooks that receive events of critical alerts."
    )

    def for_severity(self, severity: Severity) -> list[Webhook]:
        listed = {
            Severity.INFO: self.info,
            Severity.WARNING: self.warning,
            Severity.CRITICAL: self.critical,
        }[severity]
        return [w if isinstance(w, Webhook) else Webhook(url=w) for w in listed]


class QuietHours(Section):
    """A daily period, in Vietnam time, without e-mail; ``22:00``-``06:00`` spans midnight."""

    start: str = Field(description="Start, `HH:MM` Vietnam time (quoted in YAML).")
    end: str = Field(description="End, `HH:MM` Vietnam time, excluded (quoted in YAML).")
    critical_passes: bool = Field(
        True, description="Critical alerts are sent during quiet hours all the same."
    )

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        if isinstance(value, int):  # YAML 1.1 reads an unquoted 22:00 as 1320 (base 60)
            raise ValueError("write the time in quotes, e.g. '22:00'")
        if isinstance(value, str) and not CLOCK_TIME.match(value):
            raise ValueError(f"{value!r} is not a time of day HH:MM (00:00 to 23:59)")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("quiet hours: start and end are the same time")
        return self

    def minutes(self) -> tuple[int, int]:
        """Start and end as minutes after local midnight."""
        return _minutes(self.start), _minutes(self.end)


def _minutes(clock_time: str) -> int:
    hours, minutes = clock_time.split(":")
    return int(hours) * 60 + int(minutes)


class EmailRoute(Section):
    """Who gets an e-mail of which alert events. Station filters combine with AND; an empty
    one does not filter. A station not in the registry matches only unfiltered routes."""

    name: str = Field(min_length=1, max_length=64, description="Shown in logs.")
    to: list[str] = Field(
        min_length=1,
        max_length=100,
        description="Recipients' addresses (one e-mail to all of them).",
    )
    severities: list[Severity] = Field(
        default_factory=lambda: list(Severity), description="Alert severities e-mailed."
    )
    events: list[AlertEvent] = Field(
        default_factory=lambda: list(NOTIFIED_BY_DEFAULT), description="Alert events e-mailed."
    )
    kinds: list[StationKind] = Field(
        default_factory=list, description="Only stations of these kinds."
    )
    owners: list[str] = Field(
        default_factory=list,
        description="Only stations of these owners (`state` or enterprise ids).",
    )
    area: Area | None = Field(
        None, description="Only stations inside: a box or lat, lon and radius_km."
    )
    quiet_hours: QuietHours | None = Field(None, description="No e-mail during these hours.")
    language: Language = Field("vi", description="Language of subject and body.")

    @field_validator("to")
    @classmethod
    def _addresses(cls, addresses: list[str]) -> list[str]:
        bad = [a for a in addresses if not re.match(EMAIL_ADDRESS, a)]
        if bad:
            raise ValueError(f"not e-mail addresses: {', '.join(bad)}")
        return addresses


class EmailConfig(Section):
    """E-mail of alert events over SMTP, per :class:`EmailRoute`."""

    enabled: bool = Field(False, description="Send e-mail (needs `host`, `sender`, `routes`).")
    host: str = Field("", max_length=255, description="SMTP server.")
    port: int = Field(587, ge=1, le=65_535, description="SMTP port (587 STARTTLS, 465 TLS).")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="`starttls` (upgrade after connecting), `tls` (TLS from the start) or "
        "`none` (plain; a local relay only).",
    )
    username: str | None = Field(None, description="Login, if the server wants one.")
    password: SecretStr | None = Field(None, description="Password of `username`.")
    sender: str = Field("", description="From address, e.g. `IOC Lâm Đồng <ioc@example.gov.vn>`.")
    timeout_s: float = Field(30.0, gt=0, le=300, description="Timeout of one SMTP exchange.")
    attempts: int = Field(
        5, ge=1, le=20, description="Attempts per e-mail before it counts as failed."
    )
    backoff_s: float = Field(
        5.0, ge=0, le=600, description="Wait before the first retry; doubled after each."
    )
    queue_size: int = Field(
        1_000, ge=1, le=100_000, description="E-mails waiting at most; beyond, dropped (counted)."
    )
    workers: int = Field(2, ge=1, le=16, description="SMTP connections at once.")
    routes: list[EmailRoute] = Field(
        default_factory=list, max_length=100, description="Recipient groups and what they get."
    )

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> Self:
        if self.enabled:
            missing = [k for k in ("host", "sender", "routes") if not getattr(self, k)]
            if missing:
                raise ValueError(f"e-mail is enabled but {', '.join(missing)} not given")
        if self.sender and "@" not in self.sender:
            raise ValueError(f"sender {self.sender!r} has no e-mail address")
        if self.password is not None and self.username is None:
            raise ValueError("a password without a username")
        return self


class AlertsConfig(Section):
    database: str = Field(
        "var/alerts.sqlite3",
        min_length=1,
        description="SQLite file keeping alerts, their history and silences (relative to the "
        "working directory; its folder is created). `:memory:` keeps nothing (tests).",
    )
    flap_window_s: float = Field(
        900.0,
        ge=0,
        le=7 * 86_400,
        description="A rule that fires again within this time after its alert was resolved "
        "reopens that alert (a flap) instead of opening a new one. 0 = never reopen.",
    )
    flap_threshold: int = Field(
        3,
        ge=1,
        le=1_000,
        description="An alert reopened more often than this within `flap_window_s` is marked "
        "flapping: still shown, no longer notified.",
    )
    escalate_after_min: float = Field(
        15.0,
        gt=0,
        le=7 * 1_440,
        description="A critical alert still unacknowledged this long after it was raised is "
        "escalated (once).",
    )
    check_interval_s: float = Field(
        30.0, gt=0, le=3_600, description="How often the service looks for alerts to escalate."
    )
    retention_days: float = Field(
        365.0,
        ge=0,
        le=36_500,
        description="Closed alerts (with their history) and ended silences older than this are "
        "deleted from the database. 0 = keep everything.",
    )
    webhooks: WebhookUrls = Field(
        default_factory=WebhookUrls, description="Webhook URLs per alert severity."
    )
    notify_events: list[AlertEvent] = Field(
        default_factory=lambda: list(NOTIFIED_BY_DEFAULT),
        description="Events sent to the webhooks (never for silenced or flapping alerts).",
    )
    email: EmailConfig = Field(
        default_factory=EmailConfig, description="E-mail over SMTP, routed per recipient group."
    )
    webhook_timeout_s: float = Field(
        10.0, gt=0, le=300, description="HTTP timeout of one webhook request."
    )
    webhook_attempts: int = Field(
        5, ge=1, le=20, description="Attempts per webhook call before it counts as failed."
    )
    webhook_backoff_s: float = Field(
        1.0, ge=0, le=60, description="Wait before the first retry; doubled after each attempt."
    )
    webhook_queue_size: int = Field(
        1_000,
        ge=1,
        le=1_000_000,
        description="Webhook calls waiting at most; beyond this new ones are dropped (counted).",
    )
    webhook_workers: int = Field(4, ge=1, le=64, description="Webhook calls in flight at once.")
