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
from urllib.parse import urlsplit

from adapters.chat.console import lines as console_lines
from adapters.chat.console.policy import NAME
from adapters.chat.console.terminal import LineReader, visible, visible_lines
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
from bot.report.render import render_text
from bot.triage import default_agent_name

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

CHANNEL = "console"
_DRAFT_CONTROLS = "  ↳ reply `#{n} <feedback>`, `#{n} accept` or `#{n} reject`"
# The core says "reply `retry`", as typed in a chat thread; here a reply names its thread.
_REPLY_WORD = re.compile(r"\b(reply|or) `(retry|reject|accept|cancel|status|review|pick [AB])`")
_COMMANDS = "`/as NAME`, `/status`, `/digest`, `/help`, `/quit`"
# The speaker's name is their id here, stored with what they send (128 characters at most).
MAX_NAME = 64


def login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "you")


def describe_database(url: str) -> str:
    """The database as the start line shows it: a SQLite file's path, a server URL without its
    password or query (which may carry one)."""
    scheme, _, rest = url.partition("://")
    backend = scheme.split("+", 1)[0]
    if backend == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not path or path.startswith(":memory:"):
            return "SQLite in memory (nothing is kept after this session)"
        path = path.split("?", 1)[0]
        relative = os.path.relpath(path) if os.path.isabs(path) else path
        return f"{path if relative.startswith('..') else relative} (SQLite)"
    parts = urlsplit(url)
    user = parts.username or ""
    login = f"{user}:***@" if parts.password else (f"{user}@" if user else "")
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{backend}://{login}{host}{port}{parts.path}"


class ConsolePlatform:
    name = NAME
    limits = PlatformLimits(max_message_chars=100_000, max_inline_chars=20_000, min_edit_interval=0.0)

    def __init__(self, out: TextIO, *, files_dir: Path) -> None:
        self.out = out
        self.files_dir = files_dir
        self._ids = itertools.count(1)
        self.printed = 0  # lines written: the service tells a silent outcome from an answered one

    def _id(self) -> str:
        return f"m{next(self._ids)}"

    def write(self, text: str) -> None:
        """Print console output: every line shown, never obeyed (no raw escape sequences)."""
        self.out.write(visible_lines(text.rstrip("\n")) + "\n")
        self.out.flush()
        self.printed += 1

    def _print(self, thread: ThreadRef | None, reply: Reply, *, note: str = "") -> None:
        where = f"#{thread.thread_id}" if thread and thread.thread_id.isdigit() else "draftloop"
        h = reply.header
        meta = f"v{h.version} · {h.state}" if h else reply.kind.value
        body = reply.text.rstrip()
        if reply.kind == ReplyKind.DIGEST and reply.data is not None:
            # Platforms render the digest from its figures (Slack blocks, a Discord embed); a terminal
            # gets the plain text, not the chat's Markdown.
            body = render_text(reply.data).rstrip()
        if where != "draftloop" and reply.kind != ReplyKind.DRAFT:
            body = _REPLY_WORD.sub(lambda m: f"{m.group(1)} `{where} {m.group(2)}`", body)
        if reply.kind == ReplyKind.DRAFT:
            lines = [f"[{where}] draftloop ({meta}){note}:"] + [f"  | {line}" for line in body.splitlines()]
            if reply.mentions:
                lines.append("  ↳ for review: " + ", ".join(reply.mentions))
            if reply.controls and h:
                lines.append(_DRAFT_CONTROLS.format(n=h.number))
        else:
            first, *rest = body.splitlines() or [""]
            lines = [f"[{where}] draftloop ({meta}){note}: {first}"] + [f"  {line}" if line else "" for line in rest]
        self.write("\n".join(lines))

    async def open_thread(self, origin: MessageRef, *, number: int, title: str) -> ThreadRef:
        return ThreadRef(NAME, CHANNEL, str(number))

    async def post(self, thread: ThreadRef, reply: Reply) -> MessageRef:
        saved = [self._save(name, content) for name, content in reply.files]
        self._print(thread, reply, note="".join(f" [file: {path}]" for path in saved))
        return MessageRef(NAME, CHANNEL, self._id(), thread.thread_id)

    def _save(self, filename: str, content: bytes) -> Path:
        """A reply's attachment (the digest's chart) as a file beside the console's other files."""
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / Path(filename).name
        path.write_bytes(content)
        return path

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

    def __init__(
        self,
        runtime: Runtime,
        *,
        stdin: TextIO | None = None,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.runtime = runtime
        self.stdin = stdin or sys.stdin
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.platform = ConsolePlatform(self.out, files_dir=runtime.settings.draftloop_data_dir / "files")
        self.speaker = login_name()
        self.interactive = _isatty(self.stdin)
        self.echo = not self.interactive
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

    def start_line(self) -> str:
        """Which database and agent this session uses (stderr, once): the first thing to check when
        the projects of yesterday are not there, or the drafts are placeholders."""
        settings = self.runtime.settings
        name = default_agent_name(settings)
        spec = self.runtime.agents.spec(name)
        agent = spec.name
        if spec.name == spec.provider:
            agent += f" ({spec.model})"
        elif spec.name != f"{spec.provider}:{spec.model}":
            agent += f" ({spec.provider} {spec.model})"
        routed = [f"{category} → {cfg.agent}" for category, cfg in settings.file.categories.items() if cfg.agent]
        if routed:
            agent += "; per category: " + ", ".join(routed)
        database = self.runtime.redactor(describe_database(self.runtime.db.url))
        return f"draftloop console: database {database}, agent {agent}"

    async def run(self) -> None:
        """Until /quit or end of input (exit 0); Ctrl-C says goodbye and ends the session at once."""
        await self.start()
        self.err.write(visible(self.start_line()) + "\n")
        self.err.flush()
        if self.interactive:
            self.out.write("draftloop console: type a request, `#N <reply>` to answer in a thread, /help.\n")
        reader = LineReader(self.stdin)
        try:
            while not self._stopped.is_set():
                if self.interactive:
                    self.out.write(f"{visible(self.speaker)}> ")
                    self.out.flush()
                line = await reader.readline()
                if line is None:
                    if self.interactive:
                        self.out.write("\n")  # the shell's prompt starts on its own line
                        self.out.flush()
                    break
                if not line.strip():
                    continue
                if self.echo:
                    self.platform.write(f"{self.speaker}> {line}")
                if not await self.handle_line(line):
                    break
        except asyncio.CancelledError:
            # Ctrl-C: every line already handled is stored; a draft in progress resumes on the next start.
            self.err.write(("\n" if self.interactive else "") + "bye (interrupted; everything you sent is stored)\n")
            self.err.flush()
            raise

    async def handle_line(self, line: str) -> bool:
        """Process one line to completion; False on /quit."""
        wf = self.runtime.workflow
        workflow = self.runtime.settings.file.workflow
        parsed = console_lines.parse(
            line, categories=self.runtime.settings.file.categories, aside_marker=workflow.aside_marker
        )
        match parsed:
            case None:
                return True
            case console_lines.Hint(text):
                self.platform.write(f"  ↳ {text}")
                return True
            case console_lines.Command(command, rest):
                return await self._command(command, rest)
            case console_lines.ThreadLine(number, text):
                printed = self.platform.printed
                message_id = f"{self._session}.line{next(self._lines)}"
                await wf.handle(ThreadReply(Locator(number=number), self.actor(), text, message_id=message_id))
                if (
                    workflow.aside_marker
                    and text.startswith(workflow.aside_marker)
                    and self.platform.printed == printed
                ):
                    self.platform.write(f"  ↳ #{number}: aside kept (no revision)")
                return True
            case console_lines.Request(text):
                origin = MessageRef(NAME, CHANNEL, f"{self._session}.line{next(self._lines)}")
                await wf.handle(RequestPosted(origin, self.actor(), text))
                return True
        return True

    async def _command(self, command: str, rest: str) -> bool:
        if command in ("quit", "exit"):
            return False
        if not command:
            self.platform.write(f"  ↳ a command follows the slash: {_COMMANDS}")
            return True
        if command == "as":
            if not rest:
                self.platform.write("usage: /as NAME")
            elif len(rest) > MAX_NAME:
                self.platform.write(f"  ↳ a name is at most {MAX_NAME} characters; still speaking as {self.speaker}")
            else:
                self.speaker = rest
                self.platform.write(f"(now speaking as {rest})")
            return True
        here = ThreadRef(NAME, CHANNEL, "draftloop")
        await self.runtime.workflow.handle(CommandInvoked(command, self.actor(), here, args=tuple(rest.split())))
        return True


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
