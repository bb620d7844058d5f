"""Two processes against one: `draftloop serve --workers 2` and `--workers 1` on one PostgreSQL database.

    .venv/bin/python -m benchmarks.bench_workers            # 300 mentions, 3 runs, medians (a few minutes)
    .venv/bin/python -m benchmarks.bench_workers --tiny     # 20 mentions, instant model only: a smoke run
    .venv/bin/python -m benchmarks.bench_workers --cores-per-process 0.3   # as if each process had 0.3 core

In this process: the fake Slack Web API, the fake model server and the load generator (bench_slack's,
imported). Each run gets a private PostgreSQL database and a fresh `draftloop serve --workers N`; a
burst of signed app_mention events goes to its port at once (connections the kernel spreads over the
children, SO_REUSEPORT). Two models: a 2 s one (the replies wait on the model) and an instant one
(CPU is the bound, which is what a second process is for).

Figures per run: completed, duplicate projects (database) and posts (the fake's calls), model calls
per first draft, wall time from the first send to the last reply, replies/s, CPU seconds of the
draftloop processes (the supervisor and its children, recursively) and of each child, of this process
(fakes + load generator) and of the PostgreSQL backends serving the database, peak connections to the
database (pg_stat_activity) and per draftloop process, cores and load average.

The machine here has 2 cores: the fakes, the load generator and PostgreSQL share them with the two
workers, so the ratio of two processes to one is bounded by what they leave; the table says how much
that is instead of hiding it. `--cores-per-process C` puts `serve --workers N` under a CPU quota of N × C
cores (a cgroup, root only): with C small enough that the workers, the fakes and PostgreSQL all fit in the
machine, the ratio says whether a second process adds throughput when it has a core's share of its own,
which is the question the target asks of a bigger machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import psutil

from benchmarks._cpu_cap import CpuQuota, available
from benchmarks._db import scratch_database
from benchmarks._serving import draftloop_env
from benchmarks.bench_slack import (
    SECRET,
    App,
    Result,
    Watcher,
    free_port,
    one_event,
    pct,
    stop_app,
    wait_ready,
)
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import FakeSlackAPI

MODEL = "bench-model"  # the model draftloop_env configures
PG_PORT = 5432
TARGET_RATIO = 1.6
WARM_CPU_SECONDS = 0.1  # an idle child's sweeper uses far less between two warm-up rounds


# --------------------------------------------------------------------------- processes


def plain_url(async_url: str) -> str:
    """The libpq spelling of a SQLAlchemy asyncpg URL (what a deployment pastes, and what asyncpg takes)."""
    return async_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def start_serve(
    workers: int,
    database_url: str,
    fake: FakeSlackAPI,
    llm: FakeLLMServer,
    workdir: Path,
    quota: CpuQuota | None = None,
) -> App:
    port = free_port()
    env = draftloop_env(
        workdir=workdir,
        database_url=plain_url(database_url),
        llm=llm,
        fake=fake,
    )
    env.update(SLACK_SIGNING_SECRET=SECRET, PORT=str(port))
    exe = str(Path(sys.executable).parent / "draftloop")
    argv = [exe, "serve", "--workers", str(workers)]
    proc = subprocess.Popen(quota.command(argv) if quota else argv, env=env, stderr=subprocess.DEVNULL)
    return App(f"serve --workers {workers}", proc, port, None)


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


@dataclass
class Usage:
    """What the sampler saw during the burst. CPU is kept per pid at its latest reading, so a process
    that exits (a restarted child, a closed PostgreSQL backend) still counts what it used."""

    app_cpu: dict[int, float] = field(default_factory=dict)
    pg_cpu: dict[int, float] = field(default_factory=dict)
    db_conns_peak: int = 0
    db_busy_peak: int = 0  # connections in a statement or a transaction (not idle in the pool)
    conns_peak: dict[int, int] = field(default_factory=dict)  # per draftloop process, by pid


def draftloop_processes(app: App) -> list[psutil.Process]:
    try:
        root = psutil.Process(app.proc.pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def read_app(app: App, usage: Usage) -> None:
    for proc in draftloop_processes(app):
        try:
            usage.app_cpu[proc.pid] = _cpu(proc)
            conns = sum(1 for c in proc.net_connections(kind="tcp") if c.raddr and c.raddr.port == PG_PORT)
        except psutil.Error:
            continue
        usage.conns_peak[proc.pid] = max(usage.conns_peak.get(proc.pid, 0), conns)


async def read_pg(admin: asyncpg.Connection, dbname: str, usage: Usage) -> None:
    rows = await admin.fetch("SELECT pid, state FROM pg_stat_activity WHERE datname = $1", dbname)
    usage.db_conns_peak = max(usage.db_conns_peak, len(rows))
    usage.db_busy_peak = max(usage.db_busy_peak, sum(1 for row in rows if row["state"] != "idle"))
    for row in rows:
        try:  # /proc/<pid>/stat is world-readable, so the server's backends can be read as any user
            usage.pg_cpu[row["pid"]] = _cpu(psutil.Process(row["pid"]))
        except psutil.Error:
            continue


async def sample(app: App, admin: asyncpg.Connection, dbname: str, usage: Usage) -> None:
    while True:
        read_app(app, usage)
        await read_pg(admin, dbname, usage)
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- one run


@dataclass
class Run:
    workers: int
    latency: float
    sent: int = 0
    completed: int = 0
    redelivered: int = 0
    dup_projects: int = 0
    dup_posts: int = 0
    model_calls: int = 0
    wall_s: float = 0.0
    e2e: list[float] = field(default_factory=list)
    app_cpu_s: float = 0.0
    child_cpu_s: list[float] = field(default_factory=list)
    fakes_cpu_s: float = 0.0
    pg_cpu_s: float = 0.0
    db_conns_peak: int = 0
    db_busy_peak: int = 0
    conns_per_process: list[int] = field(default_factory=list)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    throttled_s: float = 0.0  # time the quota held draftloop back during the burst (--cores-per-process)

    @property
    def throughput(self) -> float:
        return self.completed / self.wall_s if self.wall_s else 0.0


async def all_listening(app: App, workers: int) -> None:
    """Wait until each child listens on the shared port: /healthz answered by one says nothing of the others."""
    for _ in range(300):
        listening = 0
        for proc in draftloop_processes(app)[1:] if workers > 1 else draftloop_processes(app):
            try:
                conns = proc.net_connections(kind="tcp")
            except psutil.Error:
                continue
            listening += any(c.status == psutil.CONN_LISTEN and c.laddr.port == app.port for c in conns)
        if listening >= workers:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{workers} workers did not all listen on port {app.port}")


def children_cpu(app: App, workers: int) -> dict[int, float]:
    serving = draftloop_processes(app)[1:] if workers > 1 else draftloop_processes(app)
    cpu: dict[int, float] = {}
    for proc in serving:
        try:
            cpu[proc.pid] = _cpu(proc)
        except psutil.Error:
            continue
    return cpu


async def warm_up(app: App, fake: FakeSlackAPI, workers: int, latency: float) -> None:
    """Mentions until every child has handled some: a child's first event authorizes (auth.test),
    opens its pools and imports what it imports lazily, which the burst should not time. Each mention
    goes on its own connection, so the kernel spreads them; a child whose CPU time has not moved got none."""

    async def one() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            await one_event(session, app, fake, "CWARM", Result(), starts, 0)

    watcher = Watcher(fake, "draftloop")
    starts: dict[str, float] = {}
    before = children_cpu(app, workers)
    try:
        for _ in range(6):
            await asyncio.gather(*(one() for _ in range(2 * workers)))
            # Every warm-up reply is in before the burst, so none of its model calls or CPU is counted there.
            deadline = time.monotonic() + latency + 30
            while time.monotonic() < deadline and not all(ts in watcher.done for ts in starts):
                await asyncio.sleep(0.05)
            after = children_cpu(app, workers)
            if all(after.get(pid, 0.0) - used >= WARM_CPU_SECONDS for pid, used in before.items()):
                return
        print("  (warm-up: a child took no mention; the burst includes its first-event costs)", flush=True)
    finally:
        watcher.close()
        await asyncio.sleep(0.5)  # the sweepers' next pass, and the last warm-up post's transaction


async def run_once(
    workers: int,
    latency: float,
    count: int,
    fake: FakeSlackAPI,
    llm: FakeLLMServer,
    workdir: Path,
    cores_per_process: float | None = None,
) -> Run:
    llm.latency = latency
    run = Run(workers, latency)
    res = Result()
    async with scratch_database("postgresql") as url:
        dbname = url.rsplit("/", 1)[1]
        admin = await asyncpg.connect(plain_url(url).rsplit("/", 1)[0] + "/postgres")
        quota = CpuQuota("draftloop-bench", workers * cores_per_process) if cores_per_process else None
        app = start_serve(workers, url, fake, llm, workdir, quota)
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                await wait_ready(app, session)
                await all_listening(app, workers)
                await warm_up(app, fake, workers, latency)
                calls0 = len(llm.requests(model=MODEL))
                usage, baseline = Usage(), Usage()
                read_app(app, baseline)
                await read_pg(admin, dbname, baseline)
                watcher = Watcher(fake, "draftloop")
                starts: dict[str, float] = {}
                sampler = asyncio.create_task(sample(app, admin, dbname, usage))
                throttled0 = quota.throttled_s() if quota else 0.0
                cpu0 = time.process_time()
                t0 = time.monotonic()
                tasks = [
                    asyncio.create_task(one_event(session, app, fake, f"CW{i % 10}", res, starts, 0))
                    for i in range(count)
                ]
                await asyncio.gather(*tasks)
                deadline = time.monotonic() + latency * 3 + 90
                while time.monotonic() < deadline and not all(ts in watcher.done for ts in starts):
                    await asyncio.sleep(0.02)
                done = [watcher.done[ts] for ts in starts if ts in watcher.done]
                run.wall_s = (max(done) - t0) if done else 0.0
                run.e2e = [watcher.done[ts] - t for ts, t in starts.items() if ts in watcher.done]
                run.fakes_cpu_s = time.process_time() - cpu0
                run.throttled_s = (quota.throttled_s() - throttled0) if quota else 0.0
                sampler.cancel()  # it shares the admin connection, which runs one query at a time
                await asyncio.gather(sampler, return_exceptions=True)
                read_app(app, usage)
                await read_pg(admin, dbname, usage)
                run.load = os.getloadavg()
                await asyncio.sleep(1.0)  # a late duplicate post or model call would show now
                run.model_calls = len(llm.requests(model=MODEL)) - calls0
                run.sent, run.redelivered, run.completed = res.sent, res.redelivered, len(done)
                run.dup_posts = sum(max(0, watcher.posts[ts] - 2) + max(0, watcher.finals[ts] - 1) for ts in starts)
                watcher.close()
        finally:
            stop_app(app)
            if quota:
                quota.remove()
        try:
            conn = await asyncpg.connect(plain_url(url))
            try:
                query = "SELECT COUNT(*) - COUNT(DISTINCT thread_id) FROM projects"
                run.dup_projects = int(await conn.fetchval(query) or 0)
            finally:
                await conn.close()
        finally:
            await admin.close()
    root = app.proc.pid
    children = sorted(pid for pid in usage.app_cpu if pid != root)
    run.app_cpu_s = sum(usage.app_cpu[p] - baseline.app_cpu.get(p, 0.0) for p in usage.app_cpu)
    run.child_cpu_s = [usage.app_cpu[p] - baseline.app_cpu.get(p, 0.0) for p in (children or [root])]
    run.pg_cpu_s = sum(usage.pg_cpu[p] - baseline.pg_cpu.get(p, 0.0) for p in usage.pg_cpu)
    run.db_conns_peak = usage.db_conns_peak
    run.db_busy_peak = usage.db_busy_peak
    run.conns_per_process = [usage.conns_peak.get(p, 0) for p in (children or [root])]
    return run


# --------------------------------------------------------------------------- report


def figures(run: Run) -> dict[str, float]:
    wall = run.wall_s or float("nan")
    return {
        "completed": run.completed,
        "sent": run.sent,
        "redelivered": run.redelivered,
        "duplicate projects": run.dup_projects,
        "duplicate posts": run.dup_posts,
        "extra model calls": run.model_calls - run.completed,
        "wall (s)": run.wall_s,
        "replies/s": run.throughput,
        "e2e p50 (s)": pct(run.e2e, 50),
        "e2e p99 (s)": pct(run.e2e, 99),
        "draftloop CPU (s)": run.app_cpu_s,
        "  per child, min (s)": min(run.child_cpu_s),
        "  per child, max (s)": max(run.child_cpu_s),
        "draftloop CPU/reply (ms)": 1000 * run.app_cpu_s / max(1, run.completed),
        "fakes+loadgen CPU (s)": run.fakes_cpu_s,
        "PostgreSQL CPU (s)": run.pg_cpu_s,
        "cores busy: draftloop": run.app_cpu_s / wall,
        "cores busy: fakes+loadgen": run.fakes_cpu_s / wall,
        "cores busy: PostgreSQL": run.pg_cpu_s / wall,
        "PG connections (db peak)": run.db_conns_peak,
        "  of them busy (peak)": run.db_busy_peak,
        "PG connections/process": max(run.conns_per_process),
        "load average (1 min)": run.load[0],
        "throttled by quota (s)": run.throttled_s,
    }


def median_figures(runs: list[Run]) -> dict[str, float]:
    rows = [figures(r) for r in runs]
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def print_table(title: str, one: dict[str, float], two: dict[str, float]) -> None:
    print(f"\n{title}")
    print(f"  {'metric':<27} {'1 process':>10} {'2 processes':>12} {'2 / 1':>7}")
    for key in one:
        a, b = one[key], two[key]
        ratio = f"{b / a:7.2f}" if a else "      –"
        print(f"  {key:<27} {a:10.3f} {b:12.3f} {ratio}")


async def main(args: argparse.Namespace) -> int:
    tiny = args.tiny
    count = 20 if tiny else args.burst
    runs = 1 if tiny else args.runs
    # --tiny runs the instant model alone: each cell starts a serve, which takes seconds on a busy machine
    latencies = [0.0] if tiny else [args.model_latency, 0.0]
    cores = os.cpu_count() or 1
    cap = args.cores_per_process
    print(f"cores {cores}, load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    if cap:
        print(f"draftloop under a CPU quota of {cap:g} core per process (1 process {cap:g}, 2 processes {2 * cap:g})")
    collected: dict[tuple[float, int], list[Run]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeSlackAPI() as fake, FakeLLMServer() as llm:
            for latency in latencies:
                for n in range(runs):
                    # 1 then 2, then 2 then 1: a drift in the machine's load does not favour one side
                    order = (1, 2) if n % 2 == 0 else (2, 1)
                    for workers in order:
                        run = await run_once(workers, latency, count, fake, llm, Path(tmp), cap)
                        collected.setdefault((latency, workers), []).append(run)
                        print(
                            f"model {latency:.1f}s run {n + 1} workers {workers}: done {run.completed}/{run.sent} "
                            f"in {run.wall_s:.2f}s ({run.throughput:.1f}/s), draftloop CPU {run.app_cpu_s:.2f}s "
                            f"(children {', '.join(f'{c:.2f}' for c in run.child_cpu_s)}), "
                            f"fakes {run.fakes_cpu_s:.2f}s, PostgreSQL {run.pg_cpu_s:.2f}s, "
                            f"dups {run.dup_projects}/{run.dup_posts}, PG conns {run.conns_per_process}",
                            flush=True,
                        )
    quota = f"; draftloop held to {cap:g} core per process" if cap else ""
    print(f"\nburst of {count} mentions, medians of {runs} run(s) per cell; {cores} cores{quota}")
    medians: dict[float, tuple[dict[str, float], dict[str, float]]] = {}
    for latency in latencies:
        one, two = median_figures(collected[(latency, 1)]), median_figures(collected[(latency, 2)])
        medians[latency] = (one, two)
        label = f"model {latency:g} s" if latency else "instant model (CPU-bound)"
        print_table(label, one, two)
    every = [r for rs in collected.values() for r in rs]
    checks = [
        (
            "0 duplicates (projects, posts, model calls) in every run",
            all(r.dup_projects == 0 and r.dup_posts == 0 and r.model_calls == r.completed for r in every),
        ),
        (f"{count}/{count} completed in every run", all(r.completed == count for r in every)),
    ]
    for latency, (one, two) in medians.items():
        ratio = two["replies/s"] / one["replies/s"] if one["replies/s"] else 0.0
        label = f"model {latency:g} s" if latency else "instant model"
        checks.append((f"{label}: throughput 2 vs 1 >= {TARGET_RATIO}x (measured {ratio:.2f}x)", ratio >= TARGET_RATIO))
    print("\ntargets")
    for label, ok in checks:
        print(f"  [{'PASS' if ok else 'MISS'}] {label}")
    one, two = medians[0.0]
    busy = two["cores busy: fakes+loadgen"] + two["cores busy: PostgreSQL"]
    print(
        f"\nOn this machine ({cores} cores) the fakes and the load generator (this process) and PostgreSQL run on "
        f"the same cores as the workers: with the instant model and 2 processes they kept {busy:.2f} of the "
        f"{cores} cores busy (fakes {two['cores busy: fakes+loadgen']:.2f}, PostgreSQL "
        f"{two['cores busy: PostgreSQL']:.2f}), leaving draftloop {two['cores busy: draftloop']:.2f} "
        f"(1 process: {one['cores busy: draftloop']:.2f}). The {TARGET_RATIO}x target assumes the cores for it."
    )
    if cap:
        total = busy + two["cores busy: draftloop"]
        print(
            f"Under the quota ({cap:g} core per process) draftloop used {one['cores busy: draftloop']:.2f} core with "
            f"1 process and {two['cores busy: draftloop']:.2f} with 2; everything together {total:.2f} of {cores}"
            + (" (the machine was full: the ratio is bounded by it, lower the quota)" if total > 0.9 * cores else "")
            + "."
        )
    return 0


async def stoppable(args: argparse.Namespace) -> int:
    """`main`, cancelled by SIGTERM: each `finally` then stops its serve and drops its database."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await main(args)
    except asyncio.CancelledError:
        print("stopped by SIGTERM", flush=True)
        return 143


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="~20 mentions, instant model, one run: a smoke run")
    parser.add_argument("--runs", type=int, default=3, help="runs per cell (1 and 2 processes alternate first)")
    parser.add_argument("--burst", type=int, default=300, help="mentions in the burst")
    parser.add_argument("--model-latency", type=float, default=2.0, help="the slow model's latency, seconds")
    parser.add_argument(
        "--cores-per-process",
        type=float,
        default=None,
        metavar="C",
        help="run serve under a CPU quota of workers × C cores (a cgroup; needs root), as on a bigger machine",
    )
    args = parser.parse_args()
    if args.cores_per_process is not None:
        why = available()
        if args.cores_per_process <= 0:
            parser.error("--cores-per-process must be above 0")
        if why:
            parser.error(f"--cores-per-process: {why}")
    sys.exit(asyncio.run(stoppable(args)))


if __name__ == "__main__":
    cli()
