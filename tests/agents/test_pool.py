"""AgentPool over real backends and the fake server: retries, fallbacks, limits, fairness, cost."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import bot
from bot.agents import AgentPool, cost_usd
from bot.errors import AgentRejected, AgentUnavailable
from bot.settings import Settings
from tests.agents.conftest import ANTHROPIC_KEY, OPENAI_KEY, request
from tests.fakes.llm_server import FakeLLMServer, Fault

CONFIG = """
[agents.primary]
provider = "openai"
model = "gpt-primary"
max_retries = {retries}
max_concurrency = 2
price_input = 2.0
price_output = 8.0
price_cached = 0.5

[agents.backup]
provider = "anthropic"
model = "claude-backup"
max_retries = 0

[agents.slow]
provider = "openai-compatible"
model = "slow-local"
max_concurrency = 1

[agents.wide]
provider = "openai"
model = "gpt-wide"
max_concurrency = 8
"""


def make_settings(tmp_path: Path, server: FakeLLMServer, retries: int = 2) -> Settings:
    path = tmp_path / "draftloop.toml"
    path.write_text(CONFIG.format(retries=retries), encoding="utf-8")
    return Settings(
        draftloop_config=path,
        openai_api_key=OPENAI_KEY,
        anthropic_api_key=ANTHROPIC_KEY,
        openai_base_url=server.openai_base_url,
        anthropic_base_url=server.anthropic_base_url,
    )


class RecordingSleep:
    """The pool's back-off sleeps, recorded instead of waited (no timing in tests)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
async def pool_env(tmp_path: Path, llm: FakeLLMServer) -> AsyncIterator[tuple[AgentPool, RecordingSleep]]:
    sleep = RecordingSleep()
    pool = AgentPool(make_settings(tmp_path, llm), sleep=sleep)
    yield pool, sleep
    await pool.aclose()


async def test_rate_limit_then_success_honours_retry_after(
    pool_env: tuple[AgentPool, RecordingSleep], llm: FakeLLMServer
) -> None:
    pool, sleep = pool_env
    llm.inject(Fault.rate_limit(retry_after=3), model="gpt-primary")
    result, spec = await pool.draft(agents=["primary"], request=request())
    assert spec.name == "primary" and result.text
    assert [r.status for r in llm.requests(model="gpt-primary")] == [429, 200]
    assert sleep.calls == [3.0]


async def test_repeated_server_errors_fall_back_to_the_next_agent(
    pool_env: tuple[AgentPool, RecordingSleep], llm: FakeLLMServer
) -> None:
    pool, sleep = pool_env
    llm.inject(Fault.http(503), model="gpt-primary", times=None)
    shown: list[str] = []

    async def progress(text: str) -> None:
        shown.append(text)

    result, spec = await pool.draft(agents=["primary", "backup"], request=request(), progress=progress)
    primary_spec = pool.spec("primary")
    assert spec.name == "backup" and result.model == "claude-backup"
    assert len(llm.requests(model="gpt-primary")) == primary_spec.max_retries + 1
    assert len(llm.requests(model="claude-backup")) == 1
    assert len(sleep.calls) == primary_spec.max_retries and all(s > 0 for s in sleep.calls)
    assert shown and shown[-1] == result.text


async def test_all_agents_failing_raises_the_last_error_in_one_line(
    pool_env: tuple[AgentPool, RecordingSleep], llm: FakeLLMServer
) -> None:
    pool, _ = pool_env
    llm.inject(Fault.http(500), model="gpt-primary", times=None)
    llm.inject(Fault.overloaded(), model="claude-backup", times=None)
    with pytest.raises(AgentUnavailable) as err:
        await pool.draft(agents=["primary", "backup"], request=request())
    message = str(err.value)
    assert "backup" in message and "overloaded" in message and "\n" not in message
    assert OPENAI_KEY not in message and ANTHROPIC_KEY not in message


async def test_rejection_is_not_retried_on_the_same_agent(
    pool_env: tuple[AgentPool, RecordingSleep], llm: FakeLLMServer
) -> None:
    pool, sleep = pool_env
    llm.inject(Fault.empty(), model="gpt-primary", times=None)
    with pytest.raises(AgentRejected, match="empty answer"):
        await pool.draft(agents=["primary"], request=request())
    assert len(llm.requests(model="gpt-primary")) == 1
    assert sleep.calls == []


async def test_broken_stream_is_retried_and_the_retry_succeeds(
    pool_env: tuple[AgentPool, RecordingSleep], llm: FakeLLMServer
) -> None:
    pool, _ = pool_env
    llm.inject(Fault.break_stream(after_chunks=2), model="gpt-primary")
    result, _ = await pool.draft(agents=["primary"], request=request())
    assert [r.fault for r in llm.requests(model="gpt-primary")] == ["break_stream", ""]
    assert result.text.endswith("listed at the end.\n")


async def test_per_agent_in_flight_limit_is_respected(
    pool_env: tuple[AgentPool, RecordingSleep], llm: FakeLLMServer
) -> None:
    pool, _ = pool_env
    llm.latency = 0.05
    n = 8
    results = await asyncio.gather(
        *(pool.draft(agents=["primary"], request=request(f"brief {i}")) for i in range(n)),
        *(pool.draft(agents=["wide"], request=request(f"wide {i}")) for i in range(n)),
    )
    assert len(results) == 2 * n
    assert llm.max_in_flight["gpt-primary"] == pool.spec("primary").max_concurrency == 2
    assert llm.max_in_flight["gpt-wide"] == n  # a wider limit lets all of them run at once


async def test_queue_beyond_the_limit_is_first_come_first_served(
    pool_env: tuple[AgentPool, RecordingSleep], llm: FakeLLMServer
) -> None:
    pool, _ = pool_env
    llm.latency = 0.02
    tasks = []
    for i in range(6):
        tasks.append(asyncio.create_task(pool.draft(agents=["slow"], request=request(f"job {i}"))))
        await asyncio.sleep(0)  # each task reaches the queue before the next is created
    await asyncio.gather(*tasks)
    order = [r.body["messages"][-1]["content"] for r in llm.requests(model="slow-local")]
    assert order == [f"job {i}" for i in range(6)]
    assert llm.max_in_flight["slow-local"] == 1


async def test_a_slow_provider_never_stalls_another_agents_projects(
    pool_env: tuple[AgentPool, RecordingSleep], llm: FakeLLMServer
) -> None:
    pool, _ = pool_env
    llm.latency_by_model["slow-local"] = 30.0  # effectively hung; its limit is 1, so the rest queue
    slow = [asyncio.create_task(pool.draft(agents=["slow"], request=request(f"slow {i}"))) for i in range(3)]
    fast = await asyncio.gather(*(pool.draft(agents=["wide"], request=request(f"fast {i}")) for i in range(10)))
    assert len(fast) == 10 and all(spec.name == "wide" for _, spec in fast)
    assert not any(task.done() for task in slow), "the slow agent is still busy, yet the others finished"
    assert llm.in_flight["slow-local"] == 1
    for task in slow:
        task.cancel()
    await asyncio.gather(*slow, return_exceptions=True)


async def test_cost_from_agent_prices(pool_env: tuple[AgentPool, RecordingSleep], llm: FakeLLMServer) -> None:
    pool, _ = pool_env
    result, spec = await pool.draft(agents=["primary"], request=request())
    expected = (
        (result.input_tokens - result.cached_tokens) * spec.price_input
        + result.cached_tokens * spec.price_cached
        + result.output_tokens * spec.price_output
    ) / 1_000_000
    assert result.input_tokens > 0 and result.output_tokens > 0
    assert cost_usd(spec, result) == pytest.approx(expected)
    assert cost_usd(pool.spec("backup"), result) == 0.0  # no prices configured


async def test_a_long_retry_after_goes_straight_to_the_fallback(
    pool_env: tuple[AgentPool, RecordingSleep], llm: FakeLLMServer
) -> None:
    pool, sleep = pool_env
    llm.inject(Fault.rate_limit(retry_after=90), model="gpt-primary")
    result, spec = await pool.draft(agents=["primary", "backup"], request=request())
    assert spec.name == "backup" and result.text
    assert len(llm.requests(model="gpt-primary")) == 1 and sleep.calls == []


async def test_complete_is_one_bounded_call(pool_env: tuple[AgentPool, RecordingSleep], llm: FakeLLMServer) -> None:
    pool, sleep = pool_env
    llm.inject(Fault.http(503), model="gpt-primary")
    with pytest.raises(AgentUnavailable):
        await pool.complete("primary", request(), timeout=5)
    llm.latency_by_model["gpt-primary"] = 5.0
    with pytest.raises(AgentUnavailable, match="no answer within 0.2s"):
        await pool.complete("primary", request(), timeout=0.2)
    assert len(llm.requests(model="gpt-primary")) == 2 and sleep.calls == []


async def test_prepare_builds_every_reachable_backend_without_calling_any(tmp_path: Path, llm: FakeLLMServer) -> None:
    pool = AgentPool(make_settings(tmp_path, llm))
    try:
        pool.prepare()
        assert set(pool._backends) == set(pool.routes()) >= {"primary", "backup", "slow", "wide"}
        built = dict(pool._backends)
        pool.prepare()  # the same backends, not new ones
        assert all(pool.backend(pool.spec(name)) is backend for name, backend in built.items())
        assert llm.log == []
    finally:
        await pool.aclose()


@contextlib.contextmanager
def left_to_the_collector() -> Iterator[list[str]]:
    """draftloop's async generators finalized unfinished (asyncio's finalizer then closes each in a
    task of its own, whenever the collector finds it): what the pool should never leave behind.
    Entered inside the running loop, which installs its own hooks when it starts."""
    firstiter, finalizer = sys.get_asyncgen_hooks()
    left: list[str] = []
    ours = (str(Path(bot.__file__).parent.parent / "bot"), str(Path(bot.__file__).parent.parent / "adapters"))

    def finalize(agen: Any) -> None:
        # Ours only: httpx's own chain under a response (aiter_text, aiter_bytes…) is left to the
        # collector by httpx itself when a stream is abandoned mid-way.
        if agen.ag_code.co_filename.startswith(ours):
            left.append(agen.__qualname__)
        if finalizer is not None:
            finalizer(agen)

    sys.set_asyncgen_hooks(firstiter, finalize)
    try:
        yield left
    finally:
        sys.set_asyncgen_hooks(firstiter, finalizer)


async def test_the_pool_closes_every_stream_it_reads_however_the_draft_ends(
    pool_env: tuple[AgentPool, RecordingSleep], llm: FakeLLMServer
) -> None:
    pool, _ = pool_env
    with left_to_the_collector() as left:
        for agent in ("primary", "backup"):  # OpenAI's chat stream, Anthropic's messages stream
            result, _ = await pool.draft(agents=[agent], request=request())
            assert result.text
        llm.inject(Fault.empty(), model="gpt-primary")  # the pool refuses the result it was handed
        with pytest.raises(AgentRejected):
            await pool.draft(agents=["primary"], request=request())

        shown = asyncio.Event()

        async def progress(_text: str) -> None:
            shown.set()
            await asyncio.Event().wait()  # a chat platform that never answers: the draft is cancelled

        drafting = asyncio.create_task(pool.draft(agents=["primary"], request=request(), progress=progress))
        await shown.wait()
        drafting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await drafting
        gc.collect()
    assert left == []
