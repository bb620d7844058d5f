"""A throttled editor: shows a draft while it is written, no faster than the platform allows."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from bot.events import MessageRef, ThreadRef
from bot.ports import ChatPlatform
from bot.replies import DraftHeader, Reply, ReplyKind

CURSOR = " ▍"


class ThrottledEditor:
    """Edits one message with the text so far, at most once per `min_edit_interval` seconds.

    Edits that would come sooner are skipped, not queued: the next allowed edit shows the
    latest text, so a fast stream costs a bounded number of API calls (at most one per interval
    plus the final edit the workflow makes with the finished draft). A text that has not changed
    since the last edit is not sent again.

    Given a `message` (posted just before the stream starts), the first edit waits one interval.
    Without one, the message is posted once the stream has run for one interval: a draft written
    faster than that is never shown half-done, and is posted whole (one call instead of three).
    """

    def __init__(
        self,
        platform: ChatPlatform,
        thread: ThreadRef,
        header: DraftHeader,
        *,
        message: MessageRef | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_posted: Callable[[MessageRef], Awaitable[None]] | None = None,
    ) -> None:
        self.platform = platform
        self.thread = thread
        self.message = message
        self.header = header
        self.interval = platform.limits.min_edit_interval
        self.limit = platform.limits.max_message_chars - len(CURSOR) - 1
        self._clock = clock
        self._last: float | None = clock() if message is not None else None
        self._shown = ""
        self.edits = 0
        self.on_posted = on_posted  # told of the message once it is posted (its id is kept)

    async def update(self, text: str) -> None:
        now = self._clock()
        if self._last is None:
            self._last = now  # the stream's first words: the interval starts now
            return
        if now - self._last < self.interval or text == self._shown:
            return
        self._last = now
        self._shown = text
        shown = text if len(text) <= self.limit else "…" + text[-(self.limit - 1) :]
        reply = Reply(shown + CURSOR, kind=ReplyKind.PROGRESS, header=self.header)
        if self.message is None:
            self.message = await self.platform.post(self.thread, reply)
            if self.on_posted is not None:
                await self.on_posted(self.message)
        else:
            await self.platform.edit(self.message, reply)
            self.edits += 1
