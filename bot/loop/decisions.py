"""Decisions: accept or reject, by button, reaction or typed word; a pick between two compared
drafts (`pick A` / `pick B`); and one-tap feedback (👍 / 👎).

Only the requester, the category's experts and admins decide or pick; anyone else is told privately.
The decision (with a reject's reason and comment, when a form gave them), the state it moves the
project to (through the state table) and the event's key are stored in one transaction; then the
thread is told.

A signal (SignalGiven) is lighter: anyone who is not a bot may tap 👍 / 👎 on a version that exists;
it is stored per version and person (a second tap replaces the first) with the event's key, and
nothing is posted. It is never feedback and never starts a cycle.
"""

from __future__ import annotations

import logging

from bot import texts
from bot.errors import PlatformError, UnknownProject, UserFacingError
from bot.events import REJECT_REASONS, DecisionSignal, MessageRef, Outcome, SignalGiven, ThreadReply
from bot.loop import transitions
from bot.loop.memory import People
from bot.loop.receipts import Receipt
from bot.loop.registry import Platforms
from bot.loop.threads import Threads, header, number_of, thread_of
from bot.orchestrator.compare import unpickable
from bot.permissions import may_decide
from bot.ports import Clock
from bot.replies import Reply, ReplyKind
from bot.settings import Settings
from bot.states import State
from storage import projects as store, routing as routes, signals
from storage.models import Project

_log = logging.getLogger(__name__)

COMMENT_CHARS = 2000


class Decisions:
    def __init__(
        self, *, settings: Settings, clock: Clock, platforms: Platforms, threads: Threads, people: People
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.platforms = platforms
        self.threads = threads
        self.people = people

    async def on_decision(self, event: DecisionSignal, receipt: Receipt) -> None:
        target = State.ACCEPTED if event.outcome == Outcome.ACCEPT else State.REJECTED
        reason, comment = _why(event)
        now = self.clock.now()
        async with receipt.transaction() as session:
            project = await self.threads.find_in(session, event.locator, for_update=True)
            if project is None:
                if event.locator.number is not None:
                    raise UnknownProject(texts.unknown_project(event.locator.number))
                return  # a reaction on a message that is not ours
            allowed = may_decide(
                event.actor, requester_id=project.requester_id, category=project.category, settings=self.settings
            )
            if allowed:
                transitions.check(project, target)
                if target == State.ACCEPTED and project.current_version == 0:
                    raise UserFacingError(texts.no_draft_yet(project))
                accepted = {"accepted_version": project.current_version} if target == State.ACCEPTED else {}
                await transitions.move(session, project, target, decided_at=now, updated_at=now, **accepted)
                decision_id = await store.add_decision(
                    session=session,
                    project_id=number_of(project),
                    actor_id=event.actor.user_id,
                    actor_name=event.actor.display,
                    outcome=event.outcome.value,
                    version=project.current_version,
                    via=event.via,
                    created_at=now,
                )
                if reason or comment:
                    await signals.set_decision_reason(
                        session=session, decision_id=decision_id, reason=reason, comment=comment
                    )
                await self.people.touch(session, event.actor, project.category)
        if not allowed:
            await self.platforms.named(project.platform).notify_private(
                event.reply_to or thread_of(project), event.actor, texts.not_allowed(project)
            )
            return
        text = texts.decided(project, event.actor, event.outcome, reason=reason, comment=comment)
        await self.threads.post(project, Reply(text, kind=ReplyKind.NOTICE, header=header(project, target.value)))

    async def on_pick(self, event: ThreadReply, label: str, receipt: Receipt) -> None:
        """Pick draft A or B of a compared request: the pick, and B's text as the version when B is
        picked, stored with the event's key (storage/routing.py); then the thread is told."""
        now = self.clock.now()
        async with receipt.transaction() as session:
            project = await self.threads.find_in(session, event.locator, for_update=True)
            if project is None:
                if event.locator.number is not None:
                    raise UnknownProject(texts.unknown_project(event.locator.number))
                return  # a thread that is not ours
            number = number_of(project)
            allowed = may_decide(
                event.actor, requester_id=project.requester_id, category=project.category, settings=self.settings
            )
            if allowed:
                pair = await routes.get_comparison(session=session, project_id=number, for_update=True)
                why = unpickable(
                    pair, state=project.state, in_review=State.IN_REVIEW.value, version=project.current_version
                )
                if why is not None or pair is None:
                    raise UserFacingError(texts.pick_refused(project, why or ""))
                await routes.pick(session=session, comparison=pair, label=label, by=event.actor.user_id, now=now)
                await self.people.touch(session, event.actor, project.category)
                agents = {"A": pair.agent_a, "B": pair.agent_b}
                if label == "B":  # this copy, for the header below
                    project.agent, project.model = pair.agent_b, pair.model_b
        if not allowed:
            await self.platforms.named(project.platform).notify_private(
                thread_of(project), event.actor, texts.not_allowed_pick(project)
            )
            return
        other = "B" if label == "A" else "A"
        who = texts.person(event.actor, project)
        text = texts.picked(project, who, label, agents[label], other, agents[other])
        await self.threads.post(project, Reply(text, kind=ReplyKind.NOTICE, header=header(project)))
        if event.on_message:
            await self._picked_there(project, event.on_message, texts.pick_made(project, who, label, agents[label]))

    async def _picked_there(self, project: Project, message_id: str, text: str) -> None:
        """The "pick one" message whose button was clicked says what was picked, its buttons gone; the
        pick is stored and told in the thread already, so a refused edit is only logged."""
        thread = thread_of(project)
        shown = MessageRef(project.platform, project.channel, message_id, thread_id=thread.thread_id)
        try:
            await self.platforms.named(project.platform).edit(
                shown, Reply(text, kind=ReplyKind.NOTICE, header=header(project))
            )
        except PlatformError as exc:
            _log.warning("the pick message of #%s was not updated: %s", number_of(project), exc)

    async def on_signal(self, event: SignalGiven, receipt: Receipt) -> None:
        """Store a 👍 / 👎 on a version that exists; anything else (a bot, a project or version that
        is not there, a value that is neither) is dropped with its key recorded."""
        if event.actor.is_bot or event.value not in ("up", "down"):
            return
        async with receipt.transaction() as session:
            project = await self.threads.find_in(session, event.locator)
            if project is None or not 1 <= event.version <= project.current_version:
                _log.info("signal on an unknown project or version dropped (%s v%s)", event.locator, event.version)
                return
            await signals.give_signal(
                session=session,
                project_id=number_of(project),
                version=event.version,
                person_id=event.actor.user_id,
                person_name=event.actor.name,
                value=event.value,
                now=self.clock.now(),
            )


def _why(event: DecisionSignal) -> tuple[str | None, str | None]:
    """A reject's reason (one of REJECT_REASONS, "other" for anything else) and comment, as stored."""
    if event.outcome != Outcome.REJECT:
        return None, None
    reason = (event.reason or "").strip().lower() or None
    if reason is not None and reason not in REJECT_REASONS:
        reason = "other"
    comment = (event.comment or "").strip() or None
    if comment is not None and len(comment) > COMMENT_CHARS:
        comment = comment[: COMMENT_CHARS - 1] + "…"
    return reason, comment
