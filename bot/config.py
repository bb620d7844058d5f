"""The TOML file's shape (DRAFTLOOP_CONFIG): categories, workflow numbers, digests, platform tables.

Everything is checked when the file is read, so a mistake stops the start-up with one line instead of
surfacing on the first request or the first scheduled digest: unknown keys (a typo), numbers out of
range, agent names drafting could not use (`default_agent`, `triage_agent`, a category's `agent` and
`fallback`), category names a request could not be tagged with, digest channels on a platform that is
not installed, cron expressions and time zones. A chat platform's table (`[slack]`, `[discord]`, …)
belongs to that platform: its package declares the model (bot/platforms.py), and a platform reads its
table with `policy.config(settings.file)`.

Categories: the built-in ones (CATEGORIES) and every `[categories.NAME]` of the file. A category the
file names is a real one: `[NAME] …` tags a request with it and digests count it like the others.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails

from bot import platforms
from bot.agent_spec import AgentSpec, named

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


class CategoryConfig(_Strict):
    # People are ids on Slack (U…/W… users, S… user groups) and Discord (user or role snowflakes); a
    # name matches only on the console, since chat members choose their own display names.
    experts: tuple[str, ...] = ()
    expert_roles: tuple[str, ...] = ()  # Slack S… user-group ids; Discord role ids or role names
    mention: tuple[str, ...] = ()  # what to ping (user ids, <!subteam^S123>); defaults to experts
    agent: str | None = None
    fallback: tuple[str, ...] = ()
    # The orchestrator (bot/orchestrator/): candidate agents routing learns among (two or more: learned
    # routing; `agent`, if set, is the one tried before there is any history); the check before experts
    # see a draft (off, revise: one automatic revision, flag: the gaps as a checklist) by `qc_agent` or
    # by rules; the agent-alone rate at or above which experts are not pinged; a decision deadline.
    agents: tuple[str, ...] = ()
    qc: Literal["off", "revise", "flag"] = "off"
    qc_agent: str | None = None
    review_threshold: float | None = Field(None, ge=0, le=1)
    review_min_decided: int = Field(10, ge=1)
    decision_hours: float | None = Field(None, gt=0)
    on_timeout: Literal["expire", "accept", "reject", "escalate"] = "expire"
    escalate_after_nudges: int | None = Field(None, ge=1)
    backup: tuple[str, ...] = ()  # pinged on escalation (ids as `experts`); the admins when empty
    compare: bool = False  # every request of the category is drafted by two agents, A and B, to pick from


class WorkflowConfig(_Strict):
    lease_seconds: float = Field(60.0, ge=1, le=86_400)
    # how often serve and worker look for work left unfinished (at most half the lease: bot/loop/sweeper.py)
    sweep_seconds: float = Field(10.0, gt=0, le=3600)
    feedback_debounce_seconds: float = Field(0.0, ge=0, le=3600)
    expert_minutes_cap: int = Field(60, ge=0, le=24 * 60)  # estimates from reply gaps are capped here
    nudge_after_hours: float = Field(24.0, gt=0)
    expire_after_days: float = Field(14.0, gt=0)
    max_request_chars: int = Field(20_000, ge=1)
    max_reply_chars: int = Field(10_000, ge=1)
    aside_marker: str = Field("//", min_length=1)

    @field_validator("aside_marker")
    @classmethod
    def _visible(cls, value: str) -> str:
        # a blank marker would make every reply an aside: no feedback would ever start a revision
        if not value.strip():
            raise ValueError("must be visible characters, like //")
        return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Berlin or UTC") from exc
    return value


class DigestChannel(_Strict):
    platform: str
    channel: str = Field(min_length=1)
    cron: str = "0 9 * * mon"
    timezone: str | None = None

    @field_validator("platform")
    @classmethod
    def _installed(cls, value: str) -> str:
        known = platforms.installed()
        if value not in known:
            raise ValueError(f"{value!r} is not an installed platform; use one of {', '.join(sorted(known))}")
        return value

    @field_validator("cron")
    @classmethod
    def _crontab(cls, value: str) -> str:
        # APScheduler is the worker's (bot/app/scheduler.py): imported only for a file that has channels.
        from apscheduler.triggers.cron import CronTrigger

        accepted = 'five fields: minute hour day month weekday, like "0 9 * * mon"'
        try:
            trigger = CronTrigger.from_crontab(value, timezone=UTC)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a cron expression ({exc}); use {accepted}") from exc
        if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
            raise ValueError(f"{value!r} never fires; use {accepted}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else _zone(value)


class DigestConfig(_Strict):
    channels: tuple[DigestChannel, ...] = ()


class McpConfig(_Strict):
    """`[mcp]`: where projects asked for by outside agents (MCP clients, the JSON API) appear."""

    channel: str | None = None  # "slack:C0123", "discord:<channel id>" or "console" (the default)

    @field_validator("channel")
    @classmethod
    def _platform_channel(cls, value: str | None) -> str | None:
        if value is None:
            return None
        platform, _, channel = value.strip().partition(":")
        if platform == "console":
            return "console"
        if platform not in platforms.installed() or not channel.strip():
            known = ", ".join(sorted(platforms.installed()))
            raise ValueError(
                f"{value!r} is not PLATFORM:CHANNEL on an installed platform ({known}); "
                "use e.g. slack:C0123 or discord:1234, or console"
            )
        return f"{platform}:{channel.strip()}"


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
    mcp: McpConfig = McpConfig()
    # Each installed platform's `[name]` table (bot/platforms.py), parsed by that platform's model. Not
    # a key of the file (the validator below fills it); a field, since permissions read it on every check.
    platform_tables: dict[str, BaseModel] = Field(default_factory=dict, exclude=True, repr=False)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _zone(value)

    @field_validator("categories")
    @classmethod
    def _category_names(cls, value: dict[str, CategoryConfig]) -> dict[str, CategoryConfig]:
        for name in value:
            if not _CATEGORY_NAME.match(name):
                raise ValueError(
                    f"{name!r} cannot be a category name: use 2 to 40 lower-case letters and hyphens, like poetry"
                )
        return value

    @property
    def category_names(self) -> tuple[str, ...]:
        """Every category: the built-in ones, then the file's own in the order it names them."""
        return (*CATEGORIES, *(name for name in self.categories if name not in CATEGORIES))

    @model_validator(mode="wrap")
    @classmethod
    def _platform_tables(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> FileConfig:
        """Parse `[slack]`, `[discord]`, … with the model their platform declares; any other unknown
        key stays an error. All errors are reported together, each at its place (`slack.admins`)."""
        if not isinstance(data, dict):
            return cast(FileConfig, handler(data))
        installed = platforms.installed()
        raw = {k: v for k, v in data.items() if k not in cls.model_fields and _has_table(installed.get(k))}
        rest = {k: v for k, v in data.items() if k not in raw and k != _TABLES}
        errors: list[ErrorDetails] = []
        if _TABLES in data:
            errors.append({"type": "extra_forbidden", "loc": (_TABLES,), "input": data[_TABLES], "msg": "", "url": ""})
        tables: dict[str, BaseModel] = {}
        for name, value in raw.items():
            model = installed[name].table
            assert model is not None
            try:
                tables[name] = model.model_validate(value)
            except ValidationError as exc:
                errors += [{**e, "loc": (name, *e["loc"])} for e in exc.errors()]
        references: list[InitErrorDetails] = []
        try:
            cfg = cast(FileConfig, handler({**rest, _TABLES: tables}))
            references = _agent_references(cfg)
        except ValidationError as exc:
            errors = exc.errors() + errors
        if errors or references:
            raise ValidationError.from_exception_data(cls.__name__, [*(_again(e) for e in errors), *references])
        return cfg

    def table(self, name: str) -> BaseModel | None:
        """The `[name]` table as its platform's model, if the file has one (see PlatformPolicy.config)."""
        return self.platform_tables.get(name)


_TABLES = "platform_tables"
# What a `[category]` tag at the start of a request can name once normalised (bot/triage.py).
_CATEGORY_NAME = re.compile(r"^[a-z][a-z-]{1,39}$")


def _agent_references(cfg: FileConfig) -> list[InitErrorDetails]:
    """Each agent name in the file that drafting could not use, at its place (`categories.writing.agent`)."""
    found: list[InitErrorDetails] = []

    def check(loc: tuple[str | int, ...], name: str) -> None:
        try:
            named(name, cfg.agents)
        except ValueError as exc:
            found.append({"type": "value_error", "loc": loc, "input": name, "ctx": {"error": exc}})

    for key in ("default_agent", "triage_agent"):
        value = getattr(cfg, key)
        if value is not None:
            check((key,), value)
    for category, settings in cfg.categories.items():
        if settings.agent is not None:
            check(("categories", category, "agent"), settings.agent)
        for i, name in enumerate(settings.fallback):
            check(("categories", category, "fallback", i), name)
        for i, name in enumerate(settings.agents):
            check(("categories", category, "agents", i), name)
        if settings.qc_agent is not None:
            check(("categories", category, "qc_agent"), settings.qc_agent)
    return found


def _has_table(policy: platforms.PlatformPolicy[Any] | None) -> bool:
    return policy is not None and policy.table is not None


def _again(error: ErrorDetails) -> InitErrorDetails:
    """An error as reported, made ready to be raised again."""
    again: InitErrorDetails = {"type": error["type"], "loc": error["loc"], "input": error["input"]}
    if "ctx" in error:
        again["ctx"] = error["ctx"]
    return again
