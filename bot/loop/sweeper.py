"""The sweeper: every few seconds, in every long-running process, finish what was left.

It replays stored deliveries nobody finished (bot/loop/inbox.py), and resumes projects whose
lease ran out or is free while they still owe something: an acknowledgement, a first draft, a
revision with pending feedback, a version stored but not shown. Each is resumed through the
drafting's lease (bot/loop/drafting.py), so two sweepers, or a sweeper and a live event, never
work on one project at once; PostgreSQL's `SKIP LOCKED` keeps sweepers from queueing on each
other's candidates. The interval (`[workflow] sweep_seconds`) is well under the lease, so work a
process left behind is finished within a lease and one sweep.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from bot.loop.drafting import Drafting
from bot.loop.inbox import Inbox
from bot.ports import Clock
from bot.settings import Settings
from storage import projects as store
from storage.engine import Database

_log = logging.getLogger(__name__)

BATCH = 50  # projects and deliveries per sweep; the next sweep takes the rest


@dataclass(frozen=True)
class Swept:
    replayed: int
    resumed: int


class Sweeper:
    def __init__(self, *, db: Database, settings: Settings, clock: Clock, drafting: Drafting, inbox: Inbox) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.drafting = drafting
        self.inbox = inbox
        self._task: asyncio.Task[None] | None = None
        self._working: set[asyncio.Task[bool]] = set()

    @property
    def interval(self) -> float:
        workflow = self.settings.file.workflow
        return min(workflow.sweep_seconds, workflow.lease_seconds / 2)

    async def sweep(self) -> Swept:
        """One pass: replay due deliveries, then resume projects owed work; never raises."""
        replayed = resumed = 0
        try:
            for claimed in await self.inbox.claim(BATCH):
                await self.inbox.replay(claimed)
                replayed += 1
        except Exception as exc:  # noqa: BLE001 - the database may be down: the next sweep tries again
            _log.warning("sweep: stored deliveries not replayed now (%s)", type(exc).__name__)
        try:
            async with self.db.session() as session:
                ids = await store.projects_needing_work(session=session, now=self.clock.now(), limit=BATCH)
        except Exception as exc:  # noqa: BLE001
            _log.warning("sweep: unfinished projects not looked up now (%s)", type(exc).__name__)
            return Swept(replayed, resumed)
        for project_id in ids:
            if await self._resume(project_id):
                resumed += 1
        return Swept(replayed, resumed)

    async def _resume(self, project_id: int) -> bool:
        try:
            return await self.drafting.run(project_id)
        except Exception:
            _log.exception("sweep: resuming project %s failed; the next sweep tries again", project_id)
            return False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._forever(), name="sweeper")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _forever(self) -> None:
        while True:
            swept = await self.sweep()
            if swept.replayed or swept.resumed:
                _log.info("sweep: replayed %d stored events, resumed %d projects", swept.replayed, swept.resumed)
            await asyncio.sleep(self.interval)
