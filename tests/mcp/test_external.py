"""The core of the outside front doors (bot/loop/external.py), on SQLite and PostgreSQL: an outside
agent's draft is v1 and no model ever writes for it; feedback waits for the agent; its revision closes
the feedback; experts decide; the digest counts the agent like any other; mistakes store nothing."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app.runtime import Runtime
from bot.errors import InvalidRequest, InvalidTransition, NotAllowed, UnknownProject
from bot.loop.outside import Caller
from bot.report.digest import build_report
from bot.report.period import Period
from bot.states import State
from storage import locks, projects as store
from storage.models import Project, Version
from tests.conftest import FakeClock, reply_event
from tests.mcp.conftest import AGENT, EXPERT, chat

DRAFT = "# Release notes\n\nWe shipped the thing."


async def _count(runtime: Runtime, model: type[Project] | type[Version]) -> int:
    async with runtime.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _opened(runtime: Runtime, **kw: str) -> int:
    opened = await runtime.workflow.external.open(AGENT, brief="[writing] release notes for 2.0", draft=DRAFT, **kw)
    return int(opened.to_json()["number"])


async def test_an_outside_draft_is_v1_and_no_model_writes_it(runtime: Runtime) -> None:
    opened = await runtime.workflow.external.open(AGENT, brief="release notes for 2.0", draft=DRAFT, category="writing")
    out = opened.to_json()
    assert out["state"] == "in_review" and out["version"] == 1 and out["agent"] == "external:claude-code"
    assert out["thread"] == {"platform": "console", "channel": "console", "thread": str(out["number"])}
    assert out["asked"] == [EXPERT] and out["posted"] is True
    said = chat(runtime).texts("post")
    assert said[0].startswith("Review requested by external:claude-code:") and "release notes" in said[0]
    assert "agent external:claude-code, with its own draft" in said[1]
    assert chat(runtime).drafts()[-1].reply.text == DRAFT
    async with runtime.db.session() as session:
        project = await store.get_project(session=session, project_id=out["number"])
        latest = await store.latest_version(session=session, project_id=out["number"])
    assert project is not None and project.model == "external:claude-code" and project.posted_version == 1
    assert project.lease_owner is None and project.acked_at is not None
    assert latest is not None and latest.agent == "external:claude-code" and latest.text == DRAFT
    assert runtime.model.calls == []  # type: ignore[attr-defined]


async def test_feedback_waits_for_the_outside_agent_and_no_model_revises(runtime: Runtime) -> None:
    # Before the guard: the reply started a revision and the default model wrote v2 over the agent's work.
    number = await _opened(runtime)
    await runtime.workflow.handle(reply_event(number, "Lead with the breaking change. 10m", who=EXPERT))
    review = (await runtime.workflow.external.review(AGENT, number)).to_json()
    assert review["state"] == "revising" and review["version"] == 1 and review["waiting_for"] == "you"
    [point] = review["feedback"]
    assert point["author"] == EXPERT and point["text"] == "Lead with the breaking change. 10m"
    assert point["stated_minutes"] == 10 and point["expert"] is True and point["on_version"] == 1
    assert "waits for it" in chat(runtime).texts("post")[-1]
    assert (await runtime.workflow.sweeper.sweep()).resumed == 0
    assert runtime.model.calls == [] and await _count(runtime, Version) == 1  # type: ignore[attr-defined]


async def test_the_agents_revision_closes_the_feedback_and_experts_accept(runtime: Runtime) -> None:
    external = runtime.workflow.external
    number = await _opened(runtime)
    await runtime.workflow.handle(reply_event(number, "Lead with the breaking change.", who=EXPERT))
    revised = await external.revise(AGENT, number, draft=DRAFT + "\n\nBreaking: the API moved.", notes="led with it")
    assert revised.to_json() == {"number": number, "state": "in_review", "version": 2, "answered": 1, "posted": True}
    assert "external:claude-code sends v2, answering 1 feedback point: led with it" in chat(runtime).texts("post")
    review = (await external.review(AGENT, number)).to_json()
    assert review["feedback"] == [] and review["waiting_for"] == "experts"
    await runtime.workflow.handle(reply_event(number, "accept", who=EXPERT))
    decided = (await external.review(AGENT, number)).to_json()
    assert decided["state"] == "accepted" and decided["waiting_for"] is None
    assert decided["decision"]["outcome"] == "accept" and decided["decision"]["by"] == EXPERT
    assert decided["decision"]["version"] == 2
    # Counted like any agent: accepted after one feedback cycle.
    clock: FakeClock = runtime.clock  # type: ignore[assignment]
    day = clock.now().date()
    period = Period(day, day + timedelta(days=1), runtime.settings.tz)
    report = (await build_report(runtime.db, period, now=clock.advance(minutes=1))).to_json()
    [model] = [m for m in report["by_model"] if m["name"] == "external:claude-code"]
    assert model["decided"] == 1 and model["accepted"] == 1
    transcript = await external.transcript(AGENT, number)
    assert (
        "## v2 · external:claude-code" in transcript and "- erin (expert): Lead with the breaking change." in transcript
    )
    assert "accept at v2 by erin" in transcript and "led with it" in transcript
    assert runtime.model.calls == []  # type: ignore[attr-defined]


async def test_the_calling_agent_cannot_decide_and_a_decided_project_takes_no_version(runtime: Runtime) -> None:
    external = runtime.workflow.external
    number = await _opened(runtime)
    # The agent is the requester when it names nobody; it has no tool to decide, and in the chat its
    # name is no expert's: an expert decides.
    await runtime.workflow.handle(reply_event(number, "reject", who=EXPERT))
    with pytest.raises(InvalidTransition, match=f"#{number} is already rejected"):
        await external.revise(AGENT, number, draft="late")
    assert await _count(runtime, Version) == 1


async def test_mistakes_are_one_sentence_and_store_nothing(runtime: Runtime) -> None:
    external = runtime.workflow.external
    limit = runtime.settings.file.workflow.max_request_chars
    cases = [
        (
            {"brief": "x" * (limit + 1), "draft": DRAFT},
            f"The brief is {limit + 1:,} characters; the limit is {limit:,}",
        ),
        ({"brief": "   ", "draft": DRAFT}, "The brief is empty"),
        ({"brief": "notes", "draft": "  "}, "The draft is empty"),
        ({"brief": "notes", "draft": "x" * 200_001}, "The draft is 200,001 characters; the limit is 200,000"),
        ({"brief": "notes", "category": "poetry"}, "There is no category 'poetry'"),
        ({"brief": "notes", "channel": "slack:C1"}, "slack is not connected here"),
        ({"brief": "notes", "channel": "slack"}, "is not PLATFORM:CHANNEL"),
        ({"brief": "notes", "requester": "r" * 129}, "The requester is 129 characters"),
    ]
    for args, said in cases:
        with pytest.raises(InvalidRequest, match=said):
            await external.open(AGENT, **args)  # type: ignore[arg-type]
    assert await _count(runtime, Project) == 0 and chat(runtime).sent == []
    number = await _opened(runtime)
    with pytest.raises(UnknownProject, match="There is no project #99."):
        await external.review(AGENT, 99)
    other = Caller.named("cursor")
    with pytest.raises(NotAllowed, match=f"Project #{number} was not opened by external:cursor"):
        await external.review(other, number)
    with pytest.raises(NotAllowed):
        await external.revise(other, number, draft="mine now")
    assert await _count(runtime, Version) == 1


async def test_two_revisions_at_once_take_turns_on_the_lease(runtime: Runtime) -> None:
    external = runtime.workflow.external
    number = await _opened(runtime)
    first, second = await asyncio.gather(
        external.revise(AGENT, number, draft="v-a"), external.revise(AGENT, number, draft="v-b")
    )
    assert sorted([first.to_json()["version"], second.to_json()["version"]]) == [2, 3]
    async with runtime.db.session() as session:
        rows = (await session.execute(select(Version.number, Version.text).order_by(Version.number))).all()
    assert [n for n, _ in rows] == [1, 2, 3] and {t for _, t in rows[1:]} == {"v-a", "v-b"}
    # A lease held elsewhere (a cycle, another process's revision) holds the revision until released.
    now = runtime.clock.now()
    async with runtime.db.session() as session:
        assert await locks.claim(
            session=session, project_id=number, owner="other:1", now=now, until=now + timedelta(minutes=1)
        )
    waiting = asyncio.create_task(external.revise(AGENT, number, draft="v-c"))
    await asyncio.sleep(0.3)
    assert not waiting.done() and await _count(runtime, Version) == 3
    async with runtime.db.session() as session:
        await locks.release(session=session, project_id=number, owner="other:1")
    assert (await asyncio.wait_for(waiting, 5)).to_json()["version"] == 4


async def test_a_waiting_review_returns_soon_after_another_process_stores_feedback(
    runtime: Runtime, make_runtime: object, settings: object
) -> None:
    number = await _opened(runtime)
    other = Runtime(runtime.settings, db=runtime.db, clock=runtime.clock)  # another process on the database
    other.register_platform(chat(runtime))
    waiting = asyncio.create_task(runtime.workflow.external.review(AGENT, number, wait_seconds=10))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    await other.workflow.handle(reply_event(number, "Shorter, please.", who=EXPERT))
    stored = time.monotonic()
    review = (await asyncio.wait_for(waiting, 5)).to_json()
    assert time.monotonic() - stored < 0.5
    assert [p["text"] for p in review["feedback"]] == ["Shorter, please."]
    # Feedback waiting for the agent: the next call returns at once, whatever it offers to wait.
    started = time.monotonic()
    await runtime.workflow.external.review(AGENT, number, wait_seconds=10)
    assert time.monotonic() - started < 0.5


async def test_without_a_draft_the_routed_agent_drafts_and_the_caller_reads_it(runtime: Runtime) -> None:
    external = runtime.workflow.external
    opened = (await external.open(AGENT, brief="[writing] a haiku about tea")).to_json()
    assert opened["agent"] == "offline" and opened["state"] == "drafting"
    await runtime.drain()
    review = (await external.review(AGENT, opened["number"])).to_json()
    assert review["version"] == 1 and review["draft"].startswith("Model draft v1 of: a haiku about tea")
    with pytest.raises(InvalidRequest, match="drafted by draftloop's agent offline"):
        await external.revise(AGENT, opened["number"], draft="mine")


async def test_a_caller_lists_its_own_projects(runtime: Runtime) -> None:
    external = runtime.workflow.external
    mine = await _opened(runtime)
    theirs = (await external.open(Caller.named("cursor"), brief="a plan", draft="plan")).to_json()["number"]
    await runtime.workflow.handle(reply_event(mine, "accept", who=EXPERT))
    assert await external.projects(AGENT) == []
    assert [p["number"] for p in await external.projects(AGENT, state="all")] == [mine]
    assert [p["number"] for p in await external.projects(AGENT, state="accepted")] == [mine]
    assert [p["number"] for p in await external.projects(AGENT, mine=False)] == [theirs]
    with pytest.raises(InvalidRequest, match="There is no state 'done'"):
        await external.projects(AGENT, state="done")


async def test_the_sweeper_shows_an_outside_version_whose_post_failed_and_nothing_else(runtime: Runtime) -> None:
    # Before: projects_needing_work listed every outside project with feedback pending, on every sweep.
    number = await _opened(runtime)
    await runtime.workflow.handle(reply_event(number, "More detail.", who=EXPERT))
    async with runtime.db.session() as session:
        assert await store.projects_needing_work(session=session, now=runtime.clock.now()) == []
        await store.update_project(session=session, project_id=number, posted_version=0, state=State.IN_REVIEW.value)
        await store.consume_feedback(session=session, project_id=number, upto_id=10**6, version=1)
        assert await store.projects_needing_work(session=session, now=runtime.clock.now()) == [number]
    before = len(chat(runtime).drafts())
    assert (await runtime.workflow.sweeper.sweep()).resumed == 1
    assert chat(runtime).drafts()[before].reply.text == DRAFT and runtime.model.calls == []  # type: ignore[attr-defined]
