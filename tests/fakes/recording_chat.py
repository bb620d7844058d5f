"""A ChatPlatform that records what the core asked it to show. Used to drive the real Workflow."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.events import Actor, MessageRef, ThreadRef
from bot.ports import PlatformLimits
from bot.replies import Reply


@dataclass
class Sent:
    op: str  # post, edit, upload, private
    thread: ThreadRef
    reply: Reply
    message_id: str
    actor: Actor | None = None
    content: str = ""


@dataclass
class RecordingChat:
    name: str = "console"
    limits: PlatformLimits = field(default_factory=PlatformLimits)
    sent: list[Sent] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def open_thread(self, origin: MessageRef, *, number: int, title: str) -> ThreadRef:
        return ThreadRef(self.name, origin.channel, str(number) if self.name == "console" else origin.message_id)

    async def post(self, thread: ThreadRef, reply: Reply) -> MessageRef:
        mid = f"m{next(self._ids)}"
        self.sent.append(Sent("post", thread, reply, mid))
        return MessageRef(self.name, thread.channel, mid, thread.thread_id)

    async def edit(self, message: MessageRef, reply: Reply) -> None:
        self.sent.append(Sent("edit", message.thread(), reply, message.message_id))

    async def upload(self, thread: ThreadRef, *, filename: str, content: str, reply: Reply) -> MessageRef:
        mid = f"m{next(self._ids)}"
        self.sent.append(Sent("upload", thread, reply, mid, content=content))
        return MessageRef(self.name, thread.channel, mid, thread.thread_id)

    async def notify_private(self, thread: ThreadRef, actor: Actor, text: str) -> None:
        self.sent.append(Sent("private", thread, Reply(text), "", actor=actor))

    def texts(self, op: str | None = None) -> list[str]:
        return [s.reply.text for s in self.sent if op is None or s.op == op]

    def drafts(self) -> list[Sent]:
        return [s for s in self.sent if s.reply.kind.value == "draft"]
