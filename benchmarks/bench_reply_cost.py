"""The work behind one Slack reply, counted: SQL statements and transactions, Slack Web API calls, TCP
connections opened to Slack, and CPU time, per mention, through the real HTTP path of `draftloop serve`.

In this process: the fake Slack Web API, the Slack service on a private database (SQLite, or
PostgreSQL with `--pg`), the offline agent (no model: what is left is draftloop's own work). N signed
app_mention events are sent at once and counted until every draft is shown.

    .venv/bin/python -m benchmarks.bench_reply_cost            # 200 mentions, SQLite
    .venv/bin/python -m benchmarks.bench_reply_cost --pg       # on PostgreSQL
    .venv/bin/python -m benchmarks.bench_reply_cost --tiny     # a seconds-long smoke run
    .venv/bin/python -m benchmarks.bench_reply_cost --uvloop   # the same on uvloop's event loop
    .venv/bin/python -m benchmarks.bench_reply_cost --trace    # and one reply's transactions, in order
    .venv/bin/python -m benchmarks.bench_reply_cost --stock-aiosqlite  # SQLAlchemy's own aiosqlite adapter
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

from benchmarks._db import scratch_database
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import CONFIG, SECRET, SlackHarness


def _kind(statement: str) -> str:
    """A statement's verb and table: `INSERT inbox`, `UPDATE projects`, `SELECT projects`."""
    words = statement.split(None, 8)
    verb = words[0].upper() if words else "?"
    table = "?"
    if verb == "INSERT" and len(words) > 2:
        table = words[2]
    elif verb == "UPDATE" and len(words) > 1:
        table = words[1]
    elif verb in ("SELECT", "DELETE", "WITH"):
        found = re.search(r"\bFROM\s+(\w+)", statement, re.IGNORECASE)
        table = found.group(1) if found else "?"
    return f"{verb} {table}"


def _listen_transactions(sync_engine: Any, out: list[list[str]]) -> list[tuple[str, Any]]:
    """Record each transaction's statements (by kind) into `out`: one list per transaction, in the
    order they began; statements outside a transaction (autocommit) become one-statement lists."""
    current: dict[int, list[str]] = {}

    def on_begin(conn: Any) -> None:
        current[id(conn)] = []
        out.append(current[id(conn)])

    def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        into = current.get(id(conn))
        if into is None:
            out.append([_kind(statement)])
        else:
            into.append(_kind(statement))

    def on_end(conn: Any) -> None:
        current.pop(id(conn), None)

    hooks = [("begin", on_begin), ("before_cursor_execute", on_statement), ("commit", on_end), ("rollback", on_end)]
    for name, fn in hooks:
        event.listen(sync_engine, name, fn)
    return hooks


@asynccontextmanager
async def _warmed(url: str) -> AsyncIterator[tuple[SlackHarness, FakeSlackAPI, Any]]:
    """The Slack service on `url` with the offline agent, after one mention (auth.test, people,
    caches: not counted); the harness, the fake Slack and the engine to listen on."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "draftloop.toml"
        config.write_text(CONFIG)
        async with FakeSlackAPI() as fake:
            harness = await SlackHarness(fake, _settings(url, Path(tmp), config, fake)).start()
            assert harness.runtime is not None
            try:
                await harness.mention("[writing] warm up")
                await harness.settle()
                yield harness, fake, harness.runtime.db.engine.sync_engine
            finally:
                await harness.close()


async def trace(url: str) -> list[list[str]]:
    """One mention after a warm-up, its transactions in order, each with its statements."""

    transactions: list[list[str]] = []
    async with _warmed(url) as (harness, _, sync_engine):
        hooks = _listen_transactions(sync_engine, transactions)
        try:
            await harness.mention("[writing] one note")
            await harness.settle()
        finally:
            for name, fn in hooks:
                event.remove(sync_engine, name, fn)
    return transactions


def _settings(url: str, data: Path, config: Path, fake: FakeSlackAPI) -> Any:
    """draftloop serve's settings against the fake Slack, the offline agent and `url`."""
    from bot.settings import Settings

    return Settings(
        database_url=url,
        draftloop_data_dir=data,
        draftloop_agent="offline",
        draftloop_config=config,
        port=0,
        slack_bot_token=fake.token,
        slack_signing_secret=SECRET,
        slack_app_token=None,
        slack_api_url=fake.api_url,
    )


async def run(url: str, count: int) -> dict[str, Any]:

    statements: Counter[str] = Counter()
    transactions = 0
    calls: Counter[str] = Counter()
    async with _warmed(url) as (harness, fake, sync_engine):

        def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements[_kind(statement)] += 1

        def on_begin(conn: Any) -> None:
            nonlocal transactions
            transactions += 1

        def on_call(method: str, params: dict[str, Any], result: dict[str, Any]) -> None:
            calls[method] += 1

        fake.observers.append(on_call)
        event.listen(sync_engine, "before_cursor_execute", on_statement)
        event.listen(sync_engine, "begin", on_begin)
        try:
            before = _connections(fake)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.gather(*(harness.mention(f"[writing] note number {n}") for n in range(count)))
            await harness.settle(timeout=120)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            connections = _connections(fake) - before
            drafts = len(harness.drafts())
        finally:
            event.remove(sync_engine, "before_cursor_execute", on_statement)
            event.remove(sync_engine, "begin", on_begin)
    return {
        "statements": statements,
        "transactions": transactions,
        "calls": calls,
        "connections": connections,
        "cpu": cpu,
        "wall": wall,
        "drafts": drafts,
    }


_SESSIONS = 0


def _count_sessions() -> None:
    """Count aiohttp client sessions made from here on: slack_sdk opens one (and a new TCP connection)
    per call when its client has none of its own."""
    import aiohttp

    original = aiohttp.ClientSession.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        global _SESSIONS
        _SESSIONS += 1
        original(self, *args, **kwargs)

    aiohttp.ClientSession.__init__ = counting  # type: ignore[method-assign]


def _connections(fake: FakeSlackAPI) -> int:
    return _SESSIONS


def report(name: str, count: int, out: dict[str, Any]) -> None:
    per = 1 / count
    print(f"\n{name}: {count} mentions, {out['drafts'] - 1} drafts shown, {out['wall']:.2f} s")
    print(f"  CPU of this process (the fake Slack's included): {1000 * out['cpu'] * per:.1f} ms per reply")
    print(
        f"  SQL: {sum(out['statements'].values()) * per:.1f} statements, {out['transactions'] * per:.1f} transactions"
    )
    for kind, n in out["statements"].most_common():
        print(f"    {n * per:5.2f}  {kind}")
    print(f"  Slack Web API: {sum(out['calls'].values()) * per:.1f} calls per reply")
    for method, n in out["calls"].most_common():
        print(f"    {n * per:5.2f}  {method}")
    if out["connections"]:
        print(f"  HTTP client sessions (each a new TCP connection) opened: {out['connections'] * per:.2f} per reply")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="10 mentions: a smoke run")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--trace", action="store_true", help="also list one reply's transactions, in order")
    parser.add_argument(
        "--stock-aiosqlite",
        action="store_true",
        help="SQLAlchemy's own aiosqlite adapter (a trip to the thread per DBAPI call), to compare",
    )
    args = parser.parse_args()
    if args.stock_aiosqlite:
        import sqlite3

        import aiosqlite
        from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

        from storage import sqlite_driver

        sqlite_driver.dbapi = lambda: AsyncAdapt_aiosqlite_dbapi(aiosqlite, sqlite3)  # type: ignore[assignment,return-value]
    count = 10 if args.tiny else args.count
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        os.environ.pop(var, None)
    kind = "postgresql" if args.pg else "sqlite"
    if args.trace:
        async with scratch_database(kind) as url:
            transactions = await trace(url)
        print(f"one reply's transactions on {kind}, in the order they began:")
        for n, statements in enumerate(transactions, 1):
            print(f"  {n}. " + ", ".join(statements))
    _count_sessions()
    async with scratch_database(kind) as url:
        out = await run(url, count)
    report(kind, count, out)


if __name__ == "__main__":
    import sys

    if "--uvloop" in sys.argv:  # side by side: the same run on uvloop's event loop
        import uvloop

        sys.argv.remove("--uvloop")
        uvloop.run(main())
    else:
        asyncio.run(main())
