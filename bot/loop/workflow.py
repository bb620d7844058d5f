"""The loop: request → draft → feedback cycles → decision, one handler per event type.

`Workflow.handle(event)` runs an event to completion (the agent call included) and never raises
for a user's mistake: a UserFacingError becomes a reply, anything else is logged and answered with
a generic "nothing was lost". Every step ends in a state the store can resume from.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.agents import AgentPool
from bot.errors import DraftloopError, InvalidRequest, NotAllowed, UnknownProject, UserFacingError
from bot.events import (
    Actor,
    CommandInvoked,
    DecisionSignal,
    Event,
    Locator,
    Outcome,
    RequestPosted,
    ThreadRef,
    ThreadReply,
)
from bot.loop.commands import CommandRouter
from bot.loop.cycles import CycleRunner, EarlyDraft
from bot.permissions import is_admin, is_expert, may_decide, may_give_feedback
from bot.ports import ChatPlatform, Clock, SystemClock
from bot.redact import Redactor
from bot.redacting_platform import RedactingPlatform
from bot.replies import DraftHeader, Reply, ReplyKind
from bot.settings import Settings
from bot.states import FINAL, State, check_move
from bot.stats import estimate_minutes, parse_minutes
from bot.text_hygiene import clean_event
from bot.triage import normalise_category, split_explicit, triage, triage_request
from storage import projects as store
from storage.engine import Database
from storage.models import Project

_log = logging.getLogger(__name__)

DECISION_WORDS: dict[str, Outcome] = {
    "accept": Outcome.ACCEPT,
    "accepted": Outcome.ACCEPT,
    "approve": Outcome.ACCEPT,
    "✅": Outcome.ACCEPT,
    "reject": Outcome.REJECT,
    "rejected": Outcome.REJECT,
    "❌": Outcome.REJECT,
}
THREAD_COMMANDS = ("retry", "status", "cancel", "help")
RECENT_KEYS = 10_000  # event keys this process remembers, so a redelivery starts no model call


class Workflow:
    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        agents: AgentPool,
        clock: Clock | None = None,
        owner: str | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        # Masks every configured secret in what leaves for a chat and in stored errors.
        self.redactor = redactor or Redactor.from_settings(settings)
        self.agents = agents
        self.clock: Clock = clock or SystemClock()
        self.platforms: dict[str, ChatPlatform] = {}
        # Identifies this process in revision leases.
        self.owner = owner or uuid.uuid4().hex[:16]
        self.cycles = CycleRunner(self)
        self._people: dict[tuple[str, str], tuple[str, bool]] = {}
        self._recent: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.commands = CommandRouter(self)

    def register_platform(self, platform: ChatPlatform) -> None:
        # The one boundary of chat output: everything the core posts, edits or uploads, on every
        # path (streaming edits, commands, jobs), goes through `platform(name)`, hence the wrapper.
        if not isinstance(platform, RedactingPlatform):
            platform = RedactingPlatform(platform, self.redactor)
        self.platforms[platform.name] = platform

    def platform(self, name: str) -> ChatPlatform:
        try:
            return self.platforms[name]
        except KeyError:
            raise DraftloopError(f"no chat platform {name!r} is registered") from None

    # -- the single entry point --------------------------------------------------------------

    async def handle(self, event: Event) -> None:
        # NUL bytes and undecodable text are cleaned here, once for every platform, so they are
        # stored like any other text instead of failing a statement.
        event = clean_event(event)
        actor = event.actor
        try:
            if isinstance(event, RequestPosted):
                await self._on_request(event)  # checks for a redelivery itself, its draft under way
                return
            if event.event_key and await self._seen(actor.platform, event.event_key):
                _log.info("dropping redelivered event %s", event.event_key)
                return
            match event:
                case ThreadReply():
                    await self._on_reply(event)
                case DecisionSignal():
                    await self._on_decision(event)
                case CommandInvoked():
                    await self.commands.run(event)
        except NotAllowed as exc:
            await self._private(event, exc.user_message)
        except UserFacingError as exc:
            await self._answer(event, Reply(exc.user_message, kind=ReplyKind.ERROR))
        except Exception:
            _log.exception("unhandled error while handling %s", type(event).__name__)
            await self._answer(event, Reply(texts.INTERNAL_ERROR, kind=ReplyKind.ERROR))

    async def resume_pending(self) -> int:
        """Finish cycles a stopped process left behind; returns how many projects were picked up."""
        async with self.db.session() as session:
            ids = await store.projects_needing_work(session=session, now=self.clock.now())
        for project_id in ids:
            await self.cycles.run(project_id)
        return len(ids)

    # -- requests ------------------------------------------------------------------------------

    async def _on_request(self, event: RequestPosted) -> None:
        platform = self.platform(event.actor.platform)
        reply_to = event.thread or event.origin.thread()
        ticket = self.cycles.turns.ticket()  # arrival order: the first to come is served first
        explicit, text = split_explicit(event.text.strip())
        explicit = explicit or (event.category and normalise_category(event.category))
        brief = _brief(text.strip(), event)
        limit = self.settings.file.workflow.max_request_chars
        # The acknowledgement goes out at once: with a triage model to ask, the keyword answer
        # stands in until the model's arrives, and the project (not yet drafting) is re-routed then.
        asking = None if explicit else self.settings.file.triage_agent
        found = triage(brief, explicit=explicit or None, settings=self.settings, specs=self.settings.file.agents)
        early: EarlyDraft | None = None
        if brief and len(brief) <= limit and not asking and not self._recently(event):
            # The model is asked before anything is stored: its latency then overlaps the
            # bookkeeping below. A redelivery or a failure before the project exists cancels it.
            early = self.cycles.begin(agent=found.agent.name, category=found.category, brief=brief)
        try:
            if not brief or len(brief) > limit:
                if event.event_key and await self._seen(event.actor.platform, event.event_key):
                    _log.info("dropping redelivered event %s", event.event_key)
                    return
                if not brief:
                    await platform.post(reply_to, Reply(texts.help_text(platform.name), kind=ReplyKind.HELP))
                    return
                raise InvalidRequest(texts.too_long("request", len(brief), limit))
            now = self.clock.now()
            # Born holding a lease: until its first cycle runs (after the thread, the ack and any triage
            # call), no other process resuming pending work may draft it.
            lease = self.cycles.new_token()
            async with self.cycles.turns.turn(ticket):
                async with self.db.session() as session:
                    key = event.event_key
                    if key and await store.seen_event(session=session, platform=platform.name, key=key, now=now):
                        _log.info("dropping redelivered event %s", key)
                        return
                    # One message is one project: a mention and then the shortcut on it would
                    # otherwise make a second project that the message's thread cannot hold.
                    taken = await store.find_by_message(
                        session=session,
                        platform=platform.name,
                        channel=event.origin.channel,
                        message_id=event.origin.message_id,
                    )
                    if taken is not None:
                        raise InvalidRequest(texts.already_a_project(_id(taken)))
                    project = await store.create_project(
                        session=session,
                        platform=platform.name,
                        channel=event.origin.channel,
                        thread_id=event.thread.thread_id if event.thread else None,
                        request_message_id=event.origin.message_id,
                        requester_id=event.actor.user_id,
                        requester_name=event.actor.display,
                        brief=brief,
                        category=found.category,
                        category_reason=found.reason,
                        agent=found.agent.name,
                        model=found.agent.model,
                        state=State.DRAFTING.value,
                        deadline=event.deadline,
                        created_at=now,
                        updated_at=now,
                        lease_owner=lease,
                        lease_until=now + timedelta(seconds=self.settings.file.workflow.lease_seconds),
                    )
                    await self._touch(session, event.actor, found.category)
                    await store.link_message(
                        session=session,
                        platform=platform.name,
                        channel=event.origin.channel,
                        message_id=event.origin.message_id,
                        project_id=_id(project),
                        kind="request",
                    )
                number = _id(project)
                thread = event.thread or await platform.open_thread(event.origin, number=number, title=_title(brief))
                project.thread_id = thread.thread_id
                ack = Reply(
                    texts.ack(number, found, asking=asking),
                    kind=ReplyKind.ACK,
                    header=self.header(project),
                    mentions=found.mentions,
                )
                ack_ref = await platform.post(thread, ack)
            route: dict[str, str] = {}
            if asking:
                better = await triage_request(brief, explicit=None, settings=self.settings, pool=self.agents)
                route = {"category": better.category, "category_reason": better.reason}
                route |= {"agent": better.agent.name, "model": better.agent.model}
                for key, value in route.items():
                    setattr(project, key, value)
                ack = Reply(
                    texts.ack(number, better), kind=ReplyKind.ACK, header=self.header(project), mentions=better.mentions
                )
                await platform.edit(ack_ref, ack)

            async def remember_thread(session: AsyncSession) -> None:
                await store.update_project(session=session, project_id=number, thread_id=thread.thread_id, **route)
                await store.link_message(
                    session=session,
                    platform=platform.name,
                    channel=project.channel,
                    message_id=ack_ref.message_id,
                    project_id=number,
                    kind="ack",
                )

            handed, early = early, None
            await self.cycles.run(
                number, prelude=remember_thread, token=lease, early=handed, ticket=ticket, fresh=project
            )
        finally:
            if early is not None:
                early.cancel()

    def _recently(self, event: RequestPosted) -> bool:
        """Whether this process saw the event's key already (the database has the final word)."""
        if not event.event_key:
            return False
        key = (event.actor.platform, event.event_key)
        if key in self._recent:
            return True
        self._recent[key] = None
        if len(self._recent) > RECENT_KEYS:
            self._recent.popitem(last=False)
        return False

    # -- replies in a thread -------------------------------------------------------------------

    async def _on_reply(self, event: ThreadReply) -> None:
        text = event.text.strip()
        word = text.lower().rstrip(".! ")
        if word in DECISION_WORDS:
            await self._on_decision(DecisionSignal(event.locator, event.actor, DECISION_WORDS[word], via="text"))
            return
        if word in THREAD_COMMANDS:
            project = await self._require(event.locator)
            if project is not None:
                command = CommandInvoked(
                    word, event.actor, self.thread_of(project), locator=Locator(number=_id(project))
                )
                await self.commands.run(command)
            return
        limit = self.settings.file.workflow.max_reply_chars
        if len(text) > limit:
            raise InvalidRequest(texts.too_long("reply", len(text), limit))
        await self._store_feedback(event, text)

    async def _require(self, locator: Locator) -> Project | None:
        """The project a locator names; None for a thread that is not ours; an error for a bad number."""
        project = await self.find(locator)
        if project is None and locator.number is not None:
            raise UnknownProject(texts.unknown_project(locator.number))
        return project

    async def _store_feedback(self, event: ThreadReply, text: str) -> None:
        cfg = self.settings.file.workflow
        aside = text.startswith(cfg.aside_marker)
        now = self.clock.now()
        stated = event.stated_minutes if event.stated_minutes is not None else parse_minutes(text)
        async with self.db.session() as session:
            project = await self._find_in(session, event.locator, for_update=True)
            if project is None:
                if event.locator.number is not None:
                    raise UnknownProject(texts.unknown_project(event.locator.number))
                return  # a thread that is not ours
            if not text:
                return
            allowed = may_give_feedback(
                event.actor, requester_id=project.requester_id, category=project.category, settings=self.settings
            )
            # Kept as an aside (stored, no revision): asides, replies to closed projects, and people
            # whose replies are comments rather than feedback when the category has experts.
            as_aside = aside or State(project.state) in FINAL or not allowed
            await store.add_feedback(
                session=session,
                project_id=_id(project),
                author_id=event.actor.user_id,
                author_name=event.actor.display,
                text=text,
                on_version=project.current_version,
                is_aside=as_aside,
                is_expert=is_expert(event.actor, project.category, self.settings),
                stated_minutes=None if as_aside else stated,
                estimated_minutes=None
                if as_aside or stated is not None
                # review_since is when the latest version landed: the gap is the expert's time.
                else estimate_minutes(project.review_since, now, cfg.expert_minutes_cap),
                message_id=event.message_id or None,
                created_at=now,
            )
            await self._touch(session, event.actor, project.category)
            if not as_aside:
                project.feedback_count += 1
                project.updated_at = now
                if project.state == State.IN_REVIEW:
                    project.state = State.REVISING.value
            state = State(project.state)
        if aside:
            return
        if state in FINAL:
            await self.post(project, Reply(texts.closed(project), kind=ReplyKind.NOTICE, header=self.header(project)))
            return
        if not allowed:
            await self.platform(project.platform).notify_private(
                self.thread_of(project), event.actor, texts.comment_only(project)
            )
            return
        if state == State.FAILED:
            await self.post(project, Reply(texts.noted_failed(project), header=self.header(project)))
            return
        if not await self.cycles.run(_id(project)):
            await self.post(project, Reply(texts.noted_busy(project), header=self.header(project)))

    # -- decisions -----------------------------------------------------------------------------

    async def _on_decision(self, event: DecisionSignal) -> None:
        target = State.ACCEPTED if event.outcome == Outcome.ACCEPT else State.REJECTED
        now = self.clock.now()
        async with self.db.session() as session:
            project = await self._find_in(session, event.locator, for_update=True)
            if project is None:
                if event.locator.number is not None:
                    raise UnknownProject(texts.unknown_project(event.locator.number))
                return  # a reaction on a message that is not ours
            allowed = may_decide(
                event.actor, requester_id=project.requester_id, category=project.category, settings=self.settings
            )
            if allowed:
                check_move(State(project.state), target, number=project.id)
                if target == State.ACCEPTED and project.current_version == 0:
                    raise UserFacingError(texts.no_draft_yet(project))
                project.state = target.value
                project.decided_at = now
                project.updated_at = now
                if target == State.ACCEPTED:
                    project.accepted_version = project.current_version
                await store.add_decision(
                    session=session,
                    project_id=_id(project),
                    actor_id=event.actor.user_id,
                    actor_name=event.actor.display,
                    outcome=event.outcome.value,
                    version=project.current_version,
                    via=event.via,
                    created_at=now,
                )
                await self._touch(session, event.actor, project.category)
        if not allowed:
            await self.platform(project.platform).notify_private(
                event.reply_to or self.thread_of(project), event.actor, texts.not_allowed(project)
            )
            return
        text = texts.decided(project, event.actor, event.outcome)
        await self.post(project, Reply(text, kind=ReplyKind.NOTICE, header=self.header(project)), link=False)

    # -- helpers the cycle runner and commands share ---------------------------------------------

    async def find(self, locator: Locator) -> Project | None:
        async with self.db.session() as session:
            return await self._find_in(session, locator)

    @staticmethod
    async def _find_in(session: AsyncSession, locator: Locator, *, for_update: bool = False) -> Project | None:
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
            found = await store.get_project(session=session, project_id=_id(found), for_update=True)
        return found

    def header(self, project: Project) -> DraftHeader:
        return DraftHeader(
            number=_id(project),
            state=project.state,
            version=project.current_version,
            category=project.category,
            model=project.model,
            agent=project.agent,
        )

    def thread_of(self, project: Project) -> ThreadRef:
        return ThreadRef(project.platform, project.channel, project.thread_id or project.request_message_id)

    async def post(
        self, project: Project, reply: Reply, *, kind: str = "notice", version: int = 0, link: bool = False
    ) -> str:
        """Post in the project's thread; `link` records the message so reactions on it find the project."""
        platform = self.platform(project.platform)
        ref = await platform.post(self.thread_of(project), reply)
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
                project_id=_id(project),
                kind=kind,
                version=version,
            )

    def may_administer(self, actor: Actor, project: Project) -> bool:
        return actor.user_id == project.requester_id or is_admin(actor, self.settings)

    async def _touch(self, session: AsyncSession, actor: Actor, category: str) -> None:
        expert = is_expert(actor, category, self.settings)
        key = (actor.platform, actor.user_id)
        # One upsert per person per process is enough to know who took part; last_seen is coarse.
        if self._people.get(key) == (actor.display, expert):
            return
        if len(self._people) > 10_000:
            self._people.clear()
        self._people[key] = (actor.display, expert)
        await store.touch_person(
            session=session,
            platform=actor.platform,
            user_id=actor.user_id,
            name=actor.display,
            is_expert=expert,
            now=self.clock.now(),
        )

    async def _seen(self, platform: str, key: str) -> bool:
        async with self.db.session() as session:
            return await store.seen_event(session=session, platform=platform, key=key, now=self.clock.now())

    async def _answer(self, event: Event, reply: Reply) -> None:
        """Post an error where the event came from; a failure to post is logged, not raised."""
        try:
            thread = await self._thread_for(event)
            if thread is not None:
                await self.platform(thread.platform).post(thread, reply)
        except Exception:
            _log.exception("could not post an error reply")

    async def _private(self, event: Event, text: str) -> None:
        try:
            thread = await self._thread_for(event)
            if thread is not None:
                await self.platform(thread.platform).notify_private(thread, event.actor, text)
        except Exception:
            _log.exception("could not send a private notice")

    async def _thread_for(self, event: Event) -> ThreadRef | None:
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
                        return self.thread_of(project)
                    return ThreadRef(event.actor.platform, "", f"#{loc.number}")
        return None


def _id(project: Project) -> int:
    assert project.id is not None, "project is not flushed yet"
    return project.id


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
