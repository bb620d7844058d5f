"""The scenarios every chat platform and agent backend must pass, written once against the driver protocol.

What the bot shows is read through the driver (the platform's own messages); what it stored is read from
the database, the same on every platform.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlmodel import col

from bot.events import Outcome
from storage.models import Feedback, Project
from tests.contract.drivers.base import Driver


async def project(d: Driver, number: int = 1) -> Project:
    async with d.runtime.db.session() as s:
        found = await s.get(Project, number)
    assert found is not None, f"no project #{number}"
    return found


async def projects(d: Driver) -> int:
    async with d.runtime.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(Project))).scalar_one())


async def feedback(d: Driver, *, asides: bool) -> list[str]:
    query = select(col(Feedback.text)).where(col(Feedback.is_aside) == asides).order_by(col(Feedback.id))
    async with d.runtime.db.session() as s:
        return [str(t) for t in (await s.execute(query)).scalars()]


def versions(d: Driver, thread: str) -> list[int]:
    return [draft.version for draft in d.drafts(thread)]


async def request_feedback_aside_accept(d: Driver) -> None:
    """request → draft v1 → feedback → v2 with it → an aside (stored, no revision) → accept."""
    thread = await d.request("[writing] a short post on onboarding new engineers")
    p = await project(d)
    assert (p.state, p.current_version, p.category) == ("in_review", 1, "writing")
    assert versions(d, thread) == [1]

    await d.reply(thread, "Name the buddy system in the intro.", who="expert")
    p = await project(d)
    assert (p.state, p.current_version, p.feedback_count) == ("in_review", 2, 1)
    assert versions(d, thread) == [1, 2]
    assert "buddy system" in d.drafts(thread)[-1].text  # v2 took the feedback up

    shown = len(d.public(thread))
    await d.reply(thread, "// lunch first?", who="expert")
    p = await project(d)
    assert (p.state, p.current_version, p.feedback_count) == ("in_review", 2, 1)
    assert len(d.public(thread)) == shown  # nothing said, nothing drafted
    assert [a.lstrip("/ ") for a in await feedback(d, asides=True)] == ["lunch first?"]

    await d.decide(thread, Outcome.ACCEPT, who="requester")
    p = await project(d)
    assert (p.state, p.accepted_version) == ("accepted", 2)
    assert any("accepted" in text for text in d.public(thread)[shown:])
    assert versions(d, thread) == [1, 2]


async def refused_decision(d: Driver) -> None:
    """Someone who may not decide is told so, privately; nothing changes and nothing is said in public."""
    thread = await d.request("[writing] a tagline for a bakery")
    shown = len(d.public(thread))
    await d.decide(thread, Outcome.ACCEPT, who="outsider")
    assert (await project(d)).state == "in_review"
    assert len(d.public(thread)) == shown
    assert any("not allowed" in text.lower() for text in d.private("outsider"))

    await d.decide(thread, Outcome.ACCEPT, who="expert")  # the category's expert may
    p = await project(d)
    assert (p.state, p.accepted_version) == ("accepted", 1)


async def redelivered_events(d: Driver) -> None:
    """A request and a reply each delivered twice with the same id: one project, one draft, one revision."""
    thread = await d.request("[writing] a haiku about green tea")
    shown = d.public(thread)
    await d.redeliver()
    assert await projects(d) == 1
    assert d.public(thread) == shown and versions(d, thread) == [1]

    await d.reply(thread, "Make the last line about the kettle.", who="expert")
    await d.redeliver()
    p = await project(d)
    assert (p.current_version, p.feedback_count) == (2, 1)
    assert await feedback(d, asides=False) == ["Make the last line about the kettle."]
    assert versions(d, thread) == [1, 2]


async def failure_then_retry(d: Driver, fail_once: Callable[[Driver], None]) -> None:
    """The model fails once: the project is failed and says how to retry; `retry` drafts it."""
    fail_once(d)
    thread = await d.request("[writing] a note on tidy data")
    p = await project(d)
    assert (p.state, p.current_version) == ("failed", 0)
    assert versions(d, thread) == []
    assert any("retry" in text for text in d.public(thread))

    await d.reply(thread, "retry", who="requester")
    p = await project(d)
    assert (p.state, p.current_version) == ("in_review", 1)
    assert versions(d, thread) == [1]
