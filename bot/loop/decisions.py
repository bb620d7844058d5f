"""Decisions: accept or reject, by button, reaction or typed word.

Only the requester, the category's experts and admins decide; anyone else is told privately.
The decision, the state it moves the project to (through the state table) and the event's key
are stored in one transaction; then the thread is told.
"""

from __future__ import annotations

from bot import texts
from bot.errors import UnknownProject, UserFacingError
from bot.events import DecisionSignal, Outcome
from bot.loop import transitions
from bot.loop.memory import People
from bot.loop.receipts import Receipt
from bot.loop.registry import Platforms
from bot.loop.threads import Threads, header, number_of, thread_of
from bot.permissions import may_decide
from bot.ports import Clock
from bot.replies import Reply, ReplyKind
from bot.settings import Settings
from bot.states import State
from storage import projects as store


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
                await store.add_decision(
                    session=session,
                    project_id=number_of(project),
                    actor_id=event.actor.user_id,
                    actor_name=event.actor.display,
                    outcome=event.outcome.value,
                    version=project.current_version,
                    via=event.via,
                    created_at=now,
                )
                await self.people.touch(session, event.actor, project.category)
        if not allowed:
            await self.platforms.named(project.platform).notify_private(
                event.reply_to or thread_of(project), event.actor, texts.not_allowed(project)
            )
            return
        text = texts.decided(project, event.actor, event.outcome)
        await self.threads.post(project, Reply(text, kind=ReplyKind.NOTICE, header=header(project, target.value)))
