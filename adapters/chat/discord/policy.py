"""Discord's policy (bot/platforms.py): its `[discord]` table, its admins and admin roles, its ids, its
help. No SDK here: the core reads this before, and without, starting Discord.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.identity import entry_id
from bot.platforms import PlatformHelp, PlatformPolicy, PlatformTable

if TYPE_CHECKING:
    from bot.app.runtime import Role, Runtime, Service

NAME = "discord"
SNOWFLAKE = re.compile(r"\d{15,21}")


class DiscordConfig(PlatformTable):
    admin_roles: tuple[str, ...] = ()  # role ids or role names (only Manage Roles can create or rename one)
    forum_channels: tuple[str, ...] = ()
    guild_id: str | None = None
    admins: tuple[str, ...] = ()  # Discord user or role ids (snowflakes)


def is_discord_id(entry: str) -> bool:
    return bool(SNOWFLAKE.fullmatch(entry_id(entry)))


def _admins(table: DiscordConfig) -> tuple[str, ...]:
    return table.admins


def _admin_roles(table: DiscordConfig) -> tuple[str, ...]:
    return table.admin_roles


def _service(runtime: Runtime, role: Role) -> Service | None:
    if runtime.settings.discord_token is None:
        return None
    from adapters.chat.discord.service import create

    return create(runtime, role)


DISCORD: PlatformPolicy[DiscordConfig] = PlatformPolicy(
    name=NAME,
    title="Discord",
    table=DiscordConfig,
    people="ids",
    is_id=is_discord_id,
    id_kind="Discord user or role id",
    admins=_admins,
    admin_roles=_admin_roles,
    # Creating or renaming a role takes Manage Roles, so a role's name is as good as its id.
    role_names=True,
    help=PlatformHelp(
        start="mention @draftloop with your request, or use `/draft`",
        example="@draftloop [writing] a 600-word post on remote onboarding",
        decide="the Accept / Reject buttons, a ✅ / ❌ reaction, or a reply `accept` / `reject`",
        commands=(
            "`/draftloop help`, `/draftloop status`, `/draftloop digest`, `/draftloop mine` (what waits on you), "
            "a reply `retry` in a thread"
        ),
    ),
    secret_env=("DISCORD_TOKEN",),
    service=_service,
)
