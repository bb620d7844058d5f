"""The TOML file's shape (DRAFTLOOP_CONFIG): categories, workflow numbers, digests, platform tables.

Unknown keys are an error, so a typo is caught at start-up.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
