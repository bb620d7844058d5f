"""Adaptive concurrency per agent against the local fake model server (real SDK, 127.0.0.1).

    .venv/bin/python -m benchmarks.bench_adaptive          # full run (~45 s)
    .venv/bin/python -m benchmarks.bench_adaptive --tiny   # seconds-long smoke run

1. Burst: 300 drafts at once to a 5 s model that accepts them all (tiny: 30, 0.2 s), with default
   settings (an agent named `openai:MODEL`, no config file, as the quick start has it), beside a
   client that sends every call at once through the same backend. Target: all complete, p50 ≤ 1.3×.
   For scale, the old default (a fixed 4 in flight) gets as many seconds as the adaptive run took.
2. Capacity: the fake answers 429 above 20 calls in flight; 200 drafts to a 1 s model (tiny: 60,
   0.1 s), default settings, beside a client that knows the capacity (a semaphore of 20) through the
   same backend. Target: every draft done, time to complete all ≤ 1.3×.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from bot.agents import AgentPool
from bot.ports import DraftRequest
from bot.settings import Settings
from tests.fakes.llm_server import FakeLLMServer

CAPACITY = 20
TARGET = 1.3


@dataclass
class Run:
    client: str
    completed: int
    total: int
    wall: float
    times: list[float]
    max_in_flight: int
    refused: int

    @property
    def p50(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")


def _request(i: int) -> DraftRequest:
    brief = f"Write a short note number {i} on tidy data."
    return DraftRequest(
        project_number=i,
        version=1,
        category="writing",
        brief=brief,
        system="You produce finished deliverables.",
        messages=(("user", brief),),
    )


def _settings(server: FakeLLMServer, config: str = "", folder: Path | None = None) -> Settings:
    extra = {}
    if config and folder is not None:
        path = folder / "draftloop.toml"
        path.write_text(config, encoding="utf-8")
        extra["draftloop_config"] = path
    return Settings(openai_api_key="sk-bench", openai_base_url=server.openai_base_url, **extra)


async def _timed(started: float, call: Awaitable[object]) -> float:
    await call
    return time.perf_counter() - started


async def _gather(calls: list[Awaitable[object]], *, window: float | None = None) -> tuple[list[float], float]:
    """Seconds from the start to each call's end; with `window`, calls not done by then are cancelled."""
    started = time.perf_counter()
    tasks = [asyncio.ensure_future(_timed(started, call)) for call in calls]
    done, pending = await asyncio.wait(tasks, timeout=window)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    times = sorted(t.result() for t in done if not t.cancelled() and t.exception() is None)
    return times, time.perf_counter() - started


async def _direct(pool: AgentPool, agent: str, i: int, gate: asyncio.Semaphore | None = None) -> None:
    """One call through the backend itself, no pool: the reference clients."""
    backend = pool.backend(pool.spec(agent))
    if gate is None:
        async for _ in backend.stream(_request(i)):
            pass
        return
    async with gate:
        async for _ in backend.stream(_request(i)):
            pass


async def _warm(server: FakeLLMServer, pool: AgentPool, *agents: str) -> None:
    """Import the SDK and open a connection per backend before timing anything, outside the limiter."""
    latency, server.latency = server.latency, 0.0
    try:
        for agent in agents:
            await _direct(pool, agent, -1)
    finally:
        server.latency = latency


def _run(client: str, server: FakeLLMServer, model: str, n: int, times: list[float], wall: float) -> Run:
    refused = sum(1 for r in server.requests(model=model) if r.status == 429)
    return Run(client, len(times), n, wall, times, server.max_in_flight[model], refused)


async def burst(n: int, latency: float, folder: Path) -> list[Run]:
    runs = []
    async with FakeLLMServer(latency=latency) as server:
        pool = AgentPool(_settings(server))
        try:
            await _warm(server, pool, "openai:adaptive", "openai:at-once")
            times, wall = await _gather([pool.draft(agents=["openai:adaptive"], request=_request(i)) for i in range(n)])
            runs.append(_run("draftloop, default settings", server, "adaptive", n, times, wall))
            times, wall_all = await _gather([_direct(pool, "openai:at-once", i) for i in range(n)])
            runs.append(_run("all at once (reference)", server, "at-once", n, times, wall_all))
        finally:
            await pool.aclose()
        old = AgentPool(
            _settings(server, '[agents.fixed]\nprovider = "openai"\nmodel = "fixed"\nmax_concurrency = 4\n', folder)
        )
        try:
            await _warm(server, old, "fixed")
            calls = [old.draft(agents=["fixed"], request=_request(i)) for i in range(n)]
            times, _ = await _gather(calls, window=wall)
            runs.append(_run("fixed 4 in flight (old default)", server, "fixed", n, times, wall))
        finally:
            await old.aclose()
    return runs


async def capacity(n: int, latency: float) -> list[Run]:
    runs = []
    async with FakeLLMServer(latency=latency, capacity=CAPACITY) as server:
        pool = AgentPool(_settings(server))
        try:
            await _warm(server, pool, "openai:adaptive", "openai:knows-n")
            calls = [pool.draft(agents=["openai:adaptive"], request=_request(i)) for i in range(n)]
            times, wall = await _gather(calls)
            runs.append(_run("draftloop, default settings", server, "adaptive", n, times, wall))
            gate = asyncio.Semaphore(CAPACITY)
            times, wall = await _gather([_direct(pool, "openai:knows-n", i, gate) for i in range(n)])
            runs.append(_run(f"knows N (semaphore of {CAPACITY})", server, "knows-n", n, times, wall))
        finally:
            await pool.aclose()
    return runs


def _table(title: str, runs: list[Run], ratio_name: str, ratio: float) -> None:
    print(f"\n{title}\n")
    print("| client | completed | p50 (s) | all done (s) | max in flight | 429s |")
    print("|---|---:|---:|---:|---:|---:|")
    for run in runs:
        complete = run.completed == run.total
        done = f"{run.wall:.2f}" if complete else f"not in {run.wall:.1f}"
        p50 = f"{run.p50:.2f}" if complete else "-"
        figures = f"{p50} | {done} | {run.max_in_flight} | {run.refused}"
        print(f"| {run.client} | {run.completed}/{run.total} | {figures} |")
    verdict = "met" if ratio <= TARGET and runs[0].completed == runs[0].total else "MISSED"
    print(f"\n{ratio_name}: {ratio:.2f}x (target ≤ {TARGET}x, all complete): {verdict}")


async def main(tiny: bool) -> None:
    logging.getLogger("bot.agents").setLevel(logging.ERROR)  # the capacity run's 429s are the point
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # the old default's calls cut at the window
    n1, latency1 = (30, 0.2) if tiny else (300, 5.0)
    n2, latency2 = (60, 0.1) if tiny else (200, 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        runs = await burst(n1, latency1, Path(tmp))
    _table(
        f"1. burst: {n1} drafts at once, model latency {latency1:g} s, no provider limit",
        runs,
        "p50 draftloop / all at once",
        runs[0].p50 / runs[1].p50,
    )
    runs = await capacity(n2, latency2)
    _table(
        f"2. capacity: the provider answers 429 above {CAPACITY} in flight; {n2} drafts, latency {latency2:g} s",
        runs,
        "time to complete all, draftloop / knows N",
        runs[0].wall / runs[1].wall,
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long smoke run")
    args = parser.parse_args()
    asyncio.run(main(args.tiny))


if __name__ == "__main__":
    cli()
