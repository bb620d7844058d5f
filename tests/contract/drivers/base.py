"""The driver protocol: the handful of things a scenario does and reads on any chat platform.

A scenario speaks of people by part (`requester`, `expert`, `outsider`); each driver maps those to
its platform's users and writes the category's experts into the config the way its platform names
people. Every action returns once the platform delivered the event and the work it started is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.app.runtime import Runtime
from bot.events import Outcome

Part = Literal["requester", "expert", "outsider"]


@dataclass(frozen=True)
class Draft:
    version: int
    text: str


class Driver(Protocol):
    platform: str
    # Whether the platform delivers one event twice with the same id (after a lost ack or a
    # reconnect). The console reads lines: a line typed twice is two requests, never a redelivery.
    redelivers: bool
    runtime: Runtime

    async def request(self, text: str, *, who: Part = "requester") -> str:
        """Post a request; return the project's thread (an opaque handle for the other calls)."""
        ...

    async def reply(self, thread: str, text: str, *, who: Part) -> None: ...

    async def decide(self, thread: str, outcome: Outcome, *, who: Part) -> None:
        """Accept or reject the latest draft the platform's usual way (a button where it has them)."""
        ...

    async def redeliver(self) -> None:
        """Deliver the last event again, with the same id."""
        ...

    def public(self, thread: str) -> list[str]:
        """What the bot shows everyone in the thread, oldest first, as last edited."""
        ...

    def drafts(self, thread: str) -> list[Draft]:
        """The finished drafts in the thread (one per message), oldest first."""
        ...

    def private(self, who: Part) -> list[str]:
        """What the bot told this person alone."""
        ...


async def settle(runtime: Runtime, delivered: Callable[[], bool] = lambda: True, *, timeout: float = 15.0) -> None:
    """Wait until the platform has handed over what was sent (`delivered`) and all the work it started
    is done. Polled, because a chat SDK hands events over on its own schedule; a few quiet polls in a
    row cover the step between an adapter's ack and its spawn."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    quiet = 0
    while quiet < 3:
        if loop.time() > deadline:
            raise TimeoutError(f"not settled after {timeout} s ({runtime.in_flight} tasks in flight)")
        await asyncio.sleep(0.01)
        quiet = quiet + 1 if delivered() and runtime.in_flight == 0 else 0
