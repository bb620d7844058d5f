"""Slack's policy (bot/platforms.py): its `[slack]` table, its admins, its ids, its help. No SDK here:
the core reads this before, and without, starting Slack; `service` imports the SDK only when needed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.identity import entry_id
from bot.platforms import PlatformHelp, PlatformPolicy, PlatformTable

if TYPE_CHECKING:
    from bot.app.runtime import Role, Runtime, Service

NAME = "slack"
USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")


class SlackConfig(PlatformTable):
    channels: tuple[str, ...] = ()  # empty: every channel the bot is in
    admins: tuple[str, ...] = ()  # Slack user ids (U…/W…) or user-group ids (S…)


def is_slack_id(entry: str) -> bool:
    """A Slack user (U…/W…) or user-group (S…) id, also written as a mention token."""
    bare = entry_id(entry)
    return bool(USER_ID.fullmatch(bare) or GROUP_ID.fullmatch(bare))


def is_group_id(entry: str) -> bool:
    return bool(GROUP_ID.fullmatch(entry_id(entry)))


def _admins(table: SlackConfig) -> tuple[str, ...]:
    return table.admins


def _service(runtime: Runtime, role: Role) -> Service | None:
    if runtime.settings.slack_bot_token is None:
        return None
    from adapters.chat.slack.service import create

    return create(runtime, role)


SLACK: PlatformPolicy[SlackConfig] = PlatformPolicy(
    name=NAME,
    title="Slack",
    table=SlackConfig,
    people="ids",
    is_id=is_slack_id,
    id_kind="Slack user or user-group id",
    admins=_admins,
    help=PlatformHelp(
        start="mention @draftloop with your request, or use `/draft`",
        example="@draftloop [writing] a 600-word post on remote onboarding",
        decide="the Accept / Reject buttons (Reject asks why), a ✅ / ❌ reaction, or a reply `accept` / `reject`;"
        " 👍 / 👎 on a draft rates it without deciding",
        commands="`/draftloop help`, `/draftloop status` (this channel's projects; `status N` for one of them), "
        "`/draftloop mine` (what waits on you; also on draftloop's Home tab), `/draftloop digest`, "
        "a reply `retry` in a thread",
    ),
    secret_env=("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"),
    service=_service,
)
