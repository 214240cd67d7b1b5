"""Configuration: one ``facility.toml`` plus ``FACILITY_<SECTION>__<KEY>`` environment overrides.

Looked up in this order: the path given on the command line (``facility --config``), the
``FACILITY_CONFIG`` environment variable, ``./facility.toml``. Every value has a default, so
the file is optional. Secrets (passwords, tokens) belong in the environment, never in the file.
Validated once at start-up; errors name the file, the key and what was expected.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from facility.errors import ConfigError
from facility.types import PRIORITY_ORDER, Priority

ENV_PREFIX = "FACILITY_"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PathsConfig(_Section):
    """Where runtime data lives (databases, spools, simulator endpoint tables, logs)."""

    var_dir: Path = Path("var")
    # The overview's site plans: <plans_dir>/<SITE>.svg + <SITE>.pins.csv (docs/dashboard.md).
    # Empty means the demo estates' plans shipped in maintenance/demo/plans.
    plans_dir: str = ""


class DatabaseConfig(_Section):
    """The SQL database (ledger, work orders, alarm journal). SQLite by default."""

    # Empty means ``sqlite:///<var_dir>/facility.db``; PostgreSQL: postgresql+psycopg://u@h/db
    url: str = ""


class SiteConfig(_Section):
    """Where the estates are: sunrise/sunset, 'today' and daily reports depend on it."""

    timezone: str = "Asia/Shanghai"
    latitude: float = Field(default=22.52, ge=-90, le=90)
    longitude: float = Field(default=113.39, ge=-180, le=180)


class SimulatorConfig(_Section):
    """The simulated estates started by ``facility sim run`` and ``make demo``."""

    host: str = "127.0.0.1"
    seed: int = 20261126
    speed: float = Field(default=1.0, gt=0, description="time acceleration factor")
    # 0 lets the OS pick free ports; the endpoint table says which were taken.
    base_port: int = Field(default=0, ge=0, le=65535)
    control_port: int = Field(default=0, ge=0, le=65535)


class MqttConfig(_Section):
    """The MQTT broker: the live bus between collectors, gateway and dashboard."""

    url: str = "mqtt://127.0.0.1:1883"  # mqtts:// for TLS; user in the URL is allowed
    # The password comes from $FACILITY_MQTT__PASSWORD, never the file.
    password: str | None = None
    ca_file: str | None = None


class CollectorConfig(_Section):
    """The collector process (`facility collect run`)."""

    id: str = "collector-1"  # unique per process: birth/will topic and MQTT client id
    sites: list[str] = Field(default_factory=list, description="empty = every site")
    spool_max_mb: float = Field(default=256, gt=0)
    spool_max_age_h: float = Field(default=72, ge=0)
    metrics_port: int = Field(default=9108, ge=0, le=65535)
    # ledger and profiles are re-read this often; only changed devices restart
    reload_every_s: float = Field(default=30, gt=0)
    # what was sent is kept this long to answer the historian's resend requests
    resend_window_min: float = Field(default=30, gt=0)
    resend_max_mb: float = Field(default=128, gt=0)
    # every profile's poll period is multiplied by this: 0.25 polls at 4x the profiles' rate
    # (soak and load runs); production leaves it at 1
    poll_scale: float = Field(default=1.0, gt=0, le=1)

    @field_validator("sites", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        # environment overrides arrive as text: FACILITY_COLLECTOR__SITES=HT,JU
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value


class OpcuaConfig(_Section):
    """How collectors secure OPC UA sessions (docs/collectors-opcua.md)."""

    security_policy: Literal["None", "Basic256Sha256"] = "None"
    security_mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    username: str | None = None
    password: str | None = None  # from $FACILITY_OPCUA__PASSWORD
    pki_dir: Path | None = None  # default <var_dir>/pki/collector
    trust_on_first_use: bool = False


class InfluxConfig(_Section):
    """The historian, spoken to over InfluxDB's v1-compatible HTTP API (/write, /query).

    InfluxDB 1.x: url + database (+ username/password). InfluxDB 2.x/3.x/Cloud: the same
    v1 endpoints with a token ($FACILITY_INFLUXDB__TOKEN) and a DBRP mapping to a bucket.
    """

    url: str = "http://127.0.0.1:8086"
    database: str = "facility"
    username: str | None = None
    password: str | None = None  # from $FACILITY_INFLUXDB__PASSWORD
    token: str | None = None  # from $FACILITY_INFLUXDB__TOKEN (2.x/3.x)
    raw_retention_days: int = Field(default=30, ge=1)
    aggregate_retention_days: int = Field(default=3650, ge=1)
    timeout_s: float = Field(default=10, gt=0)


class GatewayConfig(_Section):
    """The gateway process (`facility gateway run`): MQTT in, InfluxDB out, alarms."""

    id: str = "gateway-1"
    # MQTT 5 shared subscription group: several gateways split the load
    share_group: str = "facility-gateway"
    batch_points: int = Field(default=5000, ge=1)
    batch_interval_s: float = Field(default=1.0, gt=0)
    spool_max_mb: float = Field(default=1024, gt=0)
    spool_max_age_h: float = Field(default=168, ge=0)
    replay_points_per_s: int = Field(default=100_000, ge=1)
    metrics_port: int = Field(default=9109, ge=0, le=65535)
    # How long the broker keeps this gateway's session (subscription + queued readings) after
    # it goes away: long enough for a restart or an upgrade, short enough that an abandoned
    # session cannot grow the broker for days. Longer outages are filled end to end from the
    # collectors (docs/historian.md). The id above must stay the same across restarts.
    session_expiry_s: int = Field(default=600, ge=1, le=7 * 24 * 3600)
    # End-to-end gap filling: audit the stored per-device seq and ask collectors for holes.
    # One gateway of a group is enough (the others would ask the same questions).
    gap_audit: bool = True
    gap_audit_interval_s: float = Field(default=30, gt=0)


class AlarmsConfig(_Section):
    """The alarm engine and its notifications."""

    flood_alarms: int = Field(default=10, ge=1)  # ISA-18.2: > 10 per 10 min per position
    flood_window_min: float = Field(default=10, gt=0)
    stale_after_s: float = Field(default=60, gt=0)
    # The system watches itself (docs/alarms.md): every service publishes a heartbeat this
    # often; no heartbeat for silent_after_intervals of them, or progress counters standing
    # still for stall_after_s while there is work, is one system alarm for that service.
    heartbeat_s: float = Field(default=5, gt=0)
    silent_after_intervals: float = Field(default=3, ge=2)
    # 30 s: a stall outlasts a dependency's short hiccup (InfluxDB answering 500 for 15 s),
    # one retry (at most 5 s) and one heartbeat interval; 20 s raised false system alarms
    stall_after_s: float = Field(default=30, gt=0)
    smtp_url: str | None = None  # smtp://host:port; password from $FACILITY_ALARMS__SMTP_PASSWORD
    smtp_password: str | None = None
    smtp_from: str = "facility-alarms@localhost"
    # Per-asset overrides, mode rules, notification rules, supervisors (docs/alarms.md);
    # a missing file means the device profiles' defaults.
    definitions_file: Path = Path("alarms.yaml")

    @model_validator(mode="after")
    def _watchdog_before_stale(self) -> AlarmsConfig:
        # A frozen collector must be one system alarm BEFORE its devices go stale, or the
        # per-device comm_loss alarms it causes are raised first (one cause, one alarm).
        watchdog_s = max(
            self.heartbeat_s + self.stall_after_s, self.heartbeat_s * self.silent_after_intervals
        )
        if self.stale_after_s <= watchdog_s:
            raise ValueError(
                f"stale_after_s ({self.stale_after_s:g}) must be longer than the watchdog's "
                f"detection time ({watchdog_s:g} s: heartbeat_s + stall_after_s, or "
                "heartbeat_s x silent_after_intervals)"
            )
        return self


class MaintenanceConfig(_Section):
    """Preventive maintenance and work orders."""

    generate_every_min: float = Field(default=5, gt=0)
    horizon_days: int = Field(default=30, ge=1)
    # Per-asset PM plan overrides (YAML, see docs/maintenance.md); none by default.
    plan_overrides: Path | None = None
    # SLA targets per work-order priority: respond (assign/start) within minutes, complete
    # within hours. Defaults sized for the 90 % repair-timeliness target (docs/maintenance.md).
    sla_response_min: dict[str, float] = Field(
        default_factory=lambda: {"critical": 15.0, "high": 30.0, "medium": 240.0, "low": 1440.0}
    )
    sla_completion_h: dict[str, float] = Field(
        default_factory=lambda: {"critical": 4.0, "high": 24.0, "medium": 72.0, "low": 168.0}
    )
    timeliness_target: float = Field(default=0.9, gt=0, le=1)
    # Where work-order notices go (besides the log): a group robot / generic webhook (URL
    # from $FACILITY_MAINTENANCE__NOTIFY_WEBHOOK_URL: robot URLs carry their key) and MQTT
    # facility/v1/events/workorders/<site>.
    notify_webhook_url: str | None = None
    notify_webhook_kind: Literal["wecom", "dingtalk", "generic"] = "generic"
    notify_mqtt: bool = True
    # The dashboard as technicians reach it (https://fm.example.com): a notice to a person
    # (their user record's contact: webhook / e-mail) links to /m/order/<number> on it.
    dashboard_url: str = ""
    # Alarms of this priority or above raise (or attach to) a corrective work order.
    corrective_min_priority: Priority = Priority.HIGH
    # Proof of fix: the signal must stay back in its normal band this long after completion.
    proof_of_fix_min: float = Field(default=30, gt=0)
    # A person may date a step of an order (a paper sheet typed in later) this far back.
    backdate_max_days: float = Field(default=30, gt=0)
    # Who completed an order may not verify it.
    separate_verify: bool = True

    @field_validator("sla_response_min", "sla_completion_h")
    @classmethod
    def _every_priority(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(PRIORITY_ORDER))
        missing = [p for p in PRIORITY_ORDER if p not in value]
        if unknown or missing:
            raise ValueError(
                f"expected a target for each priority ({', '.join(PRIORITY_ORDER)})"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
        if any(v <= 0 for v in value.values()):
            raise ValueError("SLA targets must be greater than 0")
        return value


class IdentityConfig(_Section):
    """Sign-in and sessions (docs/identity.md)."""

    session_hours: float = Field(default=12, gt=0)  # a browser session ends after this ...
    idle_minutes: float = Field(default=30, gt=0)  # ... or after this long without activity
    cli_token_hours: float = Field(default=12, gt=0)  # `facility login` tokens
    # Cookies only over HTTPS: set when the dashboard is served behind TLS (it should be).
    secure_cookies: bool = False


class ProfilesConfig(_Section):
    """Site profile folders: device models a site adds without editing the package.

    Searched after the shipped library (device_profiles/library); a model id that is both
    shipped and in a site folder is an error naming both files, never a silent override
    (docs/profiles.md, "Your own device models").
    """

    dirs: list[Path] = Field(default_factory=list)

    @field_validator("dirs", mode="before")
    @classmethod
    def _path_list(cls, value: object) -> object:
        # environment overrides arrive as text, like $PATH: FACILITY_PROFILES__DIRS=/a:/b
        if isinstance(value, str):
            return [v.strip() for v in value.split(os.pathsep) if v.strip()]
        return value


class MetricsConfig(_Section):
    """The /metrics endpoints of the collector and the gateway."""

    # Bearer token a scraper must send (Authorization: Bearer ...); from
    # $FACILITY_METRICS__TOKEN, never the file. None: open, for loopback scrapers only.
    token: str | None = None


class Settings(_Section):
    """All configuration sections."""

    paths: PathsConfig = PathsConfig()
    database: DatabaseConfig = DatabaseConfig()
    site: SiteConfig = SiteConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    mqtt: MqttConfig = MqttConfig()
    collector: CollectorConfig = CollectorConfig()
    opcua: OpcuaConfig = OpcuaConfig()
    influxdb: InfluxConfig = InfluxConfig()
    gateway: GatewayConfig = GatewayConfig()
    alarms: AlarmsConfig = AlarmsConfig()
    maintenance: MaintenanceConfig = MaintenanceConfig()
    identity: IdentityConfig = IdentityConfig()
    metrics: MetricsConfig = MetricsConfig()
    profiles: ProfilesConfig = ProfilesConfig()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.paths.var_dir / 'facility.db'}"


def _env_overrides(environ: dict[str, str]) -> dict[str, dict[str, str]]:
    overrides: dict[str, dict[str, str]] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        section, _, name = key[len(ENV_PREFIX) :].lower().partition("__")
        overrides.setdefault(section, {})[name] = value
    return overrides


_ACTIVE: list[Settings] = []


def activate(settings: Settings) -> Settings:
    """Make ``settings`` the process's configuration (the CLI does, once, at start-up)."""
    _ACTIVE[:] = [settings]
    return settings


def active_settings() -> Settings:
    """The configuration this process runs with: what the command line loaded (``facility
    --config``), else what ``load_settings()`` finds ($FACILITY_CONFIG, ./facility.toml, the
    environment). For code far from the command (the profile library's site folders)."""
    return _ACTIVE[0] if _ACTIVE else load_settings()


def load_settings(path: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the configuration; raise ConfigError naming file and key."""
    environ = dict(os.environ if environ is None else environ)
    if path is None:
        env_path = environ.get(f"{ENV_PREFIX}CONFIG")
        path = Path(env_path) if env_path else Path("facility.toml")
        required = bool(env_path)
    else:
        required = True
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    elif required:
        raise ConfigError(f"{path}: configuration file not found")
    for section, values in _env_overrides(environ).items():
        data.setdefault(section, {}).update(values)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            env_key = ENV_PREFIX + "__".join(str(p).upper() for p in err["loc"])
            lines.append(f"{path}: {key} (or ${env_key}): {err['msg']}")
        raise ConfigError("\n".join(lines)) from None
