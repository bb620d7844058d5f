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
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.agents import cost_usd
from bot.errors import AgentError
from bot.events import MessageRef
from bot.ports import DraftResult, FeedbackPoint
from bot.prompts import build_request
from bot.replies import Reply, ReplyKind
from bot.settings import AgentSpec
from bot.states import FINAL, WORKING, State
from bot.streaming import ThrottledEditor
from storage import locks, projects as store
from storage.models import Feedback, Project

if TYPE_CHECKING:
    from bot.workflow import Workflow

_log = logging.getLogger(__name__)


class CycleRunner:
    def __init__(self, workflow: Workflow) -> None:
        self.wf = workflow

    @property
    def lease(self) -> float:
        return self.wf.settings.file.workflow.lease_seconds

    async def run(self, project_id: int) -> bool:
        """Write every version the project is owed. False when another worker holds the lease
        (it will pick up whatever is pending when it finishes)."""
        # A token per run, not per process: two tasks of one process must exclude each other too.
        token = f"{self.wf.owner}:{uuid.uuid4().hex[:8]}"
        ran = False
        while True:
            claimed = await self._claim(project_id, token)
            if claimed is None:
                return ran
            ran = True
            more = False
            try:
                await self._one(*claimed, token)
            finally:
                more = await self._release(project_id, token)
            if not more:
                return ran

    async def _claim(self, project_id: int, token: str) -> tuple[Project, int] | None:
        """Take the lease and read the project and its pending feedback count, in one transaction."""
        now = self.wf.clock.now()
        async with self.wf.db.session() as session:
            until = now + timedelta(seconds=self.lease)
            if not await locks.claim(session=session, project_id=project_id, owner=token, now=now, until=until):
                return None
            project = await store.get_project(session=session, project_id=project_id)
            if project is None:
                return None
            return project, await store.pending_count(session=session, project_id=project_id)

    async def _release(self, project_id: int, token: str) -> bool:
        """Hand the lease back and say whether work arrived meanwhile (so no reply waits)."""

        async def release() -> bool:
            async with self.wf.db.session() as session:
                await locks.release(session=session, project_id=project_id, owner=token)
                return await self._has_work(session, project_id)

        # Shielded: a cancelled task (SIGTERM) must still hand its lease back.
        return await asyncio.shield(release())

    async def _renew_forever(self, project_id: int, token: str) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            async with self.wf.db.session() as session:
                until = self.wf.clock.now() + timedelta(seconds=self.lease)
                await locks.renew(session=session, project_id=project_id, owner=token, until=until)

    @staticmethod
    async def _has_work(session: AsyncSession, project_id: int) -> bool:
        project = await store.get_project(session=session, project_id=project_id)
        if project is None:
            return False
        state = State(project.state)
        if state == State.DRAFTING and project.current_version == 0:
            return True
        if state in (State.REVISING, State.IN_REVIEW):
            return await store.pending_count(session=session, project_id=project_id) > 0
        return False

    async def _one(self, project: Project, pending: int, token: str) -> None:
        project_id = _pid(project)
        if State(project.state) in FINAL or project.state == State.FAILED:
            return
        state = State(project.state)
        if state == State.DRAFTING and project.current_version == 0:
            await self._write(project, token)
        elif pending and state in (State.REVISING, State.IN_REVIEW):
            debounce = self.wf.settings.file.workflow.feedback_debounce_seconds
            if debounce > 0:
                await asyncio.sleep(debounce)
            await self._write(project, token)
        elif state == State.REVISING:
            async with self.wf.db.session() as session:  # nothing pending: repair the state
                await store.move_state(
                    session=session, project_id=project_id, expected=["revising"], target="in_review"
                )

    async def _gather(self, project: Project) -> tuple[str | None, list[Feedback]]:
        async with self.wf.db.session() as session:
            latest = await store.latest_version(session=session, project_id=_pid(project))
            points = await store.feedback_points(session=session, project_id=_pid(project))
        return (latest.text if latest else None), points

    async def _write(self, project: Project, token: str) -> None:
        previous, points = await self._gather(project)
        number = project.current_version + 1
        spec = self.wf.agents.spec(project.agent)
        request = build_request(
            project_number=_pid(project),
            version=number,
            category=project.category,
            brief=project.brief,
            previous_draft=previous,
            feedback=tuple(
                FeedbackPoint(f.text, f.author_name or f.author_id, f.on_version, f.consumed_by is None) for f in points
            ),
            max_output_tokens=spec.max_tokens,
            context_tokens=spec.context_tokens,
        )
        upto = max((f.id or 0 for f in points if f.consumed_by is None), default=0)
        agents = [project.agent, *self.wf.settings.category(project.category).fallback]
        platform = self.wf.platform(project.platform)
        editor: ThrottledEditor | None = None
        progress_id: str | None = None
        if platform.limits.min_edit_interval > 0:
            header = self.wf.header(project)
            ref = await platform.post(
                self.wf.thread_of(project),
                Reply(texts.drafting(number), kind=ReplyKind.PROGRESS, header=header),
            )
            progress_id = ref.message_id
            editor = ThrottledEditor(platform, ref, header)
        renewer = asyncio.create_task(self._renew_forever(_pid(project), token))
        started = time.perf_counter()
        try:
            result, used = await self.wf.agents.draft(
                agents=agents, request=request, progress=editor.update if editor else None
            )
        except AgentError as exc:
            await self._failed(project, number, exc, progress_id)
            return
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        latency = int((time.perf_counter() - started) * 1000)
        saved = await self._save(project, number, result, used, upto, latency)
        if saved is not None:
            await self._publish(saved, result.text, progress_id)

    async def _save(
        self, project: Project, number: int, result: DraftResult, spec: AgentSpec, upto: int, latency: int
    ) -> Project | None:
        now = self.wf.clock.now()
        async with self.wf.db.session() as session:
            fresh = await store.get_project(session=session, project_id=_pid(project), for_update=True)
            if fresh is None or State(fresh.state) not in (*WORKING, State.IN_REVIEW):
                _log.info("project %s was decided while v%d was written; version dropped", project.id, number)
                return None
            await store.add_version(
                session=session,
                project_id=_pid(fresh),
                number=number,
                text=result.text,
                agent=spec.name,
                model=result.model or spec.model,
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
                cached_tokens=result.cached_tokens,
                cost_usd=cost_usd(spec, result),
                latency_ms=latency,
                finish_reason=result.finish_reason[:32],
                feedback_upto=upto,
                created_at=now,
            )
            await store.consume_feedback(session=session, project_id=_pid(fresh), upto_id=upto, version=number)
            more = await store.pending_count(session=session, project_id=_pid(fresh))
            fresh.current_version = number
            fresh.state = (State.REVISING if more else State.IN_REVIEW).value
            fresh.model = result.model or spec.model
            fresh.last_error = ""
            fresh.updated_at = now
            fresh.review_since = now
            fresh.first_draft_at = fresh.first_draft_at or now
            return fresh

    async def _publish(self, project: Project, text: str, progress_id: str | None) -> None:
        """Show the finished version: inline with controls (replacing the streamed progress
        message), or as a file with a summary when it is too long for one message."""
        wf = self.wf
        platform = wf.platform(project.platform)
        header = wf.header(project)
        category = wf.settings.category(project.category)
        mentions = category.mention or category.experts
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
        async with wf.db.session() as session:
            await store.link_message(
                session=session,
                platform=project.platform,
                channel=project.channel,
                message_id=message_id,
                project_id=_pid(project),
                kind="draft",
                version=v,
            )
            await store.set_version_message(session=session, project_id=_pid(project), number=v, message_id=message_id)

    async def _failed(self, project: Project, number: int, exc: AgentError, progress_id: str | None) -> None:
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        now = self.wf.clock.now()
        async with self.wf.db.session() as session:
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


def _pid(project: Project) -> int:
    assert project.id is not None
    return project.id
