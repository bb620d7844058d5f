"""The toy platform's inbound side: read the server's events in order and hand each to the core.

A message that mentions `@draftloop` at the top of a channel is a request, a message in a thread the bot
opened is a reply (the core decides what it is: feedback, an aside, `accept`, `retry`), a click on a
button is a decision, `/draftloop NAME` is a command. Every event carries the server's event id as its
key: a redelivered event is the core's to drop, not this adapter's.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from bot.events import (
    Actor,
    CommandInvoked,
    DecisionSignal,
    Event,
    Locator,
    MessageRef,
    Outcome,
    RequestPosted,
    ThreadRef,
    ThreadReply,
)
from tests.contract.toyplatform.platform import NAME, ToyPlatform
from tests.contract.toyplatform.server import ToyMessage, ToyServer, ToyUser

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

MENTION = "@draftloop"
COMMAND = "/draftloop"


def actor_of(user: ToyUser) -> Actor:
    return Actor(NAME, user.id, user.name, roles=user.roles)


class ToyService:
    name = NAME

    def __init__(self, runtime: Runtime, server: ToyServer) -> None:
        self.runtime = runtime
        self.server = server
        self.platform = ToyPlatform(server)
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.runtime.register_platform(self.platform)
        self._reader = asyncio.create_task(self._read(), name="toyplatform-reader")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        while True:
            raw = await self.server.events.get()
            event = self.translate(raw)
            if event is not None:
                self.runtime.spawn(self.runtime.workflow.handle(event))
            self.server.taken += 1

    def translate(self, raw: dict[str, Any]) -> Event | None:
        key, actor = raw["id"], actor_of(raw["user"])
        msg: ToyMessage = raw["message"]
        if raw["type"] == "click":
            action, _, number = raw["value"].partition(":")
            where = ThreadRef(NAME, msg.channel, msg.thread or msg.channel)
            return DecisionSignal(Locator(number=int(number)), actor, Outcome(action), "button", key, where)
        if msg.thread is not None:
            if msg.thread not in self.server.threads:
                return None  # a thread the bot did not open: not its business
            where = ThreadRef(NAME, msg.channel, msg.thread)
            return ThreadReply(Locator(thread=where), actor, msg.text, message_id=msg.id, event_key=key)
        if msg.text.startswith(COMMAND):
            name, *args = msg.text[len(COMMAND) :].split() or ["help"]
            return CommandInvoked(name, actor, ThreadRef(NAME, msg.channel, msg.channel), tuple(args), event_key=key)
        if msg.text.startswith(MENTION):
            text = msg.text[len(MENTION) :].strip()
            return RequestPosted(MessageRef(NAME, msg.channel, msg.id), actor, text, event_key=key)
        return None
