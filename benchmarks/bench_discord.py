"""Discord benchmark: a burst of `/draft` interactions and mentions at once, with a 2 s model.

    .venv/bin/python -m benchmarks.bench_discord              # 100 + 100, reference + SQLite + PostgreSQL, 3 runs
    .venv/bin/python -m benchmarks.bench_discord --tiny       # 5 + 5, one run: a seconds-long smoke run
    .venv/bin/python -m benchmarks.bench_discord --db postgres --runs 1 --no-reference

In this process: the fake Discord gateway + REST API (tests/fakes/discord_api.py) and the fake
OpenAI-compatible model server with a fixed latency before the first token (tests/fakes/llm_server.py).
In a subprocess: the real `draftloop worker` (discord.py client, runtime, workflow, scheduler) on a scratch
database, pointed at the fakes by DISCORD_API_URL / DISCORD_GATEWAY_URL, warmed up with one project. The
fake then sends the whole burst over the gateway at once. The same burst also goes to a minimal
reference bot (benchmarks/discord_reference.py: thread, model call, answer; no database), so the
figures say what draftloop's bookkeeping costs on this machine, and what the machine allows at all.
Runs are interleaved and medians reported: a shared machine's slow spells fall on every bot alike.

Figures: how fast each interaction got its initial response (Discord's deadline: 3 s), end-to-end time
from the event to the draft's buttons showing (target: p50 ≤ model latency + 0.2 s), duplicate threads
and posts (target: 0), and the REST calls per project, by route.
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
from tests.fakes.discord_api import FakeDiscord, buttons, text_of
from tests.fakes.llm_server import FakeLLMServer

DEADLINE = 3.0
REFERENCE = "reference"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def config(llm_url: str, n: int) -> str:
    return f"""
default_agent = "bench"

[agents.bench]
provider = "openai-compatible"
model = "bench-model"
base_url = "{llm_url}"
max_concurrency = {4 * n}
max_retries = 0

[discord]
admin_roles = ["Moderators"]

[categories.writing]
expert_roles = ["Writers"]
"""


async def run(db_kind: str, n: int, latency: float, tmp: str) -> dict[str, Any]:
    """Fakes here; the bot is a real `draftloop worker` subprocess (its own CPU, as in production),
    or with `db_kind` "reference" the minimal bot of benchmarks/discord_reference.py."""
    fake = FakeDiscord()
    await fake.start()
    llm = FakeLLMServer(latency=latency, chunk_words=6)
    await llm.start()
    cfg = Path(tmp) / f"bench-{db_kind}.toml"
    cfg.write_text(config(llm.openai_base_url, n), encoding="utf-8")
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
                cpu0 = sum(proc.cpu_times()[:2])
                fakes = psutil.Process()
                fakes0 = sum(fakes.cpu_times()[:2])
                result = await burst(fake, n, latency)
                result["cpu"] = sum(proc.cpu_times()[:2]) - cpu0
                result["fakes_cpu"] = sum(fakes.cpu_times()[:2]) - fakes0
                result["rss"] = proc.memory_info().rss / 2**20
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
        ("end-to-end p50", f"{p50:.2f} s", f"≤ {latency + 0.2:.1f} s ({'ok' if p50 <= latency + 0.2 else 'MISSED'})"),
        ("end-to-end min / p25", f"{min(e2e) if e2e else float('nan'):.2f} s / {pct(e2e, 0.25):.2f} s", ""),
        ("end-to-end p95 / max", f"{pct(e2e, 0.95):.2f} s / {max(e2e) if e2e else float('nan'):.2f} s", ""),
        ("burst wall time", f"{res['wall']:.2f} s", ""),
        ("projects / threads", f"{res['threads']}", f"{res['n']}"),
        ("duplicate threads", f"{res['dup_threads']}", "0"),
        ("duplicate posts", f"{res['dup_posts']}", "0"),
        ("REST errors (4xx/5xx)", f"{res['errors']}", "0"),
        ("worker CPU for the burst / RSS", f"{res['cpu']:.2f} s / {res['rss']:.0f} MiB", ""),
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
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    n, latency, kinds = args.n, args.latency, ["sqlite", "postgres"] if args.db == "both" else [args.db]
    runs = max(1, args.runs)
    if args.tiny:
        n, latency, kinds, runs = 5, 0.5, ["sqlite"], 1
    if not args.no_reference:
        kinds = [REFERENCE, *kinds]
    import tempfile

    # Interleaved, so a slow spell of a shared machine falls on every bot alike.
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            for kind in kinds:
                results[kind].append(await run(kind, n, latency, tmp))
    for kind, kind_runs in results.items():
        median_run = sorted(kind_runs, key=lambda r: pct(r["e2e"], 0.5))[len(kind_runs) // 2]
        report(kind, median_run, latency)
        if len(kind_runs) > 1:
            p50s = ", ".join(f"{pct(r['e2e'], 0.5):.2f}" for r in kind_runs)
            print(f"\n(the run with the median end-to-end p50 of {len(kind_runs)}: {p50s} s)")
    if REFERENCE in results:
        compare(results, latency)


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base > 0 else "no ratio: reference is 0"


def compare(results: dict[str, list[dict[str, Any]]], latency: float) -> None:
    """draftloop beside the minimal bot: what the bookkeeping costs under the same burst (medians of runs)."""
    print(f"\n## beside the reference bot (same burst, same fakes, model latency {latency} s; medians of runs)")
    print("| figure | " + " | ".join(results) + " |\n|---|" + "---|" * len(results))
    figures = [
        ("end-to-end p50 (s)", lambda r: pct(r["e2e"], 0.5)),
        ("end-to-end p25 (s)", lambda r: pct(r["e2e"], 0.25)),
        ("end-to-end p95 (s)", lambda r: pct(r["e2e"], 0.95)),
        ("worker CPU for the burst (s)", lambda r: r["cpu"]),
        ("the fakes' CPU for the burst (s)", lambda r: r["fakes_cpu"]),
        ("RSS (MiB)", lambda r: r["rss"]),
        ("REST calls per project", lambda r: sum(r["calls"].values()) / max(1, r["threads"])),
    ]
    for name, get in figures:
        medians = {kind: statistics.median(get(r) for r in kind_runs) for kind, kind_runs in results.items()}
        base = medians[REFERENCE]
        # At --tiny a figure can round to zero on the reference (its CPU for a few events): no ratio then.
        cells = [f"{v:.2f}" + ("" if kind == REFERENCE else f" ({_ratio(v, base)})") for kind, v in medians.items()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    over = {kind: statistics.median(pct(r["e2e"], 0.5) for r in rs) - latency for kind, rs in results.items()}
    print(f"\nover the model's {latency} s, end to end (p50): " + ", ".join(f"{k} +{v:.2f} s" for k, v in over.items()))


if __name__ == "__main__":
    asyncio.run(main())
