"""Decision deadlines and escalation: two workers on one database act, and post, once."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from sqlalchemy import select

from adapters.chat.console.service import ConsoleService
from bot.app import jobs
from storage.models import Decision, Project
from storage.routing import ORCHESTRATOR
from tests.fakes.recording_chat import RecordingChat

TOML = """
admins = ["boss"]

[categories.writing]
decision_hours = 48
on_timeout = "{action}"
escalate_after_nudges = 2
"""


async def _one_in_review(make_runtime: Any, settings: Any) -> None:
    rt = make_runtime(settings)
    console = ConsoleService(rt, stdin=io.StringIO("[writing] a post about tea\n"), out=io.StringIO())
    console.speaker = "alice"
    await console.run()


def _notices(chat: RecordingChat, words: str) -> list[Any]:
    return [m for m in chat.sent if m.op == "post" and words in m.reply.text]


async def test_timeout_expires_once_across_two_workers(make_runtime, settings_factory, clock, db) -> None:  # type: ignore[no-untyped-def]
    settings = settings_factory(toml=TOML.format(action="expire"))
    await _one_in_review(make_runtime, settings)
    first, second = RecordingChat(name="console"), RecordingChat(name="console")
    one, two = make_runtime(settings, chat=first), make_runtime(settings, chat=second)
    clock.advance(hours=47)
    assert await asyncio.gather(jobs.expire_idle(one), jobs.expire_idle(two)) == [0, 0]
    assert first.sent == second.sent == []  # not yet due
    clock.advance(hours=2)
    await asyncio.gather(jobs.expire_idle(one), jobs.expire_idle(two), jobs.expire_idle(one))
    said = _notices(first, "expired at v1 by the orchestrator") + _notices(second, "expired at v1 by the orchestrator")
    assert len(said) == 1
    assert (
        said[0].reply.text == "#1 expired at v1 by the orchestrator: no decision within 48 hours (on_timeout = expire)."
    )
    async with db.session() as session:
        project = await session.get(Project, 1)
        decisions = (await session.execute(select(Decision))).scalars().all()
    assert project is not None and project.state == "expired"
    assert [(d.actor_id, d.outcome, d.via) for d in decisions] == [(ORCHESTRATOR, "expire", "timeout")]


async def test_escalation_after_unanswered_nudges_and_an_escalating_deadline(
    make_runtime, settings_factory, clock, db
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_factory(toml=TOML.format(action="escalate"))
    await _one_in_review(make_runtime, settings)
    chat = RecordingChat(name="console")
    rt = make_runtime(settings, chat=chat)
    for _ in range(2):  # two reminders a day apart, unanswered
        clock.advance(hours=25)
        await jobs.nudge_reviewers(rt)
    await jobs.nudge_reviewers(rt)
    escalated = _notices(chat, "is escalated")
    assert len(escalated) == 1 and escalated[0].reply.mentions == ("boss",)
    assert escalated[0].reply.text.startswith("#1 is escalated: 2 reminders went unanswered.")
    await jobs.expire_idle(rt)  # past the deadline too, but escalated once already
    assert len(_notices(chat, "is escalated")) == 1
    async with db.session() as session:
        project = await session.get(Project, 1)
    assert project is not None and project.state == "in_review"
