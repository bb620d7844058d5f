"""The toy platform's side of the wire: an in-memory chat server with people, channels, threads and buttons.

People post (`say`) and click (`click`); each of those is one event with an id, queued for the bot's
connection, and the server may deliver an event again (`redeliver`), as real platforms do after a
time-out. The bot's side calls the methods under "the bot's API" and never touches the state directly.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToyUser:
    id: str  # `t-…`: ids are what the toy platform's config names
    name: str
    roles: frozenset[str] = frozenset()


@dataclass
class ToyMessage:
    id: str
    channel: str
    thread: str | None  # the thread it is in; None at the top of a channel
    author: str  # a user id, or "bot"
    text: str
    kind: str = ""  # what the bot said it is (draft, ack, notice…); "" for people
    version: int = 0  # a draft's version
    buttons: tuple[str, ...] = ()  # values like "accept:3"
    to: str | None = None  # a private notice: only this user sees it
    edits: int = 0


@dataclass
class ToyServer:
    bot_id: str = "t-bot"
    messages: dict[str, ToyMessage] = field(default_factory=dict)
    threads: dict[str, str] = field(default_factory=dict)  # thread id -> the message it was opened on
    events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    sent: int = 0  # events delivered to the bot, redeliveries included
    taken: int = 0  # events the bot's connection has finished reading
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def _deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        self.sent += 1
        self.events.put_nowait(event)
        return event

    # ---- people
    def say(self, user: ToyUser, channel: str, text: str, *, thread: str | None = None) -> dict[str, Any]:
        """`user` posts `text`; the bot gets a `message` event."""
        msg = ToyMessage(self._id("m"), channel, thread, user.id, text)
        self.messages[msg.id] = msg
        return self._deliver({"id": self._id("ev"), "type": "message", "message": msg, "user": user})

    def click(self, user: ToyUser, message: ToyMessage, value: str) -> dict[str, Any]:
        """`user` clicks the button `value` of a bot message."""
        if value not in message.buttons:
            raise AssertionError(f"no button {value!r} on {message.id}")
        return self._deliver({"id": self._id("ev"), "type": "click", "value": value, "message": message, "user": user})

    def redeliver(self, event: dict[str, Any]) -> None:
        """The same event again, same id: what a platform does when it did not see the ack in time."""
        self._deliver(event)

    # ---- the bot's API
    def open_thread(self, message_id: str) -> str:
        thread = f"th-{message_id}"
        self.threads[thread] = message_id
        return thread

    def post(self, channel: str, thread: str | None, text: str, **meta: Any) -> ToyMessage:
        msg = ToyMessage(self._id("m"), channel, thread, "bot", text, **meta)
        self.messages[msg.id] = msg
        return msg

    def edit(self, message_id: str, text: str, **meta: Any) -> None:
        msg = self.messages[message_id]
        msg.text, msg.edits = text, msg.edits + 1
        for key, value in meta.items():
            setattr(msg, key, value)

    # ---- reading
    def in_thread(self, thread: str) -> list[ToyMessage]:
        return [m for m in self.messages.values() if m.thread == thread and m.author == "bot"]
