"""The chat platform `draftloop mcp` posts to, outbound only: the process listens to no chat (replies
in a thread reach the core through `serve` or `worker`, and the database is where the two meet).

`[mcp] channel` names it (`slack:C0123`, `discord:<id>`); without one, the console, printed on stderr
since stdout may be the MCP transport. Experts then answer with `draftloop chat` on the same database.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.errors import ConfigError
from bot.loop.outside import DEFAULT_CHANNEL

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

Close = Callable[[], Awaitable[None]]


def configured_channel(runtime: Runtime) -> str:
    table = getattr(runtime.settings.file, "mcp", None)
    return str(getattr(table, "channel", None) or DEFAULT_CHANNEL)


async def connect(runtime: Runtime) -> Close:
    """Register the configured channel's platform; what to await when the process stops."""
    platform = configured_channel(runtime).partition(":")[0].strip().lower()
    settings = runtime.settings
    if platform == "console":
        from adapters.chat.console.service import ConsolePlatform

        runtime.register_platform(ConsolePlatform(sys.stderr, files_dir=settings.draftloop_data_dir / "files"))
        return _nothing
    if platform == "slack":
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        if not token:
            raise ConfigError("[mcp] channel is on Slack: set SLACK_BOT_TOKEN so draftloop mcp can post there")
        from adapters.chat.slack.platform import SlackPlatform, make_client

        runtime.register_platform(SlackPlatform(make_client(token, base_url=settings.slack_api_url)))
        return _nothing
    if platform == "discord":
        token = settings.discord_token.get_secret_value() if settings.discord_token else ""
        if not token:
            raise ConfigError("[mcp] channel is on Discord: set DISCORD_TOKEN so draftloop mcp can post there")
        from adapters.chat.discord.client import DraftloopClient
        from adapters.chat.discord.service import configure_urls

        configure_urls(settings.discord_api_url, settings.discord_gateway_url)
        # REST only: no gateway, so this process takes none of the worker's events.
        client = DraftloopClient(
            settings=settings, handle=runtime.workflow.handle, spawn=runtime.spawn, sync_commands=False
        )
        await client.login(token)
        runtime.register_platform(client.platform)
        return client.close
    raise ConfigError(f"[mcp] channel names {platform!r}; use slack:CHANNEL, discord:CHANNEL or console")


async def _nothing() -> None:
    return None
