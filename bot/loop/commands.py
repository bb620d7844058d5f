"""Commands: help, status, digest, retry, cancel, mine, review, from a slash command, the console or a thread.

A command that names a project answers in the open only where the project lives (its channel or a
thread in it); its requester, experts and admins also get an answer elsewhere, privately. Anyone else
gets "No project #N here.", the same as for a number that does not exist.

`mine` answers the asker only: what waits on them (`waiting_on`, also read by a platform's home
view). The list is data (`MineList`) a platform may render itself: one that has
`show_private(thread, actor, reply)` is handed the reply with the list as its `data`; any other
gets the list as Markdown through `notify_private`.

retry and cancel move the project's state (through the state table) with the command's key in
the same transaction; review (the experts of a project marked likely fine as is, asked once) records
that it was asked with the key; the others store nothing and record their key before they answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot import texts
from bot.errors import NotAllowed, UnknownProject, UserFacingError
from bot.events import Actor, CommandInvoked, Locator, ThreadRef
from bot.loop import transitions
from bot.loop.drafting import Drafting
from bot.loop.receipts import Receipt
from bot.loop.registry import Platforms
from bot.loop.threads import Threads, header, number_of, thread_of
from bot.orchestrator.routing import marked_fine
from bot.permissions import is_admin, is_expert, may_see
from bot.platforms import policy
from bot.ports import Clock
from bot.replies import Reply, ReplyKind
from bot.report.digest import Period, build_report, render_chat
from bot.settings import Settings
from bot.states import State
from bot.triage import experts_for
from storage import projects as store, routing as routes, signals
from storage.engine import Database
from storage.models import Project

DIGEST_DAYS = 7
NAMES = ("help", "status", "digest", "retry", "cancel", "mine", "review")
BRIEF_CHARS = 80

Why = Literal["decide", "review", "requested"]


@dataclass(frozen=True)
class MineItem:
    """One project that waits on someone, and why: their draft to `decide`, a thread to `review`
    as an expert of its category, or a `requested` project still being worked on (or failed)."""

    number: int
    why: Why
    state: str
    version: int
    category: str
    brief: str  # its first words, on one line
    thread: ThreadRef  # where it lives: a platform links to it
    since: datetime | None  # in review since, or created


@dataclass(frozen=True)
class MineList:
    """What waits on one person, oldest first in each group."""

    platform: str
    person_id: str
    decide: tuple[MineItem, ...] = ()
    review: tuple[MineItem, ...] = ()
    requested: tuple[MineItem, ...] = ()

    @property
    def items(self) -> tuple[MineItem, ...]:
        return (*self.decide, *self.review, *self.requested)


class Commands:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        clock: Clock,
        platforms: Platforms,
        threads: Threads,
        drafting: Drafting,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.platforms = platforms
        self.threads = threads
        self.drafting = drafting

    async def run(self, cmd: CommandInvoked, receipt: Receipt) -> None:
        name = cmd.name.lower()
        if name not in NAMES:
            raise UserFacingError(
                f"Unknown command `{cmd.name}`. Try help, status, digest, mine, retry, cancel or review."
            )
        if name == "retry":
            await self.retry(cmd, receipt)
        elif name == "review":
            await self.review(cmd, receipt)
        elif name == "cancel":
            await self.cancel(cmd, receipt)
        else:
            await receipt.settle()  # they store nothing: the key is recorded before the answer
            await {"help": self.help, "status": self.status, "digest": self.digest, "mine": self.mine}[name](cmd)

    async def _say(self, cmd: CommandInvoked, reply: Reply) -> None:
        await self.platforms.named(cmd.reply_to.platform).post(cmd.reply_to, reply)

    async def help(self, cmd: CommandInvoked) -> None:
        await self._say(cmd, Reply(texts.help_text(cmd.reply_to.platform), kind=ReplyKind.HELP))

    async def status(self, cmd: CommandInvoked) -> None:
        locator = cmd.locator or _number_arg(cmd)
        project = await self._visible(cmd, locator) if locator is not None else None
        if project is None:  # no project named, or a thread that is no project's: this channel's list
            await self._list(cmd)
            return
        text = texts.status_line(project)
        if project.last_error and project.state == State.FAILED:
            text += f"\nLast error: {project.last_error}"
        await self._tell(cmd, project, Reply(text, kind=ReplyKind.STATUS, header=header(project)))

    async def _list(self, cmd: CommandInvoked) -> None:
        """The open projects of the channel asked in (a platform that is one room lists them all)."""
        channel = None if policy(cmd.reply_to.platform).one_room else cmd.reply_to.channel
        async with self.db.session() as session:
            open_ = await store.open_projects(session=session, platform=cmd.reply_to.platform, channel=channel)
        lines = [texts.status_line(p) for p in open_] or ["No open projects."]
        await self._say(cmd, Reply("\n".join(lines), kind=ReplyKind.STATUS))

    async def _visible(self, cmd: CommandInvoked, locator: Locator) -> Project | None:
        """The project `locator` names, if the asker may see it from where they ask.

        In the project's own channel anyone may; elsewhere only its requester, its category's experts
        and admins (answered privately). A number that is hidden from the asker gets the same answer as
        one that does not exist, so a command cannot probe other channels. None: a thread of no project.
        """
        project = await self.threads.find(locator)
        if project is not None and (_here(cmd, project) or self._insider(cmd, project)):
            return project
        if locator.number is None:
            return None
        raise UnknownProject(texts.no_project_here(locator.number))

    def _insider(self, cmd: CommandInvoked, project: Project) -> bool:
        return may_see(cmd.actor, requester_id=project.requester_id, category=project.category, settings=self.settings)

    async def _tell(self, cmd: CommandInvoked, project: Project, reply: Reply) -> None:
        """Answer in the open where the project lives; anywhere else only to the asker."""
        if _here(cmd, project):
            await self._say(cmd, reply)
            return
        platform = self.platforms.named(cmd.reply_to.platform)
        await platform.notify_private(cmd.reply_to, cmd.actor, reply.text)

    async def digest(self, cmd: CommandInvoked) -> None:
        period = Period.last_days(DIGEST_DAYS, now=self.clock.now(), tz=self.settings.tz)
        report = await build_report(self.db, period, now=self.clock.now())
        await self._say(cmd, Reply(render_chat(report), kind=ReplyKind.DIGEST, data=report))

    async def mine(self, cmd: CommandInvoked) -> None:
        """What waits on the asker, told to them only."""
        found = self.masked(await self.waiting_on(cmd.actor))
        text = mine_markdown(found)
        platform = self.platforms.named(cmd.reply_to.platform)
        reply = Reply(self.platforms.redactor(text), kind=ReplyKind.STATUS, data=found)
        show = getattr(platform, "show_private", None)
        if callable(show):
            await show(cmd.reply_to, cmd.actor, reply)
        else:
            await platform.notify_private(cmd.reply_to, cmd.actor, text)

    async def waiting_on(self, actor: Actor) -> MineList:
        """The projects on the actor's platform that wait on them (see MineItem)."""
        expert_of = [c for c in self.settings.file.category_names if is_expert(actor, c, self.settings)]
        async with self.db.session() as session:
            found = await signals.waiting_on(
                session=session, platform=actor.platform, person_id=actor.user_id, expert_of=expert_of
            )
        groups: dict[Why, list[MineItem]] = {"decide": [], "review": [], "requested": []}
        for project in found:
            review = project.state == State.IN_REVIEW
            if project.requester_id == actor.user_id:
                why: Why = "decide" if review else "requested"
            else:
                why = "review"
            groups[why].append(_item(project, why))
        return MineList(
            actor.platform,
            actor.user_id,
            tuple(groups["decide"]),
            tuple(groups["review"]),
            tuple(groups["requested"]),
        )

    def masked(self, found: MineList) -> MineList:
        """The list with every brief through the redaction: a platform may render it itself."""
        mask = self.platforms.redactor

        def one(items: tuple[MineItem, ...]) -> tuple[MineItem, ...]:
            return tuple(MineItem(**{**i.__dict__, "brief": mask(i.brief)}) for i in items)

        return MineList(found.platform, found.person_id, one(found.decide), one(found.review), one(found.requested))

    async def _project(self, cmd: CommandInvoked) -> Project:
        locator = cmd.locator or _number_arg(cmd)
        project = await self._visible(cmd, locator) if locator is not None else None
        if project is None:
            raise UserFacingError(f"Which project? Use `{cmd.name}` in its thread or `#N {cmd.name}`.")
        if not self._may_administer(cmd.actor, project):
            raise NotAllowed(f"Only the requester or an admin can {cmd.name} #{project.id}.")
        return project

    def _may_administer(self, actor: Actor, project: Project) -> bool:
        return actor.user_id == project.requester_id or is_admin(actor, self.settings)

    async def retry(self, cmd: CommandInvoked, receipt: Receipt) -> None:
        found = await self._project(cmd)
        number, state = number_of(found), State(found.state)
        if state != State.FAILED:
            raise UserFacingError(
                f"#{number} is {state.value.replace('_', ' ')}; only a failed project can be retried."
            )
        async with receipt.transaction() as session:
            project = await store.get_project(session=session, project_id=number, for_update=True)
            assert project is not None
            target = State.DRAFTING if project.current_version == 0 else State.REVISING
            await transitions.move(
                session, project, target, decided_at=None, last_error="", updated_at=self.clock.now()
            )
        await self._tell(cmd, project, Reply(f"Retrying #{number}.", header=header(project, target.value)))
        await self.drafting.run(number)

    async def review(self, cmd: CommandInvoked, receipt: Receipt) -> None:
        """Ping the experts of a project marked likely fine as is for its current version, once;
        its later drafts ping them too (bot/orchestrator/routing.py: quiet)."""
        locator = cmd.locator or _number_arg(cmd)
        found = await self._visible(cmd, locator) if locator is not None else None
        if found is None:
            raise UserFacingError("Which project? Use `review` in its thread or `#N review`.")
        number = number_of(found)
        async with receipt.transaction() as session:
            fine = await marked_fine(session, number)
            asked = fine and await routes.ask_review(session=session, project_id=number, now=self.clock.now())
        mentions: tuple[str, ...] = ()
        if not fine:
            text = texts.review_not_quiet(found)
        elif not asked:
            text = texts.review_already(found)
        else:
            _, mentions = experts_for(found.category, self.settings)
            text = texts.review_asked(found, texts.person(cmd.actor, found), mentions)
        await self._tell(cmd, found, Reply(text, kind=ReplyKind.NOTICE, header=header(found), mentions=mentions))

    async def cancel(self, cmd: CommandInvoked, receipt: Receipt) -> None:
        found = await self._project(cmd)
        number = number_of(found)
        async with receipt.transaction() as session:
            await transitions.move(session, found, State.CANCELLED, decided_at=self.clock.now())
            project = await store.get_project(session=session, project_id=number)
        assert project is not None, "a project is never deleted"
        await self._tell(cmd, project, Reply(f"#{number} cancelled.", header=header(project)))


def _here(cmd: CommandInvoked, project: Project) -> bool:
    """Whether the command was given where the project lives: same platform and channel (or thread in it)."""
    where = cmd.reply_to
    if where.platform != project.platform:
        return False
    return policy(where.platform).one_room or where.channel == project.channel


def mine_markdown(found: MineList) -> str:
    """The list as Markdown, one section per reason, for a platform that does not render it itself."""
    out: list[str] = []
    for why, items in (("decide", found.decide), ("review", found.review), ("requested", found.requested)):
        if items:
            out += [f"**{texts.MINE_HEADINGS[why]}**"]
            out += [f"- {texts.mine_line(i.number, i.state, i.version, i.category, i.brief)}" for i in items]
    return "\n".join(out) if out else texts.NOTHING_WAITS


def _item(project: Project, why: Why) -> MineItem:
    brief = " ".join(project.brief.split())
    return MineItem(
        number=number_of(project),
        why=why,
        state=project.state,
        version=project.current_version,
        category=project.category,
        brief=brief if len(brief) <= BRIEF_CHARS else brief[: BRIEF_CHARS - 1] + "…",
        thread=thread_of(project),
        since=project.review_since if project.state == State.IN_REVIEW else project.created_at,
    )


def _number_arg(cmd: CommandInvoked) -> Locator | None:
    for arg in cmd.args:
        digits = arg.lstrip("#")
        if digits.isdigit():
            return Locator(number=int(digits))
    return None
