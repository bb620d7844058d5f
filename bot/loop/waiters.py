"""Callers waiting for a project to change (get_review's `wait_seconds`): woken at once for what this
process stores, and for what other processes store by looking every POLL_SECONDS, one query for all
the projects waited on, so many waiting callers cost the database one cheap read a tick."""

from __future__ import annotations

import asyncio
import logging

from storage import callers
from storage.callers import Mark
from storage.engine import Database

_log = logging.getLogger(__name__)

POLL_SECONDS = 0.2  # how often waiters look for what other processes stored


class Waiters:
    """Wakes callers waiting on projects: at once for what this process stores (`touch`), and for what
    other processes store by looking every POLL_SECONDS, one query for all the projects waited on."""

    def __init__(self, db: Database, *, every: float = POLL_SECONDS) -> None:
        self.db = db
        self.every = every
        self._waiting: dict[int, list[tuple[Mark, asyncio.Future[None]]]] = {}
        self._poller: asyncio.Task[None] | None = None

    async def wait(self, number: int, mark: Mark, timeout: float) -> bool:
        """Until project `number` no longer matches `mark` (True) or `timeout` seconds pass (False)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (mark, future)
        self._waiting.setdefault(number, []).append(entry)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="external-waiters")
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiting.get(number, [])
            if entry in waiters:
                waiters.remove(entry)
            if not waiters:
                self._waiting.pop(number, None)

    def touch(self, number: int) -> None:
        for _, future in self._waiting.get(number, []):
            if not future.done():
                future.set_result(None)

    async def _poll(self) -> None:
        while self._waiting:
            await asyncio.sleep(self.every)
            try:
                async with self.db.session() as session:
                    now = await callers.marks(session=session, ids=list(self._waiting))
            except Exception as exc:  # noqa: BLE001 - the database may be away a moment: look again
                _log.warning("could not look for changes to waited-on projects (%s)", type(exc).__name__)
                continue
            for number, waiters in list(self._waiting.items()):
                for mark, future in waiters:
                    if now.get(number) != mark and not future.done():
                        future.set_result(None)
