"""A Discord harness: the fake gateway + REST (tests/fakes/discord_api.py), a Runtime on the test
database, and the real discord.py client of `draftloop worker` (the Discord service) logged into it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import discord.gateway
import discord.http
import pytest

from adapters.chat.discord.service import DiscordService
from bot.app.runtime import Runtime
from bot.ports import SystemClock
from bot.settings import Settings
from storage import projects as store
from storage.engine import Database
from storage.models import Project
from tests.fakes.discord_api import FakeDiscord, FakeUser, InteractionRecord, buttons, text_of

CONFIG = """
[discord]
admin_roles = ["Moderators"]
forum_channels = ["jobs"]

[categories.writing]
expert_roles = ["Writers"]

[categories.data-science]
expert_roles = ["Analysts"]
"""


def sqlite_only() -> pytest.MarkDecorator:
    """Most Discord tests exercise the adapter, not the store: run them on SQLite only."""
    return pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


class DiscordHarness:
    def __init__(self, fake: FakeDiscord, settings: Settings, db: Database) -> None:
        self.fake = fake
        self.settings = settings
        self.db = db
        self.runtime: Runtime | None = None
        self.service: DiscordService | None = None

    async def start(self) -> DiscordHarness:
        """One "worker process": a runtime and a fresh discord.py client that logs into the fake."""
        self.runtime = Runtime(self.settings, db=self.db, clock=SystemClock())
        self.service = DiscordService(self.runtime, token=self.fake.token, guild_ready_timeout=0.05)
        await self.service.start()
        return self

    async def stop(self) -> None:
        if self.service is not None:
            await self.service.stop()
            self.service = None
        if self.runtime is not None:
            await self.runtime.drain(timeout=5)
            await self.runtime.agents.aclose()
            self.runtime = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def idle(self) -> None:
        """Wait until every spawned piece of work has finished."""
        runtime = self.runtime
        assert runtime is not None
        await self.fake.wait_for(lambda: runtime.in_flight == 0, what="the runtime to go idle")

    async def project(self, number: int) -> Project:
        async with self.db.session() as session:
            project = await store.get_project(session=session, project_id=number)
        assert project is not None
        return project

    # ---- waiting on what the bot shows
    async def first_draft(self, brief: str) -> tuple[dict[str, Any], int, dict[str, Any]]:
        """alice mentions the bot with `brief`; once v1 is shown and the bot is idle: the request, its
        thread and the v1 message."""
        request = await self.fake.message(self.fake.general, self.fake.alice, brief, mention=True)
        thread = await self.thread_of(request)
        v1 = await self.draft(thread, 1)
        await self.idle()
        return request, thread, v1

    async def thread_of(self, message: dict[str, Any]) -> int:
        mid = int(message["id"])
        await self.fake.wait_for(lambda: mid in self.fake.channels, what=f"a thread on {mid}")
        return mid

    async def draft(self, thread: int, version: int, *, timeout: float = 15) -> dict[str, Any]:
        """The message of `version` once it is final (its buttons are on)."""

        def find() -> dict[str, Any] | None:
            for msg in reversed(self.fake.bot_messages(thread)):
                if f"v{version}" in text_of(msg).split("\n", 1)[0] and buttons(msg):
                    return msg
            return None

        found: dict[str, Any] = await self.fake.wait_for(find, timeout=timeout, what=f"v{version} in {thread}")
        return found

    async def reject(
        self, user: FakeUser, draft: dict[str, Any], number: int, *, reason: str = "tone", comment: str = ""
    ) -> InteractionRecord:
        """Click Reject on `draft`, then fill and send the form it opens; the form's interaction."""
        click = await self.fake.click(user, draft, f"draftloop:reject:{number}")
        await self.fake.wait_for(lambda: click.responses, what="the reject form")
        assert click.response_type == 9, "Reject opens a form"
        values = {"reason": reason, **({"comment": comment} if comment else {})}
        channel = int(draft["channel_id"])
        form = f"draftloop:reject-form:{number}"
        sent = await self.fake.submit_modal(user, channel, form, values, draft, opened_by=click)
        await self.fake.wait_for(lambda: sent.responses, what="the form's answer")
        return sent

    async def said(self, channel: int, needle: str, *, timeout: float = 10) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            return next((m for m in self.fake.bot_messages(channel) if needle in text_of(m)), None)

        found: dict[str, Any] = await self.fake.wait_for(find, timeout=timeout, what=f"{needle!r} in {channel}")
        return found


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
        discord.http.Route.BASE = base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


@pytest.fixture
def discord_settings(fake_discord: FakeDiscord, settings_factory: Callable[..., Settings]) -> Callable[..., Settings]:
    def make(toml: str = CONFIG, **fields: Any) -> Settings:
        fields.setdefault("discord_token", fake_discord.token)
        fields.setdefault("discord_api_url", fake_discord.api_base)
        fields.setdefault("discord_gateway_url", fake_discord.gateway_url)
        return settings_factory(toml, **fields)

    return make


@pytest.fixture
async def harness_factory(
    fake_discord: FakeDiscord, db: Database, discord_settings: Callable[..., Settings]
) -> AsyncIterator[Callable[..., Any]]:
    made: list[DiscordHarness] = []

    async def make(toml: str = CONFIG, **fields: Any) -> DiscordHarness:
        harness = DiscordHarness(fake_discord, discord_settings(toml, **fields), db)
        made.append(harness)
        return await harness.start()

    yield make
    for harness in made:
        await harness.stop()


@pytest.fixture
async def dc(harness_factory: Callable[..., Any]) -> DiscordHarness:
    harness: DiscordHarness = await harness_factory()
    return harness
