"""The whole loop with real model backends: the workflow, the store (SQLite and PostgreSQL), the
agent pool, the OpenAI / Anthropic SDKs and the fake LLM server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.app.runtime import Runtime
from bot.events import MessageRef, ThreadRef
from bot.ports import PlatformLimits
from bot.replies import ReplyKind
from bot.settings import Settings
from storage.models import MessageLink, Project, Version
from tests.agents.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.conftest import reply_event, request_event
from tests.fakes.llm_server import FakeLLMServer, Fault, _tokens, default_reply
from tests.fakes.recording_chat import RecordingChat

CONFIG = """
triage_agent = "sorter"

[agents.writer]
provider = "openai"
model = "gpt-writer"
max_retries = 1
max_concurrency = 2
price_input = 2.5
price_output = 10.0
price_cached = 1.25

[agents.backup]
provider = "anthropic"
model = "claude-backup"
max_retries = 1
price_input = 3.0
price_output = 15.0
price_cached = 0.3

[agents.quick]
provider = "openai-compatible"
model = "local-quick"
timeout = 0.3
max_retries = 0

[agents.sorter]
provider = "openai"
model = "sorter-mini"
max_tokens = 40

[categories.writing]
agent = "writer"
fallback = ["backup"]

[categories.data-science]
agent = "backup"

[categories.translation]
agent = "quick"
"""


def sorter_reply(model: str, prompt: str) -> str:
    if model == "sorter-mini":
        return "data-science: cleaning and summarising a CSV file"
    return default_reply(model, prompt)


@pytest.fixture
async def llm_wf() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer(reply=sorter_reply) as server:
        yield server


@pytest.fixture
async def rt_factory(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings], llm_wf: FakeLLMServer
) -> AsyncIterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def make(*, edit_interval: float = 0.0, chat: RecordingChat | None = None, **fields: Any) -> Runtime:
        fields.setdefault("draftloop_agent", "writer")
        settings = settings_factory(
            CONFIG,
            openai_api_key=OPENAI_KEY,
            anthropic_api_key=ANTHROPIC_KEY,
            openai_base_url=llm_wf.openai_base_url,
            anthropic_base_url=llm_wf.anthropic_base_url,
            **fields,
        )
        chat = chat or RecordingChat(limits=PlatformLimits(min_edit_interval=edit_interval))
        rt = make_runtime(settings, chat=chat)
        sleeps: list[float] = []

        async def no_wait(seconds: float) -> None:
            sleeps.append(seconds)

        rt.agents.sleep = no_wait
        rt.sleeps = sleeps  # type: ignore[attr-defined]
        made.append(rt)
        return rt

    yield make
    for rt in made:
        await rt.agents.aclose()


async def _project(rt: Runtime, number: int = 1) -> Project:
    async with rt.db.session() as s:
        p = await s.get(Project, number)
        assert p is not None
        return p


async def _versions(rt: Runtime, number: int = 1) -> list[Version]:
    async with rt.db.session() as s:
        rows = await s.execute(select(Version).where(Version.project_id == number).order_by(Version.number))
        return list(rows.scalars())


def _chat(rt: Runtime) -> RecordingChat:
    chat: RecordingChat = rt.chat  # type: ignore[attr-defined]
    return chat


async def test_streamed_draft_then_revision_with_usage_and_cost(rt_factory: Any, llm_wf: FakeLLMServer) -> None:
    rt = rt_factory(edit_interval=0.0001)
    llm_wf.chunk_delay = 0.001
    llm_wf.latency = 0.3  # still writing when the cycle is ready to show it
    brief = "write a 300-word post on tidy data for analysts"
    await rt.workflow.handle(request_event(f"[writing] {brief}"))
    llm_wf.latency = 0.0
    chat = _chat(rt)
    progress = [s for s in chat.sent if s.reply.kind == ReplyKind.PROGRESS]
    assert progress and progress[0].op == "post", "a progress message is posted, then edited while streaming"
    assert sum(1 for s in progress if s.op == "edit") >= 1
    final = chat.drafts()[-1]
    expected_v1 = default_reply("gpt-writer", llm_wf.requests(model="gpt-writer")[0].body["messages"][-1]["content"])
    assert final.op == "edit" and final.message_id == progress[0].message_id and final.reply.text == expected_v1
    assert final.reply.controls

    await rt.workflow.handle(reply_event(1, "add an example table", who="bea"))
    p = await _project(rt)
    assert (p.state, p.current_version) == ("in_review", 2)
    second = llm_wf.requests(model="gpt-writer")[1]
    prompt = second.body["messages"][-1]["content"]
    assert brief in prompt and expected_v1.strip() in prompt and "[NEW] bea: add an example table" in prompt
    assert "Took up: bea: add an example table" in chat.drafts()[-1].reply.text

    spec = rt.agents.spec("writer")
    for version, logged in zip(await _versions(rt), llm_wf.requests(model="gpt-writer"), strict=True):
        assert version.agent == "writer" and version.model == "gpt-writer"
        assert version.input_tokens == _tokens(logged.prompt_text) > 0
        assert version.output_tokens == _tokens(version.text) > 0
        assert version.cost_usd == pytest.approx(
            (version.input_tokens * spec.price_input + version.output_tokens * spec.price_output) / 1e6
        )
        assert version.cost_usd > 0 and version.latency_ms >= 0 and version.finish_reason == "stop"


class SlowThreads(RecordingChat):
    """Opens a thread only once the model has been asked: proves the draft starts first."""

    def __init__(self, llm: FakeLLMServer, limits: PlatformLimits) -> None:
        super().__init__(limits=limits)
        self.llm = llm
        self.asked_before_thread = False

    async def open_thread(self, origin: MessageRef, *, number: int, title: str) -> ThreadRef:
        for _ in range(200):
            if self.llm.requests(model="gpt-writer"):
                self.asked_before_thread = True
                break
            await asyncio.sleep(0.01)
        return await super().open_thread(origin, number=number, title=title)


async def test_first_draft_is_asked_for_before_the_thread_opens(rt_factory: Any, llm_wf: FakeLLMServer) -> None:
    chat = SlowThreads(llm_wf, PlatformLimits(min_edit_interval=1.0))
    rt = rt_factory(chat=chat)
    await rt.workflow.handle(request_event("[writing] a post on tidy data"))
    assert chat.asked_before_thread, "the model call overlaps storing the project and opening its thread"
    p = await _project(rt)
    assert (p.state, p.current_version) == ("in_review", 1)
    # Written before the thread was ready: posted whole with its controls, no progress message.
    assert [s.reply.kind for s in chat.sent] == [ReplyKind.ACK, ReplyKind.DRAFT]
    assert chat.sent[-1].op == "post" and chat.sent[-1].reply.controls
    (version,) = await _versions(rt)
    assert version.text == chat.sent[-1].reply.text and version.latency_ms >= 0


async def test_a_first_draft_finished_after_the_project_was_rejected_is_dropped(
    rt_factory: Any, llm_wf: FakeLLMServer
) -> None:
    rt = rt_factory(edit_interval=1.0)
    llm_wf.latency = 0.5
    drafting = asyncio.create_task(rt.workflow.handle(request_event("[writing] a post on tidy data")))
    for _ in range(200):
        if llm_wf.requests(model="gpt-writer") and _chat(rt).sent:
            break
        await asyncio.sleep(0.01)
    await rt.workflow.handle(reply_event(1, "reject"))  # the requester, while v1 is being written
    await drafting
    p = await _project(rt)
    assert (p.state, p.current_version) == ("rejected", 0)
    assert await _versions(rt) == [] and _chat(rt).drafts() == []
    # The thread and the acknowledgement were recorded all the same (with the lease handed back).
    assert p.thread_id == "1" and p.lease_owner is None
    async with rt.db.session() as s:
        kinds = (await s.execute(select(MessageLink.kind).where(MessageLink.project_id == 1))).scalars().all()
    assert sorted(kinds) == ["ack", "request"]


async def test_a_redelivered_request_asks_the_model_once(rt_factory: Any, llm_wf: FakeLLMServer) -> None:
    rt = rt_factory()
    event = dataclasses.replace(request_event("[writing] a post on tidy data"), event_key="msg:r1")
    for _ in range(3):
        await rt.workflow.handle(event)
    assert len(llm_wf.requests(model="gpt-writer")) == 1
    async with rt.db.session() as s:
        assert len(list((await s.execute(select(Project))).scalars())) == 1


async def test_triage_agent_classifies_and_the_ack_says_why(rt_factory: Any, llm_wf: FakeLLMServer) -> None:
    rt = rt_factory()
    await rt.workflow.handle(request_event("here is my spreadsheet export, make sense of it"))
    p = await _project(rt)
    assert p.category == "data-science" and p.agent == "backup"
    assert p.category_reason == "classified by sorter: cleaning and summarising a CSV file"
    first, final = _chat(rt).sent[0], _chat(rt).sent[1]
    # acknowledged at once (keywords), then the same message edited with the model's answer
    assert first.op == "post" and first.reply.kind == ReplyKind.ACK and "asking sorter" in first.reply.text
    assert final.op == "edit" and final.message_id == first.message_id and final.reply.kind == ReplyKind.ACK
    assert "classified by sorter" in final.reply.text and "backup" in final.reply.text
    (triage_call,) = llm_wf.requests(model="sorter-mini")
    assert triage_call.body["max_completion_tokens"] == 40
    assert (await _versions(rt))[0].model == "claude-backup"


async def test_triage_falls_back_to_keywords_when_its_agent_fails(rt_factory: Any, llm_wf: FakeLLMServer) -> None:
    rt = rt_factory()
    llm_wf.inject(Fault.http(500), model="sorter-mini", times=None)
    await rt.workflow.handle(request_event("write a blog post about onboarding"))
    p = await _project(rt)
    assert p.category == "writing" and "triage agent unavailable" in p.category_reason
    assert p.state == "in_review"


async def test_rate_limit_then_success(rt_factory: Any, llm_wf: FakeLLMServer) -> None:
    rt = rt_factory()
    llm_wf.inject(Fault.rate_limit(retry_after=2), model="gpt-writer")
    await rt.workflow.handle(request_event("[writing] a haiku about retries"))
    assert [r.status for r in llm_wf.requests(model="gpt-writer")] == [429, 200]
    assert rt.sleeps == [2.0]  # type: ignore[attr-defined]
    assert (await _project(rt)).state == "in_review"


async def test_repeated_server_errors_fall_back_and_the_version_records_the_fallback(
    rt_factory: Any, llm_wf: FakeLLMServer
) -> None:
    rt = rt_factory()
    llm_wf.inject(Fault.http(503), model="gpt-writer", times=None)
    await rt.workflow.handle(request_event("[writing] a note on fallbacks"))
    (version,) = await _versions(rt)
    assert len(llm_wf.requests(model="gpt-writer")) == 2  # max_retries = 1
    assert (version.agent, version.model) == ("backup", "claude-backup")
    backup = rt.agents.spec("backup")
    assert version.cost_usd == pytest.approx(
        (
            (version.input_tokens - version.cached_tokens) * backup.price_input
            + version.cached_tokens * backup.price_cached
            + version.output_tokens * backup.price_output
        )
        / 1e6
    )
    assert (await _project(rt)).model == "claude-backup"


async def test_all_agents_failing_ends_in_a_clear_message_and_retry_works(
    rt_factory: Any, llm_wf: FakeLLMServer
) -> None:
    rt = rt_factory()
    llm_wf.inject(Fault.http(503), model="gpt-writer", times=None)
    llm_wf.inject(Fault.overloaded(), model="claude-backup", times=None)
    await rt.workflow.handle(request_event("[writing] a note that will fail first"))
    p = await _project(rt)
    assert p.state == "failed" and p.current_version == 0
    assert "backup" in p.last_error and "overloaded" in p.last_error
    error = _chat(rt).sent[-1].reply
    assert error.kind == ReplyKind.ERROR and "\n" not in error.text
    assert "backup" in error.text and "overloaded" in error.text and "retry" in error.text
    assert p.brief == "a note that will fail first"

    llm_wf.clear_faults()
    await rt.workflow.handle(reply_event(1, "retry"))
    p = await _project(rt)
    assert (p.state, p.current_version) == ("in_review", 1)
    assert (await _versions(rt))[0].agent == "writer"


@pytest.mark.parametrize(
    ("category", "model", "fault", "phrase"),
    [
        ("translation", "local-quick", Fault.break_stream(after_chunks=2), "connection lost while streaming"),
        ("translation", "local-quick", Fault.stall(5), "timed out after 0.3s"),
        ("translation", "local-quick", Fault.empty(), "empty answer"),
        ("translation", "local-quick", Fault.refusal(), "refused"),
    ],
    ids=["broken-stream", "time-out", "empty-answer", "refusal"],
)
async def test_failures_end_in_one_line_naming_the_agent(
    rt_factory: Any, llm_wf: FakeLLMServer, category: str, model: str, fault: Fault, phrase: str
) -> None:
    rt = rt_factory()
    llm_wf.inject(fault, model=model, times=None)
    await rt.workflow.handle(request_event(f"[{category}] translate this into German: good morning"))
    p = await _project(rt)
    assert p.state == "failed"
    error = _chat(rt).sent[-1].reply
    assert error.kind == ReplyKind.ERROR and "\n" not in error.text
    assert "quick" in error.text and phrase in error.text and "retry" in error.text


async def test_no_key_in_logs_chat_or_store(
    rt_factory: Any, llm_wf: FakeLLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rt = rt_factory()
    llm_wf.inject(Fault.http(401, f"Incorrect API key provided: {OPENAI_KEY}"), model="gpt-writer", times=None)
    llm_wf.inject(Fault.http(401, f"invalid x-api-key {ANTHROPIC_KEY}"), model="claude-backup", times=None)
    await rt.workflow.handle(request_event("[writing] a secret-free failure"))
    await rt.workflow.handle(reply_event(1, "status"))
    p = await _project(rt)
    assert p.state == "failed" and "key rejected" in p.last_error
    shown = "\n".join(_chat(rt).texts())
    for key in (OPENAI_KEY, ANTHROPIC_KEY):
        assert key not in shown and key not in caplog.text and key not in p.last_error
    assert "ANTHROPIC_API_KEY" in shown  # says which variable to check, not what is in it


async def test_many_projects_draft_at_once_within_the_agent_limit(rt_factory: Any, llm_wf: FakeLLMServer) -> None:
    rt = rt_factory()
    llm_wf.latency_by_model["gpt-writer"] = 0.05
    n = 6
    await asyncio.gather(
        *(rt.workflow.handle(request_event(f"[writing] post number {i}", message_id=f"r{i}")) for i in range(n))
    )
    async with rt.db.session() as s:
        states = list((await s.execute(select(Project.state))).scalars())
    assert states == ["in_review"] * n
    assert llm_wf.max_in_flight["gpt-writer"] == rt.agents.spec("writer").max_concurrency == 2


async def test_a_hung_provider_does_not_stall_other_projects(rt_factory: Any, llm_wf: FakeLLMServer) -> None:
    rt = rt_factory()
    llm_wf.latency_by_model["claude-backup"] = 30.0
    slow = [
        asyncio.create_task(rt.workflow.handle(request_event(f"[data-science] csv {i}", message_id=f"s{i}")))
        for i in range(2)
    ]
    await asyncio.gather(
        *(rt.workflow.handle(request_event(f"[writing] post {i}", message_id=f"w{i}")) for i in range(4))
    )
    async with rt.db.session() as s:
        rows = (await s.execute(select(Project.category, Project.state))).all()
    assert sorted(state for cat, state in rows if cat == "writing") == ["in_review"] * 4
    assert not any(task.done() for task in slow)
    assert llm_wf.in_flight["claude-backup"] >= 1
    for task in slow:
        task.cancel()
    await asyncio.gather(*slow, return_exceptions=True)
