"""Revision cycles: claim a project's lease, write the next version, release, look again.

The lease lives in the database, so two processes never revise one project at once. Feedback that
arrives while a version is written stays pending and is folded into the next cycle: after each
release the runner checks for pending work again, so no reply waits for a nudge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.agent_spec import AgentSpec
from bot.agents import Progress, cost_usd
from bot.errors import AgentError
from bot.events import MessageRef
from bot.loop.streaming import ThrottledEditor
from bot.loop.turns import Turns
from bot.ports import DraftRequest, DraftResult, FeedbackPoint
from bot.prompts import build_request
from bot.replies import Reply, ReplyKind
from bot.states import FINAL, WORKING, State
from bot.triage import experts_for
from storage import locks, projects as store
from storage.models import Feedback, Project

if TYPE_CHECKING:
    from bot.loop.workflow import Workflow

_log = logging.getLogger(__name__)


Prelude = Callable[[AsyncSession], Awaitable[None]]

# Projects whose bookkeeping may run at once: enough to keep the CPU busy while some wait on the
# database or the chat API, few enough that the earliest arrivals finish first under a burst.
TURNS = 4


class EarlyDraft:
    """A first draft begun as its request arrived, before the project was stored or its thread
    opened: the model's latency then overlaps that bookkeeping instead of following it. Progress
    is kept until the cycle has a message to show it in; unused, it is cancelled."""

    def __init__(self, runner: CycleRunner, *, agents: list[str], request: DraftRequest) -> None:
        self.agents = agents
        self.latest = ""
        self.sink: Progress | None = None
        self.started = time.perf_counter()
        self.task = asyncio.create_task(runner.wf.agents.draft(agents=agents, request=request, progress=self._progress))

    async def _progress(self, text: str) -> None:
        self.latest = text
        if self.sink is not None:
            await self.sink(text)

    def cancel(self) -> None:
        if not self.task.done():
            self.task.cancel()
        elif not self.task.cancelled():
            self.task.exception()  # a failure nobody will show: retrieved, so asyncio does not warn


@dataclass
class Claim:
    """What one cycle works from, read with the lease."""

    project: Project
    points: list[Feedback]
    previous: str | None

    @property
    def pending(self) -> int:
        return sum(1 for p in self.points if p.consumed_by is None)


@dataclass(frozen=True)
class Shown:
    """Where a finished version was posted, recorded when the lease is handed back."""

    platform: str
    channel: str
    message_id: str
    version: int


class CycleRunner:
    def __init__(self, workflow: Workflow) -> None:
        self.wf = workflow
        self.turns = Turns(TURNS)

    def begin(self, *, agent: str, category: str, brief: str) -> EarlyDraft:
        """Start v1 of a request not stored yet (the prompt needs only the brief and category)."""
        spec = self.wf.agents.spec(agent)
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
        agents = [agent, *self.wf.settings.category(category).fallback]
        return EarlyDraft(self, agents=agents, request=request)

    @property
    def lease(self) -> float:
        return self.wf.settings.file.workflow.lease_seconds

    def new_token(self) -> str:
        # A token per run, not per process: two tasks of one process must exclude each other too.
        return f"{self.wf.owner}:{uuid.uuid4().hex[:8]}"

    async def run(
        self,
        project_id: int,
        *,
        prelude: Prelude | None = None,
        token: str | None = None,
        early: EarlyDraft | None = None,
        ticket: int | None = None,
        fresh: Project | None = None,
    ) -> bool:
        """Write every version the project is owed. False when another worker holds the lease
        (it will pick up whatever is pending when it finishes).

        `prelude` holds a caller's last writes: they ride along in the cycle's next transaction
        instead of paying for their own. `token` continues a lease the caller already holds (a
        new project is created holding one, so nothing else drafts it meanwhile); with `fresh`,
        that new project as stored, the first cycle needs no claim (no feedback can be folded in
        yet: replies that beat the first draft are pending at release, and the next cycle takes
        them up). `early` is a first draft already under way; `ticket` the project's place in line.
        """
        token = token or self.new_token()
        ticket = ticket or self.turns.ticket()
        todo: list[Prelude] = [prelude] if prelude is not None else []
        ran = False
        try:
            while True:
                if fresh is not None:
                    claim: Claim | None = Claim(fresh, [], None)
                    fresh = None
                else:
                    async with self.turns.turn(ticket):
                        claim = await self._claim(project_id, token, todo)
                if claim is None:
                    return ran
                ran = True
                shown: Shown | None = None
                try:
                    shown = await self._one(claim, token, ticket, early, todo)
                    early = None
                finally:
                    # No turn for this: waiting for one could be cancelled, and the lease must go back.
                    more = await self._release(project_id, token, shown, todo)
                if not more:
                    return ran
        finally:
            if early is not None:
                early.cancel()

    @contextlib.asynccontextmanager
    async def _session(self, todo: list[Prelude]) -> AsyncIterator[AsyncSession]:
        """A transaction that first makes the writes left in `todo`; they leave it once committed,
        so a transaction rolled back (a dropped version, an error) leaves them for the next one."""
        writes = list(todo)
        async with self.wf.db.session() as session:
            for write in writes:
                await write(session)
            yield session
        del todo[: len(writes)]

    async def _claim(self, project_id: int, token: str, todo: list[Prelude]) -> Claim | None:
        """Take the lease and read what a cycle needs, in one transaction."""
        now = self.wf.clock.now()
        async with self._session(todo) as session:
            until = now + timedelta(seconds=self.lease)
            project = await locks.claim(session=session, project_id=project_id, owner=token, now=now, until=until)
            if project is None:
                return None
            return await self._load(session, project)

    @staticmethod
    async def _load(session: AsyncSession, project: Project) -> Claim:
        points = await store.feedback_points(session=session, project_id=_pid(project))
        previous = None
        if project.current_version and any(p.consumed_by is None for p in points):
            latest = await store.latest_version(session=session, project_id=_pid(project))
            previous = latest.text if latest else None
        return Claim(project, points, previous)

    async def _release(self, project_id: int, token: str, shown: Shown | None, todo: list[Prelude]) -> bool:
        """Record where the version was shown (the message link carries its version), hand the
        lease back, and say whether work arrived meanwhile, so no reply waits: one transaction."""

        async def release() -> bool:
            async with self._session(todo) as session:
                if shown is not None:
                    await store.link_message(
                        session=session,
                        platform=shown.platform,
                        channel=shown.channel,
                        message_id=shown.message_id,
                        project_id=project_id,
                        kind="draft",
                        version=shown.version,
                    )
                return await locks.release(session=session, project_id=project_id, owner=token)

        # Shielded: a cancelled task (SIGTERM) must still hand its lease back.
        return await asyncio.shield(release())

    async def _renew_forever(self, project_id: int, token: str) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            async with self.wf.db.session() as session:
                until = self.wf.clock.now() + timedelta(seconds=self.lease)
                await locks.renew(session=session, project_id=project_id, owner=token, until=until)

    async def _one(
        self, claim: Claim, token: str, ticket: int, early: EarlyDraft | None, todo: list[Prelude]
    ) -> Shown | None:
        project = claim.project
        state = State(project.state)
        if state in FINAL or state == State.FAILED:
            return None
        if state == State.DRAFTING and project.current_version == 0:
            if early is not None and (claim.pending or early.agents[0] != project.agent):
                early.cancel()  # replies came first, or triage re-routed: draft from what is stored
                early = None
            return await self._write(claim, token, ticket, early, todo)
        if claim.pending and state in (State.REVISING, State.IN_REVIEW):
            debounce = self.wf.settings.file.workflow.feedback_debounce_seconds
            if debounce > 0:
                await asyncio.sleep(debounce)  # let replies sent together land in one revision
                async with self.wf.db.session() as session:
                    claim = await self._load(session, project)
            return await self._write(claim, token, ticket, None, todo)
        if state == State.REVISING:
            async with self.wf.db.session() as session:  # nothing pending: repair the state
                await store.move_state(
                    session=session, project_id=_pid(project), expected=["revising"], target="in_review"
                )
        return None

    async def _write(
        self, claim: Claim, token: str, ticket: int, early: EarlyDraft | None, todo: list[Prelude]
    ) -> Shown | None:
        project, previous, points = claim.project, claim.previous, claim.points
        number = project.current_version + 1
        spec = self.wf.agents.spec(project.agent)
        upto = max((f.id or 0 for f in points if f.consumed_by is None), default=0)
        agents = [project.agent, *self.wf.settings.category(project.category).fallback]
        platform = self.wf.platform(project.platform)
        editor: ThrottledEditor | None = None
        if platform.limits.min_edit_interval > 0:
            header = self.wf.header(project)
            thread = self.wf.thread_of(project)
            ref = None
            if number > 1:
                # A revision shows at once that the feedback was taken up; a first draft has its
                # acknowledgement, so its message appears once there are words to show.
                async with self.turns.turn(ticket):
                    ref = await platform.post(
                        thread, Reply(texts.drafting(number), kind=ReplyKind.PROGRESS, header=header)
                    )
            editor = ThrottledEditor(platform, thread, header, message=ref)
        renewer = asyncio.create_task(self._renew_forever(_pid(project), token))
        started = time.perf_counter()
        try:
            if early is not None:
                started = early.started
                if editor is not None and not early.task.done():
                    early.sink = editor.update
                    if early.latest:
                        await editor.update(early.latest)
                result, used = await early.task
            else:
                request = build_request(
                    project_number=_pid(project),
                    version=number,
                    category=project.category,
                    brief=project.brief,
                    previous_draft=previous,
                    feedback=tuple(
                        FeedbackPoint(f.text, f.author_name or f.author_id, f.on_version, f.consumed_by is None)
                        for f in points
                    ),
                    max_output_tokens=spec.max_tokens,
                    context_tokens=spec.context_tokens,
                )
                result, used = await self.wf.agents.draft(
                    agents=agents, request=request, progress=editor.update if editor else None
                )
        except AgentError as exc:
            async with self.turns.turn(ticket):
                await self._failed(project, number, exc, _shown_id(editor), todo)
            return None
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        progress_id = _shown_id(editor)
        latency = int((time.perf_counter() - started) * 1000)
        async with self.turns.turn(ticket):
            saved = await self._save(project, number, result, used, upto, latency, todo)
            if saved is None:
                return None
            return await self._publish(saved, result.text, progress_id)

    async def _save(
        self,
        project: Project,
        number: int,
        result: DraftResult,
        spec: AgentSpec,
        upto: int,
        latency: int,
        todo: list[Prelude],
    ) -> Project | None:
        """Store the version, take up its feedback and move the state, atomically; None (and
        nothing stored) when the project was decided while the version was being written."""
        now = self.wf.clock.now()
        model = result.model or spec.model
        try:
            async with self._session(todo) as session:
                if upto:  # 0: no feedback was pending for this version
                    await store.consume_feedback(
                        session=session, project_id=_pid(project), upto_id=upto, version=number
                    )
                fresh = await store.finish_version(
                    session=session,
                    project_id=_pid(project),
                    number=number,
                    model=model,
                    working=[s.value for s in (*WORKING, State.IN_REVIEW)],
                    now=now,
                )
                if fresh is None:
                    raise _Dropped
                await store.add_version(
                    session=session,
                    project_id=_pid(fresh),
                    number=number,
                    text=result.text,
                    agent=spec.name,
                    model=model,
                    input_tokens=result.input_tokens,
                    output_tokens=result.output_tokens,
                    cached_tokens=result.cached_tokens,
                    cost_usd=cost_usd(spec, result),
                    latency_ms=latency,
                    finish_reason=result.finish_reason[:32],
                    feedback_upto=upto,
                    created_at=now,
                )
                return fresh
        except _Dropped:
            _log.info("project %s was decided while v%d was written; version dropped", project.id, number)
            return None  # the writes in `todo` were rolled back with it: the release makes them

    async def _publish(self, project: Project, text: str, progress_id: str | None) -> Shown:
        """Show the finished version: inline with controls (replacing the streamed progress
        message), or as a file with a summary when it is too long for one message."""
        wf = self.wf
        platform = wf.platform(project.platform)
        header = wf.header(project)
        _, mentions = experts_for(project.category, wf.settings)
        thread = wf.thread_of(project)
        progress = MessageRef(platform.name, project.channel, progress_id, thread.thread_id) if progress_id else None
        v = project.current_version
        if len(text) > platform.limits.max_inline_chars:
            summary = texts.file_summary(project, text)
            reply = Reply(
                summary, kind=ReplyKind.DRAFT, header=header, controls=True, mentions=mentions, summary=summary
            )
            ref = await platform.upload(thread, filename=f"draftloop-{project.id}-v{v}.md", content=text, reply=reply)
            if progress is not None:
                await platform.edit(progress, Reply(texts.moved_to_file(v), kind=ReplyKind.NOTICE, header=header))
            message_id = ref.message_id
        else:
            reply = Reply(text, kind=ReplyKind.DRAFT, header=header, controls=True, mentions=mentions)
            if progress is not None:
                await platform.edit(progress, reply)
                message_id = progress.message_id
            else:
                message_id = (await platform.post(thread, reply)).message_id
        return Shown(project.platform, project.channel, message_id, v)

    async def _failed(
        self, project: Project, number: int, exc: AgentError, progress_id: str | None, todo: list[Prelude]
    ) -> None:
        # Masked before it is cut (a cut secret would no longer match) and before it is stored
        # or posted: a provider's error body may quote any token it was sent or knows.
        masked = self.wf.redactor(str(exc))
        reason = masked.splitlines()[0][:300] if masked.strip() else type(exc).__name__
        now = self.wf.clock.now()
        async with self._session(todo) as session:
            await store.move_state(
                session=session,
                project_id=_pid(project),
                expected=[State.DRAFTING.value, State.REVISING.value, State.IN_REVIEW.value],
                target=State.FAILED.value,
                last_error=reason,
                updated_at=now,
                decided_at=now,
            )
            fresh = await store.get_project(session=session, project_id=_pid(project))
        shown = fresh or project
        reply = Reply(texts.failed(shown, number, reason), kind=ReplyKind.ERROR, header=self.wf.header(shown))
        if progress_id is not None:
            thread = self.wf.thread_of(shown)
            await self.wf.platform(shown.platform).edit(
                MessageRef(shown.platform, shown.channel, progress_id, thread.thread_id), reply
            )
        else:
            await self.wf.post(shown, reply)


class _Dropped(Exception):
    """Rolls the version's transaction back when the project was decided meanwhile."""


def _shown_id(editor: ThrottledEditor | None) -> str | None:
    """The message showing the draft so far, if one was posted."""
    return editor.message.message_id if editor is not None and editor.message is not None else None


def _pid(project: Project) -> int:
    assert project.id is not None
    return project.id
