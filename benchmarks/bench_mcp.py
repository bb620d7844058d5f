"""`draftloop mcp --http` under concurrent outside agents, on PostgreSQL.

Starts the real server process on a private scratch database, then 20 MCP clients (the official SDK's,
each its own session and agent name) send 200 `request_review` calls with their own drafts, 10 each,
all at once. Prints the tool latency as the clients see it (HTTP, the SDK, the core, the database and
the console platform's posting included) and checks in the database that every call was stored
exactly once: one project, one version and one caller link per call, no brief twice.

    python -m benchmarks.bench_mcp             # 200 calls from 20 clients on PostgreSQL
    python -m benchmarks.bench_mcp --tiny      # 20 calls from 4 clients: a smoke run
    python -m benchmarks.bench_mcp --db sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import col

from benchmarks._db import scratch_database
from storage.callers import CALLERS
from storage.engine import Database
from storage.models import MessageLink, Project, Version

TOKEN = "bench-token-0123456789abcdef"
EXE = str(Path(sys.executable).parent / "draftloop")
DRAFT = ("A paragraph of the agent's own draft, long enough to look like work. " * 30).strip()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _start(url: str, data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "DRAFTLOOP_"))}
    env |= {
        "DATABASE_URL": url.replace("+asyncpg", "").replace("+aiosqlite", ""),
        "DRAFTLOOP_DATA_DIR": str(data_dir),
        "DRAFTLOOP_MCP_TOKEN": TOKEN,
        "DRAFTLOOP_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([EXE, "mcp", "--http", "--port", "0"], env=env, stderr=subprocess.PIPE, text=True)
    found: list[str] = []
    ready = threading.Event()

    def drain() -> None:  # the console platform prints every project on stderr: keep the pipe moving
        assert proc.stderr is not None
        for line in proc.stderr:
            hit = re.search(r"listening on (http://\S+)", line)
            if hit and not found:
                found.append(hit.group(1))
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(60) or not found:
        proc.kill()
        raise SystemExit("draftloop mcp --http did not start")
    return proc, found[0]


async def _client(url: str, name: str, calls: int, latencies: list[float], failures: list[str]) -> None:
    import httpx2
    import mcp_types as types
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as http,
        Client(
            streamable_http_client(url, http_client=http), client_info=types.Implementation(name=name, version="1")
        ) as client,
    ):
        for i in range(calls):
            args = {"brief": f"[writing] release notes {name} #{i}", "draft": f"{DRAFT} ({name} #{i})"}
            started = time.perf_counter()
            result = await client.call_tool("request_review", args)
            latencies.append((time.perf_counter() - started) * 1000)
            if result.is_error:
                failures.append(str(result.content[0]))


async def _stored(url: str) -> tuple[int, int, int, int]:
    db = Database(url)
    try:
        async with db.session() as session:
            projects = (await session.execute(select(func.count()).select_from(Project))).scalar_one()
            versions = (await session.execute(select(func.count()).select_from(Version))).scalar_one()
            links = (
                await session.execute(select(func.count()).where(col(MessageLink.platform) == CALLERS))
            ).scalar_one()
            twice = (
                await session.execute(
                    select(func.count()).select_from(
                        select(col(Project.brief)).group_by(col(Project.brief)).having(func.count() > 1).subquery()
                    )
                )
            ).scalar_one()
    finally:
        await db.dispose()
    return int(projects), int(versions), int(links), int(twice)


async def run(kind: str, calls: int, clients: int) -> None:
    async with scratch_database(kind) as url:
        with tempfile.TemporaryDirectory() as tmp:
            proc, endpoint = _start(url, Path(tmp))
            try:
                latencies: list[float] = []
                failures: list[str] = []
                per = calls // clients
                started = time.perf_counter()
                await asyncio.gather(
                    *(_client(endpoint, f"bench-agent-{c}", per, latencies, failures) for c in range(clients))
                )
                wall = time.perf_counter() - started
            finally:
                proc.terminate()
                proc.wait(15)
            projects, versions, links, twice = await _stored(url)
    sent = per * clients
    once = projects == versions == links == sent and twice == 0 and not failures
    print(
        f"{kind:<10} {sent:>6} {clients:>8} {wall:>8.2f} {sent / wall:>8.1f} "
        f"{statistics.median(latencies):>8.1f} {pct(latencies, 0.99):>8.1f} {'yes' if once else 'NO':>12}"
    )
    if not once:
        print(f"  stored projects {projects}, versions {versions}, caller links {links}, briefs twice {twice}")
        print(f"  tool errors: {failures[:3]}")
        raise SystemExit(1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--tiny", action="store_true", help="20 calls from 4 clients: a smoke run")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    args = parser.parse_args()
    calls, clients = (20, 4) if args.tiny else (args.calls, args.clients)
    print(f"draftloop mcp --http: request_review with a draft, {calls} calls from {clients} concurrent MCP clients")
    heads = ("calls", "clients", "wall s", "calls/s", "p50 ms", "p99 ms")
    print(f"{'database':<10} " + " ".join(f"{h:>{8 if h != 'calls' else 6}}" for h in heads) + f" {'stored once':>12}")
    await run(args.db, calls, clients)


if __name__ == "__main__":
    asyncio.run(main())
