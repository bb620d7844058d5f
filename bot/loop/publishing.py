"""Showing a version once it is stored: inline with its controls, or as a file when it is too long
for one message; or, when the model could not write it, the failure, stored and shown. A compared
request's v1 is labelled A, and its draft B shown beside it (bot/orchestrator/compare.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bot import texts
from bot.errors import AgentError
from bot.events import MessageRef
from bot.loop import transitions
from bot.loop.first_draft import Writes
from bot.loop.registry import Platforms
from bot.loop.threads import Threads, header, number_of, thread_of
from bot.orchestrator.compare import LABELS, comparing
from bot.orchestrator.routing import quiet
from bot.ports import Clock
from bot.redact import Redactor
from bot.replies import Reply, ReplyKind
from bot.settings import Settings
from bot.triage import experts_for
from storage import projects as store
from storage.engine import Database
from storage.models import Project
from storage.routing import Comparison


@dataclass(frozen=True)
class Shown:
    """Where a finished version was posted, recorded when the lease is handed back."""

    platform: str
    channel: str
    message_id: str
    version: int


class Publisher:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        clock: Clock,
        platforms: Platforms,
        threads: Threads,
        redactor: Redactor,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.platforms = platforms
        self.threads = threads
        self.redactor = redactor

    async def publish(self, project: Project, text: str, progress_id: str | None) -> Shown:
        """Show the finished version, replacing the streamed progress message if there is one."""
        platform = self.platforms.named(project.platform)
        shown = header(project)
        _, mentions = experts_for(project.category, self.settings)
        if mentions and await quiet(self.db, self.settings, project):
            mentions = ()  # likely fine as is: experts look when someone asks (bot/orchestrator/routing.py)
        thread = thread_of(project)
        progress = MessageRef(platform.name, project.channel, progress_id, thread.thread_id) if progress_id else None
        v = project.current_version
        if await comparing(self.db, self.settings, project) is not None:
            text = f"{texts.compare_label('A', project.agent, project.model)}\n\n{text}"
        if len(text) > platform.limits.max_inline_chars:
            summary = texts.file_summary(project, text)
            reply = Reply(
                summary, kind=ReplyKind.DRAFT, header=shown, controls=True, mentions=mentions, summary=summary
            )
            ref = await platform.upload(thread, filename=f"draftloop-{project.id}-v{v}.md", content=text, reply=reply)
            if progress is not None:
                await platform.edit(progress, Reply(texts.moved_to_file(v), kind=ReplyKind.NOTICE, header=shown))
            message_id = ref.message_id
        else:
            reply = Reply(text, kind=ReplyKind.DRAFT, header=shown, controls=True, mentions=mentions)
            if progress is not None:
                await platform.edit(progress, reply)
                message_id = progress.message_id
            else:
                message_id = (await platform.post(thread, reply)).message_id
        return Shown(project.platform, project.channel, message_id, v)

    async def show_rival(self, project_id: int, comparison: Comparison) -> None:
        """Draft B of a comparison, labelled, without decision controls (a pick decides between A
        and B), then how to pick."""
        async with self.db.session() as session:
            project = await store.get_project(session=session, project_id=project_id)
        assert project is not None and comparison.text_b is not None
        platform = self.platforms.named(project.platform)
        thread, shown = thread_of(project), header(project)
        text = f"{texts.compare_label('B', comparison.agent_b, comparison.model_b)}\n\n{comparison.text_b}"
        if len(text) > platform.limits.max_inline_chars:
            summary = texts.file_summary(project, text)
            reply = Reply(summary, kind=ReplyKind.DRAFT, header=shown, summary=summary)
            await platform.upload(thread, filename=f"draftloop-{project.id}-v1-B.md", content=text, reply=reply)
        else:
            await platform.post(thread, Reply(text, kind=ReplyKind.DRAFT, header=shown))
        choose = texts.compare_choose(number_of(project))
        await platform.post(thread, Reply(choose, kind=ReplyKind.NOTICE, header=shown, picks=LABELS))

    async def rival_failed(self, project: Project, agent: str, exc: AgentError) -> None:
        """B's agent could not write it: A stands alone (the comparison stays unpicked)."""
        masked = self.redactor(str(exc))
        reason = masked.splitlines()[0][:300] if masked.strip() else type(exc).__name__
        reply = Reply(texts.compare_failed(project, agent, reason), kind=ReplyKind.ERROR, header=header(project))
        await self.threads.post(project, reply)

    async def failed(
        self, project: Project, number: int, exc: AgentError, progress_id: str | None, writes: Writes
    ) -> None:
        """Mark the project failed (unless it was decided meanwhile) and say why, where the
        progress was shown if it was."""
        # Masked before it is cut (a cut secret would no longer match) and before it is stored
        # or posted: a provider's error body may quote any token it was sent or knows.
        masked = self.redactor(str(exc))
        reason = masked.splitlines()[0][:300] if masked.strip() else type(exc).__name__
        async with writes.session(self.db) as session:
            await transitions.fail(session, number_of(project), reason=reason, now=self.clock.now())
            fresh = await store.get_project(session=session, project_id=number_of(project))
        shown = fresh or project
        reply = Reply(texts.failed(shown, number, reason), kind=ReplyKind.ERROR, header=header(shown))
        if progress_id is not None:
            thread = thread_of(shown)
            await self.platforms.named(shown.platform).edit(
                MessageRef(shown.platform, shown.channel, progress_id, thread.thread_id), reply
            )
        else:
            await self.threads.post(shown, reply)
