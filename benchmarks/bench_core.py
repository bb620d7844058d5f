"""How much time the core adds per step, with the offline agent, on SQLite and PostgreSQL.

Drives N projects through request → feedback → accept via `Workflow.handle`, timing each step and
subtracting the time spent inside the agent, so the figure is the core's own cost (storage,
leases, state machine, prompts, posting to a no-op platform).

    python -m benchmarks.bench_core            # 1,000 projects on both databases
    python -m benchmarks.bench_core --tiny     # 20 projects, a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from adapters.agents.offline_agent import OfflineAgent
from benchmarks._db import scratch_database
from bot.agent_spec import AgentSpec
from bot.app.runtime import Runtime
from bot.events import Actor, Locator, MessageRef, RequestPosted, ThreadReply
from bot.ports import DraftRequest, DraftResult, PlatformLimits
from bot.settings import Settings
from storage.engine import Database
from tests.fakes.recording_chat import RecordingChat


class TimedAgent:
    """The offline agent, with the time spent inside it added up."""

    def __init__(self) -> None:
        self.inner = OfflineAgent(AgentSpec(name="offline"))
        self.name, self.model = self.inner.name, self.inner.model
        self.spent = 0.0

    async def stream(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
        start = time.perf_counter()
        async for item in self.inner.stream(request):
            self.spent += time.perf_counter() - start
            yield item
            start = time.perf_counter()
        self.spent += time.perf_counter() - start

    async def aclose(self) -> None:
        return None


class NullChat(RecordingChat):
    """Keeps nothing: a benchmark of 1,000 projects should not measure list growth."""

    async def post(self, thread, reply):  # type: ignore[no-untyped-def]
        return MessageRef(self.name, thread.channel, f"m{next(self._ids)}", thread.thread_id)

    async def edit(self, message, reply):  # type: ignore[no-untyped-def]
        return None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(kind: str, projects: int) -> dict[str, float]:
    async with scratch_database(kind) as url:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(draftloop_agent="offline", draftloop_data_dir=Path(tmp))
            rt = Runtime(settings, db=Database(url))
            rt.register_platform(NullChat(limits=PlatformLimits()))
            agent = TimedAgent()
            rt.agents.use("offline", agent)
            steps: dict[str, list[float]] = {"request": [], "feedback": [], "accept": []}
            started = time.perf_counter()
            for i in range(1, projects + 1):
                user = Actor("console", f"u{i % 7}", f"u{i % 7}")
                events = {
                    "request": RequestPosted(
                        MessageRef("console", "C", f"r{i}"), user, f"write post {i} on onboarding"
                    ),
                    "feedback": ThreadReply(Locator(number=i), Actor("console", "ed", "ed"), "shorter, 10m"),
                    "accept": ThreadReply(Locator(number=i), user, "accept"),
                }
                for step, event in events.items():
                    before_agent = agent.spent
                    t0 = time.perf_counter()
                    await rt.workflow.handle(event)
                    elapsed = time.perf_counter() - t0 - (agent.spent - before_agent)
                    steps[step].append(elapsed * 1000)
            total = time.perf_counter() - started
            await rt.db.dispose()
    every = [v for values in steps.values() for v in values]
    return {
        "projects_per_s": projects / total,
        "p50_ms": statistics.median(every),
        "p99_ms": pct(every, 0.99),
        **{f"{k}_p99_ms": pct(v, 0.99) for k, v in steps.items()},
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--tiny", action="store_true", help="20 projects: a smoke run")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    n = 20 if args.tiny else args.projects
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(f"core workflow, {n} projects (request → feedback → accept), offline agent time excluded")
    print(
        f"{'database':<10} {'projects/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'req p99':>8} {'fb p99':>8} {'acc p99':>8}"
    )
    for kind in kinds:
        r = await run(kind, n)
        print(
            f"{kind:<10} {r['projects_per_s']:>11.1f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['request_p99_ms']:>8.2f} {r['feedback_p99_ms']:>8.2f} {r['accept_p99_ms']:>8.2f}"
        )
    print("target: p99 < 20 ms per step on both databases")


if __name__ == "__main__":
    asyncio.run(main())
