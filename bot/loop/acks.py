"""Acknowledgements: a project's thread opened and "Project #N … drafting v1 now" said in it.

The intake acknowledges a request as it arrives. When that fails (the chat API is down), the
project is stored but owes its acknowledgement (`acked_at` is unset); the drafting, resuming it
under its lease, acknowledges it first (`resume`), in the thread the intake opened if it got that
far, and only then writes its first draft.
"""

from __future__ import annotations

import logging

from bot import texts
from bot.agents import AgentPool
from bot.events import MessageRef, ThreadRef
from bot.loop.registry import Platforms
from bot.loop.threads import header, number_of, opened_thread
from bot.orchestrator.routing import quiet
from bot.ports import Clock
from bot.replies import Reply, ReplyKind
from bot.settings import Settings
from bot.triage import Triage, experts_for
from storage import Session, projects as store
from storage.engine import Database
from storage.models import Project

_log = logging.getLogger(__name__)


def ack_reply(project: Project, found: Triage, *, asking: str | None = None, quiet: bool = False) -> Reply:
    """`quiet`: the orchestrator marked the project likely fine as is: no expert is named or pinged."""
    return Reply(
        texts.ack(number_of(project), found, asking=asking, quiet=quiet),
        kind=ReplyKind.ACK,
        header=header(project),
        mentions=() if quiet else found.mentions,
    )


class Acknowledger:
    def __init__(
        self, *, db: Database, settings: Settings, agents: AgentPool, clock: Clock, platforms: Platforms
    ) -> None:
        self.db = db
        self.settings = settings
        self.agents = agents
        self.clock = clock
        self.platforms = platforms

    async def remember(
        self, session: Session, project: Project, thread: ThreadRef, ack: MessageRef | None, **route: str
    ) -> None:
        """Record the thread (and the acknowledgement, once posted: a reaction on it finds the project)."""
        number = number_of(project)
        acked = {"acked_at": self.clock.now()} if ack is not None else {}
        await store.update_project(session=session, project_id=number, thread_id=thread.thread_id, **acked, **route)
        if ack is not None:
            await store.link_message(
                session=session,
                platform=project.platform,
                channel=project.channel,
                message_id=ack.message_id,
                project_id=number,
                kind="ack",
            )

    async def resume(self, project: Project) -> Project:
        """Acknowledge a stored project whose acknowledgement failed; the project as it is then."""
        platform = self.platforms.named(project.platform)
        thread = opened_thread(project)
        if thread is None:
            origin = MessageRef(project.platform, project.channel, project.request_message_id)
            title = (project.brief.strip().splitlines() or ["request"])[0][:80]
            thread = await platform.open_thread(origin, number=number_of(project), title=title)
            project.thread_id = thread.thread_id
            await self.db.run(lambda session: self.remember(session, project, thread, None))
        # A project marked likely fine stays quiet on resume too (bot/orchestrator/routing.py).
        hushed = await quiet(self.db, self.settings, project)
        ack = await platform.post(thread, ack_reply(project, self._triage(project), quiet=hushed))
        await self.db.run(lambda session: self.remember(session, project, thread, ack))
        _log.info("acknowledged project %s on resuming it", project.id)
        project.acked_at = self.clock.now()
        return project

    def _triage(self, project: Project) -> Triage:
        """The route as stored, for the acknowledgement's words."""
        experts, mentions = experts_for(project.category, self.settings)
        spec = self.agents.spec(project.agent)
        return Triage(
            category=project.category,
            reason=project.category_reason or "given",
            agent=spec.model_copy(update={"model": project.model or spec.model}),
            fallbacks=tuple(self.settings.category(project.category).fallback),
            experts=experts,
            mentions=mentions,
        )
