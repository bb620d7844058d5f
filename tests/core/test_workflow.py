"""The workflow through the real store, on SQLite and PostgreSQL, with the offline agent."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from bot.events import Actor, CommandInvoked, DecisionSignal, Locator, Outcome, ThreadRef
from bot.replies import ReplyKind
from storage.models import Decision, Feedback, InboundEvent, Project, Version
from tests.conftest import reply_event, request_event


async def _project(rt: Any, number: int = 1) -> Project:
    async with rt.db.session() as s:
        p = await s.get(Project, number)
        assert p is not None
        return p


async def _count(rt: Any, model: Any, *where: Any) -> int:
    async with rt.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def test_request_draft_feedback_accept(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("[writing] a post on onboarding"))
    p = await _project(rt)
    assert (p.state, p.current_version, p.category, p.category_reason) == ("in_review", 1, "writing", "given")
    assert rt.chat.sent[0].reply.kind == ReplyKind.ACK and "Project #1" in rt.chat.sent[0].reply.text
    draft = rt.chat.drafts()[-1].reply
    assert draft.controls and draft.header.version == 1 and "Offline draft" in draft.text

    await rt.workflow.handle(reply_event(1, "make it shorter, 20m", who="bob"))
    p = await _project(rt)
    assert (p.state, p.current_version, p.feedback_count) == ("in_review", 2, 1)
    assert "## Changes in v2" in rt.chat.drafts()[-1].reply.text
    assert "make it shorter" in rt.chat.drafts()[-1].reply.text

    await rt.workflow.handle(reply_event(1, "accept"))
    p = await _project(rt)
    assert (p.state, p.accepted_version) == ("accepted", 2)
    assert await _count(rt, Decision) == 1
    async with rt.db.session() as s:
        fb = (await s.execute(select(Feedback))).scalar_one()
    assert (fb.stated_minutes, fb.estimated_minutes, fb.consumed_by, fb.on_version) == (20, None, 2, 1)


async def test_three_feedback_rounds(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("write a newsletter"))
    for i in range(3):
        await rt.workflow.handle(reply_event(1, f"point {i}", who="ed"))
    p = await _project(rt)
    assert p.current_version == 4 and p.feedback_count == 3
    last = rt.chat.drafts()[-1].reply.text
    assert "## Changes in v4" in last and "point 2" in last and "Earlier feedback still applied: 2" in last
    assert await _count(rt, Version) == 4


async def test_reject_then_reply_is_kept_but_starts_nothing(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a logo brief"))
    await rt.workflow.handle(reply_event(1, "reject"))
    assert (await _project(rt)).state == "rejected"
    await rt.workflow.handle(reply_event(1, "one more thing"))
    p = await _project(rt)
    assert p.state == "rejected" and p.current_version == 1
    assert "already rejected" in rt.chat.sent[-1].reply.text
    assert await _count(rt, Feedback, col(Feedback.is_aside)) == 1


async def test_decision_on_closed_project_is_refused(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a logo brief"))
    await rt.workflow.handle(reply_event(1, "accept"))
    await rt.workflow.handle(reply_event(1, "reject"))
    assert (await _project(rt)).state == "accepted"
    assert rt.chat.sent[-1].reply.text == "#1 is already accepted; start a new request to continue."


async def test_unknown_thread_number(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(reply_event(99, "accept"))
    assert rt.chat.sent[-1].reply.kind == ReplyKind.ERROR
    assert rt.chat.sent[-1].reply.text.startswith("There is no project #99.")


async def test_not_allowed_leaves_state_unchanged(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory(toml='[categories.writing]\nexperts = ["ed"]\n'))
    await rt.workflow.handle(request_event("[writing] a post"))
    await rt.workflow.handle(reply_event(1, "accept", who="mallory"))
    assert (await _project(rt)).state == "in_review"
    last = rt.chat.sent[-1]
    assert last.op == "private" and last.actor.user_id == "mallory" and last.reply.text.startswith("Not allowed")
    await rt.workflow.handle(reply_event(1, "accept", who="ed"))
    assert (await _project(rt)).state == "accepted"


async def test_bystander_reply_is_a_comment_when_experts_exist(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory(toml='[categories.writing]\nexperts = ["ed"]\n'))
    await rt.workflow.handle(request_event("[writing] a post"))
    await rt.workflow.handle(reply_event(1, "I would do it differently", who="mallory"))
    p = await _project(rt)
    assert p.current_version == 1 and p.feedback_count == 0
    assert rt.chat.sent[-1].op == "private"


async def test_aside_is_stored_without_revision(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a post"))
    sent = len(rt.chat.sent)
    await rt.workflow.handle(reply_event(1, "// lunch first?"))
    p = await _project(rt)
    assert p.current_version == 1 and p.feedback_count == 0 and p.state == "in_review"
    assert len(rt.chat.sent) == sent
    assert await _count(rt, Feedback, col(Feedback.is_aside)) == 1


async def test_empty_request_gets_help_and_creates_nothing(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("   "))
    assert rt.chat.sent[-1].reply.kind == ReplyKind.HELP
    assert await _count(rt, Project) == 0


async def test_oversized_request_is_refused_clearly(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory(toml="[workflow]\nmax_request_chars = 100\n"))
    await rt.workflow.handle(request_event("x" * 101))
    assert "limit is 100" in rt.chat.sent[-1].reply.text
    assert await _count(rt, Project) == 0


async def test_redelivered_event_is_processed_once(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    event = request_event("a post")
    keyed = type(event)(event.origin, event.actor, event.text, event_key="Ev1")
    await asyncio.gather(*(rt.workflow.handle(keyed) for _ in range(3)))
    assert await _count(rt, Project) == 1
    assert await _count(rt, InboundEvent) == 1


async def test_one_message_is_one_project_even_when_two_requests_for_it_race(make_runtime, settings_factory) -> None:
    # A mention and the message shortcut on the same message, handled at once (two deliveries,
    # two keys): a check before the insert let both through; the link's unique key lets one.
    rt = make_runtime(settings_factory())
    event = request_event("[writing] a post")
    first = type(event)(event.origin, event.actor, event.text, event_key="EvMention")
    second = type(event)(event.origin, event.actor, event.text, event_key="EvShortcut")
    await asyncio.gather(rt.workflow.handle(first), rt.workflow.handle(second))
    assert await _count(rt, Project) == 1
    said = [s.reply.text for s in rt.chat.sent]
    assert sum("already project" in text for text in said) == 1, said
    async with rt.db.session() as s:
        number = (await s.execute(select(col(Project.id)))).scalar_one()  # the winner's (#2 if #1 lost)
    await rt.workflow.handle(type(event)(event.origin, event.actor, event.text, event_key="EvLater"))
    assert await _count(rt, Project) == 1
    assert f"That message is already project #{number}; reply in its thread." in rt.chat.sent[-1].reply.text


async def test_two_replies_together_give_one_revision_with_both(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory(toml="[workflow]\nfeedback_debounce_seconds = 0.3\n"))
    await rt.workflow.handle(request_event("a post"))
    await asyncio.gather(
        rt.workflow.handle(reply_event(1, "first point", who="a")),
        rt.workflow.handle(reply_event(1, "second point", who="b")),
    )
    p = await _project(rt)
    assert p.current_version == 2
    text = rt.chat.drafts()[-1].reply.text
    assert "first point" in text and "second point" in text
    assert await _count(rt, Feedback, col(Feedback.consumed_by) == 2) == 2


async def test_reply_during_revision_goes_into_the_next_cycle(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a post"))
    writing, gate = asyncio.Event(), asyncio.Event()
    from tests.fakes.agents import Intercepted

    async def hold_v2(request):  # the network edge of the offline agent: hold v2
        if request.version == 2:
            writing.set()  # the cycle holds the lease while its model call runs
            await gate.wait()

    rt.agents.use("offline", Intercepted(rt.agents.backend(rt.agents.spec("offline")), hold_v2))
    first = asyncio.create_task(rt.workflow.handle(reply_event(1, "point A", who="a")))
    await writing.wait()
    await rt.workflow.handle(reply_event(1, "point B", who="b"))  # lease is held: kept, not lost
    assert "goes into the next one" in rt.chat.sent[-1].reply.text
    gate.set()
    await first
    p = await _project(rt)
    assert p.current_version == 3
    drafts = [d.reply.text for d in rt.chat.drafts()]
    assert "point A" in drafts[-2] and "point B" not in drafts[-2]
    assert "point B" in drafts[-1]


async def test_retry_after_failure(make_runtime, settings_factory) -> None:
    from bot.errors import AgentUnavailable

    rt = make_runtime(settings_factory(toml="[agents.offline]\nprovider = 'offline'\nmax_retries = 0\n"))
    from tests.fakes.agents import Intercepted

    calls = {"n": 0}

    async def fail_first(request):
        calls["n"] += 1
        if calls["n"] == 1:
            raise AgentUnavailable("offline: the provider timed out", agent="offline")

    rt.agents.use("offline", Intercepted(rt.agents.backend(rt.agents.spec("offline")), fail_first))
    await rt.workflow.handle(request_event("a post"))
    p = await _project(rt)
    assert p.state == "failed" and "timed out" in p.last_error
    assert "reply `retry`" in rt.chat.sent[-1].reply.text
    await rt.workflow.handle(reply_event(1, "retry"))
    p = await _project(rt)
    assert p.state == "in_review" and p.current_version == 1 and p.decided_at is None


async def test_status_and_unknown_command(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a post about cats"))
    here = ThreadRef("console", "C1", "draftloop")
    await rt.workflow.handle(CommandInvoked("status", Actor("console", "alice"), here))
    assert "#1 · in review · v1" in rt.chat.sent[-1].reply.text
    await rt.workflow.handle(CommandInvoked("frobnicate", Actor("console", "alice"), here))
    assert "Unknown command `frobnicate`" in rt.chat.sent[-1].reply.text


async def test_button_decision_by_number_acts_on_the_project(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a post"))
    await rt.workflow.handle(reply_event(1, "more"))
    # A click on v1's button (old message) still decides the project, at its current version.
    await rt.workflow.handle(DecisionSignal(Locator(number=1), Actor("console", "alice"), Outcome.ACCEPT, via="button"))
    p = await _project(rt)
    assert (p.state, p.accepted_version) == ("accepted", 2)


async def test_drafts_mention_the_category_experts_and_roles(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory(toml='[categories.writing]\nexperts = ["ed"]\nexpert_roles = ["Writers"]\n'))
    await rt.workflow.handle(request_event("[writing] a post"))
    assert rt.chat.drafts()[-1].reply.mentions == ("ed", "Writers")
    assert rt.chat.sent[0].reply.mentions == ("ed", "Writers")  # the acknowledgement asks the same people
