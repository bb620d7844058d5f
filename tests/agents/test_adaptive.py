"""The adaptive limit on calls in flight: its arithmetic on a made-up clock, its queue, and the pool
against the fake model server through the real SDKs (a capacity that answers 429, retry-after,
no limit at all, an explicit `max_concurrency`)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.agents import AgentPool
from bot.concurrency import (
    ACCEPT_AFTER,
    BACKOFF,
    DEFAULT_CEILING,
    INITIAL,
    MAX_ACCEPT_AFTER,
    QUIET,
    AdaptiveLimit,
    Gate,
)
from bot.settings import Settings
from tests.agents.conftest import ANTHROPIC_KEY, OPENAI_KEY, request
from tests.fakes.llm_server import FakeLLMServer, Fault

# -- the arithmetic, on a made-up clock ------------------------------------------------------------


def test_starts_at_the_initial_limit_or_the_ceiling_when_lower() -> None:
    assert AdaptiveLimit().value == INITIAL
    assert AdaptiveLimit().ceiling == DEFAULT_CEILING
    assert AdaptiveLimit(ceiling=3).value == 3
    assert AdaptiveLimit(ceiling=0).value == 1


def test_slow_start_doubles_once_per_round_while_calls_queue_on_a_full_limit() -> None:
    limit = AdaptiveLimit(now=0.0)
    assert not limit.on_round(ACCEPT_AFTER / 2, in_flight=16, waiting=10)  # the round is not over
    assert limit.on_round(ACCEPT_AFTER, in_flight=16, waiting=10) and limit.value == 32
    assert not limit.on_round(ACCEPT_AFTER * 1.5, in_flight=32, waiting=10)
    assert limit.on_round(ACCEPT_AFTER * 2, in_flight=32, waiting=10) and limit.value == 64
    assert not limit.on_round(ACCEPT_AFTER * 3, in_flight=64, waiting=0)  # nobody waits: no need
    assert limit.value == 64


def test_a_round_in_which_the_limit_was_not_full_proves_nothing() -> None:
    limit = AdaptiveLimit(now=0.0)
    assert not limit.on_round(1.0, in_flight=10, waiting=5)  # held by something else (a pause)
    assert not limit.on_round(1.0 + ACCEPT_AFTER / 2, in_flight=16, waiting=5)  # a new round began at 1.0
    assert limit.on_round(1.0 + ACCEPT_AFTER, in_flight=16, waiting=5) and limit.value == 32


def test_a_stale_round_restarts_when_calls_start_queueing() -> None:
    limit = AdaptiveLimit(now=0.0)
    limit.begin_round(50.0)
    assert limit.next_round() == pytest.approx(50.0 + ACCEPT_AFTER)


def test_slow_start_reaches_a_burst_of_300_in_five_rounds_and_stops_at_the_ceiling() -> None:
    limit = AdaptiveLimit(now=0.0)
    now, rounds = 0.0, 0
    while limit.value < 300:
        now += ACCEPT_AFTER
        assert limit.on_round(now, in_flight=limit.value, waiting=300 - limit.value)
        rounds += 1
    assert rounds == 5 and now <= 0.5 + 1e-9
    capped = AdaptiveLimit(ceiling=20, now=0.0)
    assert capped.on_round(ACCEPT_AFTER, in_flight=16, waiting=100) and capped.value == 20
    assert not capped.slow_start and not capped.on_round(1.0, in_flight=20, waiting=100)


def test_a_success_in_slow_start_adds_one() -> None:
    limit = AdaptiveLimit(now=0.0)
    limit.on_success(1.0, in_flight=16, latency=1.0)
    assert limit.value == 17


def test_congestion_cuts_to_a_fraction_of_what_is_still_in_flight_and_ends_slow_start() -> None:
    limit = AdaptiveLimit(now=0.0)
    limit.limit = 300.0
    limit.on_congestion(1.0, in_flight=20, latency=0.01)
    assert limit.value == math.floor(BACKOFF * 20) == 18 and not limit.slow_start
    # refusals of the same burst arriving later do not compound below what the provider still runs
    limit.on_congestion(1.01, in_flight=20, latency=0.01)
    assert limit.value == 18
    limit.on_congestion(1.02, in_flight=10, latency=0.01)
    assert limit.value == 9
    limit.on_congestion(1.03, in_flight=0, latency=0.01)
    assert limit.value == 1  # the floor
    assert limit.signals == 4


def test_additive_increase_after_congestion_is_one_per_limit_of_successes() -> None:
    limit = AdaptiveLimit(now=0.0)
    limit.on_congestion(0.0, in_flight=11, latency=0.01)
    assert limit.value == 9
    for i in range(9):
        limit.on_success(1.0 + i, in_flight=9, latency=1.0)
    assert limit.value == 10
    for i in range(10):
        limit.on_success(20.0 + i, in_flight=10, latency=1.0)
    assert limit.value == 11


def test_no_growth_while_the_limit_is_mostly_unused_or_latency_climbs() -> None:
    limit = AdaptiveLimit(now=0.0)
    limit.on_congestion(0.0, in_flight=12, latency=0.01)
    before = limit.limit
    for i in range(50):
        limit.on_success(1.0 + i * 0.01, in_flight=2, latency=1.0)  # 2 of 10 in use
    assert limit.limit == before
    for i in range(20):
        limit.on_success(2.0 + i * 0.01, in_flight=10, latency=1.0)
    grown = limit.limit
    assert grown > before
    limit.on_success(3.0, in_flight=10, latency=5.0)  # far slower than the running average
    assert limit.limit == grown


def test_slow_start_resumes_after_a_quiet_spell() -> None:
    limit = AdaptiveLimit(now=0.0)
    limit.on_congestion(0.0, in_flight=12, latency=0.01)
    limit.on_success(QUIET / 2, in_flight=10, latency=1.0)
    assert not limit.slow_start
    limit.on_success(QUIET + 1.0, in_flight=10, latency=1.0)
    assert limit.slow_start


def test_slow_start_rounds_last_twice_as_long_as_a_refusal_takes() -> None:
    limit = AdaptiveLimit()
    assert limit.accept_after == ACCEPT_AFTER
    limit.on_congestion(0.0, in_flight=5, latency=0.4)
    assert limit.accept_after == pytest.approx(0.8)
    limit.on_congestion(0.0, in_flight=5, latency=60.0)  # a time-out
    assert limit.accept_after == MAX_ACCEPT_AFTER


# -- the queue -------------------------------------------------------------------------------------


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_gate_serves_waiters_in_arrival_order_retries_first() -> None:
    gate = Gate(AdaptiveLimit(ceiling=1))
    first = await gate.acquire()
    order: list[str] = []

    async def wait(name: str, retry: bool = False) -> None:
        lease = await gate.acquire(retry=retry)
        order.append(name)
        gate.done(lease, "ok")

    tasks = [asyncio.create_task(wait(f"new {i}")) for i in range(3)]
    await _settle()
    tasks.append(asyncio.create_task(wait("retry", retry=True)))
    await _settle()
    gate.done(first, "ok")
    await asyncio.gather(*tasks)
    assert order == ["retry", "new 0", "new 1", "new 2"]
    assert gate.in_flight == 0


async def test_a_pause_holds_new_calls_but_not_retries_and_a_cancelled_waiter_frees_its_place() -> None:
    gate = Gate(AdaptiveLimit(ceiling=4))
    lease = await gate.acquire()
    gate.done(lease, "congested", retry_after=3600)
    assert gate.paused_for() > 3500
    held = asyncio.create_task(gate.acquire())
    await _settle()
    assert not held.done()
    retry = await asyncio.wait_for(gate.acquire(retry=True), 1)
    assert gate.in_flight == 1
    held.cancel()
    await asyncio.gather(held, return_exceptions=True)
    gate.done(retry, "neutral")
    assert gate.in_flight == 0 and gate.state().waiting == 0
    gate.close()


# -- the pool against the fake server --------------------------------------------------------------


def _settings(server: FakeLLMServer, tmp_path: Path | None = None, config: str = "") -> Settings:
    extra = {}
    if config and tmp_path is not None:
        path = tmp_path / "draftloop.toml"
        path.write_text(config, encoding="utf-8")
        extra["draftloop_config"] = path
    return Settings(
        openai_api_key=OPENAI_KEY,
        anthropic_api_key=ANTHROPIC_KEY,
        openai_base_url=server.openai_base_url,
        anthropic_base_url=server.anthropic_base_url,
        **extra,
    )


@pytest.fixture
async def pool(llm: FakeLLMServer) -> AsyncIterator[AgentPool]:
    """Default settings, as the quick start has them: no config file, an agent named `openai:MODEL`."""
    agents = AgentPool(_settings(llm))
    yield agents
    await agents.aclose()


async def test_a_provider_that_refuses_above_5_in_flight_gets_every_draft_done(
    pool: AgentPool, llm: FakeLLMServer
) -> None:
    llm.latency = 0.05
    llm.capacity_by_model["gpt-cap"] = 5
    results = await asyncio.gather(
        *(pool.draft(agents=["openai:gpt-cap"], request=request(f"n {i}")) for i in range(40))
    )
    assert len(results) == 40 and all(r.text for r, _ in results)
    log = llm.requests(model="gpt-cap")
    refused = [r for r in log if r.status == 429]
    assert len(log) - len(refused) == 40  # each draft answered once
    assert llm.max_in_flight["gpt-cap"] == 5  # the provider was kept full
    # Refusals teach the limit and stay bounded: under one per draft. (A loaded machine stretches
    # the calls, so more of them overlap while the limit is still being learnt: 12-34 seen.)
    assert 1 <= len(refused) <= 40, len(refused)
    early, late = log[: len(log) // 2], log[len(log) // 2 :]
    late_refused = sum(r.status == 429 for r in late)
    # converged: the second half is mostly accepted, and refused less than the first
    assert late_refused <= len(late) // 3 and late_refused <= sum(r.status == 429 for r in early)
    state = pool.limit_of(pool.spec("openai:gpt-cap"))
    assert 3 <= state.limit <= 7 and state.in_flight == 0 and state.signals == len(refused)


async def test_a_burst_grows_far_past_the_old_fixed_default_of_4(pool: AgentPool, llm: FakeLLMServer) -> None:
    llm.latency = 0.3
    await asyncio.gather(*(pool.draft(agents=["openai:gpt-wide"], request=request(f"n {i}")) for i in range(100)))
    assert llm.max_in_flight["gpt-wide"] >= 50  # above the start (16): the limit grew while calls queued
    assert not [r for r in llm.requests(model="gpt-wide") if r.status != 200]


async def test_retry_after_holds_every_new_call_to_that_agent(pool: AgentPool, llm: FakeLLMServer) -> None:
    wait = 0.3
    llm.inject(Fault.rate_limit(retry_after=wait), model="gpt-ra")
    first = asyncio.create_task(pool.draft(agents=["openai:gpt-ra"], request=request("first")))
    while not llm.requests(model="gpt-ra") or llm.requests(model="gpt-ra")[0].status != 429:
        await asyncio.sleep(0.005)
    refused_at = llm.requests(model="gpt-ra")[0].ended
    await asyncio.sleep(0.05)  # the pool has read the 429
    others = [pool.draft(agents=["openai:gpt-ra"], request=request(f"n {i}")) for i in range(5)]
    await asyncio.gather(first, *others)
    later = llm.requests(model="gpt-ra")[1:]
    assert len(later) == 6 and all(r.status == 200 for r in later)
    assert min(r.started for r in later) >= refused_at + wait - 0.01


async def test_a_retry_after_beyond_the_longest_wait_sends_new_drafts_to_the_fallback(
    tmp_path: Path, llm: FakeLLMServer
) -> None:
    config = '[agents.primary]\nprovider = "openai"\nmodel = "gpt-p"\n'
    config += '[agents.backup]\nprovider = "openai"\nmodel = "gpt-b"\n'
    agents = AgentPool(_settings(llm, tmp_path, config))
    llm.inject(Fault.rate_limit(retry_after=120), model="gpt-p")
    try:
        for i in range(3):
            _, spec = await agents.draft(agents=["primary", "backup"], request=request(f"n {i}"))
            assert spec.name == "backup"
    finally:
        await agents.aclose()
    assert len(llm.requests(model="gpt-p")) == 1  # paused: the later drafts did not knock again


async def test_an_explicit_max_concurrency_is_never_exceeded(tmp_path: Path, llm: FakeLLMServer) -> None:
    config = '[agents.capped]\nprovider = "openai"\nmodel = "gpt-capped"\nmax_concurrency = 3\n'
    agents = AgentPool(_settings(llm, tmp_path, config))
    llm.latency = 0.05
    try:
        await asyncio.gather(*(agents.draft(agents=["capped"], request=request(f"n {i}")) for i in range(30)))
        state = agents.limit_of(agents.spec("capped"))
        shown = {item.name: str(item.concurrency) for item in await agents.check(probe=False)}
    finally:
        await agents.aclose()
    assert llm.max_in_flight["gpt-capped"] == 3
    assert state.ceiling == 3 and state.limit == 3
    assert str(state) == shown["capped"] == "adaptive concurrency, at most 3 in flight"  # `draftloop agents`
    default = AgentPool(_settings(llm))
    assert str(default.limit_of(default.spec("openai:gpt-any"))) == "adaptive concurrency"
