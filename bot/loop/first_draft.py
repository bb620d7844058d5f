"""A new project's first cycle, as the intake hands it to the drafting.

The intake starts the model on the brief as the request arrives, before the project is stored or
its thread opened, so the model's latency overlaps that bookkeeping instead of following it. What
the intake learns meanwhile (the project as stored, the thread, the acknowledgement, a triage
model's routing) travels with the draft in one `FirstDraft` to the drafting, which shows the
model's progress once it has a message to show it in and makes the intake's last writes in its
own first transaction instead of paying for one more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from bot.agent_spec import AgentSpec
from bot.agents import AgentPool, Progress
from bot.ports import DraftRequest, DraftResult
from storage import Session
from storage.engine import Database
from storage.models import Project

Write = Callable[[Session], Awaitable[None]]
T = TypeVar("T")


class Writes:
    """Writes waiting for the next transaction. They leave the queue once committed, so a
    transaction rolled back (a dropped version, an error) leaves them for the next one."""

    def __init__(self) -> None:
        self._todo: list[Write] = []

    def add(self, write: Write) -> None:
        self._todo.append(write)

    @asynccontextmanager
    async def session(self, db: Database) -> AsyncIterator[Session]:
        """A transaction that first makes the waiting writes."""
        writes = list(self._todo)
        async with db.session() as session:
            for write in writes:
                await write(session)
            yield session
        del self._todo[: len(writes)]

    async def run(self, db: Database, work: Callable[[Session], Awaitable[T]]) -> T:
        """`work` after the waiting writes, in one transaction that is tried again when the
        database connection fails under it (Database.run)."""
        writes = list(self._todo)

        async def unit(session: Session) -> T:
            for write in writes:
                await write(session)
            return await work(session)

        result = await db.run(unit)
        del self._todo[: len(writes)]
        return result


class FirstDraft:
    """Version 1 of a project, from its arrival to its first cycle.

    `ticket` is the project's place in line, taken on arrival; `lease` the lease it is stored
    holding, so no other process drafts it before its first cycle; `project` the row as stored
    (the first cycle needs no claim: no feedback can be folded in yet); `writes` the intake's last
    writes. `task` is the model call begun on arrival, if one was: its progress is kept until
    `sink` has somewhere to show it, and unused it is cancelled.
    """

    def __init__(self, *, ticket: int, lease: str) -> None:
        self.ticket = ticket
        self.lease = lease
        self.project: Project | None = None
        self.writes = Writes()
        self.agents: list[str] = []
        self.task: asyncio.Task[tuple[DraftResult, AgentSpec]] | None = None
        self.started = time.perf_counter()
        self.latest = ""
        self.sink: Progress | None = None

    def begin(self, pool: AgentPool, *, agents: list[str], request: DraftRequest) -> None:
        """Ask the model now, for the brief as it arrived."""
        self.agents = agents
        self.started = time.perf_counter()
        self.task = asyncio.create_task(pool.draft(agents=agents, request=request, progress=self._progress))

    @property
    def number(self) -> int:
        assert self.project is not None and self.project.id is not None, "the project is not stored yet"
        return self.project.id

    def take_project(self) -> Project | None:
        """The project as stored, once: the first cycle works from it, later ones claim."""
        project, self.project = self.project, None
        return project

    async def _progress(self, text: str) -> None:
        self.latest = text
        if self.sink is not None:
            await self.sink(text)

    def drop_call(self) -> None:
        """The early call is of no use (replies came first, or triage chose another agent)."""
        task, self.task = self.task, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        elif not task.cancelled():
            task.exception()  # a failure nobody will show: retrieved, so asyncio does not warn

    def cancel(self) -> None:
        """Whatever was not used: called when the first draft is done with, however it ended."""
        self.drop_call()
