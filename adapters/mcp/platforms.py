"""The chat platforms `draftloop mcp` posts to, outbound only: the process listens to no chat (replies
in a thread reach the core through `serve` or `worker`, and the database is where the two meet).

`[mcp] channel` names where projects go by default (`slack:C0123`, `discord:<id>`); without one, the
console, printed on stderr since stdout may be the MCP transport (experts then answer with `draftloop
chat` on the same database). Slack and Discord are connected too whenever their token is set, so a
call's `channel` argument may name a channel there.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.errors import ConfigError
from bot.loop.outside import DEFAULT_CHANNEL

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

_log = logging.getLogger(__name__)

Close = Callable[[], Awaitable[None]]
KNOWN = ("console", "slack", "discord")


def configured_channel(runtime: Runtime) -> str:
    table = getattr(runtime.settings.file, "mcp", None)
    return str(getattr(table, "channel", None) or DEFAULT_CHANNEL)


async def connect(runtime: Runtime) -> Close:
    """Register the configured channel's platform (an error when it cannot be), and the others whose
    token is set; what to await when the process stops."""
    wanted = configured_channel(runtime).partition(":")[0].strip().lower()
    if wanted not in KNOWN:
        raise ConfigError(f"[mcp] channel names {wanted!r}; use slack:CHANNEL, discord:CHANNEL or console")
    closes: list[Close] = []
    for name in KNOWN:
        try:
            close = await _connect(runtime, name, required=name == wanted)
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - another platform than the configured one: go on without it
            if name == wanted:
                raise
            _log.warning("mcp: %s not connected (%s); calls naming a %s channel are refused", name, exc, name)
            continue
        if close is not None:
            closes.append(close)

    async def close_all() -> None:
        for close in closes:
            await close()

    return close_all


async def _connect(runtime: Runtime, name: str, *, required: bool) -> Close | None:
    settings = runtime.settings
    if name == "console":
        if required:
            from adapters.chat.console.service import ConsolePlatform

            files = settings.draftloop_data_dir / "files"
            runtime.register_platform(ConsolePlatform(sys.stderr, files_dir=files))
        return None
    secret = settings.slack_bot_token if name == "slack" else settings.discord_token
    token = secret.get_secret_value() if secret is not None else ""
    if not token:
        if required:
            variable = "SLACK_BOT_TOKEN" if name == "slack" else "DISCORD_TOKEN"
            raise ConfigError(f"[mcp] channel is on {name}: set {variable} so draftloop mcp can post there")
        return None
    if name == "slack":
        from adapters.chat.slack.platform import SlackPlatform, make_client

        runtime.register_platform(SlackPlatform(make_client(token, base_url=settings.slack_api_url)))
        return None
    from adapters.chat.discord.client import DraftloopClient
    from adapters.chat.discord.service import configure_urls

    configure_urls(settings.discord_api_url, settings.discord_gateway_url)
    # REST only: no gateway, so this process takes none of the worker's events.
    client = DraftloopClient(
        settings=settings, handle=runtime.workflow.handle, spawn=runtime.spawn, sync_commands=False
    )
    try:
        await client.login(token)
    except BaseException:
        await client.close()
        raise
    runtime.register_platform(client.platform)
    return client.close
