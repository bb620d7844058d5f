"""Settings: environment variables (pydantic-settings) plus the optional DRAFTLOOP_CONFIG TOML file.

Secrets (tokens, keys) are read from the environment only, held as SecretStr so they never show
in a repr or a log line, and are never written to the database.
"""

from __future__ import annotations

import functools
import tomllib
from functools import cached_property
from importlib.metadata import entry_points
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

CATEGORIES: tuple[str, ...] = (
    "writing",
    "translation",
    "data-science",
    "web-dev",
    "engineering",
    "sales-marketing",
    "design",
    "other",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@functools.cache
def installed_providers() -> frozenset[str]:
    """Agent providers installed as `draftloop.agents` entry points (a new provider needs no change here)."""
    return frozenset(ep.name for ep in entry_points(group="draftloop.agents"))


class AgentSpec(_Strict):
    """A named agent: which provider, which model, where, which key, what limits and prices."""

    name: str = ""
    # Any installed `draftloop.agents` entry point: offline, openai, openai-compatible, anthropic, …
    provider: str = "offline"
    model: str = "offline-v1"
    base_url: str | None = None
    key_env: str | None = None  # name of the environment variable holding the key, never the key
    api: Literal["chat", "responses"] = "chat"  # OpenAI: Chat Completions or the Responses API
    max_tokens: int = 4096  # output tokens per call
    context_tokens: int = 128_000  # prompt budget; older drafts are dropped first to stay under it
    price_input: float = 0.0  # USD per million tokens
    price_output: float = 0.0
    price_cached: float = 0.0
    max_concurrency: int = 4
    timeout: float = 120.0
    max_retries: int = 2

    @field_validator("provider")
    @classmethod
    def _installed(cls, value: str) -> str:
        known = installed_providers()
        if value not in known:
            raise ValueError(f"unknown provider {value!r}; installed: {', '.join(sorted(known))}")
        return value


class CategoryConfig(_Strict):
    # People are ids on Slack (U…/W… users, S… user groups) and Discord (user or role snowflakes); a
    # name matches only on the console, since chat members choose their own display names.
    experts: tuple[str, ...] = ()
    expert_roles: tuple[str, ...] = ()  # Slack S… user-group ids; Discord role ids or role names
    mention: tuple[str, ...] = ()  # what to ping (user ids, <!subteam^S123>); defaults to experts
    agent: str | None = None
    fallback: tuple[str, ...] = ()


class WorkflowConfig(_Strict):
    lease_seconds: float = 60.0
    feedback_debounce_seconds: float = 0.0
    expert_minutes_cap: int = 60  # estimates from reply gaps are capped here
    nudge_after_hours: float = 24.0
    expire_after_days: float = 14.0
    max_request_chars: int = 20_000
    max_reply_chars: int = 10_000
    aside_marker: str = "//"


class DigestChannel(_Strict):
    platform: str
    channel: str
    cron: str = "0 9 * * mon"
    timezone: str | None = None


class DigestConfig(_Strict):
    channels: tuple[DigestChannel, ...] = ()


class SlackConfig(_Strict):
    channels: tuple[str, ...] = ()  # empty: every channel the bot is in
    admins: tuple[str, ...] = ()  # Slack user ids (U…/W…) or user-group ids (S…)


class DiscordConfig(_Strict):
    admin_roles: tuple[str, ...] = ()  # role ids or role names (only Manage Roles can create or rename one)
    forum_channels: tuple[str, ...] = ()
    guild_id: str | None = None
    admins: tuple[str, ...] = ()  # Discord user or role ids (snowflakes)


class FileConfig(_Strict):
    """The TOML file's shape. Unknown keys are an error, so a typo is caught at start-up."""

    timezone: str = "UTC"
    admins: tuple[str, ...] = ()  # ids on Slack and Discord (as `experts`), names on the console
    default_agent: str | None = None
    triage_agent: str | None = None
    agents: dict[str, AgentSpec] = Field(default_factory=dict)
    categories: dict[str, CategoryConfig] = Field(default_factory=dict)
    workflow: WorkflowConfig = WorkflowConfig()
    digest: DigestConfig = DigestConfig()
    slack: SlackConfig = SlackConfig()
    discord: DiscordConfig = DiscordConfig()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


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
