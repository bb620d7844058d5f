"""Intake: a request becomes a project, a thread and an acknowledgement, and its first draft begins.

In order: the brief is read (text and attached files) and routed by keyword or the category it
names; the model is asked at once (bot/loop/first_draft.py), unless a triage model is to choose
the agent first; the project is stored holding its lease, with the event's key in the same
transaction; the thread is opened and acknowledged; a triage model, if any, re-routes it; then the
drafting runs its first cycle (bot/loop/drafting.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from bot import texts
from bot.agents import AgentPool
from bot.errors import AgentError, InvalidRequest
from bot.events import MessageRef, RequestPosted, ThreadRef
from bot.loop.acks import Acknowledger, ack_reply
from bot.loop.drafting import Drafting
from bot.loop.first_draft import FirstDraft
from bot.loop.memory import People, RecentEvents
from bot.loop.receipts import Receipt
from bot.loop.registry import Platforms
from bot.loop.threads import number_of
from bot.loop.turns import Turns
from bot.orchestrator.compare import Rival, by_default, split_flag
from bot.orchestrator.routing import Plan, Router
from bot.ports import ChatPlatform, Clock
from bot.replies import Reply, ReplyKind
from bot.settings import Settings
from bot.states import State
from bot.triage import Triage, normalise_category, split_explicit, triage, triage_request
from storage import Session, projects as store, routing as routes
from storage.models import Project

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Routed:
    """A readable request and where it goes: by keyword or the category it names, until a triage
    model (`asking`) answers."""

    brief: str
    found: Triage
    asking: str | None
    plan: Plan | None = None  # the orchestrator's route and review mark (bot/orchestrator/routing.py)
    rival: Rival | None = None  # draft B of a compared request (bot/orchestrator/compare.py)
    note: str = ""  # said in the acknowledgement (a compare that cannot be made)


class Intake:
    def __init__(
        self,
        *,
        settings: Settings,
        agents: AgentPool,
        clock: Clock,
        platforms: Platforms,
        turns: Turns,
        people: People,
        drafting: Drafting,
        acks: Acknowledger,
    ) -> None:
        self.settings = settings
        self.agents = agents
        self.clock = clock
        self.platforms = platforms
        self.turns = turns
        self.people = people
        self.drafting = drafting
        self.acks = acks
        self.router = Router(settings=settings, db=acks.db)
        # Hook: told of each project once stored and acknowledged, before its first draft (bot/loop/external.py
        # learns the number of a project an outside agent asked for).
        self.stored: Callable[[RequestPosted, Project], Awaitable[None]] | None = None
        # Keys this process saw: a redelivery starts no model call (the database has the final word).
        self.recent = RecentEvents()

    async def on_request(self, event: RequestPosted, receipt: Receipt) -> None:
        platform = self.platforms.named(event.actor.platform)
        names = self.settings.file.category_names
        compare, raw = split_flag(event.text.strip())
        explicit, text = split_explicit(raw.strip(), names)
        again, text = split_flag(text)
        compare = compare or again or event.compare
        brief = _brief(text.strip(), event)
        limit = self.settings.file.workflow.max_request_chars
        if not brief or len(brief) > limit:
            await receipt.settle()
            if not brief:
                await platform.post(
                    event.thread or event.origin.thread(), Reply(texts.help_text(platform.name), kind=ReplyKind.HELP)
                )
                return
            raise InvalidRequest(texts.too_long("request", len(brief), limit))
        routed = self._route(brief, explicit or (event.category and normalise_category(event.category, names)))
        # the draw's seed: a redelivery of the request is routed the same way
        seed = f"{platform.name}:{event.event_key or event.origin.channel + ':' + event.origin.message_id}"
        if not routed.asking and self.router.active(routed.found.category):
            routed = await self._orchestrate(routed, seed)
        if not routed.asking:
            routed = await self._compare(routed, compare)
        agent, category = routed.found.agent.name, routed.found.category
        # The model is asked before anything is stored: its latency then overlaps the bookkeeping
        # below. A redelivery or a failure before the project exists cancels it.
        early = not routed.asking and not receipt.replayed and not self.recent.saw(platform.name, event.event_key)
        first = self.drafting.first_draft(agent=agent, category=category, brief=brief, early=early)
        if routed.rival is not None and early:
            routed.rival.begin(self.agents, category=category, brief=brief)  # B's call overlaps A's
        try:
            async with self.turns.turn(first.ticket):
                project = await self._store(event, routed, first, receipt)
                async with self.drafting.holding(first.number, first.lease):
                    opened = await self._acknowledge(platform, event, project, routed)
                    if opened is not None:
                        await self._remember(first, project, *opened)
                if self.stored is not None:
                    await self.stored(event, project)
            if opened is None:
                return  # stored, owing its acknowledgement: the sweeper resumes it when its lease runs out
            thread, ack = opened
            if routed.asking:
                route, plan = await self._reroute(platform, project, routed, ack, seed)
                first.writes.add(lambda session: self.acks.remember(session, project, thread, ack, **route))
                if plan is not None:
                    first.writes.add(
                        lambda session: plan.record(session, number_of(project), route["agent"], self.clock.now())
                    )
                rival, _ = await self._rival(route["category"], route["agent"], compare)
                routed = replace(routed, rival=rival)
                if rival is not None:
                    first.writes.add(lambda session: self._start_comparison(session, project, rival))
            if routed.rival is not None and routed.rival.task is None:
                routed.rival.begin(self.agents, category=project.category, brief=brief)
            await self.drafting.run_first(first)
            if routed.rival is not None:
                await self._show_rival(project, routed.rival)
        finally:
            first.cancel()
            if routed.rival is not None:
                routed.rival.cancel()

    def _route(self, brief: str, explicit: str | None) -> _Routed:
        # The acknowledgement goes out at once: with a triage model to ask, the keyword answer
        # stands in until the model's arrives, and the project (not yet drafting) is re-routed then.
        asking = None if explicit else self.settings.file.triage_agent
        found = triage(brief, explicit=explicit or None, settings=self.settings, specs=self.settings.file.agents)
        return _Routed(brief, found, asking)

    async def _orchestrate(self, routed: _Routed, seed: str) -> _Routed:
        """The learned route (a candidate agent) and the review mark, from the category's history."""
        plan = await self.router.plan(routed.found.category, seed=seed)
        if plan is None:
            return routed
        found = routed.found if plan.agent is None else replace(routed.found, agent=self.router.spec(plan.agent))
        return replace(routed, found=found, plan=plan)

    async def _compare(self, routed: _Routed, asked: bool) -> _Routed:
        rival, note = await self._rival(routed.found.category, routed.found.agent.name, asked)
        return replace(routed, rival=rival, note=note)

    async def _rival(self, category: str, agent: str, asked: bool) -> tuple[Rival | None, str]:
        """Draft B's agent when the request or its category asks for a comparison, or why there is none."""
        if not (asked or by_default(self.settings.category(category))):
            return None, ""
        rival = await self.router.runner_up(category, agent)
        if rival is None:
            return None, texts.compare_unavailable(category)
        return Rival(rival), texts.compare_ack(agent, rival)

    async def _start_comparison(self, session: Session, project: Project, rival: Rival) -> None:
        await routes.start_comparison(
            session=session,
            project_id=number_of(project),
            agent_a=project.agent,
            agent_b=rival.agent,
            now=self.clock.now(),
        )

    async def _show_rival(self, project: Project, rival: Rival) -> None:
        """Store draft B beside A once A is shown, and show it; say so when B's agent failed."""
        publisher = self.drafting.writer.publisher
        try:
            kept = await rival.keep(self.acks.db, number_of(project))
        except AgentError as exc:
            await publisher.rival_failed(project, rival.agent, exc)
            return
        if kept is not None:
            await publisher.show_rival(number_of(project), kept)

    async def _store(self, event: RequestPosted, routed: _Routed, first: FirstDraft, receipt: Receipt) -> Project:
        """The project, stored with its request's key and born holding the first draft's lease: until
        its first cycle runs, no other process resuming pending work may draft it."""
        now = self.clock.now()
        origin, platform = event.origin, event.actor.platform
        async with receipt.transaction() as session:
            found = routed.found
            project = await store.create_project(
                session=session,
                platform=platform,
                channel=origin.channel,
                thread_id=event.thread.thread_id if event.thread else None,
                request_message_id=origin.message_id,
                requester_id=event.actor.user_id,
                requester_name=event.actor.name,
                brief=routed.brief,
                category=found.category,
                category_reason=found.reason,
                agent=found.agent.name,
                model=found.agent.model,
                state=State.DRAFTING.value,
                deadline=event.deadline,
                created_at=now,
                updated_at=now,
                lease_owner=first.lease,
                lease_until=now + timedelta(seconds=self.settings.file.workflow.lease_seconds),
            )
            # One message is one project: a mention and then the shortcut on it would otherwise
            # make a second project that the message's thread cannot hold. The link's unique key
            # decides, also between two deliveries at once; the loser rolls its project back.
            linked = await store.link_message(
                session=session,
                platform=platform,
                channel=origin.channel,
                message_id=origin.message_id,
                project_id=number_of(project),
                kind="request",
            )
            if not linked:
                taken = await store.project_of_message(
                    session=session, platform=platform, channel=origin.channel, message_id=origin.message_id
                )
                raise InvalidRequest(texts.already_a_project(taken))
            if routed.plan is not None:
                await routed.plan.record(session, number_of(project), found.agent.name, now)
            if routed.rival is not None:
                await self._start_comparison(session, project, routed.rival)
            await self.people.touch(session, event.actor, found.category)
        first.project = project
        return project

    async def _acknowledge(
        self, platform: ChatPlatform, event: RequestPosted, project: Project, routed: _Routed
    ) -> tuple[ThreadRef, MessageRef] | None:
        """Open the project's thread (unless the platform gave one) and say the project exists.

        None when the chat API failed: the project is stored and holds its lease, so when the lease
        runs out the sweeper acknowledges it (in the thread opened here, if one was) and drafts it.
        Nobody is told meanwhile: the chat that failed is where they would be told."""
        number = number_of(project)
        thread = event.thread
        try:
            if thread is None:
                thread = await platform.open_thread(event.origin, number=number, title=_title(routed.brief))
            project.thread_id = thread.thread_id  # this copy, for the first cycle; the row learns it with it
            reply = _planned(project, routed.found, routed.plan, asking=routed.asking, note=routed.note)
            return thread, await platform.post(thread, reply)
        except Exception as exc:  # noqa: BLE001 - any failure of the chat leaves the same resumable state
            _log.warning("could not acknowledge project %s (%s); it is resumed later", number, type(exc).__name__)
            if thread is not None and event.thread is None:
                opened = thread
                try:
                    await self.acks.db.run(lambda session: self.acks.remember(session, project, opened, None))
                except Exception:  # noqa: BLE001 - unrecorded, the resume opens the thread again
                    _log.warning("could not record the thread of project %s", number)
            return None

    async def _remember(self, first: FirstDraft, project: Project, thread: ThreadRef, ack: MessageRef) -> None:
        """Record the thread and the acknowledgement at once: a process that dies during the model
        call must leave a project that is not acknowledged twice. Unrecorded (the database blinked
        through its retries), the record rides with the first cycle's next transaction."""

        async def remember(session: Session) -> None:
            await self.acks.remember(session, project, thread, ack)

        try:
            await self.acks.db.run(remember)
        except Exception as exc:  # noqa: BLE001
            _log.warning("could not record the acknowledgement of project %s now: %s", project.id, type(exc).__name__)
            first.writes.add(remember)

    async def _reroute(
        self, platform: ChatPlatform, project: Project, routed: _Routed, ack: MessageRef, seed: str
    ) -> tuple[dict[str, str], Plan | None]:
        """Ask the triage model, route the project (not drafting yet) its way and say so."""
        better = await triage_request(routed.brief, explicit=None, settings=self.settings, pool=self.agents)
        if self.router.active(better.category):
            planned = await self._orchestrate(_Routed(routed.brief, better, None), seed)
            better, plan = planned.found, planned.plan
        else:
            plan = None
        route = {"category": better.category, "category_reason": better.reason}
        route |= {"agent": better.agent.name, "model": better.agent.model}
        for key, value in route.items():
            setattr(project, key, value)  # this copy, for the first cycle; the row learns it with it
        await platform.edit(ack, _planned(project, better, plan))
        return route, plan


def _planned(project: Project, found: Triage, plan: Plan | None, *, asking: str | None = None, note: str = "") -> Reply:
    """The acknowledgement with the orchestrator's line; no expert named or pinged when it trusts the agent."""
    reply = ack_reply(project, found, asking=asking)
    if note:
        reply = replace(reply, text=f"{reply.text}\n{note}")
    if plan is None or not plan.line:
        return reply
    if plan.quiet:
        reply = replace(reply, text=texts.ack(number_of(project), found, asking=asking, quiet=True), mentions=())
    return replace(reply, text=f"{reply.text}\n{plan.line}")


def _brief(text: str, event: RequestPosted) -> str:
    parts = [text] if text else []
    for att in event.attachments:
        if att.text:
            parts.append(f"--- attached file: {att.filename} ---\n{att.text.strip()}")
        else:
            parts.append(f"(attached, not readable as text: {att.filename})")
    if not text and not any(a.text for a in event.attachments):
        return ""
    return "\n\n".join(parts).strip()


def _title(brief: str) -> str:
    first = brief.strip().splitlines()[0] if brief.strip() else "request"
    return first[:80]
