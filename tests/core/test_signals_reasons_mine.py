"""The core pieces every platform shares (issue 17): a reject's reason and comment, one-tap feedback
(👍 / 👎) stored per version and person, `mine`, and their figures in the digest. Real store, both
databases, the offline agent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.events import Actor, CommandInvoked, DecisionSignal, Locator, Outcome, SignalGiven, ThreadRef
from bot.replies import Reply
from bot.report.digest import Period, build_report, render_chat, render_text
from storage.models import Decision, Feedback, Project, Signal
from tests.conftest import reply_event, request_event
from tests.fakes.recording_chat import RecordingChat

UTC_ZONE = ZoneInfo("UTC")
HERE = ThreadRef("console", "C1", "draftloop")


def _who(name: str) -> Actor:
    return Actor("console", name, name)


async def _rows(rt: Any, model: Any) -> list[Any]:
    async with rt.db.session() as s:
        return list((await s.execute(select(model).order_by(model.id))).scalars())


async def _count(rt: Any, model: Any) -> int:
    async with rt.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


def _tap(number: int, who: str, value: str, version: int = 1, key: str | None = None) -> SignalGiven:
    return SignalGiven(Locator(number=number), _who(who), version, value, event_key=key)  # type: ignore[arg-type]


async def test_a_reject_keeps_its_reason_and_comment_and_says_them(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a post"))
    event = DecisionSignal(
        Locator(number=1), _who("alice"), Outcome.REJECT, via="form", reason="tone", comment="too chirpy\nfor us"
    )
    await rt.workflow.handle(event)
    decision = (await _rows(rt, Decision))[-1]
    assert (decision.outcome, decision.reason, decision.comment, decision.via) == (
        "reject",
        "tone",
        "too chirpy\nfor us",
        "form",
    )
    said = rt.chat.sent[-1].reply.text
    assert "rejected at v1" in said and "Reason: tone." in said and "too chirpy for us" in said


async def test_an_unknown_reason_is_other_and_an_accept_keeps_none(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a post", message_id="r1"))
    await rt.workflow.handle(request_event("a poem", message_id="r2"))
    await rt.workflow.handle(DecisionSignal(Locator(number=1), _who("alice"), Outcome.REJECT, reason="Boring"))
    await rt.workflow.handle(DecisionSignal(Locator(number=2), _who("alice"), Outcome.ACCEPT, reason="tone"))
    first, second = await _rows(rt, Decision)
    assert (first.reason, second.reason, second.comment) == ("other", None, None)


async def test_a_second_tap_replaces_the_first_and_is_never_feedback(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a post"))
    before = len(rt.chat.sent)
    await rt.workflow.handle(_tap(1, "bob", "up", key="t1"))
    await rt.workflow.handle(_tap(1, "bob", "down", key="t2"))
    await rt.workflow.handle(_tap(1, "carol", "up", key="t3"))
    await rt.workflow.handle(_tap(1, "carol", "up", key="t3"))  # a redelivery
    signals = await _rows(rt, Signal)
    assert [(s.person_id, s.version, s.value) for s in signals] == [("bob", 1, "down"), ("carol", 1, "up")]
    project = (await _rows(rt, Project))[0]
    assert (project.current_version, project.feedback_count, project.state) == (1, 0, "in_review")
    assert await _count(rt, Feedback) == 0 and len(rt.chat.sent) == before  # nothing posted, no cycle


async def test_a_tap_on_a_version_or_project_that_is_not_there_stores_nothing(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a post"))
    await rt.workflow.handle(_tap(1, "bob", "up", version=2))
    await rt.workflow.handle(_tap(7, "bob", "up"))
    await rt.workflow.handle(SignalGiven(Locator(number=1), Actor("console", "b", "b", is_bot=True), 1, "up"))
    assert await _count(rt, Signal) == 0


async def test_the_digest_counts_taps_and_reasons_beside_every_existing_field(
    make_runtime, settings_factory, clock
) -> None:
    rt = make_runtime(settings_factory())
    for n in range(1, 4):
        await rt.workflow.handle(request_event(f"post {n}", message_id=f"r{n}"))
    await rt.workflow.handle(_tap(1, "bob", "up"))
    await rt.workflow.handle(_tap(2, "bob", "down"))
    await rt.workflow.handle(_tap(2, "carol", "up"))
    await rt.workflow.handle(DecisionSignal(Locator(number=1), _who("alice"), Outcome.REJECT, reason="format"))
    await rt.workflow.handle(DecisionSignal(Locator(number=2), _who("alice"), Outcome.REJECT))
    await rt.workflow.handle(DecisionSignal(Locator(number=3), _who("alice"), Outcome.ACCEPT))
    clock.advance(hours=1)
    period = Period.last_days(7, now=clock.now(), tz=UTC_ZONE)
    report = await build_report(rt.db, period, now=clock.now())
    data = report.to_json()
    assert data["signals"] == {"up": 2, "down": 1, "projects": 2}
    assert data["reject_reasons"] == {
        "wrong scope": 0,
        "factual errors": 0,
        "tone": 0,
        "format": 1,
        "other": 0,
        "unstated": 1,
    }
    contract = {"period", "opened", "decided", "accepted", "agent_alone", "with_feedback", "by_cycle"}
    assert contract <= data.keys() and (data["decided"], data["accepted"]) == (3, 1)
    line = "Feedback buttons 👍 2 · 👎 1 on 2 projects; rejected for format 1, no reason given 1"
    assert line in render_text(report) and line in render_chat(report)
    # A period before the taps counts none of them (the latest tap decides when a signal counts).
    old = await build_report(
        rt.db, Period.last_days(7, now=clock.now() - timedelta(days=30), tz=UTC_ZONE), now=clock.now()
    )
    assert old.to_json()["signals"] == {"up": 0, "down": 0, "projects": 0}
    assert "Feedback buttons" not in render_text(old)


class PrivateLists(RecordingChat):
    """A platform that renders `mine` itself (show_private), as Slack and Discord do."""

    async def show_private(self, thread: ThreadRef, actor: Actor, reply: Reply) -> None:
        from tests.fakes.recording_chat import Sent

        self.sent.append(Sent("show_private", thread, reply, "", actor=actor))


async def test_mine_lists_what_waits_on_the_asker_privately(make_runtime, settings_factory) -> None:
    toml = '[categories.writing]\nexperts = ["ed"]\n'
    rt = make_runtime(settings_factory(toml=toml), chat=PrivateLists())
    await rt.workflow.handle(request_event("[writing] alice's post", who="alice", message_id="r1"))
    await rt.workflow.handle(request_event("[writing] ed's own post", who="ed", message_id="r2"))
    await rt.workflow.handle(request_event("[design] a logo for bob", who="bob", message_id="r3"))
    await rt.workflow.handle(request_event("[writing] closed one", who="bob", message_id="r4"))
    await rt.workflow.handle(reply_event(4, "reject", who="bob"))

    await rt.workflow.handle(CommandInvoked("mine", _who("ed"), HERE, event_key="c1"))
    shown = rt.chat.sent[-1]
    assert shown.op == "show_private" and shown.actor.user_id == "ed"
    found = shown.reply.data
    assert [i.number for i in found.decide] == [2]  # ed's own draft waits on ed's decision
    assert [i.number for i in found.review] == [1]  # alice's, in ed's category, in review
    assert found.requested == () and 3 not in [i.number for i in found.items] and 4 not in found.items
    item = found.review[0]
    assert (item.state, item.version, item.category, item.thread.platform) == ("in_review", 1, "writing", "console")
    assert "**Drafts waiting on your decision**" in shown.reply.text and "#1 · in review · v1" in shown.reply.text


async def test_mine_without_a_renderer_is_a_private_markdown_list(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(CommandInvoked("mine", _who("zed"), HERE))
    last = rt.chat.sent[-1]
    assert last.op == "private" and last.reply.text == "Nothing waits on you right now."
    await rt.workflow.handle(request_event("a post", who="zed"))
    await rt.workflow.handle(CommandInvoked("mine", _who("zed"), HERE))
    assert rt.chat.sent[-1].op == "private" and "#1 · in review · v1" in rt.chat.sent[-1].reply.text
