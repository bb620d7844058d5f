"""Inbound event keys, recorded in the same transaction as the event's effect.

A platform redelivers an event it thinks was lost (Slack retries, a Discord gateway resume). The
key recorded with the effect makes the rule exact both ways: an event whose effect was stored is
dropped when it comes again, and an event whose effect failed (the transaction rolled back, the
key with it) is handled when the platform retries it.

An event whose handling stores nothing (a help command, a refusal, a thread that is not ours)
records its key on its own, before it posts anything, so a redelivery does not post twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.ports import Clock
from storage import Session, inbox, projects as store
from storage.engine import Database


class Redelivered(Exception):
    """The event's key was recorded before: the event was handled already. Rolls back whatever
    the transaction did; the workflow drops the event."""

    def __init__(self, platform: str, key: str) -> None:
        super().__init__(f"{platform}:{key}")
        self.key = key


class Receipt:
    """One inbound event's key (None: the platform gives none, and nothing is recorded). `stored`:
    the delivery is in the inbox (bot/loop/inbox.py), finished with the key."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        platform: str,
        key: str | None,
        stored: bool = False,
        replayed: bool = False,
    ) -> None:
        self.db = db
        self.clock = clock
        self.platform = platform
        self.key = key or None
        self.stored = stored
        # A replay may overlap a slow first handling elsewhere: it asks no model before its key is won.
        self.replayed = replayed
        self.recorded = self.key is None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """A transaction that records the key first; Redelivered when it was recorded before."""
        async with self.db.session() as session:
            await self.record(session)
            yield session
        self.recorded = True  # committed: reached only when the block raised nothing

    async def record(self, session: Session) -> None:
        """Record the key in `session` (the caller's transaction); Redelivered when seen before."""
        if self.recorded or self.key is None:
            return
        if await store.seen_event(session=session, platform=self.platform, key=self.key, now=self.clock.now()):
            raise Redelivered(self.platform, self.key)
        if self.stored:
            await inbox.finish(session=session, source=self.platform, key=self.key)

    async def settle(self) -> None:
        """Record the key on its own, for handling that stores nothing; Redelivered when seen before."""
        if self.recorded:
            return
        async with self.transaction():
            pass
