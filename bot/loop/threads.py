"""Projects and chat threads: the one place that finds a project from where an event happened,
and that posts in a project's thread.

`header` and `thread_of` are plain functions of a stored project, so code outside the loop (the
scheduled jobs) labels and addresses a project's messages the same way the loop does.
"""

from __future__ import annotations

from bot import texts
from bot.errors import UnknownProject
from bot.events import CommandInvoked, DecisionSignal, Event, Locator, RequestPosted, ThreadRef, ThreadReply
from bot.loop.registry import Platforms
from bot.replies import DraftHeader, Reply
from storage import Session, projects as store
from storage.engine import Database
from storage.models import Project


def number_of(project: Project) -> int:
    """A stored project's number (its id)."""
    assert project.id is not None, "project is not stored yet"
    return project.id


def header(project: Project, state: str | None = None) -> DraftHeader:
    """What heads every message about the project; `state` when the row has moved since it was read."""
    return DraftHeader(
        number=number_of(project),
        state=state or project.state,
        version=project.current_version,
        category=project.category,
        model=project.model,
        agent=project.agent,
    )


def thread_of(project: Project) -> ThreadRef:
    """Where the project's messages go: its thread, or the request message on a platform that has
    not opened one (yet)."""
    return ThreadRef(project.platform, project.channel, project.thread_id or project.request_message_id)


def opened_thread(project: Project) -> ThreadRef | None:
    """The project's thread if one was opened (a reminder has nowhere to go without one)."""
    if not project.thread_id:
        return None
    return ThreadRef(project.platform, project.channel, project.thread_id)


class Threads:
    """Finds projects by locator and posts in their threads, recording the links that let a
    reaction or a reply on a message find its project again."""

    def __init__(self, *, db: Database, platforms: Platforms) -> None:
        self.db = db
        self.platforms = platforms

    async def find(self, locator: Locator) -> Project | None:
        async with self.db.session() as session:
            return await self.find_in(session, locator)

    async def require(self, locator: Locator) -> Project | None:
        """The project a locator names; None for a thread that is not ours; an error for a bad number."""
        project = await self.find(locator)
        if project is None and locator.number is not None:
            raise UnknownProject(texts.unknown_project(locator.number))
        return project

    @staticmethod
    async def find_in(session: Session, locator: Locator, *, for_update: bool = False) -> Project | None:
        if locator.number is not None:
            return await store.get_project(session=session, project_id=locator.number, for_update=for_update)
        found: Project | None = None
        if locator.thread is not None:
            t = locator.thread
            found = await store.find_by_thread(
                session=session, platform=t.platform, channel=t.channel, thread_id=t.thread_id
            )
        elif locator.message is not None:
            m = locator.message
            found = await store.find_by_message(
                session=session, platform=m.platform, channel=m.channel, message_id=m.message_id
            )
            if found is None and m.thread_id:
                found = await store.find_by_thread(
                    session=session, platform=m.platform, channel=m.channel, thread_id=m.thread_id
                )
        if found is not None and for_update:
            # Re-read under a row lock (PostgreSQL) so concurrent steps on one project serialize.
            found = await store.get_project(session=session, project_id=number_of(found), for_update=True)
        return found

    async def post(
        self, project: Project, reply: Reply, *, kind: str = "notice", version: int = 0, link: bool = False
    ) -> str:
        """Post in the project's thread; `link` records the message so reactions on it find the project."""
        platform = self.platforms.named(project.platform)
        ref = await platform.post(thread_of(project), reply)
        if link:
            await self.link(project, ref.message_id, kind=kind, version=version)
        return ref.message_id

    async def link(self, project: Project, message_id: str, *, kind: str, version: int = 0) -> None:
        async with self.db.session() as session:
            await store.link_message(
                session=session,
                platform=project.platform,
                channel=project.channel,
                message_id=message_id,
                project_id=number_of(project),
                kind=kind,
                version=version,
            )

    async def where(self, event: Event) -> ThreadRef | None:
        """Where to answer an event (an error, a refusal): its thread, however the event names it."""
        match event:
            case RequestPosted():
                return event.thread or event.origin.thread()
            case CommandInvoked():
                return event.reply_to
            case DecisionSignal() if event.reply_to is not None:
                return event.reply_to
            case ThreadReply() | DecisionSignal():
                loc = event.locator
                if loc.thread is not None:
                    return loc.thread
                if loc.message is not None:
                    return loc.message.thread()
                if loc.number is not None:
                    project = await self.find(loc)
                    if project is not None:
                        return thread_of(project)
                    return ThreadRef(event.actor.platform, "", f"#{loc.number}")
        return None
