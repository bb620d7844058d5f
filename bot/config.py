"""The TOML file's shape (DRAFTLOOP_CONFIG): categories, workflow numbers, digests, platform tables.

Unknown keys are an error, so a typo is caught at start-up. A chat platform's table (`[slack]`,
`[discord]`, …) belongs to that platform: its package declares the model (bot/platforms.py), and a
platform reads its table with `policy.config(settings.file)`.
"""

from __future__ import annotations

from typing import Any, cast
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
from bot.agent_spec import AgentSpec

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
    # Each installed platform's `[name]` table (bot/platforms.py), parsed by that platform's model. Not
    # a key of the file (the validator below fills it); a field, since permissions read it on every check.
    platform_tables: dict[str, BaseModel] = Field(default_factory=dict, exclude=True, repr=False)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

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
        try:
            cfg = cast(FileConfig, handler({**rest, _TABLES: tables}))
        except ValidationError as exc:
            errors = exc.errors() + errors
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, [_again(e) for e in errors])
        return cfg

    def table(self, name: str) -> BaseModel | None:
        """The `[name]` table as its platform's model, if the file has one (see PlatformPolicy.config)."""
        return self.platform_tables.get(name)


_TABLES = "platform_tables"


def _has_table(policy: platforms.PlatformPolicy[Any] | None) -> bool:
    return policy is not None and policy.table is not None


def _again(error: ErrorDetails) -> InitErrorDetails:
    """An error as reported, made ready to be raised again."""
    again: InitErrorDetails = {"type": error["type"], "loc": error["loc"], "input": error["input"]}
    if "ctx" in error:
        again["ctx"] = error["ctx"]
    return again
