"""Entry points of the chat services, kept light: a platform's SDK is imported only when its token
is set, so a process pays (in start-up time and memory) only for the platforms it runs."""

from __future__ import annotations

from bot.app.runtime import Role, Runtime, Service


def slack(runtime: Runtime, role: Role) -> Service | None:
    if runtime.settings.slack_bot_token is None:
        return None
    from adapters.chat.slack.service import create

    return create(runtime, role)


def discord(runtime: Runtime, role: Role) -> Service | None:
    if runtime.settings.discord_token is None:
        return None
    from adapters.chat.discord.service import create

    return create(runtime, role)
