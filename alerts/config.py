"""The ``alerts`` configuration section: storage, flapping, escalation and webhooks."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, Field

from ioc.section import Section

AlertEvent = Literal[
    "opened", "updated", "acknowledged", "resolved", "closed", "escalated", "commented"
]

NOTIFIED_BY_DEFAULT: tuple[AlertEvent, ...] = ("opened", "escalated", "resolved")


class WebhookUrls(Section):
    info: list[AnyHttpUrl] = Field(
        default_factory=list, description="URLs that receive events of info alerts."
    )
    warning: list[AnyHttpUrl] = Field(
        default_factory=list, description="URLs that receive events of warning alerts."
    )
    critical: list[AnyHttpUrl] = Field(
        default_factory=list, description="URLs that receive events of critical alerts."
    )


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
