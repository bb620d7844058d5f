"""Settings: environment variables (pydantic-settings) plus the optional DRAFTLOOP_CONFIG TOML file.

Secrets (tokens, keys) are read from the environment only, held as SecretStr so they never show
in a repr or a log line, and are never written to the database.

Variables that belong to a plug-in (an agent backend's key and endpoint, such as OPENAI_API_KEY) are
not fields here: the backend declares them and reads them through `Settings.env`, so a new provider
needs no change in this file.

`load_settings` is what every command calls first: it reads both, checks everything that can be checked
without a connection (the database URL, the log level, the port, the agents in use and their endpoints,
the whole file: bot/config.py) and raises one ConfigError whose message is one line naming the setting,
what is wrong and what is accepted.
"""

from __future__ import annotations

import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.agent_spec import AgentSpec, missing_endpoint, named
from bot.config import CategoryConfig, FileConfig
from bot.errors import ConfigError
from storage.urls import database_url_problem

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")  # bot/app/event_loop.py
SLACK_MAX_CONNECTIONS = 10  # Socket Mode connections Slack accepts per app


def _one_of(value: str, choices: tuple[str, ...], *, given: str, what: str) -> str:
    if value not in choices:
        raise ValueError(f"{given!r} is not {what}; use one of {', '.join(choices)}")
    return value


# A category the file does not configure. Every triage and cycle asks for its category, and a new
# default each time was 1.8 % of the core's CPU in bench_core's profile; it is frozen, so one serves.
_UNCONFIGURED = CategoryConfig()


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
    port: int = Field(3000, ge=0, le=65535)  # 0: any free port
    draftloop_event_loop: str = "auto"  # serve and worker: auto (uvloop when installed), uvloop, asyncio

    @field_validator("database_url")
    @classmethod
    def _usable_database(cls, value: str | None) -> str | None:
        problem = database_url_problem(value) if value else None
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("draftloop_log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        return _one_of(value.strip().upper(), LOG_LEVELS, given=value, what="a log level")

    @field_validator("draftloop_event_loop")
    @classmethod
    def _known_loop(cls, value: str) -> str:
        return _one_of(value.strip().lower(), EVENT_LOOPS, given=value, what="an event loop")

    @field_validator("draftloop_slack_connections")
    @classmethod
    def _slack_connections(cls, value: int) -> int:
        if not 1 <= value <= SLACK_MAX_CONNECTIONS:
            raise ValueError(
                f"{value} Socket Mode connections; Slack allows 1 to {SLACK_MAX_CONNECTIONS} per app (default 2)"
            )
        return value

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str | None = None
    # Socket Mode connections `draftloop worker` opens for the app (Slack allows up to 10 and gives each
    # event to one of them). Two by default: while Slack refreshes one (it asks every few hours, and on
    # its own deploys) the other still delivers, so no event waits for Slack's retry; a third adds little.
    draftloop_slack_connections: int = 2

    discord_token: SecretStr | None = None
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None

    draftloop_mcp_token: SecretStr | None = None  # bearer token of `draftloop mcp --http` and /api

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
        return self.file.categories.get(name, _UNCONFIGURED)


def load_file_config(path: Path | None) -> FileConfig:
    if path is None:
        return FileConfig()
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"DRAFTLOOP_CONFIG points at {path}, which does not exist") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"DRAFTLOOP_CONFIG points at {path}, a directory; name the TOML file") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}); save the TOML file as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"DRAFTLOOP_CONFIG: cannot read {path} ({exc.strerror or exc})") from exc
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


def _first_errors(exc: ValidationError, *, variables: bool = False) -> str:
    errors = exc.errors()
    parts = [_describe(err, variables=variables) for err in errors[:3]]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


# Fields whose value is never repeated in a message: a key pasted into the wrong place stays unseen.
_UNSHOWN = ("key_env", "token", "secret", "database_url")


# What a value should have been, in the words of the TOML file and the environment.
_SHOULD_BE = {
    "tuple_type": 'must be a list, like ["a", "b"]',
    "list_type": 'must be a list, like ["a", "b"]',
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text in quotes",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
}


def _describe(err: ErrorDetails, *, variables: bool) -> str:
    """One error as `where: what is wrong (got value)`; `where` is the variable for the environment's."""
    loc = err["loc"]
    if variables:
        where = ".".join(str(part).upper() for part in loc)
    else:
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    kind, message = err["type"], err["msg"]
    if kind == "extra_forbidden":
        return f"{where}: unknown key (check its spelling and the README's configuration table)"
    if kind == "value_error":
        return f"{where}: {message.removeprefix('Value error, ')}"
    message = _SHOULD_BE.get(kind) or message.replace("Input should be", "must be").replace(
        "String should have", "must have"
    )
    value = err.get("input")
    hidden = any(part in str(loc[-1] if loc else "").lower() for part in _UNSHOWN)
    if hidden or not isinstance(value, str | int | float | bool) or len(repr(value)) > 60:
        return f"{where}: {message}"
    return f"{where}: {message} (got {value!r})"


def agents_in_use(settings: Settings) -> dict[str, str]:
    """Every agent name the settings can draft or triage with, and where it is named."""
    file = settings.file
    used: dict[str, str] = {}
    if settings.draftloop_agent:
        used[settings.draftloop_agent] = "DRAFTLOOP_AGENT"
    elif file.default_agent:
        used[file.default_agent] = "default_agent"
    if file.triage_agent:
        used.setdefault(file.triage_agent, "triage_agent")
    for category, cfg in file.categories.items():
        for name in (cfg.agent, *cfg.fallback):
            if name:
                used.setdefault(name, f"categories.{category}")
    for name in file.agents:
        used.setdefault(name, f"agents.{name}")
    return used


def check_agents(settings: Settings) -> None:
    """DRAFTLOOP_AGENT names an agent drafting can use, and every agent in use knows where to call.
    (The file's own names were checked as it was read.)"""
    where = settings.draftloop_config or "the config"
    for name, named_in in agents_in_use(settings).items():
        try:
            spec: AgentSpec = named(name, settings.file.agents)
        except ValueError as exc:
            raise ConfigError(f"{named_in}: {exc}") from exc
        variable = missing_endpoint(spec, settings.env)
        if variable is None:
            continue
        if name in settings.file.agents:
            fix = f"set base_url in [agents.{name}] of {where}" + (f" or {variable}" if variable != "base_url" else "")
        else:
            fix = f"set {variable}, or name an agent of the config file that has a base_url"
        raise ConfigError(
            f"{named_in}: agent {name!r} ({spec.provider}) has no endpoint of its own and none is set; {fix}"
        )


def load_settings() -> Settings:
    """The process's settings, checked whole (see the module's docstring); ConfigError otherwise."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigError(_first_errors(exc, variables=True)) from exc
    _ = settings.file  # fail at start-up, not on the first request
    data_dir = settings.draftloop_data_dir
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"DRAFTLOOP_DATA_DIR: {data_dir} is a file; name a directory (it is created if missing)")
    check_agents(settings)
    return settings
