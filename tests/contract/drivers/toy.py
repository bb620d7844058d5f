"""The toy platform, driven through its server: people post and click, the service reads the events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from bot.app.runtime import Runtime
from bot.events import Outcome
from bot.settings import Settings
from storage.engine import Database
from tests.contract.drivers.base import Draft, Part, settle
from tests.contract.toyplatform.policy import SERVERS, TOY
from tests.contract.toyplatform.server import ToyServer, ToyUser
from tests.contract.toyplatform.service import MENTION, ToyService

CHANNEL = "general"
PEOPLE: dict[Part, ToyUser] = {
    "requester": ToyUser("t-alice", "alice"),
    "expert": ToyUser("t-ed", "ed"),
    "outsider": ToyUser("t-mallory", "mallory"),
}


def config(server: str, table: str = "") -> str:
    """The `[toyplatform]` table (its server, plus `table`'s lines) and the category's expert."""
    return f'[toyplatform]\nserver = "{server}"\n{table}\n[categories.writing]\nexperts = ["t-ed"]\n'


class ToyDriver:
    platform = "toyplatform"
    redelivers = True

    def __init__(self, runtime: Runtime, service: ToyService) -> None:
        self.runtime, self.service, self.server = runtime, service, service.server
        self._last: dict[str, Any] | None = None

    @classmethod
    async def start(cls, settings_for: Callable[[str], Settings], db: Database, *, table: str = "") -> ToyDriver:
        name = f"toy-{uuid.uuid4().hex[:6]}"
        SERVERS[name] = ToyServer()
        runtime = Runtime(settings_for(config(name, table)), db=db)
        service = TOY(runtime, "worker")  # the policy is the service factory, as its entry point would be
        assert isinstance(service, ToyService)
        await service.start()
        return cls(runtime, service)

    async def stop(self) -> None:
        await self.service.stop()
        await self.runtime.drain()
        await self.runtime.agents.aclose()

    async def _settled(self) -> None:
        await settle(self.runtime, lambda: self.server.taken == self.server.sent)

    # ---- as any toy user
    async def say(self, user: ToyUser, text: str, *, thread: str | None = None) -> dict[str, Any]:
        event = self._last = self.server.say(user, CHANNEL, text, thread=thread)
        await self._settled()
        return event

    async def click(self, user: ToyUser, thread: str, outcome: Outcome) -> None:
        latest = [m for m in self.server.in_thread(thread) if m.buttons][-1]
        value = next(b for b in latest.buttons if b.startswith(outcome.value))
        self._last = self.server.click(user, latest, value)
        await self._settled()

    # ---- the driver protocol
    async def request(self, text: str, *, who: Part = "requester") -> str:
        origin = (await self.say(PEOPLE[who], f"{MENTION} {text}"))["message"].id
        return next(thread for thread, on in self.server.threads.items() if on == origin)

    async def reply(self, thread: str, text: str, *, who: Part) -> None:
        await self.say(PEOPLE[who], text, thread=thread)

    async def decide(self, thread: str, outcome: Outcome, *, who: Part) -> None:
        await self.click(PEOPLE[who], thread, outcome)

    async def redeliver(self) -> None:
        assert self._last is not None
        self.server.redeliver(self._last)
        await self._settled()

    def public(self, thread: str) -> list[str]:
        return [m.text for m in self.server.in_thread(thread) if m.to is None]

    def drafts(self, thread: str) -> list[Draft]:
        return [Draft(m.version, m.text) for m in self.server.in_thread(thread) if m.kind == "draft"]

    def private(self, who: Part | ToyUser) -> list[str]:
        user = who if isinstance(who, ToyUser) else PEOPLE[who]
        return [m.text for m in self.server.messages.values() if m.to == user.id]

    def said(self, channel: str = CHANNEL) -> list[str]:
        """Everything the bot posted in a channel or its threads, private notices included."""
        return [m.text for m in self.server.messages.values() if m.author == "bot" and m.channel == channel]
