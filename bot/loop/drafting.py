"""Drafting: claim a project's lease, write every version it is owed, release, look again.

The lease lives in the database, so two processes never revise one project at once. Feedback that
arrives while a version is written stays pending and is folded into the next cycle: after each
release the drafting checks for pending work again, so no reply waits for a nudge. Writing one
version is bot/loop/writing.py; a new project's first cycle comes from the intake as a FirstDraft.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

from bot.agents import AgentPool
from bot.loop import transitions
from bot.loop.acks import Acknowledger
from bot.loop.first_draft import FirstDraft
from bot.loop.leases import held
from bot.loop.publishing import Shown
from bot.loop.threads import number_of
from bot.loop.turns import Turns
from bot.loop.writing import Claim, Run, Writer
from bot.ports import Clock
from bot.prompts import build_request
from bot.settings import Settings
from bot.states import FINAL, State
from storage import Session, locks, projects as store
from storage.engine import Database
from storage.models import Project


class Drafting:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        agents: AgentPool,
        clock: Clock,
        turns: Turns,
        writer: Writer,
        acks: Acknowledger,
        owner: str,
    ) -> None:
        self.db = db
        self.settings = settings
        self.agents = agents
        self.clock = clock
        self.turns = turns
        self.writer = writer
        self.acks = acks
        self.owner = owner  # this process, in lease tokens
        # Told when feedback reaches an outside agent's project, which no model revises (bot/loop/external.py).
        self.outside_waits: Callable[[Project], Awaitable[None]] | None = None

    def new_token(self) -> str:
        # A token per run, not per process: two tasks of one process must exclude each other too.
        return f"{self.owner}:{uuid.uuid4().hex[:8]}"

    def first_draft(self, *, agent: str, category: str, brief: str, early: bool) -> FirstDraft:
        """A new project's first draft; with `early`, the model is asked at once, before the project
        is stored (the prompt needs only the brief and the category)."""
        first = FirstDraft(ticket=self.turns.ticket(), lease=self.new_token())
        if early:
            spec = self.agents.spec(agent)
            request = build_request(
                project_number=0,  # not numbered yet; nothing downstream reads it for a first draft
                version=1,
                category=category,
                brief=brief,
                previous_draft=None,
                feedback=(),
                max_output_tokens=spec.max_tokens,
                context_tokens=spec.context_tokens,
            )
            first.begin(self.agents, agents=[agent, *self.settings.category(category).fallback], request=request)
        return first

    @property
    def lease(self) -> float:
        return self.settings.file.workflow.lease_seconds

    async def run(self, project_id: int) -> bool:
        """Write every version the project is owed. False when another worker holds the lease
        (it will pick up whatever is pending when it finishes)."""
        return await self._drive(Run(project_id, self.new_token(), self.turns.ticket()))

    async def run_first(self, first: FirstDraft) -> bool:
        """A new project's cycles, from the first draft the intake began and the lease it holds."""
        return await self._drive(Run(first.number, first.lease, first.ticket, first.writes, first))

    async def _drive(self, run: Run) -> bool:
        first, ran = run.first, False
        try:
            while True:
                claim = await self._claim(run)
                if claim is None:
                    return ran
                ran = True
                shown: Shown | None = None
                try:
                    async with self.holding(run.project_id, run.token):
                        shown = await self._one(claim, run)
                finally:
                    run.first = None  # the first draft serves the first cycle only
                    # No turn for this: waiting for one could be cancelled, and the lease must go back.
                    more = await self._release(run, shown)
                if not more or claim.project.agent.startswith(store.EXTERNAL_AGENTS):
                    return ran  # an outside agent's pending feedback waits for that agent
        finally:
            if first is not None:
                first.cancel()

    def holding(self, project_id: int, token: str) -> AbstractAsyncContextManager[None]:
        """The lease `token` holds on the project, renewed until the block ends (bot/loop/leases.py)."""
        return held(self.db, self.clock, project_id=project_id, token=token, seconds=self.lease)

    async def _claim(self, run: Run) -> Claim | None:
        """Take the lease and read what a cycle needs, in one transaction."""
        fresh = run.first.take_project() if run.first is not None else None
        if fresh is not None:
            # Stored holding the lease a moment ago: nothing to claim, no feedback to fold in yet
            # (replies that beat the first draft are pending at release; the next cycle takes them).
            return Claim(fresh, [], None)

        async def claim(session: Session) -> Claim | None:
            now = self.clock.now()
            until = now + timedelta(seconds=self.lease)
            project = await locks.claim(
                session=session, project_id=run.project_id, owner=run.token, now=now, until=until
            )
            if project is None:
                return None
            return await _load(session, project)

        async with self.turns.turn(run.ticket):
            return await run.writes.run(self.db, claim)

    async def _release(self, run: Run, shown: Shown | None) -> bool:
        """Record where the version was shown (the message link carries its version), hand the
        lease back, and say whether work arrived meanwhile, so no reply waits: one transaction."""

        async def release(session: Session) -> bool:
            if shown is not None:
                await store.link_message(
                    session=session,
                    platform=shown.platform,
                    channel=shown.channel,
                    message_id=shown.message_id,
                    project_id=run.project_id,
                    kind="draft",
                    version=shown.version,
                )
            version = shown.version if shown is not None else None
            return await locks.release(session=session, project_id=run.project_id, owner=run.token, shown=version)

        # Shielded: a cancelled task (SIGTERM) must still hand its lease back.
        return await asyncio.shield(run.writes.run(self.db, release))

    async def _one(self, claim: Claim, run: Run) -> Shown | None:
        """Write the version the project is owed, if it is owed one."""
        project = claim.project
        state = State(project.state)
        if state in FINAL or state == State.FAILED:
            return None
        if project.agent.startswith(store.EXTERNAL_AGENTS):
            # An outside agent sends its own versions: its feedback waits for it, no model is asked.
            if state == State.IN_REVIEW and project.posted_version < project.current_version:
                return await self.writer.show_again(project)
            if claim.pending and self.outside_waits is not None:
                await self.outside_waits(project)
            return None
        if state == State.DRAFTING and project.acked_at is None and run.first is None:
            claim.project = project = await self.acks.resume(project)  # its acknowledgement failed
        if state == State.DRAFTING and project.current_version == 0:
            first = run.first
            if first is not None and first.task is not None and (claim.pending or first.agents[0] != project.agent):
                first.drop_call()  # replies came first, or triage re-routed: draft from what is stored
            return await self.writer.write(claim, run)
        if claim.pending and state in (State.REVISING, State.IN_REVIEW):
            if state == State.IN_REVIEW:  # feedback came as the last revision was found owed nothing
                async with self.db.session() as session:
                    if not await transitions.take_up(session, number_of(project)):
                        return None  # decided meanwhile
            debounce = self.settings.file.workflow.feedback_debounce_seconds
            if debounce > 0:
                await asyncio.sleep(debounce)  # let replies sent together land in one revision
                async with self.db.session() as session:
                    claim = await _load(session, project)
            return await self.writer.write(claim, run)
        if state == State.IN_REVIEW and project.posted_version < project.current_version:
            return await self.writer.show_again(project)  # stored, but its post failed
        if state == State.REVISING:
            async with self.db.session() as session:  # nothing pending: repair the state
                await transitions.settle(session, number_of(project))
        return None


async def _load(session: Session, project: Project) -> Claim:
    points = await store.feedback_points(session=session, project_id=number_of(project))
    previous = None
    if project.current_version and any(p.consumed_by is None for p in points):
        latest = await store.latest_version(session=session, project_id=number_of(project))
        previous = latest.text if latest else None
    return Claim(project, points, previous)
