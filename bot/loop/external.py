"""Outside agents: a project asked for from outside the chat (an MCP client, a CI job), read back,
revised by its agent and listed. This is the core of both outside front doors (adapters/mcp: the MCP
server and the JSON API); neither holds a copy of the loop.

An agent that sends its own draft is the project's agent, `external:<client>`: that draft is v1, and
every later version is one it sends (`revise`). No model ever writes for such a project: experts'
feedback on it is stored as on any project and moves it to `revising`, where it waits for the agent
(the drafting leaves it alone, bot/loop/drafting.py, and so does the sweeper, through storage's
`projects_needing_work`). `review` shows the agent the feedback no version has answered yet; `revise`
stores the next version, closing that feedback, and shows it in the thread. Without a draft the routed
agent drafts as usual and the caller reads the versions it writes.

Permissions are those of any project: the category's experts (and the requester, when the caller names
a person) give feedback and decide in the thread. The calling agent reads and revises only what it
opened, and nothing here accepts or rejects: it cannot decide on its own work.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from bot.errors import InvalidRequest, InvalidTransition, NotAllowed, UnknownProject
from bot.events import Actor, MessageRef, RequestPosted, ThreadRef
from bot.loop import outside, transitions
from bot.loop.acks import Acknowledger
from bot.loop.drafting import Drafting
from bot.loop.outside import (
    DEFAULT_CHANNEL,
    LIST_LIMIT,
    MAX_DRAFT_CHARS,
    MAX_REQUESTER_CHARS,
    MAX_WAIT_SECONDS,
    Caller,
    Opened,
    Point,
    Review,
    Revised,
    is_external,
    summary,
)
from bot.loop.publishing import Publisher, Shown
from bot.loop.registry import Platforms
from bot.loop.threads import header, number_of, thread_of
from bot.loop.waiters import Waiters
from bot.ports import Clock
from bot.replies import Reply, ReplyKind
from bot.settings import Settings
from bot.states import FINAL, State
from bot.triage import experts_for, normalise_category, split_explicit, triage
from storage import Session, callers, locks, projects as store
from storage.engine import Database
from storage.models import Project

_log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]
Handle = Callable[[RequestPosted], Coroutine[Any, Any, None]]
FIRST = asyncio.FIRST_COMPLETED
Write = Callable[[Session], Awaitable[None]]


class External:
    """The outside front doors' operations (see the module docstring). Built by the Workflow."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        clock: Clock,
        platforms: Platforms,
        drafting: Drafting,
        publisher: Publisher,
        acks: Acknowledger,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.platforms = platforms
        self.drafting = drafting
        self.publisher = publisher
        self.acks = acks
        self.waiters = Waiters(db)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.spawn: Spawn = self._spawn  # the Runtime's, so shutdown drains a first draft in flight
        self.handle: Handle = _no_workflow  # the Workflow's `handle`: a request without a draft goes through it
        self._waiting_intake: dict[str, tuple[Caller, asyncio.Future[Project]]] = {}

    # -- request_review ------------------------------------------------------------------------

    async def open(
        self,
        caller: Caller,
        *,
        brief: str,
        draft: str | None = None,
        category: str | None = None,
        channel: str | None = None,
        requester: str | None = None,
    ) -> Opened:
        """A project from an outside request; with `draft`, v1 is that draft and no model is asked.
        Everything is checked before anything is posted or stored."""
        names = self.settings.file.category_names
        # As in a chat request, a brief may begin with its `[category]`.
        explicit, brief = split_explicit(brief.strip(), names)
        brief = brief.strip()
        limit = self.settings.file.workflow.max_request_chars
        if not brief:
            raise InvalidRequest("The brief is empty: say what the work is for and what a good result looks like.")
        if len(brief) > limit:
            raise InvalidRequest(outside.too_long("brief", len(brief), limit))
        if draft is not None:
            _check_draft(draft)
        if category is not None and category.strip():
            explicit = normalise_category(category, names)
            if explicit is None:
                raise InvalidRequest(f"There is no category {category.strip()!r}; use one of {', '.join(names)}.")
        person = (requester or "").strip() or None
        if person is not None and len(person) > MAX_REQUESTER_CHARS:
            raise InvalidRequest(outside.too_long("requester", len(person), MAX_REQUESTER_CHARS))
        platform_name, channel_id = self._channel(channel)
        platform = self.platforms.named(platform_name)
        # The request is shown first: a project always has a message in the channel to hang its thread on.
        origin = await platform.post(
            ThreadRef(platform_name, channel_id, ""),
            Reply(outside.asked_text(caller.agent, person, brief, platform.limits.max_message_chars)),
        )
        if draft is None:
            asker = Actor(platform_name, person or caller.agent, person or caller.agent)
            return await self._asked(caller, RequestPosted(origin, asker, brief, category=explicit))
        return await self._opened(caller, origin, brief, draft, explicit, person)

    async def _asked(self, caller: Caller, event: RequestPosted) -> Opened:
        """No draft: the request goes through the intake like any other (routing, acknowledgement, the
        first draft by the routed agent); this returns as soon as the project is stored and acknowledged."""
        key = f"external:{uuid.uuid4().hex}"
        stored: asyncio.Future[Project] = asyncio.get_running_loop().create_future()
        self._waiting_intake[key] = (caller, stored)
        try:
            running = self.spawn(self.handle(replace(event, event_key=key)))
            await asyncio.wait({stored, running}, timeout=self.settings.file.workflow.lease_seconds, return_when=FIRST)
        finally:
            self._waiting_intake.pop(key, None)
        if not stored.done():
            raise InvalidRequest("The request could not be opened; nothing was stored. Try again in a moment.")
        project = stored.result()
        _, mentions = experts_for(project.category, self.settings)
        return Opened(project, mentions, bool(project.thread_id))

    async def request_stored(self, event: RequestPosted, project: Project) -> None:
        """The intake's hook: a request this stage handed it is stored; remember who asked."""
        waiting = self._waiting_intake.get(event.event_key or "")
        if waiting is None:
            return
        caller, stored = waiting
        number = number_of(project)
        await self.db.run(lambda session: callers.link_caller(session=session, caller=caller.agent, project_id=number))
        if not stored.done():
            stored.set_result(project)

    async def _opened(
        self, caller: Caller, origin: MessageRef, brief: str, draft: str, explicit: str | None, person: str | None
    ) -> Opened:
        """The agent's draft is v1: stored with the project in one transaction, then shown."""
        platform = self.platforms.named(origin.platform)
        found = triage(brief, explicit=explicit, settings=self.settings, specs=self.settings.file.agents)
        token = self.drafting.new_token()
        now = self.clock.now()

        async def create(session: Session) -> Project:
            project = await store.create_project(
                session=session,
                platform=origin.platform,
                channel=origin.channel,
                request_message_id=origin.message_id,
                requester_id=person or caller.agent,
                requester_name=person or caller.agent,
                brief=brief,
                category=found.category,
                category_reason=found.reason,
                agent=caller.agent,
                model=caller.agent,
                state=State.DRAFTING.value,
                created_at=now,
                updated_at=now,
                lease_owner=token,
                lease_until=now + timedelta(seconds=self.settings.file.workflow.lease_seconds),
            )
            number = number_of(project)
            await store.link_message(
                session=session,
                platform=origin.platform,
                channel=origin.channel,
                message_id=origin.message_id,
                project_id=number,
                kind="request",
            )
            await callers.link_caller(session=session, caller=caller.agent, project_id=number)
            await _store_version(session, number, 1, draft, caller.agent, now)
            landed = await transitions.land(session, number, number=1, model=caller.agent, lease=token, now=now)
            assert landed is not None, "a project created in this transaction is drafting"
            return landed

        project = await self.db.run(create)
        number = number_of(project)
        shown: Shown | None = None
        remember: Write | None = None
        try:
            async with self.drafting.holding(number, token):
                thread = await platform.open_thread(origin, number=number, title=_title(brief))
                project.thread_id = thread.thread_id
                text = outside.ack_text(number, found.category, found.reason, caller.agent, found.mentions)
                ack = await platform.post(thread, Reply(text, kind=ReplyKind.ACK, header=header(project)))

                async def remember(session: Session) -> None:
                    await self.acks.remember(session, project, thread, ack)

                shown = await self.publisher.publish(project, draft, None)
        except Exception as exc:  # noqa: BLE001 - stored: the sweeper shows what is owed once the lease is back
            _log.warning("project %s is stored but could not be shown in full (%s)", number, type(exc).__name__)
        finally:
            await self._release(number, token, shown, remember)
        return Opened(project, found.mentions, shown is not None)

    def _channel(self, given: str | None) -> tuple[str, str]:
        """`slack:C0123`, `discord:123`, `console`: the argument, else `[mcp] channel`, else the console."""
        table = getattr(self.settings.file, "mcp", None)
        raw = (given or "").strip() or (getattr(table, "channel", None) or "") or DEFAULT_CHANNEL
        platform, _, channel = raw.partition(":")
        platform = platform.strip().lower()
        if platform == DEFAULT_CHANNEL:
            channel = DEFAULT_CHANNEL
        channel = channel.strip()
        if not platform or not channel or len(channel) > 128:
            raise InvalidRequest(f"Channel {raw!r} is not PLATFORM:CHANNEL; use e.g. slack:C0123 or console.")
        if platform not in self.platforms:
            here = ", ".join(sorted(self.platforms)) or "none"
            raise InvalidRequest(f"{platform} is not connected here, so {raw!r} cannot be used; connected: {here}.")
        return platform, channel

    # -- get_review ----------------------------------------------------------------------------

    async def review(self, caller: Caller, number: int, *, wait_seconds: float = 0.0) -> Review:
        """The project as the caller should see it; with `wait_seconds`, once something changes (at once
        when it is the caller's move or the project is decided)."""
        found = await self._review(caller, number)
        wait = min(max(wait_seconds, 0.0), MAX_WAIT_SECONDS)
        if wait <= 0 or found.waiting_for in (None, "you"):
            return found
        await self.waiters.wait(number, found.mark, wait)
        return await self._review(caller, number)

    async def _review(self, caller: Caller, number: int) -> Review:
        async with self.db.session() as session:
            project = await self._own(session, caller, number)
            points = await store.feedback_points(session=session, project_id=number)
            decision = None
            if State(project.state) in FINAL:
                made = await callers.decision_of(session=session, project_id=number)
                if made is not None:
                    decision = {
                        "outcome": made.outcome,
                        "by": made.actor_name or made.actor_id,
                        "version": made.version,
                        "at": outside.at(made.created_at),
                    }
            draft = None
            if not is_external(project.agent) and project.current_version:
                latest = await store.latest_version(session=session, project_id=number)
                draft = latest.text if latest is not None else None
        pending = tuple(
            Point(
                p.id or 0,
                p.author_name or p.author_id,
                p.text,
                p.on_version,
                p.stated_minutes,
                p.is_expert,
                p.created_at,
            )
            for p in points
            if p.consumed_by is None
        )
        return Review(project, pending, decision, draft)

    async def _own(self, session: Session, caller: Caller, number: int) -> Project:
        project = await store.get_project(session=session, project_id=number)
        if project is None:
            raise UnknownProject(f"There is no project #{number}.")
        if await callers.caller_of(session=session, project_id=number) != caller.agent:
            raise NotAllowed(outside.not_yours(number, caller))
        return project

    # -- submit_revision -----------------------------------------------------------------------

    async def revise(self, caller: Caller, number: int, *, draft: str, notes: str | None = None) -> Revised:
        """The caller's next version, stored under the project's lease (two callers revising one project
        take turns), closing the feedback pending when it was stored, then shown in the thread."""
        _check_draft(draft)
        notes = (notes or "").strip()
        limit = self.settings.file.workflow.max_reply_chars
        if len(notes) > limit:
            raise InvalidRequest(outside.too_long("notes", len(notes), limit))
        async with self.db.session() as session:
            _revisable(await self._own(session, caller, number), caller)
        token, held = await self._lease(number)
        shown: Shown | None = None
        try:
            _revisable(held, caller)
            # Under the lease nothing else writes a version; a decision may still land, and `land` sees it.
            version = held.current_version + 1
            now = self.clock.now()

            async def store_it(session: Session) -> tuple[Project, int]:
                points = await store.feedback_points(session=session, project_id=number)
                pending = [p.id or 0 for p in points if p.consumed_by is None]
                if pending:
                    await store.consume_feedback(
                        session=session, project_id=number, upto_id=max(pending), version=version
                    )
                await transitions.take_up(session, number, updated_at=now)  # in review: the revision begins
                await _store_version(session, number, version, draft, caller.agent, now, upto=max(pending, default=0))
                if notes:
                    await store.add_feedback(
                        session=session,
                        project_id=number,
                        author_id=caller.agent,
                        author_name=caller.agent,
                        text=notes,
                        on_version=version,
                        is_aside=True,
                        created_at=now,
                    )
                landed = await transitions.land(
                    session, number, number=version, model=caller.agent, lease=token, now=now
                )
                if landed is None:
                    raise InvalidTransition(f"#{number} was decided while v{version} was sent; nothing was stored.")
                return landed, len(pending)

            project, answered = await self.db.run(store_it)
            try:
                reply = Reply(
                    outside.sends_text(caller.agent, project.current_version, answered, notes), header=header(project)
                )
                async with self.drafting.holding(number, token):
                    await self.platforms.named(project.platform).post(thread_of(project), reply)
                    shown = await self.publisher.publish(project, draft, None)
            except Exception as exc:  # noqa: BLE001 - stored: shown again once the lease is back
                _log.warning("v%d of project %s is stored but not shown (%s)", project.current_version, number, exc)
        finally:
            await self._release(number, token, shown)
        self.waiters.touch(number)
        return Revised(project, answered, shown is not None)

    async def _lease(self, number: int) -> tuple[str, Project]:
        """Take the project's lease, waiting while another cycle or revision holds it; the project as
        the lease found it."""
        token = self.drafting.new_token()
        lease = self.settings.file.workflow.lease_seconds
        deadline = time.monotonic() + lease
        pause = 0.01
        while True:
            now = self.clock.now()
            async with self.db.session() as session:
                held = await locks.claim(
                    session=session, project_id=number, owner=token, now=now, until=now + timedelta(seconds=lease)
                )
            if held is not None:
                return token, held
            if time.monotonic() > deadline:
                raise InvalidRequest(f"#{number} is busy: another version is being stored. Send yours again shortly.")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.2)

    async def _release(self, number: int, token: str, shown: Shown | None, first: Write | None = None) -> None:
        """Hand the lease back, recording where the version was shown (and `first`'s writes), in one transaction."""

        async def release(session: Session) -> None:
            if first is not None:
                await first(session)
            if shown is not None:
                await store.link_message(
                    session=session,
                    platform=shown.platform,
                    channel=shown.channel,
                    message_id=shown.message_id,
                    project_id=number,
                    kind="draft",
                    version=shown.version,
                )
            await locks.release(session=session, project_id=number, owner=token, shown=shown.version if shown else None)

        await asyncio.shield(self.db.run(release))

    # -- list_projects -------------------------------------------------------------------------

    async def projects(self, caller: Caller, *, state: str | None = None, mine: bool = True) -> list[dict[str, Any]]:
        """The caller's projects (every outside caller's with `mine=False`): open ones unless `state`
        names one, or `all`."""
        wanted = (state or "open").strip().lower().replace(" ", "_")
        states: frozenset[str] | None
        if wanted == "open":
            states = frozenset(s.value for s in State if s not in FINAL)
        elif wanted == "all":
            states = None
        elif wanted in {s.value for s in State}:
            states = frozenset({wanted})
        else:
            known = ", ".join(["open", "all", *(s.value for s in State)])
            raise InvalidRequest(f"There is no state {state!r}; use one of {known}.")
        async with self.db.session() as session:
            found = await callers.caller_projects(
                session=session, caller=caller.agent if mine else None, states=states, limit=LIST_LIMIT
            )
        return [summary(p) for p in found]

    # -- the transcript (draftloop://projects/N) -----------------------------------------------

    async def transcript(self, caller: Caller, number: int) -> str:
        """The project as Markdown: brief, every version, the replies on each, the decision."""
        async with self.db.session() as session:
            project = await self._own(session, caller, number)
            versions = await callers.versions_of(session=session, project_id=number)
            remarks = await callers.remarks_of(session=session, project_id=number)
            decision = await callers.decision_of(session=session, project_id=number)
        lines = [
            f"# Project #{number} · {project.category} · {project.state.replace('_', ' ')}",
            "",
            f"Requested by {project.requester_name or project.requester_id} · agent {project.agent}",
            "",
            "## Brief",
            "",
            project.brief,
        ]
        for v in versions:
            lines += ["", f"## v{v.number} · {v.agent} · {outside.at(v.created_at)}", "", v.text]
            for r in (r for r in remarks if r.on_version == v.number):
                kind = "aside" if r.is_aside else ("expert" if r.is_expert else "feedback")
                minutes = f", {r.stated_minutes} min" if r.stated_minutes else ""
                lines.append(f"- {r.author_name or r.author_id} ({kind}{minutes}): {r.text}")
        if decision is not None:
            by = decision.actor_name or decision.actor_id
            lines += ["", "## Decision", "", f"{decision.outcome} at v{decision.version} by {by}"]
        return "\n".join(lines) + "\n"

    # -- the drafting's hook: feedback on an outside agent's project --------------------------

    async def feedback_waits(self, project: Project) -> None:
        """Feedback came for an outside agent's project: say in the thread that it waits for the agent,
        and wake the agent's waiting get_review in this process."""
        self.waiters.touch(number_of(project))
        try:
            await self.platforms.named(project.platform).post(
                thread_of(project), Reply(outside.waits_text(project), header=header(project))
            )
        except Exception as exc:  # noqa: BLE001 - the feedback is stored; the notice is a courtesy
            _log.warning("could not say in #%s that its feedback waits for %s (%s)", project.id, project.agent, exc)

    # -- tasks ---------------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _check_draft(draft: str) -> None:
    if not draft.strip():
        raise InvalidRequest("The draft is empty; send the text to review, or leave the draft out to have one written.")
    if len(draft) > MAX_DRAFT_CHARS:
        raise InvalidRequest(outside.too_long("draft", len(draft), MAX_DRAFT_CHARS))


def _revisable(project: Project, caller: Caller) -> None:
    number = number_of(project)
    if project.agent != caller.agent:
        raise InvalidRequest(
            f"#{number} is drafted by draftloop's agent {project.agent}, so only it writes new versions; "
            "open a project with your own draft to revise it yourself."
        )
    state = State(project.state)
    if state in FINAL:
        raise InvalidTransition(
            f"#{number} is already {state.value}; nothing more can be sent. Start a new request.",
            current=state.value,
            target=State.REVISING.value,
        )
    if state not in (State.IN_REVIEW, State.REVISING):
        raise InvalidRequest(f"#{number} is {state.value.replace('_', ' ')}; it takes no new version now.")


async def _store_version(
    session: Session, project_id: int, number: int, text: str, agent: str, now: datetime, *, upto: int = 0
) -> None:
    await store.add_version(
        session=session,
        project_id=project_id,
        number=number,
        text=text,
        agent=agent,
        model=agent,
        finish_reason="external",
        feedback_upto=upto,
        created_at=now,
    )


def _title(brief: str) -> str:
    return (brief.strip().splitlines() or ["request"])[0][:80]


async def _no_workflow(event: RequestPosted) -> None:
    raise RuntimeError("External.handle is the Workflow's: the Workflow sets it")
