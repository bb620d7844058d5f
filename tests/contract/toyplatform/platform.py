"""The toy platform's outbound side: `bot.ports.ChatPlatform` over the toy server's API."""

from __future__ import annotations

from typing import Any

from bot.events import Actor, MessageRef, ThreadRef
from bot.ports import PlatformLimits
from bot.replies import Reply
from tests.contract.toyplatform.server import ToyServer

NAME = "toyplatform"


def _shown(reply: Reply) -> dict[str, Any]:
    """What the toy server keeps of a reply besides its text: its kind, version and buttons."""
    header = reply.header
    number = header.number if header else 0
    buttons = (f"accept:{number}", f"reject:{number}") if reply.controls and header else ()
    return {"kind": reply.kind.value, "version": header.version if header else 0, "buttons": buttons}


class ToyPlatform:
    name = NAME
    limits = PlatformLimits(max_message_chars=4000, max_inline_chars=12000, buttons=True)

    def __init__(self, server: ToyServer) -> None:
        self.server = server

    async def open_thread(self, origin: MessageRef, *, number: int, title: str) -> ThreadRef:
        return ThreadRef(NAME, origin.channel, self.server.open_thread(origin.message_id))

    async def post(self, thread: ThreadRef, reply: Reply) -> MessageRef:
        msg = self.server.post(thread.channel, thread.thread_id, reply.text, **_shown(reply))
        return MessageRef(NAME, thread.channel, msg.id, thread.thread_id)

    async def edit(self, message: MessageRef, reply: Reply) -> None:
        self.server.edit(message.message_id, reply.text, **_shown(reply))

    async def upload(self, thread: ThreadRef, *, filename: str, content: str, reply: Reply) -> MessageRef:
        text = f"{reply.summary or reply.text}\n[file {filename}]\n{content}"
        msg = self.server.post(thread.channel, thread.thread_id, text, **_shown(reply))
        return MessageRef(NAME, thread.channel, msg.id, thread.thread_id)

    async def notify_private(self, thread: ThreadRef, actor: Actor, text: str) -> None:
        self.server.post(thread.channel, thread.thread_id, text, kind="private", to=actor.user_id)
