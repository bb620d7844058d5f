"""Slack benchmark: `draftloop serve` against a minimal reference bolt app, same load, same fakes.

    .venv/bin/python -m benchmarks.bench_slack            # 3 runs, medians (a few minutes)
    .venv/bin/python -m benchmarks.bench_slack --tiny     # seconds-long smoke run

In this process: the fake Slack Web API (tests/fakes/slack_api.py), a fake OpenAI-compatible model
server with a set latency (tests/fakes/llm_server.py), and a load generator that sends signed
app_mention events. Each app runs in its own subprocess (so RSS and CPU are its own): the real
`draftloop serve`, and a reference AsyncApp that acks, calls the model and posts the answer,
nothing else. An event not acked within 3 s is redelivered with X-Slack-Retry-Num, as Slack does.

Scenarios: a burst of N mentions at once; a steady rate; every event delivered 4 times (the
original and 3 retries). Figures: ack and end-to-end percentiles, completed, duplicate projects
and posts, peak RSS and CPU seconds, each with its ratio to the reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from benchmarks._profile import Profiler, summary
from benchmarks._serving import clean_env, draftloop_env, wait_healthy
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import FakeSlackAPI, event_envelope, sign

SECRET = "bench-signing-secret"
ACK_DEADLINE = 3.0


# --------------------------------------------------------------------------- the reference app


def run_reference(port: int, slack_url: str, llm_url: str, token: str) -> None:
    """A minimal async bolt app: ack, call the model, post the answer in the thread."""
    from aiohttp import web
    from openai import AsyncOpenAI
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.app.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    async def main() -> None:
        client = AsyncWebClient(token=token, base_url=slack_url)
        app = AsyncApp(client=client, signing_secret=SECRET)
        llm = AsyncOpenAI(api_key="bench", base_url=llm_url, max_retries=0)

        @app.event("app_mention")
        async def on_mention(event: dict[str, Any], say: Any) -> None:
            answer = await llm.chat.completions.create(
                model="bench-model", messages=[{"role": "user", "content": event["text"]}]
            )
            await say(text=answer.choices[0].message.content or "", thread_ts=event["ts"])

        async def handle(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

        async def health(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        web_app = web.Application()
        web_app.router.add_post("/slack/events", handle)
        web_app.router.add_get("/healthz", health)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    asyncio.run(main())


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class App:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    db: Path | None
    rss_peak: int = 0
    cpu_start: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def cpu(self) -> float:
        try:
            p = psutil.Process(self.proc.pid)
            t = p.cpu_times()
            return float(t.user + t.system)
        except psutil.Error:
            return 0.0

    def rss(self) -> int:
        try:
            return int(psutil.Process(self.proc.pid).memory_info().rss)
        except psutil.Error:
            return 0


def start_app(kind: str, fake: FakeSlackAPI, llm: FakeLLMServer, workdir: Path) -> App:
    port = free_port()
    env = clean_env()
    if kind == "draftloop":
        db = workdir / f"bench-{port}.db"
        env = draftloop_env(
            workdir=workdir,
            database_url=f"sqlite:///{db}",
            llm=llm,
            fake=fake,
        )
        env.update(SLACK_SIGNING_SECRET=SECRET, PORT=str(port))
        exe = str(Path(sys.executable).parent / "draftloop")
        # As deployed: the Procfile's release step migrates, so the web process never loads Alembic.
        subprocess.run([exe, "db", "upgrade"], env=env, check=True, capture_output=True)
        return App(kind, subprocess.Popen([exe, "serve"], env=env, stderr=subprocess.DEVNULL), port, db)
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_slack",
        "--reference",
        str(port),
        fake.api_url,
        llm.openai_base_url,
        fake.token,
    ]
    return App(kind, subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL), port, None)


async def wait_ready(app: App, session: aiohttp.ClientSession) -> None:
    await wait_healthy(app.port, app.proc, app.name, session)


def stop_app(app: App) -> None:
    app.proc.terminate()
    try:
        app.proc.wait(timeout=12)
    except subprocess.TimeoutExpired:
        app.proc.kill()
        app.proc.wait()


# --------------------------------------------------------------------------- load


@dataclass
class Result:
    acks: list[float] = field(default_factory=list)
    e2e: list[float] = field(default_factory=list)
    sent: int = 0
    completed: int = 0
    redelivered: int = 0
    dup_projects: int = 0
    dup_posts: int = 0
    rss_mb: float = 0.0
    cpu_s: float = 0.0


class Watcher:
    """Watches the fake's calls: when each thread got its answer, and how many posts it got."""

    def __init__(self, fake: FakeSlackAPI, kind: str) -> None:
        self.fake = fake
        self.kind = kind
        self.done: dict[str, float] = {}
        self.posts: dict[str, int] = defaultdict(int)
        self.finals: dict[str, int] = defaultdict(int)
        fake.observers.append(self)

    def __call__(self, method: str, params: dict[str, Any], result: dict[str, Any]) -> None:
        if method not in ("chat.postMessage", "chat.update"):
            return
        if method == "chat.postMessage":
            thread = str(params.get("thread_ts") or "")
            if thread:
                self.posts[thread] += 1
        else:
            msg = self.fake.find(str(params.get("channel")), str(params.get("ts")))
            thread = str((msg or {}).get("thread_ts") or "")
        final = self.kind == "reference" or any(b.get("type") == "actions" for b in params.get("blocks") or [])
        if thread and final:
            self.finals[thread] += 1
            self.done.setdefault(thread, time.monotonic())

    def close(self) -> None:
        self.fake.observers.remove(self)


async def deliver(session: aiohttp.ClientSession, app: App, body: str, retry: int) -> float | None:
    headers = {"Content-Type": "application/json", **sign(SECRET, body)}
    if retry:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    t0 = time.monotonic()
    try:
        async with session.post(
            app.url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=ACK_DEADLINE)
        ) as resp:
            await resp.read()
            return time.monotonic() - t0 if resp.status == 200 else None
    except (TimeoutError, aiohttp.ClientError):
        return None


async def one_event(
    session: aiohttp.ClientSession,
    app: App,
    fake: FakeSlackAPI,
    channel: str,
    res: Result,
    starts: dict[str, float],
    extra_retries: int,
) -> None:
    msg = fake.add_user_message(
        channel, f"<@{fake.bot_user_id}> [writing] Write a short note number {res.sent}", user="UBENCH"
    )
    inner = {
        "type": "app_mention",
        "user": "UBENCH",
        "text": msg["text"],
        "ts": msg["ts"],
        "channel": channel,
        "event_ts": msg["ts"],
    }
    body = json.dumps(event_envelope(inner, bot_user_id=fake.bot_user_id))
    res.sent += 1
    starts[msg["ts"]] = time.monotonic()
    first = await deliver(session, app, body, 0)
    res.acks.append(first if first is not None else ACK_DEADLINE)
    retry = 0
    ack = first
    while ack is None and retry < 3:  # Slack retries what was not acked in 3 s
        retry += 1
        res.redelivered += 1
        ack = await deliver(session, app, body, retry)
    for n in range(retry + 1, retry + 1 + extra_retries):
        await asyncio.sleep(0.0 if n == 1 else 0.5)
        res.redelivered += 1
        await deliver(session, app, body, n)


async def scenario(
    kind: str,
    name: str,
    fake: FakeSlackAPI,
    llm: FakeLLMServer,
    workdir: Path,
    *,
    count: int,
    rate: float | None,
    extra_retries: int,
    model_latency: float,
    profile: Path | None = None,
) -> Result:
    llm.latency = model_latency
    res = Result()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        app = start_app(kind, fake, llm, workdir)
        try:
            await wait_ready(app, session)
            # Warm up (first request authorizes with auth.test); not measured.
            warm = Result()
            await one_event(session, app, fake, "CWARM", warm, {}, 0)
            await asyncio.sleep(model_latency + 1.0)
            watcher = Watcher(fake, kind)
            starts: dict[str, float] = {}
            sampler = asyncio.create_task(sample(app))
            profiler = Profiler(app.proc.pid, profile) if profile is not None else None
            cpu0 = app.cpu()
            tasks = []
            for i in range(count):
                channel = f"CB{name[:3].upper()}{i % 10}"
                tasks.append(asyncio.create_task(one_event(session, app, fake, channel, res, starts, extra_retries)))
                if rate:
                    await asyncio.sleep(1.0 / rate)
            await asyncio.gather(*tasks)
            deadline = time.monotonic() + model_latency * 3 + 30
            while time.monotonic() < deadline and not all(ts in watcher.done for ts in starts):
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # let late duplicates show up
            res.cpu_s = app.cpu() - cpu0
            if profiler is not None:
                profiler.stop()
            sampler.cancel()
            res.rss_mb = app.rss_peak / 1e6
            res.e2e = [watcher.done[ts] - t0 for ts, t0 in starts.items() if ts in watcher.done]
            res.completed = len(res.e2e)
            if kind == "draftloop":  # ack + progress (edited into the draft), one draft per thread
                res.dup_posts = sum(max(0, watcher.posts[ts] - 2) + max(0, watcher.finals[ts] - 1) for ts in starts)
            else:  # one answer per thread; each answer stands for a project
                res.dup_posts = sum(max(0, watcher.posts[ts] - 1) for ts in starts)
                res.dup_projects = res.dup_posts
            watcher.close()
        finally:
            stop_app(app)
        if app.db is not None:
            res.dup_projects = db_duplicates(app.db)
    return res


async def sample(app: App) -> None:
    while True:
        app.rss_peak = max(app.rss_peak, app.rss())
        await asyncio.sleep(0.05)


def db_duplicates(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT COUNT(*) - COUNT(DISTINCT thread_id) FROM projects").fetchone()
    return int(rows[0] or 0)


# --------------------------------------------------------------------------- report


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def figures(res: Result) -> dict[str, float]:
    return {
        "ack p50 (s)": pct(res.acks, 50),
        "ack p99 (s)": pct(res.acks, 99),
        "ack max (s)": max(res.acks) if res.acks else float("nan"),
        "e2e p50 (s)": pct(res.e2e, 50),
        "e2e p99 (s)": pct(res.e2e, 99),
        "completed": res.completed,
        "sent": res.sent,
        "redelivered": res.redelivered,
        "duplicate projects": res.dup_projects,
        "duplicate posts": res.dup_posts,
        "peak RSS (MB)": res.rss_mb,
        "CPU (s)": res.cpu_s,
    }


def median_figures(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def print_table(name: str, ours: dict[str, float], ref: dict[str, float]) -> None:
    print(f"\n{name}")
    print(f"  {'metric':<20} {'draftloop':>11} {'reference':>11} {'ratio':>7}")
    for key in ours:
        a, b = ours[key], ref[key]
        ratio = f"{a / b:7.2f}" if b else "      –"
        print(f"  {key:<20} {a:11.3f} {b:11.3f} {ratio}")


async def main(args: argparse.Namespace) -> int:
    tiny = args.tiny
    latency = 0.2 if tiny else args.model_latency
    plans = [
        ("burst", {"count": 10 if tiny else args.burst, "rate": None, "extra_retries": 0}),
        ("steady", {"count": 10 if tiny else 200, "rate": 5.0 if tiny else 20.0, "extra_retries": 0}),
        ("redelivery", {"count": 5 if tiny else 50, "rate": 5.0 if tiny else 10.0, "extra_retries": 3}),
    ]
    if args.only:
        plans = [p for p in plans if p[0] in args.only.split(",")]
    profiled = Path(args.profile).resolve() if args.profile else None
    runs = 1 if tiny else args.runs
    collected: dict[str, dict[str, list[dict[str, float]]]] = defaultdict(lambda: defaultdict(list))
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeSlackAPI() as fake, FakeLLMServer(latency=latency) as llm:
            for run in range(runs):
                for name, plan in plans:
                    for kind in ("reference", "draftloop"):
                        prof = profiled if kind == "draftloop" and name == plans[0][0] and run == 0 else None
                        res = await scenario(
                            kind, name, fake, llm, Path(tmp), model_latency=latency, profile=prof, **plan
                        )
                        collected[name][kind].append(figures(res))
                        print(
                            f"run {run + 1} {name:<10} {kind:<9} ack p99 {pct(res.acks, 99):.3f}s "
                            f"e2e p50 {pct(res.e2e, 50):.3f}s done {res.completed}/{res.sent}",
                            flush=True,
                        )
    print(f"\nmodel latency {latency} s; medians of {runs} run(s)")
    medians = {n: {k: median_figures(v) for k, v in kinds.items()} for n, kinds in collected.items()}
    for name, _ in plans:
        print_table(name, medians[name]["draftloop"], medians[name]["reference"])
    if profiled is not None:
        print(f"\nprofile of draftloop serve in the first {plans[0][0]} run (py-spy, collapsed stacks: {profiled})")
        print(summary(profiled))
    if len(plans) < 3:
        return 0
    b, s, r = medians["burst"], medians["steady"], medians["redelivery"]
    checks = [
        ("burst: every event acked < 3 s", b["draftloop"]["ack max (s)"] < ACK_DEADLINE),
        ("burst: ack p99 <= 1.2x reference", b["draftloop"]["ack p99 (s)"] <= 1.2 * b["reference"]["ack p99 (s)"]),
        (f"steady: e2e p50 <= model + 0.15 s ({latency + 0.15:.2f})", s["draftloop"]["e2e p50 (s)"] <= latency + 0.15),
        ("steady: all complete", s["draftloop"]["completed"] == s["draftloop"]["sent"]),
        (
            "redelivery: zero duplicate projects and posts",
            r["draftloop"]["duplicate projects"] == 0 and r["draftloop"]["duplicate posts"] == 0,
        ),
        (
            "peak RSS <= 1.5x reference",
            max(m["draftloop"]["peak RSS (MB)"] / m["reference"]["peak RSS (MB)"] for m in (b, s, r)) <= 1.5,
        ),
    ]
    print("\ntargets")
    for label, ok in checks:
        print(f"  [{'PASS' if ok else 'MISS'}] {label}")
    return 0


def cli() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--reference":
        port, slack_url, llm_url, token = sys.argv[2:6]
        run_reference(int(port), slack_url, llm_url, token)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model-latency", type=float, default=2.0)
    parser.add_argument("--burst", type=int, default=200, help="mentions in the burst")
    parser.add_argument("--only", help="scenarios to run, comma-separated: burst, steady, redelivery")
    parser.add_argument(
        "--profile", metavar="FILE", help="py-spy draftloop in the first scenario; collapsed stacks to FILE, summary"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
