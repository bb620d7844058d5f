"""The console, driven by lines as `draftloop chat` reads them; what it shows is read from its transcript."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from adapters.chat.console.service import ConsoleService
from bot.app.runtime import Runtime
from bot.events import Outcome
from bot.settings import Settings
from storage.engine import Database
from tests.contract.drivers.base import Draft, Part

PEOPLE: dict[Part, str] = {"requester": "alice", "expert": "ed", "outsider": "mallory"}
CONFIG = '[categories.writing]\nexperts = ["ed"]\n'
_HEAD = re.compile(r"^\[(?P<where>[^\]]+)\] draftloop \((?P<meta>[^)]*)\)(?P<note>[^:]*):(?: (?P<first>.*))?$")
_VERSION = re.compile(r"^v(\d+) · ")


@dataclass
class Block:
    """One message as the console printed it."""

    where: str  # "#3", or "draftloop" outside any project
    meta: str  # "v2 · in_review", or the reply's kind
    note: str  # " (updated)", " → alice only"
    lines: list[str]

    @property
    def draft(self) -> bool:
        return bool(self.lines) and self.lines[0].startswith("  | ")

    @property
    def text(self) -> str:
        return "\n".join(line.removeprefix("  | ").removeprefix("  ") for line in self.lines)


def blocks(transcript: str) -> list[Block]:
    found: list[Block] = []
    for line in transcript.splitlines():
        head = _HEAD.match(line)
        if head:
            first = head["first"]
            found.append(Block(head["where"], head["meta"], head["note"], [] if first is None else [first]))
        elif found:
            found[-1].lines.append(line)
    return found


class ConsoleDriver:
    platform = "console"
    redelivers = False

    def __init__(self, runtime: Runtime, service: ConsoleService, out: io.StringIO) -> None:
        self.runtime, self.service, self.out = runtime, service, out

    @classmethod
    async def start(cls, settings_for: Callable[[str], Settings], db: Database) -> ConsoleDriver:
        runtime = Runtime(settings_for(CONFIG), db=db)
        out = io.StringIO()
        service = ConsoleService(runtime, stdin=io.StringIO(), out=out)
        await service.start()
        return cls(runtime, service, out)

    async def stop(self) -> None:
        await self.service.stop()
        await self.runtime.drain()
        await self.runtime.agents.aclose()

    async def _line(self, who: Part, line: str) -> list[Block]:
        """Type one line as `who`; the console handles it to completion. The blocks it printed."""
        before = len(blocks(self.out.getvalue()))
        self.service.speaker = PEOPLE[who]
        await self.service.handle_line(line)
        return blocks(self.out.getvalue())[before:]

    async def request(self, text: str, *, who: Part = "requester") -> str:
        printed = await self._line(who, text)
        return next(b.where for b in printed if b.where.startswith("#"))

    async def reply(self, thread: str, text: str, *, who: Part) -> None:
        await self._line(who, f"{thread} {text}")

    async def decide(self, thread: str, outcome: Outcome, *, who: Part) -> None:
        await self._line(who, f"{thread} {outcome.value}")

    async def redeliver(self) -> None:
        raise AssertionError("the console never delivers a line twice")

    def _public(self, thread: str) -> list[Block]:
        return [b for b in blocks(self.out.getvalue()) if b.where == thread and "only" not in b.note]

    def public(self, thread: str) -> list[str]:
        return [b.text for b in self._public(thread)]

    def drafts(self, thread: str) -> list[Draft]:
        found = []
        for b in self._public(thread):
            version = _VERSION.match(b.meta)
            if b.draft and version:
                found.append(Draft(int(version[1]), b.text))
        return found

    def private(self, who: Part) -> list[str]:
        return [b.text for b in blocks(self.out.getvalue()) if f"→ {PEOPLE[who]} only" in b.note]
