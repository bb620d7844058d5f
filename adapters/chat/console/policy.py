"""The console's policy (bot/platforms.py): one room, people by name, its help; no config table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.platforms import PlatformHelp, PlatformPolicy, PlatformTable

if TYPE_CHECKING:
    from bot.app.runtime import Role, Runtime, Service

NAME = "console"


def _service(runtime: Runtime, role: Role) -> Service | None:
    if role != "chat":
        return None
    from adapters.chat.console.service import ConsoleService

    return ConsoleService(runtime)


CONSOLE: PlatformPolicy[PlatformTable] = PlatformPolicy(
    name=NAME,
    title="the console",
    # The speaker's name is all there is: `/as NAME` sets it, so names match (case-insensitively).
    people="names",
    # A terminal is one room: every project is "here", and status lists them all.
    one_room=True,
    help=PlatformHelp(
        start="type a request on its own line",
        example="[writing] a 600-word post on remote onboarding",
        decide="`#N accept` or `#N reject`",
        commands="`#N <reply>`, `#N retry`, `#N status`, `/as NAME`, `/status`, `/digest`, `/help`, `/quit`",
    ),
    service=_service,
)
