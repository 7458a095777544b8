"""Typed configuration: one model per section, unknown keys rejected, every field with a
default, bounds and a description. ``ioc check-config FILE`` validates a file.

Environment variables override the file: ``IOC_<SECTION>__<FIELD>``, e.g.
``IOC_MQTT__HOST=broker.example``, ``IOC_INFLUX__URL=http://db:8086``, ``IOC_INFLUX__TOKEN=...``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from alerts.config import AlertsConfig
from analytics.cameras.config import CamerasConfig
from analytics.config import AnalyticsConfig, RuleConfig
from analytics.journeys.config import JourneyConfig
from ioc.errors import ConfigError
from ioc.section import Section, StationKind
from ioc.vehicles_config import VehiclesConfig
from ioc.yaml_text import safe_load

__all__ = ["IocConfig", "RuleConfig", "Section", "StationKind", "load_config"]

ENV_PREFIX = "IOC_"


class MqttConfig(Section):
    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker TCP port.")
    username: str | None = Field(None, description="User name, if the broker requires one.")
    password: SecretStr | None = Field(None, description="Password for `username`.")
    client_id: str = Field(
        "ioc-ingest",
        min_length=1,
        max_length=64,
        description="Client id of the ingest subscriber; fixed so the broker keeps its "
        "persistent session (QoS 1 messages queued while the service is down). A broker that "
        "binds client ids to accounts (the generated Mosquitto config) uses `username` instead.",
    )
    cameras_username: str | None = Field(
        None,
        description="Account of the camera-frame connection (the service's camera feed, or the "
        "camera simulator); required with `username`, and different from it: on a broker that "
        "uses the user name as client id, one account means one connection.",
    )
    cameras_password: SecretStr | None = Field(None, description="Password for `cameras_username`.")
    live_lane: bool = Field(
        True,
        description="While the persistent session works off a backlog, a second, clean-session "
        "connection takes the stations' live readings at once, so an alert does not wait "
        "behind the backlog (ingest.live_lane).",
    )
    live_username: str | None = Field(
        None,
        description="Account of the live-lane connection; with `username` the lane runs only "
        "if it is set (an account of its own, as for cameras; `ioc credentials` makes "
        "ioc-service-live).",
    )
    live_password: SecretStr | None = Field(None, description="Password for `live_username`.")
    topic_prefix: str = Field(
        "ioc/v1", min_length=1, description="Prefix of every topic, see docs/protocol.md."
    )
    queue_size: int = Field(
        20_000,
        ge=100,
        le=1_000_000,
        description="Bounded queue between receiving and processing; when full the receiver "
        "waits (backpressure, counted) and the broker holds the rest.",
    )
    reconnect_max_s: float = Field(
        10.0, gt=0, le=300, description="Longest wait between reconnection attempts."
    )
    keepalive_s: int = Field(
        60,
        ge=2,
        le=3600,
        description="MQTT keepalive of the stations' connection: a ping when nothing was sent "
        "for half of it; a broker silent this long (while the service reads) is taken as "
        "gone and the service connects again.",
    )

    @model_validator(mode="after")
    def _cameras_have_their_own_account(self) -> MqttConfig:
        if self.cameras_username is not None and self.cameras_username == self.username:
            raise ValueError(
                "cameras_username must differ from username: the camera connection would take "
                "over the ingest subscriber's session"
            )
        if self.live_username is not None and self.live_username in (
            self.username,
            self.cameras_username,
        ):
            raise ValueError(
                "live_username must differ from username and cameras_username: the live lane "
                "would take over another connection's session"
            )
        return self

    def live_login(self) -> tuple[str | None, str | None] | None:
        """User name and password of the live-lane connection; None when the lane is off
        (switched off, or the broker needs a login and no live account is configured)."""
        if not self.live_lane:
            return None
        if self.username is None:
            return None, None
        if self.live_username is None:
            return None
        password = self.live_password
        return self.live_username, password.get_secret_value() if password else None

    def cameras_login(self) -> tuple[str | None, str | None]:
        """User name and password of the camera-frame connection; none if the broker takes
        anonymous clients (no `username`). Raises ConfigError if `username` is set alone."""
        if self.username is None:
            return None, None
        if self.cameras_username is None:
            raise ConfigError(
                "mqtt",
                [
                    "cameras_username: required with username (an account of its own for camera "
                    "frames; `ioc credentials` makes ioc-cameras and ioc-camera-publisher)"
                ],
            )
        password = self.cameras_password
        return self.cameras_username, password.get_secret_value() if password else None

    def connection(self, suffix: str) -> MqttConfig:
        """Another connection of the service's account (the worker layout's): client id and
        user name ``<...>-<suffix>``, the same password. A broker that binds client ids to
        accounts needs that account: ``ioc broker-files`` writes it (ingest.credentials)."""
        update = {"client_id": f"{self.client_id}-{suffix}"}
        if self.username:
            update["username"] = f"{self.username}-{suffix}"
        return self.model_copy(update=update)


class InfluxConfig(Section):
    url: str = Field("http://127.0.0.1:8086", description="Base URL of the InfluxDB v1 HTTP API.")
    database: str = Field("ioc", min_length=1, description="Database (v2/v3: bucket mapping).")
    retention_policy: str | None = Field(None, description="Retention policy; None = default.")
    username: str | None = Field(None, description="v1 user name (InfluxDB 1.x with auth).")
    password: SecretStr | None = Field(None, description="v1 password.")
    token: SecretStr | None = Field(
        None, description="API token (InfluxDB 2.x/3.x v1-compatibility endpoints)."
    )
    create_database: bool = Field(
        True, description="Run CREATE DATABASE at start (InfluxDB 1.x; harmless if it exists)."
    )
    batch_size: int = Field(
        5_000, ge=1, le=100_000, description="Points per write request at most."
    )
    flush_interval_s: float = Field(
        0.5, gt=0, le=60, description="Longest time a point waits before it is written."
    )
    spool_dir: Path = Field(
        Path("var/spool"),
        description="Durable queue of points not yet in InfluxDB (one directory per process).",
    )
    spool_max_bytes: int = Field(
        10 * 1024**3,
        ge=1024**2,
        description="Disk the spool may use while InfluxDB is unreachable; at it the spool "
        "is full: input is refused (HTTP 503, MQTT unacknowledged) until InfluxDB drains it, "
        "reported in /api/v1/health.",
    )
    spool_segment_bytes: int = Field(
        64 * 1024**2, ge=64 * 1024, description="Size of one spool file before the next starts."
    )
    spool_fsync: bool = Field(
        True, description="fsync every appended batch before acknowledging its messages."
    )
    timeout_s: float = Field(10.0, gt=0, le=300, description="HTTP timeout of one request.")


DEFAULT_FILE_SYMBOLS = {
    "PM2,5": "pm25",
    "PM2.5": "pm25",
    "PM-2,5": "pm25",
    "PM10": "pm10",
    "PM": "dust",  # loggers of stack stations write PM for total dust (unconfirmed: configure)
    "Temp": "temp",
    "NH4+": "nh4",
    "NH4": "nh4",
    "BOD": "bod5",
    "NOx": "nox",
}


MAX_FILE_BYTES_ALLOWED = 50 * 1024 * 1024
DEFAULT_GAS_MOLAR_MASSES = {
    "so2": 64.066,
    "no2": 46.0055,
    "nox": 46.0055,
    "no": 30.006,
    "co": 28.010,
    "o3": 47.997,
    "nh3": 17.031,
    "h2s": 34.08,
}


class IngestConfig(Section):
    max_future_s: float = Field(
        300.0, ge=0, description="Readings stamped further in the future are rejected."
    )
    max_age_s: float = Field(
        60 * 86_400.0,
        gt=0,
        description="Readings older than this are rejected (loggers keep 60 days).",
    )
    reject_log_interval_s: float = Field(
        60.0, ge=0, description="Log a rejection at most once per station per this interval."
    )
    batch_size: int = Field(
        2_000, ge=1, le=100_000, description="Messages processed together at most."
    )
    gather_ms: float = Field(
        10.0,
        ge=0,
        le=1_000,
        description="How long a batch may wait for more messages: larger batches cost less "
        "per message, at this much added latency.",
    )
    credentials_file: Path | None = Field(
        None,
        description="Accounts file (MQTT passwords, API keys) made by `ioc credentials`; "
        "without it HTTP ingest is closed and the broker needs no login.",
    )
    drop_folder: Path | None = Field(
        None,
        description="Folder where station data files arrive (e.g. the FTP server's); a "
        "subfolder named after an enterprise id may only hold that enterprise's stations.",
    )
    drop_folder_poll_s: float = Field(2.0, gt=0, le=3600, description="How often it is read.")
    file_symbols: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_FILE_SYMBOLS),
        description="Parameter symbols of station files → registry keys (case-insensitive); "
        "a symbol not listed is lower-cased.",
    )
    reference_temperature_c: float = Field(
        25.0,
        ge=-50,
        le=100,
        description="Reference temperature of gas volumes (Nm³) at which ppm/ppb of a gas become "
        "µg/m³; 25 °C and 101.325 kPa (760 mmHg) as QCVN air standards are commonly read "
        "(not confirmed from the regulation's text: configure).",
    )
    reference_pressure_kpa: float = Field(
        101.325, gt=0, le=200, description="Reference pressure of gas volumes (see above)."
    )
    gas_molar_masses_g_mol: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_GAS_MOLAR_MASSES),
        description="Molar mass of each gas parameter (g/mol), to convert ppm/ppb; NOx as NO2.",
    )
    max_file_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        le=MAX_FILE_BYTES_ALLOWED,
        description="Largest station data file accepted (HTTP answers 413 above it; the drop "
        "folder refuses it with a .result.json).",
    )
    file_time_tolerance_s: float | None = Field(
        3600.0,
        ge=0,
        description="A line whose time is further than this from the time in its file's name "
        "is refused (bad_timestamp); null: not checked.",
    )


class BasemapConfig(Section):
    """The wall's map under the stations, cameras and vehicles (drawn with Leaflet): raster tiles
    of an XYZ server, or of a WMTS server in Web Mercator (``GoogleMapsCompatible``), and the
    province's and districts' outlines. Without ``tile_url`` the wall draws its offline map
    (grid, scale, outlines); tiles that fail to load leave that drawing visible."""

    tile_url: str | None = Field(
        None,
        max_length=500,
        description="Tile URL template with {z}, {x} and {y} (or {-y}, TMS), and {s} for a "
        "subdomain as the first label of the host; null: no tiles, the offline map. E.g. "
        "OpenStreetMap `https://tile.openstreetmap.org/{z}/{x}/{y}.png`; a province's XYZ "
        "`https://gis.example.gov.vn/tiles/basemap/{z}/{x}/{y}.png`; a province's WMTS (KVP) "
        "`https://gis.example.gov.vn/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
        "&LAYER=basemap&STYLE=default&TILEMATRIXSET=GoogleMapsCompatible&TILEMATRIX={z}"
        "&TILEROW={y}&TILECOL={x}&FORMAT=image/png`. Its origin is added to the pages' "
        "Content-Security-Policy (img-src).",
    )
    attribution: str = Field(
        "",
        max_length=300,
        description="Shown in the map's corner, as plain text; the tile server's terms may "
        "require it (OpenStreetMap: `© OpenStreetMap contributors`).",
    )
    subdomains: str = Field(
        "abc", pattern=r"^[a-z0-9]{1,10}$", description="Letters {s} takes, one per subdomain."
    )
    min_zoom: int = Field(
        0, ge=0, le=24, description="Lowest zoom level the server has; below it, tiles are shrunk."
    )
    max_zoom: int = Field(
        19,
        ge=0,
        le=24,
        description="Highest zoom level the server has; above it, tiles are enlarged.",
    )
    appearance: Literal["dark", "dim", "natural"] = Field(
        "dim",
        description="How the tiles are shown on the dark wall: `dark` inverts a light street "
        "map, `dim` darkens it, `natural` as served (aerial imagery).",
    )
    outlines: Path | None = Field(
        Path("config/outlines.geojson"),
        description="GeoJSON of the province's and districts' outlines (polygons with "
        "properties `level`: province or district, `name`, and optionally `label`: [lon, lat] "
        "of the district's name), relative to cwd; null: none. The demo province's is made by "
        "`python -m simulators.outlines`.",
    )

    @field_validator("tile_url")
    @classmethod
    def _a_tile_template(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            raise ValueError("tile_url: an http(s) URL with a host")
        if any(ch in url for ch in " \t\"';,\\"):
            raise ValueError("tile_url: no spaces, quotes, commas, semicolons or backslashes")
        if "{z}" not in url or "{x}" not in url or ("{y}" not in url and "{-y}" not in url):
            raise ValueError("tile_url: needs {z}, {x} and {y} (or {-y})")
        netloc = parts.netloc.removeprefix("{s}.")
        if "{" in netloc or "}" in netloc or "@" in netloc:
            raise ValueError("tile_url: in the host only a leading `{s}.` may stand")
        return url

    @model_validator(mode="after")
    def _zooms_in_order(self) -> BasemapConfig:
        if self.min_zoom > self.max_zoom:
            raise ValueError("min_zoom must not exceed max_zoom")
        return self

    def tile_origin(self) -> str | None:
        """The tile server's origin as a CSP source (``{s}.`` becomes ``*.``); None: no tiles."""
        if self.tile_url is None:
            return None
        parts = urlsplit(self.tile_url)
        netloc = parts.netloc
        if netloc.startswith("{s}."):
            netloc = "*." + netloc.removeprefix("{s}.")
        return f"{parts.scheme}://{netloc.lower()}"


class WebConfig(Section):
    host: str = Field("127.0.0.1", description="Address the web server listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port of the wall, API and websocket.")
    language: Literal["vi", "en"] = Field("vi", description="Default language of the wall.")
    alert_sound: bool = Field(
        False,
        description="Whether the wall plays a short tone when a critical alert opens (not "
        "silenced), by default: each browser may switch it with the wall's 🔔 toggle, and its "
        "choice is remembered there. Browsers play sound only after a click on the page.",
    )
    client_queue_size: int = Field(
        500, ge=10, le=100_000, description="Events queued per websocket client before resync."
    )
    replay_events: int = Field(
        10_000, ge=100, le=1_000_000, description="Events kept for clients that resume."
    )
    heartbeat_s: float = Field(
        2.5,
        ge=0.5,
        le=30,
        description="Interval of the heartbeats on the wall's websocket (they carry the "
        "server's clock). A wall that receives nothing for about two intervals shows its data "
        "as stale.",
    )
    station_push_interval_s: float = Field(
        1.0, gt=0, le=60, description="How often changed station states are pushed."
    )
    offline_after_intervals: int = Field(
        3, ge=1, le=100, description="A station is offline after this many missed intervals."
    )
    idle_timeout_s: float = Field(
        15.0,
        gt=0,
        le=3600,
        description="A connection that has not sent a whole request header this long after "
        "it opened or after its last answer is closed: idle keep-alive connections, and slow "
        "or unfinished headers (aiohttp's keepalive_timeout). It does not bound a slow body: "
        "behind a reverse proxy, let the proxy bound that (nginx client_body_timeout) and keep "
        "its upstream keepalive_timeout shorter than this.",
    )
    loop_check_interval_s: float = Field(
        0.25,
        ge=0.05,
        le=5,
        description="How often the event-loop monitor wakes up to measure its lag (the drift "
        "of a sleep), reported in GET /api/v1/health `loop`.",
    )
    loop_stall_ms: float = Field(
        1000.0,
        ge=50,
        le=60_000,
        description="A wake-up of the event-loop monitor later than this is a stall: nothing "
        "ran on the loop meanwhile (no websocket frames, heartbeats, MQTT or HTTP).",
    )
    loop_stall_recent_s: float = Field(
        60.0,
        ge=1,
        le=3600,
        description="After a stall, health reports `degraded` (reason `loop_stall`) for this "
        "long, with the worst stall of this window.",
    )
    basemap: BasemapConfig = Field(
        default_factory=BasemapConfig,
        description="The wall's map: tile server, outlines (offline drawing without tiles).",
    )


class AccessConfig(Section):
    """Accounts, sessions, the audit log and the versioned configuration (one SQLite file)."""

    database: Path = Field(
        Path("var/ioc.sqlite3"),
        description="SQLite file of accounts, sessions, audit log and the configuration "
        "(stations, enterprises, rules), seeded from the files on first start.",
    )
    session_ttl_s: float = Field(
        12 * 3600.0, ge=60, le=30 * 86_400, description="Life of a login (cookie or token)."
    )
    secure_cookies: bool = Field(
        False, description="Send the session cookie over HTTPS only (set behind TLS)."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Other origins (`https://host[:port]`) whose pages may use the session "
        "cookie for changes and the websocket; the service's own origin (its Host) always "
        "may. E.g. the public name when a reverse proxy does not pass the Host header.",
    )
    max_login_failures: int = Field(
        5, ge=1, le=100, description="Failed logins per user or address before a lock-out."
    )
    lockout_s: float = Field(
        300.0, ge=1, le=86_400, description="Window of failed logins, and lock-out length."
    )
    password_min_length: int = Field(10, ge=8, le=128, description="Shortest password.")
    scrypt_n: int = Field(
        2**14, ge=2**10, le=2**20, description="scrypt cost of password hashes (power of 2)."
    )
    audit_keep_days: int = Field(365, ge=1, le=3650, description="Audit entries kept this long.")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, values: list[str]) -> list[str]:
        for value in values:
            parts = urlsplit(value)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or value != f"{parts.scheme}://{parts.netloc}"
            ):
                raise ValueError(f"{value!r} is not an origin like https://ioc.example:8443")
        return [value.lower() for value in values]

    @field_validator("scrypt_n")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError("scrypt_n must be a power of 2")
        return value


class SimulatorConfig(Section):
    interval_s: float = Field(
        5.0, gt=0, le=3600, description="Seconds between two readings of one station."
    )
    backfill_hours: int = Field(
        24, ge=0, le=24 * 60, description="History published at start (a logger's backlog)."
    )
    backfill_step_s: int = Field(300, ge=10, description="Spacing of backfilled readings.")
    episode_probability: float = Field(
        0.002, ge=0, le=1, description="Chance per station and tick that an episode starts."
    )
    first_episode_after_s: float = Field(
        20.0, ge=0, description="An exceedance is forced this soon after start, for the demo."
    )
    cameras_fps: float = Field(
        2.0, ge=0, le=30, description="Frames per second of each simulated camera; 0 = none."
    )
    pm_scale: float = Field(
        0.5,
        gt=0,
        le=5,
        description="Particulate levels relative to Hanoi's monthly means (REFERENCE §5); "
        "1.0 = Hanoi, the default 0.5 suits a cleaner highland province.",
    )
    seed: int | None = Field(None, description="Random seed; None = different every run.")
    vehicles: int = Field(
        500,
        ge=0,
        le=100_000,
        description="Simulated transport vehicles (`ioc dev`); 0 = none. Another count than "
        "the fleet registry's writes a matching registry under the dev folder.",
    )
    vehicle_history_s: int = Field(
        3 * 3600,
        ge=0,
        le=86_400,
        description="The fleet starts this far in the past and catches up, so its scripted "
        "episodes (09:00-14:00 local) and tracks are on the wall soon after start.",
    )


#: ``workers.ingest: auto`` starts no worker layout below this many cores. On 2 cores (a
#: 300,000-message catch-up, 100 stations, tests/benchmarks/bench_catchup.py) the layout's
#: ingest ran at 40,500 msg/s against 36,200 in one process between 10 % and 90 % stored, at 33
#: against 26 µs of CPU per message, but its four children's start (~0.7 s of imports each)
#: cost it ~1.8 s, so one process finished first (8.7 against 11.1 s). With two more cores the
#: starts run side by side and the steady rate scales with the workers; above 2 cores this is
#: reasoned, not measured: a setting, not a finding. The broker and database keep
#: AUTO_SPARE_CORES.
AUTO_MIN_CORES = 4
AUTO_SPARE_CORES = 2
CHILD_NAME = r"^(ingest|analytics)-(0|[1-9][0-9]?)$"


class WorkersConfig(Section):
    """The process layout (docs/deployment.md "Scaling out"): one process, or ingest workers
    on the broker's shared subscription and analytics partitions that own the stations, on
    this machine or others (`ioc worker`)."""

    ingest: int | Literal["auto"] = Field(
        "auto",
        description="Ingest worker processes (decode, validate, spool, write, acknowledge) "
        "on a shared subscription, on every machine together; 0: one process does "
        f"everything; `auto`: 0 below {AUTO_MIN_CORES} cores, else the cores less "
        f"{AUTO_SPARE_CORES} (left to the broker and database). `ioc serve --workers N` sets it.",
    )
    partitions: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Analytics partitions (processes; each station's windows, rules and "
        "duplicate filter live in one); default: as many as ingest workers.",
    )
    group: str = Field(
        "ioc-ingest",
        min_length=1,
        pattern=r"^[^/#+$]+$",
        description="Shared-subscription group of the ingest workers (`$share/<group>/...`).",
    )
    run_here: list[Annotated[str, StringConstraints(pattern=CHILD_NAME)]] | None = Field(
        None,
        description="The children the service starts on its own machine, as `ingest-<i>` and "
        "`analytics-<p>`; default: all of them. The others run elsewhere, each as "
        "`ioc worker ingest-<i>` or `ioc worker analytics-<p>` with the same configuration.",
    )

    @field_validator("run_here", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``IOC_WORKERS__RUN_HERE=ingest-0,analytics-0`` (the environment has no lists)."""
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @model_validator(mode="after")
    def _bounded(self) -> WorkersConfig:
        if isinstance(self.ingest, int) and not 0 <= self.ingest <= 64:
            raise ValueError("ingest must be `auto` or 0..64")
        unknown = [name for name in self.run_here or [] if name not in self.child_names()]
        if unknown:
            raise ValueError(
                f"run_here: no such child {', '.join(unknown)} (there are "
                f"{', '.join(self.child_names()) or 'none: ingest is 0'})"
            )
        return self

    def ingest_count(self) -> int:
        """The number of ingest workers (0: no worker layout)."""
        if self.ingest != "auto":
            return self.ingest
        cores = os.cpu_count() or 1
        return 0 if cores < AUTO_MIN_CORES else cores - AUTO_SPARE_CORES

    def partition_count(self) -> int:
        return self.partitions or max(self.ingest_count(), 1)

    def child_names(self) -> list[str]:
        """Every child of the layout, wherever it runs: the partitions, then the workers."""
        if self.ingest_count() == 0:
            return []
        return [f"analytics-{p}" for p in range(self.partition_count())] + [
            f"ingest-{i}" for i in range(self.ingest_count())
        ]

    def connection_suffixes(self) -> list[str]:
        """The layout's MQTT connections besides the service's own (MqttConfig.connection):
        the service's layout feed, and each child's session, internal publisher and
        configuration watch (ioc.layout_feed)."""
        names = self.child_names()
        if not names:
            return []
        return ["layout", *(f"{n}{part}" for n in names for part in ("", "-out", "-layout"))]

    def local_children(self) -> list[str]:
        """The children the service starts itself."""
        names = self.child_names()
        return names if self.run_here is None else [n for n in names if n in self.run_here]


class ReportsConfig(Section):
    """The daily provincial report (web/daily_report.py): written once a day as files, and
    made on demand by GET /api/v1/reports/daily."""

    daily_enabled: bool = Field(
        True, description="Write the previous local day's report files once a day."
    )
    daily_folder: Path = Field(
        Path("var/reports/daily"),
        description="Folder of the daily report files (`bao-cao-ngay-YYYY-MM-DD.xlsx` and "
        "`.csv`; `report-day-...` in English); made if missing.",
    )
    daily_at_minute: int = Field(
        60,
        ge=0,
        le=1439,
        description="When the previous day's files are written: minutes after local midnight "
        "(Asia/Ho_Chi_Minh). Late enough for the day's last hour to be closed by the analytics "
        "(default 01:00). After a start, a missing file of the previous day is written once "
        "this time has passed (after `daily_start_delay_s`).",
    )
    daily_start_delay_s: float = Field(
        600.0,
        ge=0,
        le=86_400,
        description="After the service starts, wait this long before writing a missing file "
        "of the previous day: the analytics warm up and late data arrive first.",
    )
    daily_language: Literal["vi", "en"] = Field(
        "vi", description="Language of the headings of the written files."
    )
    daily_retry_s: float = Field(
        600.0,
        ge=10,
        le=86_400,
        description="After a failed attempt (InfluxDB away, disk full), try again this much later.",
    )


class IocConfig(Section):
    registry: Path = Field(
        Path("config/stations.yaml"), description="Station registry file (relative to cwd)."
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    influx: InfluxConfig = Field(default_factory=InfluxConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    cameras: CamerasConfig = Field(default_factory=CamerasConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    access: AccessConfig = Field(default_factory=AccessConfig)
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig)
    vehicles: VehiclesConfig = Field(
        default_factory=VehiclesConfig, description="Vehicle positions: input and validation."
    )
    journeys: JourneyConfig = Field(
        default_factory=JourneyConfig,
        description="Journey rules: trips, speeding, driving time, lost signal, zones.",
    )
    workers: WorkersConfig = Field(default_factory=WorkersConfig)
    reports: ReportsConfig = Field(
        default_factory=ReportsConfig, description="The daily provincial report's files."
    )


def friendly_errors(error: ValidationError) -> list[str]:
    """One line per problem: ``mqtt.port: Input should be less than or equal to 65535``."""
    lines = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            message = "unknown key (check spelling; see `ioc check-config --help`)"
        lines.append(f"{where}: {message}")
    return lines


def env_overrides(environ: dict[str, str] | os._Environ[str]) -> dict[str, dict[str, str]]:
    """``IOC_MQTT__HOST=x`` → ``{"mqtt": {"host": "x"}}``."""
    result: dict[str, dict[str, str]] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        section, _, name = key[len(ENV_PREFIX) :].lower().partition("__")
        result.setdefault(section, {})[name] = value
    return result


def load_config(
    path: Path | None, environ: dict[str, str] | os._Environ[str] | None = None
) -> IocConfig:
    """Read a YAML config (or only defaults when ``path`` is None) plus env overrides."""
    data: dict[str, Any] = {}
    where = str(path) if path else "(defaults)"
    if path is not None:
        try:
            loaded = safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(where, [f"cannot read: {exc.strerror}"]) from exc
        except yaml.YAMLError as exc:
            raise ConfigError(where, [f"not valid YAML: {exc}"]) from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(where, ["the top level must be a mapping of sections"])
        data = loaded or {}
    for section, values in env_overrides(os.environ if environ is None else environ).items():
        current = data.get(section)
        data[section] = {**(current if isinstance(current, dict) else {}), **values}
    try:
        return IocConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(where, friendly_errors(exc)) from exc
