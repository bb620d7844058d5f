"""Escalation and decision deadlines, run by the worker's jobs (bot/app/jobs.py).

- A category's `escalate_after_nudges = N`: a draft still in review after N reminders pings the
  category's `backup` people (the admins when none are set), once per project.
- A category's `decision_hours = H` with `on_timeout`: a draft in review for H hours is decided by
  the orchestrator: expired, accepted or rejected (a decision stored with the orchestrator as its
  actor, never a person), or escalated as above.

Each is recorded under the `nudges` table's unique key in the transaction that acts (storage/
routing.py) before anything is posted, so two workers, or a job run twice, act and post once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.config import CategoryConfig
from bot.settings import Settings
from bot.states import State, can_move
from bot.texts import plural
from storage import routing as store
from storage.engine import Database
from storage.models import Project

BATCH = 200
# project, the notice, whom to ping, the state it is shown in
Notify = Callable[[Project, str, tuple[str, ...], str], Awaitable[None]]
TARGETS = {"expire": State.EXPIRED, "accept": State.ACCEPTED, "reject": State.REJECTED}
_DONE = {"expire": "expired", "accept": "accepted", "reject": "rejected"}


class _Lost(Exception):
    """Another run acted first: roll the transaction back."""


def _backup(cat: CategoryConfig, settings: Settings) -> tuple[str, ...]:
    return cat.backup or settings.file.admins


async def _escalate(db: Database, project: Project, now: datetime) -> bool:
    assert project.id is not None
    async with db.session() as session:
        return await store.record_once(session=session, project_id=project.id, kind=store.ESCALATE, seq=0, now=now)


async def escalate_unanswered(db: Database, settings: Settings, now: datetime, notify: Notify) -> int:
    """Ping the backup people of drafts reminded `escalate_after_nudges` times without an answer."""
    done = 0
    for category, cat in settings.file.categories.items():
        if cat.escalate_after_nudges is None:
            continue
        async with db.session() as session:
            found = await store.unanswered(
                session=session,
                category=category,
                waiting=State.IN_REVIEW.value,
                nudges=cat.escalate_after_nudges,
                limit=BATCH,
            )
        for project in found:
            if not await _escalate(db, project, now):
                continue
            done += 1
            text = (
                f"#{project.id} is escalated: {plural(project.nudge_count, 'reminder')} went unanswered. "
                "Please review it, or accept or reject it."
            )
            await notify(project, text, _backup(cat, settings), project.state)
    return done


async def decide_overdue(db: Database, settings: Settings, now: datetime, notify: Notify) -> int:
    """Act on drafts in review past their category's `decision_hours`, as `on_timeout` says."""
    done = 0
    for category, cat in settings.file.categories.items():
        if cat.decision_hours is None:
            continue
        cutoff = now - timedelta(hours=cat.decision_hours)
        async with db.session() as session:
            found = await store.overdue(
                session=session, category=category, waiting=State.IN_REVIEW.value, cutoff=cutoff, limit=BATCH
            )
        hours = plural(int(cat.decision_hours) if cat.decision_hours.is_integer() else cat.decision_hours, "hour")
        cause = f"no decision within {hours} (on_timeout = {cat.on_timeout})"
        for project in found:
            if cat.on_timeout == "escalate":
                if await _escalate(db, project, now):
                    done += 1
                    text = f"#{project.id} is escalated: {cause}. Please review it, or accept or reject it."
                    await notify(project, text, _backup(cat, settings), project.state)
                continue
            target = TARGETS[cat.on_timeout]
            if not can_move(State.IN_REVIEW, target) or not await _decide(
                db, project, target, cat.on_timeout, cutoff, now
            ):
                continue
            done += 1
            text = f"#{project.id} {_DONE[cat.on_timeout]} at v{project.current_version} by the orchestrator: {cause}."
            await notify(project, text, (), target.value)
    return done


async def _decide(db: Database, project: Project, target: State, outcome: str, cutoff: datetime, now: datetime) -> bool:
    try:
        async with db.session() as session:
            if not await store.time_out(
                session=session,
                project=project,
                waiting=State.IN_REVIEW.value,
                target=target.value,
                outcome=outcome,
                cutoff=cutoff,
                now=now,
            ):
                raise _Lost
    except _Lost:
        return False
    return True
