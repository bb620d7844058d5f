"""Inbound deliveries stored before they are acknowledged, and replayed until they are handled.

An adapter calls `Inbox.store` with the event's key and the payload as the platform sent it
before it acknowledges the delivery. When the store fails the adapter does not acknowledge
(`NotRecorded`): Slack sends the event again, so nothing is lost and nobody is told otherwise.
The entry is finished in the same transaction as the event's effect (bot/loop/receipts.py); one
whose handling failed, or whose process died, is claimed by the sweeper (bot/loop/sweeper.py) and
given back to the platform's `Replay`, which handles it as it would have the first time.

Discord's gateway has no acknowledgement to hold back and sends a message once: its adapter builds
the event first and stores that (`Inbox.events`), then handles it; the sweeper replays the stored
event itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from bot import event_codec
from bot.events import Event
from bot.ports import Clock
from bot.settings import Settings
from bot.tasks import renewing
from storage import Session, inbox as entries
from storage.engine import Database

_log = logging.getLogger(__name__)

Replay = Callable[[str], Awaitable[None]]
HandleEvent = Callable[[Event, "Delivery"], Awaitable[None]]

# A delivery is given up (logged as an error) only after this many tries AND this long: a fault no
# retry mends. Time counts, not only tries: a database down for minutes fails every try meanwhile,
# and a delivery acknowledged to Slack is not sent again.
MAX_ATTEMPTS = 8
GIVE_UP_AFTER = timedelta(hours=1)
# Back-off between tries of one delivery: doubling from one sweep, at most this long.
MAX_BACKOFF_S = 300.0
# The store happens while the platform waits for its acknowledgement (3 s on Slack): tries whose
# back-off (Database.run: 0.1 s doubling) stays well inside it.
STORE_ATTEMPTS = 4
STORE_BATCH = 200  # deliveries per group commit


class Delivery(Enum):
    """How an event reached the workflow: the answer to a failure depends on it."""

    DIRECT = "direct"  # not stored first (the console, a command, a store that failed): a failure may lose it
    STORED = "stored"  # stored before it was acknowledged: a failure is retried by the sweeper
    REPLAYED = "replayed"  # the sweeper's retry of a stored delivery


class NotRecorded(Exception):
    """The delivery could not be stored: do not acknowledge it, so the platform sends it again."""


@dataclass(frozen=True)
class Claimed:
    source: str
    key: str
    payload: str
    attempts: int


class Inbox:
    def __init__(self, *, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._replays: dict[str, Replay] = {}
        self._waiting: list[tuple[dict[str, object], asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @property
    def claim_seconds(self) -> float:
        # A delivery's claim lasts as long as a project's lease: long enough for the event's
        # effect to be stored (which finishes the entry), short enough to be retried soon.
        return self.settings.file.workflow.lease_seconds

    def register(self, source: str, replay: Replay) -> None:
        """`replay(payload)` handles a stored delivery of `source` again (the platform's adapter)."""
        self._replays[source] = replay

    def events(self, source: str, handle: HandleEvent) -> Callable[[Event], Coroutine[Any, Any, None]]:
        """For an adapter that builds its events itself from deliveries its platform never sends
        again (Discord's gateway): replays of `source` go to `handle`, and the function returned
        stores each event before handling it, so a process that fails at it, or dies, leaves it to
        the sweeper. An event that cannot be stored is handled all the same, unstored: there is no
        redelivery to wait for, and the workflow says so in the thread if it fails too."""
        self.register(source, lambda payload: handle(event_codec.loads(payload), Delivery.REPLAYED))

        async def deliver(event: Event) -> None:
            key = event.event_key
            if key is None:
                await handle(event, Delivery.DIRECT)
                return
            try:
                fresh = await self.store(source, key, event_codec.dumps(event))
            except NotRecorded as exc:
                _log.warning("%s event %s handled unstored: %s", source, key, type(exc.__cause__).__name__)
                await handle(event, Delivery.DIRECT)
                return
            if not fresh:
                _log.info("%s event %s is stored already (a repeat, or another process has it)", source, key)
                return
            async with self.held(source, key):
                await handle(event, Delivery.STORED)

        return deliver

    @property
    def sources(self) -> list[str]:
        return sorted(self._replays)

    async def store(self, source: str, key: str, payload: str) -> bool:
        """Store a delivery before acknowledging it; False when it was stored before (a redelivery
        of one this or another process has), NotRecorded when it cannot be stored now.

        Deliveries that arrive while a store is running are stored together in the next one (group
        commit): under a burst, one transaction takes many, instead of each waiting its turn for the
        database's write lock while Slack's 3 seconds run out. Alone, a delivery is stored at once."""
        now = self.clock.now()
        row: dict[str, object] = {
            "source": source,
            "key": key[:255],
            "payload": payload,
            "status": entries.PENDING,
            "attempts": 1,
            "claimed_until": now + timedelta(seconds=self.claim_seconds),
            "created_at": now,
        }
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, waiter))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await waiter

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:STORE_BATCH], self._waiting[STORE_BATCH:]
            rows = [row for row, _ in batch]

            async def insert(session: Session, rows: list[dict[str, object]] = rows) -> set[tuple[str, str]]:
                return await entries.store_many(session=session, rows=rows)

            try:
                new = await self.db.run(insert, attempts=STORE_ATTEMPTS)
            except Exception as exc:  # noqa: BLE001 - every waiter is told: none is acknowledged
                for row, waiter in batch:
                    if not waiter.done():
                        failure = NotRecorded(f"could not store {row['source']} event {row['key']}")
                        failure.__cause__ = exc
                        waiter.set_exception(failure)
                continue
            for row, waiter in batch:
                pair = (str(row["source"]), str(row["key"]))
                fresh = pair in new
                new.discard(pair)  # the same key twice in one batch: only the first is new
                if not waiter.done():
                    waiter.set_result(fresh)

    async def retry_soon(self, source: str, key: str, attempts: int = 1) -> None:
        """Handling failed: due again at the next sweep, then after a back-off that doubles with each
        try. Best effort: unrecorded, the claim runs out and does the same, later."""
        sweep = self.settings.file.workflow.sweep_seconds
        delay = 0.0 if attempts <= 1 else min(MAX_BACKOFF_S, sweep * 2 ** (attempts - 2))
        try:
            await self._claim_until(source, key, self.clock.now() + timedelta(seconds=delay))
        except Exception as exc:  # noqa: BLE001
            _log.warning("could not mark %s event %s for a retry: %s", source, key, type(exc).__name__)

    async def _claim_until(self, source: str, key: str, when: datetime) -> None:
        async with self.db.session() as session:
            await entries.retry_at(session=session, source=source, key=key, when=when)

    def held(self, source: str, key: str) -> AbstractAsyncContextManager[None]:
        """Keep the claim on a delivery while this process handles it, so no sweeper replays it
        meanwhile, however slow the handling before its effect is stored (which finishes it)."""

        async def renew() -> None:
            await self._claim_until(source, key, self.clock.now() + timedelta(seconds=self.claim_seconds))

        return renewing(self.claim_seconds / 3, renew, f"the claim on {source} event {key}")

    async def finish(self, source: str, key: str) -> None:
        """A delivery found handled already (its key was recorded by an earlier one): done."""
        try:
            async with self.db.session() as session:
                await entries.finish(session=session, source=source, key=key)
        except Exception as exc:  # noqa: BLE001 - a replay finds the key recorded again
            _log.warning("could not finish %s event %s: %s", source, key, type(exc).__name__)

    async def claim(self, limit: int = 50) -> list[Claimed]:
        """Claim due deliveries this process can replay; give up on exhausted ones."""
        if not self._replays:
            return []
        now = self.clock.now()
        until = now + timedelta(seconds=self.claim_seconds)
        async with self.db.session() as session:
            dropped = await entries.drop_exhausted(
                session=session, now=now, max_attempts=MAX_ATTEMPTS, stored_before=now - GIVE_UP_AFTER
            )
            rows = await entries.claim_due(session=session, sources=self.sources, now=now, until=until, limit=limit)
        for row in dropped:
            _log.error("gave up on %s event %s after %d attempts", row.source, row.key, row.attempts)
        return [Claimed(r.source, r.key, r.payload, r.attempts) for r in rows]

    async def replay(self, claimed: Claimed) -> None:
        replay = self._replays[claimed.source]
        _log.info("replaying %s event %s (attempt %d)", claimed.source, claimed.key, claimed.attempts)
        try:
            await replay(claimed.payload)
        except Exception:
            _log.exception("replaying %s event %s failed", claimed.source, claimed.key)
            await self.retry_soon(claimed.source, claimed.key, claimed.attempts)
