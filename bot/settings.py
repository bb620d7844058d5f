"""Settings: environment variables (pydantic-settings) plus the optional DRAFTLOOP_CONFIG TOML file.

Secrets (tokens, keys) are read from the environment only, held as SecretStr so they never show
in a repr or a log line, and are never written to the database.

Variables that belong to a plug-in (an agent backend's key and endpoint, such as OPENAI_API_KEY) are
not fields here: the backend declares them and reads them through `Settings.env`, so a new provider
needs no change in this file.
"""

from __future__ import annotations

import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config import CategoryConfig, FileConfig
from bot.errors import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    """Environment variables. Field names map to upper-case variables (database_url → DATABASE_URL).

    Other keyword arguments are kept, hidden as SecretStr, as values of the variable of that name for
    `env` (`Settings(openai_api_key=…)` is what OPENAI_API_KEY would be): tests and embedders set a
    plug-in's variables this way without touching the process environment.
    """

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="allow", frozen=True)

    database_url: str | None = None
    draftloop_data_dir: Path = Path("data")
    draftloop_agent: str | None = None
    draftloop_config: Path | None = None
    draftloop_log_level: str = "INFO"
    port: int = 3000

    @field_validator("draftloop_log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
        return level

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str | None = None

    discord_token: SecretStr | None = None
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _hide_given_variables(cls, data: Any) -> Any:
        # Any of them may be a key: none may show in a repr. Names are folded as the fields' are.
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        kept: dict[str, Any] = {}
        for key, value in data.items():
            if str(key).lower() in fields:
                kept[key] = value
            else:
                kept[str(key).lower()] = (
                    value if value is None or isinstance(value, SecretStr) else SecretStr(str(value))
                )
        return kept

    def env(self, name: str) -> str | None:
        """A plug-in's variable (e.g. OPENAI_API_KEY): the value given to Settings, else the process
        environment's; None when unset or empty. A value given as None means unset."""
        given = self.__pydantic_extra__ or {}
        key = name.lower()
        if key in given:
            value = given[key]
            return (value.get_secret_value() if isinstance(value, SecretStr) else None) or None
        return os.environ.get(name) or None

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
