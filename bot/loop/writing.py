"""Writing one version: ask the model (showing its words as they come), store the version and
take up its feedback in one transaction, then show it (bot/loop/publishing.py).

The drafting (bot/loop/drafting.py) decides when a version is owed and holds the lease; this
module writes it, renewing the lease while the model writes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from bot import texts
from bot.agent_spec import AgentSpec
from bot.agents import AgentPool, cost_usd
from bot.errors import AgentError
from bot.events import MessageRef, ThreadRef
from bot.loop import transitions
from bot.loop.first_draft import FirstDraft, Writes
from bot.loop.publishing import Publisher, Shown
from bot.loop.registry import Platforms
from bot.loop.streaming import ThrottledEditor
from bot.loop.threads import header, number_of, thread_of
from bot.loop.turns import Turns
from bot.orchestrator.qc import Checked, QualityGate
from bot.ports import ChatPlatform, Clock, DraftRequest, DraftResult, FeedbackPoint
from bot.prompts import build_request
from bot.replies import Reply, ReplyKind
from bot.settings import Settings
from storage import Session, projects as store
from storage.engine import Database
from storage.models import Feedback, Project

_log = logging.getLogger(__name__)


@dataclass
class Run:
    """One pass of the drafting over a project: the lease token it holds, its place in line,
    writes that ride along in its next transaction, and, for a new project, its first draft."""

    project_id: int
    token: str
    ticket: int
    writes: Writes = field(default_factory=Writes)
    first: FirstDraft | None = None


@dataclass
class Claim:
    """What one cycle works from, read with the lease."""

    project: Project
    points: list[Feedback]
    previous: str | None

    @property
    def pending(self) -> int:
        return sum(1 for p in self.points if p.consumed_by is None)


class Writer:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        agents: AgentPool,
        clock: Clock,
        platforms: Platforms,
        turns: Turns,
        publisher: Publisher,
    ) -> None:
        self.db = db
        self.settings = settings
        self.agents = agents
        self.clock = clock
        self.platforms = platforms
        self.turns = turns
        self.publisher = publisher
        self.quality = QualityGate(settings=settings, agents=agents)

    @property
    def lease(self) -> float:
        return self.settings.file.workflow.lease_seconds

    async def write(self, claim: Claim, run: Run) -> Shown | None:
        """Write the next version; None when none was shown (the write failed, or the project was
        decided meanwhile and the version dropped)."""
        project, points = claim.project, claim.points
        number = project.current_version + 1
        upto = max((f.id or 0 for f in points if f.consumed_by is None), default=0)
        editor = await self._editor(project, number, run)
        started = time.perf_counter()
        try:
            first = run.first
            if first is not None and first.task is not None:
                started = first.started
                if editor is not None and not first.task.done():
                    first.sink = editor.update
                    if first.latest:
                        await editor.update(first.latest)
                result, used = await first.task
            else:
                progress = editor.update if editor else None
                agents = [project.agent, *self.settings.category(project.category).fallback]
                result, used = await self.agents.draft(agents=agents, request=self._request(claim), progress=progress)
        except AgentError as exc:
            async with self.turns.turn(run.ticket):
                await self.publisher.failed(project, number, exc, _shown_id(editor), run.writes)
            return None
        checked = None
        if self.quality.enabled(project.category):  # before experts see it (bot/orchestrator/qc.py)
            fallbacks = tuple(self.settings.category(project.category).fallback)
            checked = await self.quality.run(self._request(claim), result, used, fallbacks=fallbacks)
            result, used = checked.result, checked.used
        progress_id = _shown_id(editor)
        latency = int((time.perf_counter() - started) * 1000)
        async with self.turns.turn(run.ticket):
            saved = await self._save(project, number, result, used, upto, latency, run, checked)
            if saved is None:
                return None
            try:
                shown = checked.shown if checked is not None else result.text
                return await self.publisher.publish(saved, shown, progress_id)
            except Exception as exc:  # noqa: BLE001 - stored: the sweeper shows it (show_again)
                _log.warning("v%d of project %s is stored but could not be shown (%s)", number, project.id, exc)
                return None

    async def show_again(self, project: Project) -> Shown | None:
        """Show the current version, stored by a cycle whose post failed (in its progress message, if any)."""
        async with self.db.session() as session:
            latest = await store.latest_version(session=session, project_id=number_of(project))
        if latest is None or latest.number != project.current_version:
            return None
        _log.info("showing v%d of project %s again: its post had failed", latest.number, project.id)
        if project.progress_message_id:
            try:
                return await self.publisher.publish(project, latest.text, project.progress_message_id)
            except Exception as exc:  # noqa: BLE001 - the progress message may be gone: post anew
                _log.info("could not show v%d in its progress message (%s)", latest.number, type(exc).__name__)
        return await self.publisher.publish(project, latest.text, None)

    async def _editor(self, project: Project, number: int, run: Run) -> ThrottledEditor | None:
        """Where the words show while they are written, on a platform that edits messages.

        The progress message's id is stored as soon as it is posted: a cycle resumed after a crash
        takes that message back instead of leaving a "Writing vN…" that never changes."""
        platform = self.platforms.named(project.platform)
        if platform.limits.min_edit_interval <= 0:
            return None
        shown = header(project)
        thread = thread_of(project)

        async def posted(ref: MessageRef) -> None:
            await self._record_progress(project, ref, run)

        ref = None
        if project.progress_message_id:
            ref = MessageRef(project.platform, project.channel, project.progress_message_id, thread.thread_id)
        if number > 1 or ref is not None:
            # A revision shows at once that the feedback was taken up; a first draft has its
            # acknowledgement, so its message appears once there are words to show.
            reply = Reply(texts.drafting(number), kind=ReplyKind.PROGRESS, header=shown)
            async with self.turns.turn(run.ticket):
                ref = await self._progress_message(platform, thread, ref, reply)
                if ref is not None and ref.message_id != project.progress_message_id:
                    await posted(ref)
        return ThrottledEditor(platform, thread, shown, message=ref, on_posted=posted)

    async def _progress_message(
        self, platform: ChatPlatform, thread: ThreadRef, stale: MessageRef | None, reply: Reply
    ) -> MessageRef | None:
        if stale is not None:
            try:
                await platform.edit(stale, reply)
                return stale
            except Exception as exc:  # noqa: BLE001 - deleted or not ours any more: post a new one
                _log.info("could not take back a progress message (%s); posting a new one", type(exc).__name__)
        return await platform.post(thread, reply)

    async def _record_progress(self, project: Project, ref: MessageRef, run: Run) -> None:
        """Store the progress message's id (with the writes waiting to be made). Best effort: a
        resumed cycle without it posts a new message."""

        async def record(session: Session) -> None:
            await store.update_project(
                session=session, project_id=number_of(project), progress_message_id=ref.message_id
            )

        try:
            await run.writes.run(self.db, record)
            project.progress_message_id = ref.message_id
        except Exception as exc:  # noqa: BLE001
            _log.warning("could not record the progress message of project %s: %s", project.id, type(exc).__name__)

    def _request(self, claim: Claim) -> DraftRequest:
        project = claim.project
        spec = self.agents.spec(project.agent)
        return build_request(
            project_number=number_of(project),
            version=project.current_version + 1,
            category=project.category,
            brief=project.brief,
            previous_draft=claim.previous,
            feedback=tuple(
                FeedbackPoint(f.text, f.author_name or f.author_id, f.on_version, f.consumed_by is None)
                for f in claim.points
            ),
            max_output_tokens=spec.max_tokens,
            context_tokens=spec.context_tokens,
        )

    async def _save(
        self,
        project: Project,
        number: int,
        result: DraftResult,
        spec: AgentSpec,
        upto: int,
        latency: int,
        run: Run,
        checked: Checked | None = None,
    ) -> Project | None:
        """Store the version, take up its feedback and move the state, atomically; None (and
        nothing stored) when the project was decided while the version was being written, or
        another process took the lease over (this one stalled past it)."""
        now = self.clock.now()
        model = result.model or spec.model

        async def save(session: Session) -> Project:
            if upto:  # 0: no feedback was pending for this version
                await store.consume_feedback(
                    session=session, project_id=number_of(project), upto_id=upto, version=number
                )
            fresh = await transitions.land(
                session, number_of(project), number=number, model=model, lease=run.token, now=now
            )
            if fresh is None:
                raise _Dropped
            await store.add_version(
                session=session,
                project_id=number_of(fresh),
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
            if checked is not None:
                await checked.store(session, number_of(fresh), number, now)
            return fresh

        try:
            return await run.writes.run(self.db, save)
        except _Dropped:
            _log.info("project %s was decided or taken over while v%d was written; version dropped", project.id, number)
            return None  # the waiting writes were rolled back with it: the release makes them


class _Dropped(Exception):
    """Rolls the version's transaction back when the project was decided meanwhile."""


def _shown_id(editor: ThrottledEditor | None) -> str | None:
    """The message showing the draft so far, if one was posted."""
    return editor.message.message_id if editor is not None and editor.message is not None else None
