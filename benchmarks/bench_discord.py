"""Discord benchmark: a burst of `/draft` interactions and mentions at once, with a 2 s model.

    .venv/bin/python -m benchmarks.bench_discord              # 100 + 100, reference + SQLite + PostgreSQL, 3 runs
    .venv/bin/python -m benchmarks.bench_discord --tiny       # 5 + 5, one run: a seconds-long smoke run
    .venv/bin/python -m benchmarks.bench_discord --db postgres --runs 1 --no-reference
    .venv/bin/python -m benchmarks.bench_discord --db sqlite --runs 1 --profile /tmp/discord.txt  # py-spy the worker

In this process: the fake Discord gateway + REST API (tests/fakes/discord_api.py) and the fake
OpenAI-compatible model server with a fixed latency before the first token (tests/fakes/llm_server.py).
In a subprocess: the real `draftloop worker` (discord.py client, runtime, workflow, scheduler) on a scratch
database, pointed at the fakes by DISCORD_API_URL / DISCORD_GATEWAY_URL, with the default configuration (no
`max_concurrency`: the adaptive limit of bot/concurrency.py), warmed up with one project. The fake then
sends the whole burst over the gateway at once. The same burst also goes to a minimal
reference bot (benchmarks/discord_reference.py: thread, model call, answer; no database), so the
figures say what draftloop's bookkeeping costs on this machine, and what the machine allows at all.
Runs are interleaved and medians reported: a shared machine's slow spells fall on every bot alike.

Figures: how fast each interaction got its initial response (Discord's deadline: 3 s), end-to-end time
from the event to the draft's buttons showing, the worker's CPU per reply and peak RSS, duplicate threads
and posts (target: 0), and the REST calls per project, by route.

Targets (issue 15), as ratios to the reference in the same run: end-to-end p50 ≤ 1.25× and CPU per reply
≤ 2×. Both bots wait on the same thing: discord.py sends one request at a time per channel and route
until Discord's rate-limit headers say more (the fake sends none, so 100 threads opened in one channel
go one after another), and each of those round trips is as slow as the busiest event loop makes it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from benchmarks._db import scratch_database
from benchmarks._profile import Profiler, summary
from tests.fakes.discord_api import FakeDiscord, buttons, text_of
from tests.fakes.llm_server import FakeLLMServer

DEADLINE = 3.0
REFERENCE = "reference"
E2E_TARGET = 1.25  # end-to-end p50, times the reference's
CPU_TARGET = 2.0  # worker CPU per reply, times the reference's


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def config(llm_url: str, ceiling: int | None) -> str:
    cap = f"max_concurrency = {ceiling}\n" if ceiling else ""  # none: the adaptive default
    return f"""
default_agent = "bench"

[agents.bench]
provider = "openai-compatible"
model = "bench-model"
base_url = "{llm_url}"
{cap}max_retries = 0

[discord]
admin_roles = ["Moderators"]

[categories.writing]
expert_roles = ["Writers"]
"""


async def run(
    db_kind: str, n: int, latency: float, tmp: str, *, ceiling: int | None = None, profile: Path | None = None
) -> dict[str, Any]:
    """Fakes here; the bot is a real `draftloop worker` subprocess (its own CPU, as in production),
    or with `db_kind` "reference" the minimal bot of benchmarks/discord_reference.py. With `profile`,
    py-spy records the bot during the burst (collapsed stacks to that file)."""
    fake = FakeDiscord()
    await fake.start()
    llm = FakeLLMServer(latency=latency, chunk_words=6)
    await llm.start()
    cfg = Path(tmp) / f"bench-{db_kind}.toml"
    cfg.write_text(config(llm.openai_base_url, ceiling), encoding="utf-8")
    try:
        async with scratch_database("sqlite" if db_kind == REFERENCE else db_kind) as url:
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "DRAFTLOOP_CONFIG": str(cfg),
                "DRAFTLOOP_AGENT": "bench",
                "DRAFTLOOP_LOG_LEVEL": "WARNING",
                "DISCORD_TOKEN": fake.token,
                "DISCORD_API_URL": fake.api_base,
                "DISCORD_GATEWAY_URL": fake.gateway_url,
                "LLM_URL": llm.openai_base_url,
            }
            for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
                env.pop(name, None)
            command = [str(Path(sys.executable).with_name("draftloop")), "worker"]
            if db_kind == REFERENCE:
                command = [sys.executable, "-m", "benchmarks.discord_reference"]
            worker = subprocess.Popen(
                command,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(Path(tmp) / f"worker-{db_kind}.log", "w"),  # noqa: SIM115
            )
            try:
                await fake.wait_for(lambda: fake.connected and fake.commands, timeout=60, what="the worker")
                await warm_up(fake)
                proc = psutil.Process(worker.pid)
                peak = Peak(proc)
                sampler = asyncio.create_task(peak.sample())
                profiler = Profiler(worker.pid, profile) if profile is not None else None
                cpu0 = sum(proc.cpu_times()[:2])
                fakes = psutil.Process()
                fakes0 = sum(fakes.cpu_times()[:2])
                try:
                    result = await burst(fake, n, latency)
                finally:
                    sampler.cancel()
                    if profiler is not None:
                        profiler.stop()
                result["cpu"] = sum(proc.cpu_times()[:2]) - cpu0
                result["cpu_per_reply"] = 1000 * result["cpu"] / max(1, len(result["e2e"]))
                result["fakes_cpu"] = sum(fakes.cpu_times()[:2]) - fakes0
                result["rss"] = max(peak.rss, proc.memory_info().rss) / 2**20
                return result
            finally:
                worker.send_signal(signal.SIGTERM)
                try:
                    result_code = await asyncio.to_thread(worker.wait, 15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    result_code = -9
                if result_code != 0:
                    print(f"(worker exited with {result_code}; see its log)")
    finally:
        await llm.stop()
        await fake.stop()


class Peak:
    """The bot's highest RSS while the burst runs, sampled every 50 ms."""

    def __init__(self, proc: psutil.Process) -> None:
        self.proc = proc
        self.rss = 0

    async def sample(self) -> None:
        while True:
            try:
                self.rss = max(self.rss, int(self.proc.memory_info().rss))
            except psutil.Error:
                return
            await asyncio.sleep(0.05)


async def warm_up(fake: FakeDiscord) -> None:
    """One project first: a running worker has its model SDK imported and its pools filled."""
    msg = await fake.message(fake.general, fake.alice, "[writing] warm-up", mention=True)
    mid = int(msg["id"])
    await fake.wait_for(
        lambda: any(buttons(m) for m in fake.bot_messages(mid)) if mid in fake.channels else False,
        timeout=60,
        what="the warm-up draft",
    )
    await asyncio.sleep(0.5)


async def burst(fake: FakeDiscord, n: int, latency: float) -> dict[str, Any]:
    users = [fake.alice, fake.wendy, fake.dana, fake.eve]
    calls_before = len(fake.calls)
    threads_before = {int(t["id"]) for t in fake.threads()}
    controls_before = len(fake.controls_at)
    started: dict[int, float] = {}  # thread id (request message id) -> event sent
    slash_started: dict[int, float] = {}

    async def mention(i: int) -> None:
        t0 = time.monotonic()
        msg = await fake.message(
            fake.general, users[i % 4], f"[writing] mention {i}: a post on topic {i}", mention=True
        )
        started[int(msg["id"])] = t0

    async def slash(i: int) -> None:
        brief = f"slash {i}: a post on subject {i}"
        record = await fake.slash(users[i % 4], fake.second, "draft", {"brief": brief, "category": "writing"})
        slash_started[record.id] = record.created

    t_start = time.monotonic()
    await asyncio.gather(*(slash(i) for i in range(n)), *(mention(i) for i in range(n)))

    def finished() -> bool:
        return len(fake.controls_at) - controls_before >= 2 * n

    await fake.wait_for(finished, timeout=60 + 4 * latency, what="every draft")
    wall = time.monotonic() - t_start
    await asyncio.sleep(1.0)  # anything late (a duplicate post) would land now

    answered = []
    for rid in slash_started:
        record = fake.interactions[rid]
        if record.responded_at is not None:
            answered.append(record.responded_at - record.created)
            started[record.original_id or 0] = record.created
    thread_ids = {int(t["id"]) for t in fake.threads()} - threads_before
    e2e = []
    for tid, t0 in started.items():
        drafts = [m for m in fake.bot_messages(tid) if buttons(m)]
        if drafts:
            e2e.append(fake.controls_at[int(drafts[0]["id"])] - t0)
    per_thread = Counter(int(m["channel_id"]) for m in fake.bot_messages() if int(m["channel_id"]) in thread_ids)
    dup_posts = 0
    for tid in thread_ids:
        contents = Counter(text_of(m) for m in fake.bot_messages(tid))
        dup_posts += sum(c - 1 for c in contents.values() if c > 1)
        acks = sum(1 for m in fake.bot_messages(tid) if text_of(m).startswith("Project #"))
        dup_posts += max(0, acks - 1)
    calls = fake.calls_since(calls_before)
    projects = len(thread_ids)
    return {
        "n": 2 * n,
        "wall": wall,
        "answered": len(answered),
        "slash": len(slash_started),
        "within": sum(1 for a in answered if a <= DEADLINE),
        "ans_p50": pct(answered, 0.5),
        "ans_max": max(answered) if answered else float("nan"),
        "e2e": e2e,
        "threads": projects,
        "thread_calls": calls[("POST", "/channels/{channel_id}/messages/{message_id}/threads")],
        "dup_threads": max(0, calls[("POST", "/channels/{channel_id}/messages/{message_id}/threads")] - projects),
        "dup_posts": dup_posts,
        "calls": calls,
        "errors": sum(1 for c in fake.calls[calls_before:] if c.status >= 400),
        "messages_per_thread": statistics.mean(per_thread.values()) if per_thread else 0,
    }


def report(kind: str, res: dict[str, Any], latency: float) -> None:
    e2e = res["e2e"]
    p50 = pct(e2e, 0.5)
    print(
        f"\n## {kind}: burst of {res['slash']} /draft + {res['n'] - res['slash']} mentions, model latency {latency} s"
    )
    rows = [
        ("interactions answered", f"{res['answered']}/{res['slash']}", "all"),
        (f"answered within {DEADLINE:.0f} s", f"{res['within']}/{res['slash']}", "all"),
        ("initial response p50 / max", f"{res['ans_p50'] * 1000:.0f} ms / {res['ans_max'] * 1000:.0f} ms", "≤ 3 s"),
        ("drafts completed", f"{len(e2e)}/{res['n']}", "all"),
        ("end-to-end p50", f"{p50:.2f} s", "see the ratios below"),
        ("end-to-end min / p25", f"{min(e2e) if e2e else float('nan'):.2f} s / {pct(e2e, 0.25):.2f} s", ""),
        ("end-to-end p95 / max", f"{pct(e2e, 0.95):.2f} s / {max(e2e) if e2e else float('nan'):.2f} s", ""),
        ("burst wall time", f"{res['wall']:.2f} s", ""),
        ("projects / threads", f"{res['threads']}", f"{res['n']}"),
        ("duplicate threads", f"{res['dup_threads']}", "0"),
        ("duplicate posts", f"{res['dup_posts']}", "0"),
        ("REST errors (4xx/5xx)", f"{res['errors']}", "0"),
        ("worker CPU for the burst / per reply", f"{res['cpu']:.2f} s / {res['cpu_per_reply']:.1f} ms", ""),
        ("worker peak RSS", f"{res['rss']:.0f} MiB", ""),
        ("the fakes' CPU for the burst (this process)", f"{res['fakes_cpu']:.2f} s", ""),
        ("REST calls per project", f"{sum(res['calls'].values()) / max(1, res['threads']):.2f}", ""),
    ]
    print("| figure | value | target |\n|---|---|---|")
    for name, value, target in rows:
        print(f"| {name} | {value} | {target} |")
    print("\nREST calls per project, by route:")
    print("| route | calls | per project |\n|---|---|---|")
    for (method, route), count in sorted(res["calls"].items(), key=lambda kv: -kv[1]):
        print(f"| {method} {route} | {count} | {count / max(1, res['threads']):.2f} |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="5 + 5 events, 0.5 s model, SQLite only")
    parser.add_argument("--n", type=int, default=100, help="interactions, and as many mentions")
    parser.add_argument("--latency", type=float, default=2.0, help="model latency before the first token (s)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--no-reference", action="store_true", help="skip the minimal reference bot")
    parser.add_argument("--runs", type=int, default=3, help="runs of each bot, interleaved; medians are reported")
    parser.add_argument("--ceiling", type=int, help="the agent's max_concurrency (default: none, adaptive)")
    parser.add_argument(
        "--profile", metavar="FILE", help="py-spy draftloop's worker in its first burst; collapsed stacks to FILE"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    n, latency, kinds = args.n, args.latency, ["sqlite", "postgres"] if args.db == "both" else [args.db]
    runs = max(1, args.runs)
    if args.tiny:
        n, latency, kinds, runs = 5, 0.5, ["sqlite"], 1
    if not args.no_reference:
        kinds = [REFERENCE, *kinds]
    profiled = Path(args.profile).resolve() if args.profile else None
    import tempfile

    # Interleaved, so a slow spell of a shared machine falls on every bot alike.
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    first = next((k for k in kinds if k != REFERENCE), None)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            for kind in kinds:
                prof = profiled if kind == first and i == 0 else None
                res = await run(kind, n, latency, tmp, ceiling=args.ceiling, profile=prof)
                results[kind].append(res)
                print(
                    f"run {i + 1} {kind:<9} e2e p50 {pct(res['e2e'], 0.5):.2f} s, "
                    f"CPU {res['cpu_per_reply']:.1f} ms/reply, peak RSS {res['rss']:.0f} MiB, "
                    f"{len(res['e2e'])}/{res['n']} drafts",
                    flush=True,
                )
    for kind, kind_runs in results.items():
        median_run = sorted(kind_runs, key=lambda r: pct(r["e2e"], 0.5))[len(kind_runs) // 2]
        report(kind, median_run, latency)
        if len(kind_runs) > 1:
            p50s = ", ".join(f"{pct(r['e2e'], 0.5):.2f}" for r in kind_runs)
            print(f"\n(the run with the median end-to-end p50 of {len(kind_runs)}: {p50s} s)")
    if REFERENCE in results:
        compare(results, latency)
    if profiled is not None:
        print(f"\nprofile of draftloop's worker ({first}) in its first burst (py-spy, collapsed stacks: {profiled})")
        print(summary(profiled))


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base > 0 else "no ratio: reference is 0"


FIGURES: list[tuple[str, Any]] = [
    ("end-to-end p50 (s)", lambda r: pct(r["e2e"], 0.5)),
    ("end-to-end p25 (s)", lambda r: pct(r["e2e"], 0.25)),
    ("end-to-end p95 (s)", lambda r: pct(r["e2e"], 0.95)),
    ("worker CPU for the burst (s)", lambda r: r["cpu"]),
    ("worker CPU per reply (ms)", lambda r: r["cpu_per_reply"]),
    ("the fakes' CPU for the burst (s)", lambda r: r["fakes_cpu"]),
    ("worker peak RSS (MiB)", lambda r: r["rss"]),
    ("REST calls per project", lambda r: sum(r["calls"].values()) / max(1, r["threads"])),
]


def compare(results: dict[str, list[dict[str, Any]]], latency: float) -> None:
    """draftloop beside the minimal bot: what the bookkeeping costs under the same burst (medians of runs,
    the spread of runs in brackets), then the targets on those medians."""
    runs = min(len(rs) for rs in results.values())
    print(f"\n## beside the reference bot (same burst, same fakes, model latency {latency} s; medians of {runs} runs)")
    print("| figure | " + " | ".join(results) + " |\n|---|" + "---|" * len(results))
    medians: dict[str, dict[str, float]] = {}
    for name, get in FIGURES:
        values = {kind: [float(get(r)) for r in kind_runs] for kind, kind_runs in results.items()}
        medians[name] = {kind: statistics.median(v) for kind, v in values.items()}
        base = medians[name][REFERENCE]
        cells = []
        for kind, v in medians[name].items():
            # At --tiny a figure can round to zero on the reference (its CPU for a few events): no ratio then.
            cell = f"{v:.2f}" + ("" if kind == REFERENCE else f" ({_ratio(v, base)})")
            if len(values[kind]) > 1:
                cell += f" [{min(values[kind]):.2f}–{max(values[kind]):.2f}]"
            cells.append(cell)
        print(f"| {name} | " + " | ".join(cells) + " |")
    over = {k: v - latency for k, v in medians["end-to-end p50 (s)"].items()}
    print(f"\nover the model's {latency} s, end to end (p50): " + ", ".join(f"{k} +{v:.2f} s" for k, v in over.items()))
    if runs > 1:
        # Runs are interleaved: each run's ratio to the reference run beside it says how steady the ratio is.
        print("ratio to the reference run beside it, per run (e2e p50 / CPU per reply):")
        for kind, kind_runs in results.items():
            if kind == REFERENCE:
                continue
            pairs = zip(kind_runs, results[REFERENCE], strict=False)
            cells = [
                f"{pct(r['e2e'], 0.5) / pct(b['e2e'], 0.5):.2f}× / {r['cpu_per_reply'] / b['cpu_per_reply']:.2f}×"
                for r, b in pairs
            ]
            print(f"  {kind}: " + ", ".join(cells))
    print("\ntargets (medians of runs, against the reference's)")
    for kind in results:
        if kind == REFERENCE:
            continue
        e2e = medians["end-to-end p50 (s)"]
        cpu = medians["worker CPU per reply (ms)"]
        checks = [
            (f"end-to-end p50 <= {E2E_TARGET}x reference", e2e[kind], e2e[REFERENCE], E2E_TARGET),
            (f"CPU per reply <= {CPU_TARGET}x reference", cpu[kind], cpu[REFERENCE], CPU_TARGET),
        ]
        for label, value, base, target in checks:
            ok = base > 0 and value <= target * base
            print(f"  [{'PASS' if ok else 'MISS'}] {kind}: {label} ({_ratio(value, base)})")


if __name__ == "__main__":
    asyncio.run(main())
