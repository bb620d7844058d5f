"""Wires bot/app/jobs.py into an APScheduler 3 AsyncIOScheduler. Started by `draftloop worker` only.

- One cron job per `[[digest.channels]]` entry (default `0 9 * * mon`), in the channel's time zone
  or the team's (`timezone` in the config, UTC when unset).
- `nudge_reviewers` and `expire_idle` on short intervals.
- At start, the latest scheduled digest of each channel is made up once if it was missed while the
  process was down (`catch_up`). Nothing here relies on the scheduler for "exactly once": the jobs
  record each run under a unique key in the database before posting, so a restart, a retry or a
  second worker with its own scheduler never posts twice.

The job store is the in-memory one on purpose: APScheduler 3's persistent stores must not be
shared by several processes (platform-facts D2), while the schedule itself is configuration and
the runs are recorded by the jobs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import UTC
from typing import TYPE_CHECKING, Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import jobs
from bot.config import DigestChannel

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

_log = logging.getLogger(__name__)
T = TypeVar("T")

NUDGE_EVERY_SECONDS = 15 * 60.0
EXPIRE_EVERY_SECONDS = 60 * 60.0
# A cron run found late (event loop busy, a restart at 09:00:30) still runs within this grace;
# anything older is left to the catch-up at the next start.
MISFIRE_GRACE_SECONDS = 6 * 3600


class JobScheduler:
    """A `Service` (name, start, stop) that runs the digest, nudge and expiry jobs."""

    name = "scheduler"

    def __init__(
        self,
        runtime: Runtime,
        *,
        nudge_every: float = NUDGE_EVERY_SECONDS,
        expire_every: float = EXPIRE_EVERY_SECONDS,
        catch_up: bool = True,
    ) -> None:
        self.runtime = runtime
        self.nudge_every = nudge_every
        self.expire_every = expire_every
        self.make_up = catch_up
        self.scheduler: AsyncIOScheduler | None = None
        self.catch_up_task: asyncio.Task[list[jobs.DigestOutcome]] | None = None
        self._running: set[asyncio.Task[Any]] = set()  # jobs running now: shutdown does not wait for them

    def digest_job_id(self, channel: DigestChannel) -> str:
        return f"digest:{jobs.channel_key(channel)}"

    async def start(self) -> None:
        settings = self.runtime.settings
        scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
        )
        for channel in settings.file.digest.channels:
            scheduler.add_job(
                self._digest,
                jobs.cron_trigger(settings, channel),
                id=self.digest_job_id(channel),
                replace_existing=True,
                args=[channel],
                name=f"digest {jobs.channel_key(channel)} ({channel.cron})",
            )
        if self.nudge_every > 0:
            scheduler.add_job(self._nudge, IntervalTrigger(seconds=self.nudge_every), id="nudge", replace_existing=True)
        if self.expire_every > 0:
            scheduler.add_job(
                self._expire, IntervalTrigger(seconds=self.expire_every), id="expire", replace_existing=True
            )
        scheduler.start()
        self.scheduler = scheduler
        for job in scheduler.get_jobs():
            _log.info("scheduled %s, next at %s", job.name, job.next_run_time)
        if self.make_up and settings.file.digest.channels:
            self.catch_up_task = asyncio.create_task(self.catch_up(), name="digest catch-up")

    async def catch_up(self) -> list[jobs.DigestOutcome]:
        """Post each channel's latest scheduled digest if no run recorded it (made up once)."""
        outcomes = await jobs.send_digests(self.runtime)
        for outcome in outcomes:
            if outcome.status == "posted":
                _log.info("made up the missed digest for %s", outcome.channel)
        return outcomes

    async def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.scheduler = None
        # shutdown(wait=False) leaves running jobs be: a digest already posted still records its
        # run, so give them (and the catch-up) a moment, and cancel what is left.
        pending = {t for t in (*self._running, self.catch_up_task) if t is not None and not t.done()}
        if pending:
            await asyncio.wait(pending, timeout=5)
            for task in pending:
                task.cancel()

    # The jobs as the scheduler runs them: errors are logged, never raised into APScheduler.
    async def _digest(self, channel: DigestChannel) -> jobs.DigestOutcome | None:
        return await self._guard(jobs.send_digest(self.runtime, channel), f"digest {jobs.channel_key(channel)}")

    async def _nudge(self) -> int | None:
        return await self._guard(jobs.nudge_reviewers(self.runtime), "nudge_reviewers")

    async def _expire(self) -> int | None:
        return await self._guard(jobs.expire_idle(self.runtime), "expire_idle")

    async def _guard(self, coro: Coroutine[Any, Any, T], what: str) -> T | None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            return await coro
        except Exception:
            _log.exception("scheduled job %s failed", what)
            return None
        finally:
            self._running.discard(task)
