"""Discord, driven through the fake gateway and REST API with the real discord.py client of `draftloop worker`."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.app.runtime import Runtime
from bot.events import Outcome
from bot.settings import Settings
from storage.engine import Database
from tests.contract.drivers.base import Draft, Part, settle
from tests.discord.conftest import DiscordHarness
from tests.fakes.discord_api import FakeDiscord, FakeUser, buttons, text_of

CONFIG = '[categories.writing]\nexpert_roles = ["Writers"]\n'
_VERSION = re.compile(r"#\d+ · v(\d+)")
EPHEMERAL = 64


class DiscordDriver:
    platform = "discord"
    redelivers = True

    def __init__(self, fake: FakeDiscord, harness: DiscordHarness) -> None:
        self.fake, self.harness = fake, harness
        assert harness.runtime is not None and harness.service is not None
        self.runtime: Runtime = harness.runtime
        self.client = harness.service.client
        self.people: dict[Part, FakeUser] = {"requester": fake.alice, "expert": fake.wendy, "outsider": fake.eve}
        self._last: dict[str, Any] | None = None
        self._clicked: list[tuple[Part, int]] = []  # (who, channel): where their ephemeral answers go

    @classmethod
    async def start(cls, settings_for: Callable[..., Settings], db: Database, fake: FakeDiscord) -> DiscordDriver:
        settings = settings_for(
            CONFIG,
            discord_token=fake.token,
            discord_api_url=fake.api_base,
            discord_gateway_url=fake.gateway_url,
        )
        harness = DiscordHarness(fake, settings, db)
        await harness.start()
        return cls(fake, harness)

    async def stop(self) -> None:
        await self.harness.stop()

    def _read(self, check: Callable[[discord.Message], bool]) -> Awaitable[Any]:
        """Resolves once discord.py has read a matching message off the gateway. Made before the message
        is sent: discord.py registers the waiter at once."""
        return self.client.wait_for("message", check=check, timeout=15)

    async def _post(self, channel: int, who: Part, text: str, *, mention: bool = False) -> dict[str, Any]:
        user = self.people[who]
        content = f"<@{self.fake.bot.id}> {text}" if mention else text
        read = self._read(lambda m: m.author.id == user.id and m.content == content)
        msg = self._last = await self.fake.message(channel, user, text, mention=mention)
        await read
        await settle(self.runtime)
        return msg

    async def request(self, text: str, *, who: Part = "requester") -> str:
        msg = await self._post(self.fake.general, who, text, mention=True)
        return str(await self.harness.thread_of(msg))

    async def reply(self, thread: str, text: str, *, who: Part) -> None:
        await self._post(int(thread), who, text)

    async def decide(self, thread: str, outcome: Outcome, *, who: Part) -> None:
        latest = [m for m in self.fake.bot_messages(int(thread)) if buttons(m)][-1]
        custom_id = next(b["custom_id"] for b in buttons(latest) if b["custom_id"].split(":")[1] == outcome.value)
        self._last = None  # a click is answered, never redelivered
        self._clicked.append((who, int(thread)))
        click = await self.fake.click(self.people[who], latest, custom_id)
        await settle(self.runtime, lambda: bool(click.responses))

    async def redeliver(self) -> None:
        msg = self._last
        assert msg is not None, "only gateway messages are replayed"
        read = self._read(lambda m: m.id == int(msg["id"]))
        await self.fake.dispatch("MESSAGE_CREATE", msg)
        await read
        await settle(self.runtime)

    def _in(self, thread: str) -> list[dict[str, Any]]:
        return [m for m in self.fake.bot_messages(int(thread)) if not int(m["flags"]) & EPHEMERAL]

    def public(self, thread: str) -> list[str]:
        return [text_of(m) for m in self._in(thread)]

    def drafts(self, thread: str) -> list[Draft]:
        found = []
        for m in self._in(thread):
            version = _VERSION.search(text_of(m).split("\n", 1)[0])
            if version and buttons(m):
                found.append(Draft(int(version[1]), text_of(m)))
        return found

    def private(self, who: Part) -> list[str]:
        user = self.people[who]
        channels = {channel for part, channel in self._clicked if part == who}
        dm = self.fake.dms.get(user.id)
        texts = [
            text_of(m) for channel in channels for m in self.fake.bot_messages(channel) if int(m["flags"]) & EPHEMERAL
        ]
        return texts + ([text_of(m) for m in self.fake.bot_messages(dm)] if dm is not None else [])
