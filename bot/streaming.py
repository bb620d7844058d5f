"""A throttled editor: shows a draft while it is written, no faster than the platform allows."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.events import MessageRef
from bot.ports import ChatPlatform
from bot.replies import DraftHeader, Reply, ReplyKind

CURSOR = " ▍"


class ThrottledEditor:
    """Edits one message with the text so far, at most once per `min_edit_interval` seconds.

    Edits that would come sooner are skipped, not queued: the next allowed edit shows the
    latest text, so a fast stream costs a bounded number of API calls (at most one per interval
    plus the final edit the workflow makes with the finished draft). A text that has not changed
    since the last edit is not sent again. The message is posted just before the stream starts,
    so the first edit also waits one interval.
    """

    def __init__(
        self,
        platform: ChatPlatform,
        message: MessageRef,
        header: DraftHeader,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.platform = platform
        self.message = message
        self.header = header
        self.interval = platform.limits.min_edit_interval
        self.limit = platform.limits.max_message_chars - len(CURSOR) - 1
        self._clock = clock
        self._last = clock()
        self._shown = ""
        self.edits = 0

    async def update(self, text: str) -> None:
        now = self._clock()
        if now - self._last < self.interval or text == self._shown:
            return
        self._last = now
        self._shown = text
        shown = text if len(text) <= self.limit else "…" + text[-(self.limit - 1) :]
        await self.platform.edit(self.message, Reply(shown + CURSOR, kind=ReplyKind.PROGRESS, header=self.header))
        self.edits += 1
