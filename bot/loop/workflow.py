"""The loop: request → draft → feedback cycles → decision. `Workflow` builds the stages and hands
each inbound event to its stage.

Reading order, following one mention to its posted draft: intake.py (the request becomes a project
and a thread), first_draft.py (the model asked on arrival), drafting.py (leases and cycles),
writing.py (one version), publishing.py (showing it). Then feedback.py (replies), decisions.py
(accept, reject) and commands.py. Beside them: threads.py (projects ↔ chat threads), registry.py,
transitions.py (every state change, through the state table), receipts.py (event keys), memory.py,
turns.py, streaming.py.

`Workflow.handle(event, delivery)` runs an event to completion (the agent call included) and never
raises for a user's mistake: a UserFacingError becomes a reply. Anything else is logged and
answered with what is true: a delivery stored before it was acknowledged (inbox.py) is retried by
the sweeper (sweeper.py); an event whose effect was stored is picked up again; any other was not
saved, and the person is asked to send it again. Every step ends in a state the store can resume from.
"""

from __future__ import annotations

import logging
import uuid

from bot import texts
from bot.agents import AgentPool
from bot.errors import NotAllowed, UserFacingError
from bot.events import (
    CommandInvoked,
    DecisionSignal,
    Event,
    Locator,
    RequestPosted,
    SignalGiven,
    ThreadRef,
    ThreadReply,
)
from bot.loop import threads
from bot.loop.acks import Acknowledger
from bot.loop.commands import Commands
from bot.loop.decisions import Decisions
from bot.loop.drafting import Drafting
from bot.loop.external import External
from bot.loop.feedback import Feedback
from bot.loop.inbox import Delivery, Inbox
from bot.loop.intake import Intake
from bot.loop.memory import People
from bot.loop.publishing import Publisher
from bot.loop.receipts import Receipt, Redelivered
from bot.loop.registry import Platforms
from bot.loop.sweeper import Sweeper
from bot.loop.threads import Threads
from bot.loop.turns import Turns
from bot.loop.writing import Writer
from bot.ports import ChatPlatform, Clock, SystemClock
from bot.redact import Redactor
from bot.replies import DraftHeader, Reply, ReplyKind
from bot.settings import Settings
from bot.text_hygiene import clean_event
from storage.engine import Database, is_transient
from storage.models import Project

_log = logging.getLogger(__name__)

# Projects whose bookkeeping may run at once: enough to keep the CPU busy while some wait on the
# database or the chat API, few enough that the earliest arrivals finish first under a burst.
TURNS = 4


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
        self.agents = agents
        self.clock: Clock = clock or SystemClock()
        # Masks every configured secret in what leaves for a chat and in stored errors.
        self.redactor = redactor or Redactor.from_settings(settings)
        self.platforms = Platforms(self.redactor)
        self.threads = Threads(db=db, platforms=self.platforms)
        # Identifies this process in revision leases.
        self.owner = owner or uuid.uuid4().hex[:16]
        turns = Turns(TURNS)
        self.people = people = People(settings=settings, clock=self.clock)
        settings, clock, platforms = self.settings, self.clock, self.platforms
        publisher = Publisher(
            db=db, settings=settings, clock=clock, platforms=platforms, threads=self.threads, redactor=self.redactor
        )
        writer = Writer(
            db=db,
            settings=settings,
            agents=agents,
            clock=clock,
            platforms=platforms,
            turns=turns,
            publisher=publisher,
        )
        acks = Acknowledger(db=db, settings=settings, agents=agents, clock=clock, platforms=platforms)
        self.drafting = Drafting(
            db=db,
            settings=settings,
            agents=agents,
            clock=clock,
            turns=turns,
            writer=writer,
            acks=acks,
            owner=self.owner,
        )
        self.inbox = Inbox(db=db, settings=settings, clock=clock)
        self.sweeper = Sweeper(db=db, settings=settings, clock=clock, drafting=self.drafting, inbox=self.inbox)
        self.intake = Intake(
            settings=settings,
            agents=agents,
            clock=clock,
            platforms=platforms,
            turns=turns,
            people=people,
            drafting=self.drafting,
            acks=acks,
        )
        self.commands = Commands(
            db=db, settings=settings, clock=clock, platforms=platforms, threads=self.threads, drafting=self.drafting
        )
        self.decisions = Decisions(
            settings=settings, clock=clock, platforms=platforms, threads=self.threads, people=people
        )
        self.feedback = Feedback(
            settings=settings,
            clock=clock,
            platforms=platforms,
            threads=self.threads,
            people=people,
            drafting=self.drafting,
            decisions=self.decisions,
            commands=self.commands,
        )
        # The outside front doors' operations (adapters/mcp): projects whose versions an outside agent sends.
        self.external = External(
            db=db,
            settings=settings,
            clock=clock,
            platforms=platforms,
            drafting=self.drafting,
            publisher=publisher,
            acks=acks,
        )
        self.drafting.outside_waits = self.external.feedback_waits
        self.external.handle = self.handle
        self.intake.stored = self.external.request_stored

    def register_platform(self, platform: ChatPlatform) -> None:
        # The one boundary of chat output: everything the core posts, edits or uploads, on every
        # path (streaming edits, commands, jobs), goes through `platform(name)`, hence the wrapper.
        self.platforms.register(platform)

    def platform(self, name: str) -> ChatPlatform:
        return self.platforms.named(name)

    # -- the single entry point --------------------------------------------------------------

    async def handle(self, event: Event, delivery: Delivery = Delivery.DIRECT) -> None:
        # NUL bytes and undecodable text are cleaned here, once for every platform, so they are
        # stored like any other text instead of failing a statement.
        event = clean_event(event)
        stored = delivery is not Delivery.DIRECT and event.event_key is not None
        platform, key = event.actor.platform, event.event_key
        receipt = Receipt(
            db=self.db,
            clock=self.clock,
            platform=platform,
            key=key,
            stored=stored,
            replayed=delivery is Delivery.REPLAYED,
        )
        try:
            match event:
                case RequestPosted():
                    await self.intake.on_request(event, receipt)
                case ThreadReply():
                    await self.feedback.on_reply(event, receipt)
                case DecisionSignal():
                    await self.decisions.on_decision(event, receipt)
                case CommandInvoked():
                    await self.commands.run(event, receipt)
                case SignalGiven():
                    await self.decisions.on_signal(event, receipt)
            await receipt.settle()  # handling that stored nothing: the key on its own
        except Redelivered:
            _log.info("dropping redelivered event %s", event.event_key)
            if stored and key is not None:
                await self.inbox.finish(platform, key)
        except UserFacingError as exc:
            await self._refuse(event, receipt, exc)
        except Exception as exc:
            # The key is left unrecorded unless the effect was stored: the platform's retry is
            # handled, and records its author again (the failed transaction took the record along).
            self.people.forget(event.actor)
            transient = is_transient(exc)
            if transient:
                _log.warning("database fault while handling %s: %s", type(event).__name__, type(exc).__name__)
            else:
                _log.exception("unhandled error while handling %s", type(event).__name__)
            if receipt.recorded and receipt.key is not None:
                # The effect is stored (a project, feedback): the sweeper finishes what is owed.
                await self._answer(event, Reply(texts.SAVED_THEN_FAILED, kind=ReplyKind.ERROR))
            elif stored and key is not None:
                await self.inbox.retry_soon(platform, key)
                if delivery is Delivery.STORED and not transient:
                    await self._answer(event, Reply(texts.KEPT_FOR_RETRY, kind=ReplyKind.ERROR))
            else:
                await self._answer(event, Reply(texts.INTERNAL_ERROR, kind=ReplyKind.ERROR))

    async def resume_pending(self) -> int:
        """Finish what stopped processes left behind, once (the sweeper does it every few seconds
        in serve and worker); returns how many projects were picked up."""
        return (await self.sweeper.sweep()).resumed

    # -- the project gateway, for callers outside the loop (bot/loop/threads.py) ----------------

    async def find(self, locator: Locator) -> Project | None:
        return await self.threads.find(locator)

    def header(self, project: Project) -> DraftHeader:
        return threads.header(project)

    def thread_of(self, project: Project) -> ThreadRef:
        return threads.thread_of(project)

    async def post(
        self, project: Project, reply: Reply, *, kind: str = "notice", version: int = 0, link: bool = False
    ) -> str:
        return await self.threads.post(project, reply, kind=kind, version=version, link=link)

    # -- answers when an event cannot be handled -------------------------------------------------

    async def _refuse(self, event: Event, receipt: Receipt, exc: UserFacingError) -> None:
        """A refusal is the event's whole effect: its key is recorded, so a redelivery is not
        refused twice."""
        try:
            await receipt.settle()
        except Redelivered:
            _log.info("dropping redelivered event %s", event.event_key)
            return
        except Exception:
            _log.exception("could not record the key of a refused event")
        if isinstance(exc, NotAllowed):
            await self._private(event, exc.user_message)
        else:
            await self._answer(event, Reply(exc.user_message, kind=ReplyKind.ERROR))

    async def _answer(self, event: Event, reply: Reply) -> None:
        """Post an error where the event came from; a failure to post is logged, not raised."""
        try:
            thread = await self.threads.where(event)
            if thread is not None:
                await self.platform(thread.platform).post(thread, reply)
        except Exception:
            _log.exception("could not post an error reply")

    async def _private(self, event: Event, text: str) -> None:
        try:
            thread = await self.threads.where(event)
            if thread is not None:
                await self.platform(thread.platform).notify_private(thread, event.actor, text)
        except Exception:
            _log.exception("could not send a private notice")
