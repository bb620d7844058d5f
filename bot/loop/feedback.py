"""Feedback: a reply in a project's thread, and what the core makes of it.

A reply that is a decision word ("accept", "✅": bot/vocabulary.py) is a decision (bot/loop/decisions.py), and
so is a pick between two compared drafts ("pick B": bot/orchestrator/compare.py); a command word ("retry",
"status", "review") a command (bot/loop/commands.py). Anything else is stored with the
event's key in one transaction: as feedback that starts a revision, or as an aside (kept, no
revision) when it starts with the aside marker, the project is closed, or the author's replies
count as comments for this category. Every platform hands asides here; none drops them itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot import texts
from bot.errors import InvalidRequest, UnknownProject
from bot.events import CommandInvoked, DecisionSignal, Locator, ThreadReply
from bot.loop import transitions
from bot.loop.commands import Commands
from bot.loop.decisions import Decisions
from bot.loop.drafting import Drafting
from bot.loop.memory import People
from bot.loop.receipts import Receipt
from bot.loop.registry import Platforms
from bot.loop.threads import Threads, header, number_of, thread_of
from bot.orchestrator.compare import pick_label
from bot.permissions import is_expert, may_give_feedback
from bot.ports import Clock
from bot.replies import Reply, ReplyKind
from bot.settings import Settings
from bot.states import FINAL, State
from bot.stats import estimate_minutes, parse_minutes
from bot.vocabulary import word_outcome
from storage import projects as store
from storage.models import Project

THREAD_COMMANDS = ("retry", "status", "cancel", "help", "review")


@dataclass(frozen=True)
class _Kept:
    """A reply as stored: the project it went to, the state that left it in, and how it counts."""

    project: Project
    state: State
    typed_aside: bool  # marked as an aside by its author: nothing to say about it
    allowed: bool  # counts as feedback (not a comment) from this author


class Feedback:
    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        platforms: Platforms,
        threads: Threads,
        people: People,
        drafting: Drafting,
        decisions: Decisions,
        commands: Commands,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.platforms = platforms
        self.threads = threads
        self.people = people
        self.drafting = drafting
        self.decisions = decisions
        self.commands = commands

    async def on_reply(self, event: ThreadReply, receipt: Receipt) -> None:
        text = event.text.strip()
        outcome = word_outcome(text)
        if outcome is not None:
            await self.decisions.on_decision(DecisionSignal(event.locator, event.actor, outcome, via="text"), receipt)
            return
        label = pick_label(text)
        if label is not None:
            await self.decisions.on_pick(event, label, receipt)
            return
        word = text.lower().rstrip(".! ")
        if word in THREAD_COMMANDS:
            project = await self.threads.require(event.locator)
            if project is not None:
                where = Locator(number=number_of(project))
                await self.commands.run(CommandInvoked(word, event.actor, thread_of(project), locator=where), receipt)
            return
        limit = self.settings.file.workflow.max_reply_chars
        if len(text) > limit:
            raise InvalidRequest(texts.too_long("reply", len(text), limit))
        kept = await self._keep(event, text, receipt)
        if kept is not None:
            await self._follow_up(event, kept)

    async def _keep(self, event: ThreadReply, text: str, receipt: Receipt) -> _Kept | None:
        """Store the reply (feedback or aside) with the event's key; None when there is nothing to
        store (a thread that is not ours, an empty reply)."""
        cfg = self.settings.file.workflow
        typed_aside = text.startswith(cfg.aside_marker)
        now = self.clock.now()
        stated = event.stated_minutes if event.stated_minutes is not None else parse_minutes(text)
        async with receipt.transaction() as session:
            project = await self.threads.find_in(session, event.locator, for_update=True)
            if project is None:
                if event.locator.number is not None:
                    raise UnknownProject(texts.unknown_project(event.locator.number))
                return None  # a thread that is not ours
            if not text:
                return None
            allowed = may_give_feedback(
                event.actor, requester_id=project.requester_id, category=project.category, settings=self.settings
            )
            state = State(project.state)
            # Kept as an aside (stored, no revision): asides, replies to closed projects, and people
            # whose replies are comments rather than feedback when the category has experts.
            as_aside = typed_aside or state in FINAL or not allowed
            await store.add_feedback(
                session=session,
                project_id=number_of(project),
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
            await self.people.touch(session, event.actor, project.category)
            if not as_aside:
                count = project.feedback_count + 1
                if state == State.IN_REVIEW and await transitions.take_up(
                    session, number_of(project), feedback_count=count, updated_at=now
                ):
                    state = State.REVISING
                else:
                    await store.update_project(
                        session=session, project_id=number_of(project), feedback_count=count, updated_at=now
                    )
        return _Kept(project, state, typed_aside, allowed)

    async def _follow_up(self, event: ThreadReply, kept: _Kept) -> None:
        """Say what became of the reply, or start the revision it asks for."""
        project, state = kept.project, kept.state
        if kept.typed_aside:
            return
        if state in FINAL:
            await self.threads.post(
                project, Reply(texts.closed(project), kind=ReplyKind.NOTICE, header=header(project))
            )
            return
        if not kept.allowed:
            platform = self.platforms.named(project.platform)
            await platform.notify_private(thread_of(project), event.actor, texts.comment_only(project))
            return
        if state == State.FAILED:
            await self.threads.post(project, Reply(texts.noted_failed(project), header=header(project)))
            return
        if not await self.drafting.run(number_of(project)):
            await self.threads.post(project, Reply(texts.noted_busy(project), header=header(project, state.value)))
