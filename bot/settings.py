"""Settings: environment variables (pydantic-settings) plus the optional DRAFTLOOP_CONFIG TOML file.

Secrets (tokens, keys) are read from the environment only, held as SecretStr so they never show
in a repr or a log line, and are never written to the database.
"""

from __future__ import annotations

import tomllib
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config import CategoryConfig, FileConfig
from bot.errors import ConfigError


class Settings(BaseSettings):
    """Environment variables. Field names map to upper-case variables (database_url → DATABASE_URL)."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", frozen=True)

    database_url: str | None = None
    draftloop_data_dir: Path = Path("data")
    draftloop_agent: str | None = None
    draftloop_config: Path | None = None
    draftloop_log_level: str = "INFO"
    port: int = 3000

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str | None = None

    discord_token: SecretStr | None = None
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None

    @cached_property
    def file(self) -> FileConfig:
        return load_file_config(self.draftloop_config)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.file.timezone)

    def category(self, name: str) -> CategoryConfig:
        return self.file.categories.get(name, CategoryConfig())


def load_file_config(path: Path | None) -> FileConfig:
    if path is None:
        return FileConfig()
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"DRAFTLOOP_CONFIG points at {path}, which does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    agents = raw.get("agents", {})
    if isinstance(agents, dict):
        for name, spec in agents.items():
            if isinstance(spec, dict):
                spec.setdefault("name", name)
    try:
        return FileConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_errors(exc)}") from exc


def _first_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def load_settings() -> Settings:
    try:
        settings = Settings()
        _ = settings.file  # fail at start-up, not on the first request
    except ValidationError as exc:
        raise ConfigError(f"environment: {_first_errors(exc)}") from exc
    return settings
