"""The boundary every chat post crosses: a ChatPlatform wrapper that masks secrets.

`Workflow.register_platform` wraps each platform in a `RedactingPlatform`, and every part of the
core (the workflow, the cycle runner's streaming edits, commands, jobs, the CLI's digest post)
reaches platforms through `Workflow.platform(name)`, so no text leaves for a chat without passing
the process's one redaction (bot/redact.py): message text, a long draft's summary and file, file
names, thread titles, private notices and the digest's data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bot.events import Actor, MessageRef, ThreadRef
from bot.ports import ChatPlatform, PlatformLimits
from bot.redact import Redactor
from bot.replies import Reply


class RedactingPlatform:
    """A ChatPlatform that passes everything it is asked to show through `redactor` first.
    Other attributes are the wrapped platform's."""

    def __init__(self, inner: ChatPlatform, redactor: Redactor) -> None:
        self.inner = inner
        self.redactor = redactor
        self.name = inner.name

    @property
    def limits(self) -> PlatformLimits:
        return self.inner.limits

    @limits.setter
    def limits(self, value: PlatformLimits) -> None:
        self.inner.limits = value

    def __getattr__(self, name: str) -> Any:
        if name == "show_private":
            # The optional private rich answer, masked like every other path (absent when the inner has none).
            show = self.inner.show_private  # type: ignore[attr-defined]  # AttributeError when it has none

            async def show_private(thread: ThreadRef, actor: Actor, reply: Reply) -> None:
                await show(thread, actor, self.reply(reply))

            return show_private
        return getattr(self.inner, name)

    async def open_thread(self, origin: MessageRef, *, number: int, title: str) -> ThreadRef:
        return await self.inner.open_thread(origin, number=number, title=self.redactor(title))

    async def post(self, thread: ThreadRef, reply: Reply) -> MessageRef:
        return await self.inner.post(thread, self.reply(reply))

    async def edit(self, message: MessageRef, reply: Reply) -> None:
        await self.inner.edit(message, self.reply(reply))

    async def upload(self, thread: ThreadRef, *, filename: str, content: str, reply: Reply) -> MessageRef:
        r = self.redactor
        return await self.inner.upload(thread, filename=r(filename), content=r(content), reply=self.reply(reply))

    async def notify_private(self, thread: ThreadRef, actor: Actor, text: str) -> None:
        await self.inner.notify_private(thread, actor, self.redactor(text))

    def reply(self, reply: Reply) -> Reply:
        """`reply` with its text, summary, file names and data masked (the same object when clean)."""
        r = self.redactor
        changes: dict[str, Any] = {}
        for field in ("text", "summary"):
            value: str = getattr(reply, field)
            masked = r(value)
            if masked != value:
                changes[field] = masked
        files = tuple((r(name), content) for name, content in reply.files)
        if files != reply.files:
            changes["files"] = files
        # A report object stays as it is: its `to_json()`, which every renderer reads, masks itself.
        if isinstance(reply.data, Mapping | list | tuple | str):
            masked_data = r.json(reply.data)
            if masked_data != reply.data:
                changes["data"] = masked_data
        return dataclasses.replace(reply, **changes) if changes else reply
