"""The console chat platform: `draftloop chat`. Threads are project numbers (`#3 make it shorter`).

Each input line is processed to completion before the next is read, so a piped script gives the
same transcript every time. This is also the smallest complete ChatPlatform: copy it and
`policy.py` to start a new adapter.
"""

from __future__ import annotations

import asyncio
import getpass
import itertools
import os
import re
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from adapters.chat.console.policy import NAME
from bot.events import (
    Actor,
    CommandInvoked,
    Locator,
    MessageRef,
    RequestPosted,
    ThreadRef,
    ThreadReply,
)
from bot.ports import PlatformLimits
from bot.replies import Reply, ReplyKind

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

CHANNEL = "console"
_THREAD_LINE = re.compile(r"^#(?P<n>\d+)\b\s*(?P<text>.*)$", re.DOTALL)
_DRAFT_CONTROLS = "  ↳ reply `#{n} <feedback>`, `#{n} accept` or `#{n} reject`"


def login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "you")


class ConsolePlatform:
    name = NAME
    limits = PlatformLimits(max_message_chars=100_000, max_inline_chars=20_000, min_edit_interval=0.0)

    def __init__(self, out: TextIO, *, files_dir: Path) -> None:
        self.out = out
        self.files_dir = files_dir
        self._ids = itertools.count(1)

    def _id(self) -> str:
        return f"m{next(self._ids)}"

    def _print(self, thread: ThreadRef | None, reply: Reply, *, note: str = "") -> None:
        where = f"#{thread.thread_id}" if thread and thread.thread_id.isdigit() else "draftloop"
        h = reply.header
        meta = f"v{h.version} · {h.state}" if h else reply.kind.value
        body = reply.text.rstrip()
        if reply.kind == ReplyKind.DRAFT:
            lines = [f"[{where}] draftloop ({meta}){note}:"] + [f"  | {line}" for line in body.splitlines()]
            if reply.mentions:
                lines.append("  ↳ for review: " + ", ".join(reply.mentions))
            if reply.controls and h:
                lines.append(_DRAFT_CONTROLS.format(n=h.number))
        else:
            first, *rest = body.splitlines() or [""]
            lines = [f"[{where}] draftloop ({meta}){note}: {first}"] + [f"  {line}" for line in rest]
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    async def open_thread(self, origin: MessageRef, *, number: int, title: str) -> ThreadRef:
        return ThreadRef(NAME, CHANNEL, str(number))

    async def post(self, thread: ThreadRef, reply: Reply) -> MessageRef:
        self._print(thread, reply)
        return MessageRef(NAME, CHANNEL, self._id(), thread.thread_id)

    async def edit(self, message: MessageRef, reply: Reply) -> None:
        self._print(message.thread(), reply, note=" (updated)")

    async def upload(self, thread: ThreadRef, *, filename: str, content: str, reply: Reply) -> MessageRef:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / filename
        path.write_text(content, encoding="utf-8")
        self._print(thread, reply, note=f" [file: {path}]")
        return MessageRef(NAME, CHANNEL, self._id(), thread.thread_id)

    async def notify_private(self, thread: ThreadRef, actor: Actor, text: str) -> None:
        self._print(thread, Reply(text), note=f" → {actor.display} only")


class ConsoleService:
    """Reads lines, turns each into an event, and awaits the workflow before reading the next."""

    name = NAME

    def __init__(self, runtime: Runtime, *, stdin: TextIO | None = None, out: TextIO | None = None) -> None:
        self.runtime = runtime
        self.stdin = stdin or sys.stdin
        self.out = out or sys.stdout
        self.platform = ConsolePlatform(self.out, files_dir=runtime.settings.draftloop_data_dir / "files")
        self.speaker = login_name()
        self.echo = not self.stdin.isatty()
        self._lines = itertools.count(1)
        # Line numbers restart with every session on the same database; message ids must not.
        self._session = uuid.uuid4().hex[:8]
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        self.runtime.register_platform(self.platform)

    async def stop(self) -> None:
        self._stopped.set()

    def actor(self) -> Actor:
        return Actor(NAME, self.speaker, self.speaker)

    async def run(self) -> None:
        """Until /quit or end of input."""
        await self.start()
        if not self.echo:
            self.out.write("draftloop console: type a request, `#N <reply>` to answer in a thread, /help.\n")
        loop = asyncio.get_running_loop()
        while not self._stopped.is_set():
            if not self.echo:
                self.out.write(f"{self.speaker}> ")
                self.out.flush()
            line = await loop.run_in_executor(None, self.stdin.readline)
            if not line:
                break
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if self.echo:
                self.out.write(f"{self.speaker}> {line}\n")
            if not await self.handle_line(line):
                break

    async def handle_line(self, line: str) -> bool:
        """Process one line to completion; False on /quit."""
        text = line.strip()
        wf = self.runtime.workflow
        here = ThreadRef(NAME, CHANNEL, "draftloop")
        if text.startswith("/") and not text.startswith("//"):
            command, _, rest = text[1:].partition(" ")
            command = command.lower()
            if command in ("quit", "exit"):
                return False
            if command == "as":
                name = rest.strip()
                if not name:
                    self.out.write("usage: /as NAME\n")
                else:
                    self.speaker = name
                    self.out.write(f"(now speaking as {name})\n")
                return True
            await wf.handle(CommandInvoked(command, self.actor(), here, args=tuple(rest.split())))
            return True
        match = _THREAD_LINE.match(text)
        message_id = f"{self._session}.line{next(self._lines)}"
        if match:
            number = int(match.group("n"))
            await wf.handle(
                ThreadReply(Locator(number=number), self.actor(), match.group("text"), message_id=message_id)
            )
            return True
        origin = MessageRef(NAME, CHANNEL, message_id)
        await wf.handle(RequestPosted(origin, self.actor(), text))
        return True
