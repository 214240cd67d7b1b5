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
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from facility.errors import ConfigError

ENV_PREFIX = "FACILITY_"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PathsConfig(_Section):
    """Where runtime data lives (databases, spools, simulator endpoint tables, logs)."""

    var_dir: Path = Path("var")


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

    @field_validator("sites", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        # environment overrides arrive as text: FACILITY_COLLECTOR__SITES=HT,JU
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value


class Settings(_Section):
    """All configuration sections."""

    paths: PathsConfig = PathsConfig()
    database: DatabaseConfig = DatabaseConfig()
    site: SiteConfig = SiteConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    mqtt: MqttConfig = MqttConfig()
    collector: CollectorConfig = CollectorConfig()

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
