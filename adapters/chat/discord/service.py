"""The Discord service: `create(runtime, role)`, the `draftloop.services` entry point.

Role "worker" (`draftloop worker`) with `DISCORD_TOKEN` set: the gateway client runs in the process's
event loop beside Socket Mode and the scheduler. Any other role, or no token: None.

`DISCORD_API_URL` (e.g. `http://127.0.0.1:8080/api/v10`, or a REST proxy) replaces discord.py's REST
base URL and `DISCORD_GATEWAY_URL` (e.g. `ws://127.0.0.1:8080/gateway`) its gateway; both default to
Discord's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any

import discord
import discord.gateway
import discord.http
import yarl

from adapters.chat.discord.client import DraftloopClient
from adapters.chat.discord.policy import NAME
from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot.app.runtime import Role, Runtime

_log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 5.0


def configure_urls(api_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py at another REST base and gateway (process-wide, as the library keeps them)."""
    if api_url:
        base = api_url.rstrip("/")
        if not re.search(r"/api/v\d+$", base):
            base += "/api/v10"
        discord.http.Route.BASE = base
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class DiscordService:
    name = "discord"

    def __init__(self, runtime: Runtime, *, token: str, **client_options: Any) -> None:
        self.runtime = runtime
        self._token = token
        settings = runtime.settings
        configure_urls(settings.discord_api_url, settings.discord_gateway_url)
        workflow = runtime.workflow
        self.client = DraftloopClient(
            settings=settings,
            handle=workflow.handle,
            deliver=workflow.inbox.events(NAME, workflow.handle),
            spawn=runtime.spawn,
            **client_options,
        )
        self.platform = self.client.platform
        runtime.register_platform(self.platform)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Log in, connect the gateway and return once the bot is ready (or fail with a clear reason)."""
        try:
            await self.client.login(self._token)
        except discord.LoginFailure as exc:
            await self.client.close()
            raise ConfigError("DISCORD_TOKEN was refused by Discord; copy the bot token again") from exc
        self._task = asyncio.create_task(self._connect(), name="discord-gateway")
        self._task.add_done_callback(self._ended)
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # raises the reason
            raise ConfigError(f"Discord gateway not ready after {READY_TIMEOUT:.0f} s")
        await self.platform.board.prepare()  # forum boards' state tags, before the first post needs them

    async def _connect(self) -> None:
        try:
            await self.client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired as exc:
            raise ConfigError(
                "Discord refused the Message Content intent: enable it under Bot → Privileged Gateway Intents "
                "in the Developer Portal"
            ) from exc

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None and not self.client.is_closed():
            _log.error("discord: the gateway connection ended for good: %s", task.exception())

    async def stop(self) -> None:
        await self.client.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError, Exception):
                await asyncio.wait_for(self._task, timeout=STOP_TIMEOUT)
        _log.info("discord: disconnected")


def create(runtime: Runtime, role: Role) -> DiscordService | None:
    token = runtime.settings.discord_token
    raw = token.get_secret_value() if token is not None else ""
    if role != "worker" or not raw:
        return None
    return DiscordService(runtime, token=raw)
