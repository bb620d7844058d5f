"""Turns: a project's bookkeeping runs in order of arrival, a few projects at a time.

asyncio runs every ready task in turn, so under a burst each project advances a step at a time
beside all the others and they all finish together, late: the first request waits for the
bookkeeping of the last. Giving the earliest arrival the next turn instead lets the first ones
finish while the later ones wait their turn (and their model calls, started on arrival, run in
the meantime). Half the burst is done in about half the time, instead of all of it at the end.

A turn is held for CPU-bound stretches (storing, posting, publishing), never across a model
call, and never while a database session is open, so turns and connections cannot wait on
each other.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Turns:
    """A semaphore of `width` whose waiters are served by ticket (arrival order), lowest first."""

    def __init__(self, width: int) -> None:
        self.width = max(1, width)
        self._held = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._tickets = itertools.count(1)
        self._order = itertools.count()

    def ticket(self) -> int:
        """A place in line, taken when the work arrives."""
        return next(self._tickets)

    @property
    def held(self) -> int:
        return self._held

    @asynccontextmanager
    async def turn(self, ticket: int) -> AsyncIterator[None]:
        await self._acquire(ticket)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, ticket: int) -> None:
        if self._held < self.width:  # then no one is waiting: a release hands its turn on
            self._held += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (ticket, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # granted and cancelled at once: pass the turn on
            raise

    def _release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)  # the turn passes straight to the next in line
                return
        self._held -= 1
