"""How much time the core adds per step, with the offline agent, on SQLite and PostgreSQL.

Drives N projects through request → feedback → accept via `Workflow.handle`, timing each step and
subtracting the time spent inside the agent, so the figure is the core's own cost (storage,
leases, state machine, prompts, posting to a no-op platform).

Beside it, in the same run, a baseline: every SQL statement each step sent (captured with
SQLAlchemy's `before_cursor_execute`, with its parameters and grouped into the step's
transactions) is replayed right after the step, on a database of its own of the same kind, straight
through the same driver (aiosqlite or asyncpg, on a connection the same engine set up), with no ORM
and no workflow. The ratio of the two is what draftloop costs above the SQL it has to run.

    python -m benchmarks.bench_core            # 1,000 projects on both databases
    python -m benchmarks.bench_core --tiny     # 20 projects, a smoke run
    python -m benchmarks.bench_core --loop asyncio   # on asyncio's loop, not uvloop (the default when installed)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event

from adapters.agents.offline_agent import OfflineAgent
from benchmarks._db import scratch_database
from bot.agent_spec import AgentSpec
from bot.app.event_loop import loop_factory, loop_name
from bot.app.runtime import Runtime
from bot.events import Actor, Locator, MessageRef, RequestPosted, ThreadReply
from bot.ports import DraftRequest, DraftResult, PlatformLimits
from bot.settings import EVENT_LOOPS, Settings
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
        async with aclosing(self.inner.stream(request)) as items:
            async for item in items:
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


@dataclass
class Transaction:
    """The statements one transaction sent, with their driver-level parameters, and how it ended."""

    statements: list[tuple[str, Any, bool]] = field(default_factory=list)
    rollback: bool = False


class StatementLog:
    """Records, per step, the transactions the engine ran and their statements, in the order they began.

    Statements outside a transaction (autocommit) become one-statement transactions."""

    def __init__(self) -> None:
        self.steps: list[list[Transaction]] = []
        self._open: dict[int, Transaction] = {}

    def start_step(self) -> None:
        self.steps.append([])

    def attach(self, sync_engine: Any) -> None:
        event.listen(sync_engine, "begin", self._begin)
        event.listen(sync_engine, "before_cursor_execute", self._statement)
        event.listen(sync_engine, "commit", self._commit)
        event.listen(sync_engine, "rollback", self._rollback)

    def _begin(self, conn: Any) -> None:
        self._open[id(conn)] = txn = Transaction()
        self.steps[-1].append(txn)

    def _statement(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        txn = self._open.get(id(conn))
        if txn is None:
            txn = Transaction()
            self.steps[-1].append(txn)
        txn.statements.append((statement, params, many))

    def _commit(self, conn: Any) -> None:
        self._open.pop(id(conn), None)

    def _rollback(self, conn: Any) -> None:
        txn = self._open.pop(id(conn), None)
        if txn is not None:
            txn.rollback = True


async def _replay_sqlite(conn: Any, transactions: list[Transaction]) -> None:
    # As SQLAlchemy's aiosqlite adapter does: sqlite3 begins implicitly, rows are fetched in full.
    for txn in transactions:
        for statement, params, many in txn.statements:
            if many:
                await conn.executemany(statement, params)
                continue
            cursor = await conn.execute(statement, params or ())
            if cursor.description:
                await cursor.fetchall()
            await cursor.close()
        await (conn.rollback() if txn.rollback else conn.commit())


async def _replay_postgres(conn: Any, transactions: list[Transaction]) -> None:
    # As SQLAlchemy's asyncpg adapter does: one transaction block, prepared statements, rows fetched.
    for txn in transactions:
        tx = conn.transaction()
        await tx.start()
        for statement, params, many in txn.statements:
            if many:
                await conn.executemany(statement, params)
            else:
                await conn.fetch(statement, *(params or ()))
        await (tx.rollback() if txn.rollback else tx.commit())


class Baseline:
    """The bare driver on a database of its own: each step's statements replayed right after the
    core ran them, so the two meet the same moments of this machine's load and tables of the same
    size (a replay after the whole run met other moments)."""

    def __init__(self, kind: str, url: str) -> None:
        self.replay = _replay_sqlite if kind == "sqlite" else _replay_postgres
        self.kind = kind
        self.db = Database(url)
        self.times: list[float] = []
        self.cpu: list[float] = []

    async def __aenter__(self) -> Baseline:
        self._conn = await self.db.engine.connect()
        self.driver = (await self._conn.get_raw_connection()).driver_connection
        if self.kind == "sqlite":
            # The engine hands WAL checkpoints to the driver's thread every 100 commits and turns
            # SQLite's own off; a bare driver has SQLite's default, which checkpoints in a commit.
            await (await self.driver.execute("PRAGMA wal_autocheckpoint=1000")).close()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._conn.close()
        await self.db.dispose()

    async def step(self, transactions: list[Transaction]) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        await self.replay(self.driver, transactions)
        self.times.append((time.perf_counter() - t0) * 1000)
        self.cpu.append((time.process_time() - c0) * 1000)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(kind: str, projects: int) -> dict[str, float]:
    log = StatementLog()
    async with scratch_database(kind) as url, scratch_database(kind) as base_url, Baseline(kind, base_url) as base:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(draftloop_agent="offline", draftloop_data_dir=Path(tmp))
            rt = Runtime(settings, db=Database(url))
            log.attach(rt.db.engine.sync_engine)
            rt.register_platform(NullChat(limits=PlatformLimits()))
            agent = TimedAgent()
            rt.agents.use("offline", agent)
            steps: dict[str, list[float]] = {"request": [], "feedback": [], "accept": []}
            cpu: list[float] = []
            for i in range(1, projects + 1):
                user = Actor("console", f"u{i % 7}", f"u{i % 7}")
                events: dict[str, RequestPosted | ThreadReply] = {
                    "request": RequestPosted(
                        MessageRef("console", "C", f"r{i}"), user, f"write post {i} on onboarding"
                    ),
                    "feedback": ThreadReply(Locator(number=i), Actor("console", "ed", "ed"), "shorter, 10m"),
                    "accept": ThreadReply(Locator(number=i), user, "accept"),
                }
                for step, event in events.items():
                    log.start_step()
                    before_agent = agent.spent
                    t0, c0 = time.perf_counter(), time.process_time()
                    await rt.workflow.handle(event)
                    # The offline agent only computes: its wall time is CPU time.
                    elapsed = time.perf_counter() - t0 - (agent.spent - before_agent)
                    cpu.append((time.process_time() - c0 - (agent.spent - before_agent)) * 1000)
                    steps[step].append(elapsed * 1000)
                    await base.step(log.steps[-1])
            await rt.db.dispose()
    every = [v for values in steps.values() for v in values]
    return {
        "projects_per_s": projects / (sum(every) / 1000),
        "p50_ms": statistics.median(every),
        "p99_ms": pct(every, 0.99),
        "cpu_ms": statistics.mean(cpu),
        "base_cpu_ms": statistics.mean(base.cpu),
        "base_p50_ms": statistics.median(base.times),
        "base_p99_ms": pct(base.times, 0.99),
        "statements_per_step": sum(len(t.statements) for txns in log.steps for t in txns) / len(log.steps),
        "transactions_per_step": sum(len(txns) for txns in log.steps) / len(log.steps),
        **{f"{k}_p99_ms": pct(v, 0.99) for k, v in steps.items()},
    }


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--tiny", action="store_true", help="20 projects: a smoke run")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--loop", choices=EVENT_LOOPS, default="auto", help="the event loop, as DRAFTLOOP_EVENT_LOOP picks serve's"
    )
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    n = 20 if args.tiny else args.projects
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    loop = loop_name(asyncio.get_running_loop())
    print(f"core workflow, {n} projects (request → feedback → accept), offline agent time excluded, event loop: {loop}")
    print("baseline: the same statements, same parameters, same transactions, replayed through the bare driver")
    print(
        f"{'database':<10} {'projects/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'req p99':>8} {'fb p99':>8} {'acc p99':>8}"
        f" {'base p50':>9} {'base p99':>9} {'p50 ×':>6} {'p99 ×':>6} {'stmts':>6} {'txns':>5} {'cpu ms':>7}"
        f" {'base cpu':>9}"
    )
    verdicts = []
    for kind in kinds:
        r = await run(kind, n)
        ratio50, ratio99 = r["p50_ms"] / r["base_p50_ms"], r["p99_ms"] / r["base_p99_ms"]
        verdicts.append((kind, ratio99))
        print(
            f"{kind:<10} {r['projects_per_s']:>11.1f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['request_p99_ms']:>8.2f} {r['feedback_p99_ms']:>8.2f} {r['accept_p99_ms']:>8.2f}"
            f" {r['base_p50_ms']:>9.2f} {r['base_p99_ms']:>9.2f} {ratio50:>6.2f} {ratio99:>6.2f}"
            f" {r['statements_per_step']:>6.1f} {r['transactions_per_step']:>5.1f} {r['cpu_ms']:>7.2f}"
            f" {r['base_cpu_ms']:>9.2f}",
            flush=True,
        )
    print("stmts, txns, cpu ms: SQL statements, transactions and the core's CPU time per step, on average;")
    print("base cpu: the CPU time of the bare driver's replay of the same step, on average")
    print("target: p99 per step <= 2x the baseline's p99, on each database")
    for kind, ratio in verdicts:
        print(f"  [{'PASS' if ratio <= 2.0 else 'MISS'}] {kind}: {ratio:.2f}x")


if __name__ == "__main__":
    # The loop the served processes run on (DRAFTLOOP_EVENT_LOOP, bot/app/event_loop.py), chosen before
    # it starts; --loop asyncio measures the standard loop side by side.
    args = arguments()
    with asyncio.Runner(loop_factory=loop_factory(args.loop)) as runner:
        runner.run(main(args))
