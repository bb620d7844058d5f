"""Socket Mode benchmark: `draftloop worker` against a minimal bolt app in Socket Mode, same load, same fakes.

    .venv/bin/python -m benchmarks.bench_socket            # burst of 300 (5 s model), 6 steady runs at 20/s
    .venv/bin/python -m benchmarks.bench_socket --tiny     # seconds-long smoke run

In this process: the fake Slack (Web API and Socket Mode: tests/fakes/slack_api.py), the fake
OpenAI-compatible model server (tests/fakes/llm_server.py) and the load, app_mention envelopes sent
over the fake's sockets, each to one of the app's connections in turn as Slack does. Each app runs in
its own subprocess (RSS and CPU are its own): the real `draftloop worker` with SLACK_APP_TOKEN
(SQLite, defaults, DRAFTLOOP_SLACK_CONNECTIONS as configured: 2 by default, the agent configured as
bench_slack does), and a reference AsyncApp under AsyncSocketModeHandler that acks, calls the model
and posts the answer in the thread, nothing else. An envelope not acked within 3 s is sent again with
`retry_attempt`, as Slack does.

Scenarios: a burst of N mentions at once with a slow model; a steady 20 mentions/s with an instant
model, run several times over, each run a fresh process of each app, to show the spread of the
end-to-end p50 and p99 between identical runs and not only their median. Figures: ack (envelope sent
→ ack back on the socket) and end-to-end (sent → the answer, or draftloop's draft, posted) percentiles,
completed, duplicates, peak RSS, CPU seconds per reply, each with its ratio to the reference.

Each steady run also says why its figures are what they are: where the time went (ack; ack → first
post, which is the queue; first post → draft), the CPU the app needed (CPU per reply x rate, of one
core: an event loop uses one) and what it got, and how long its event loop waited for a CPU that
other processes held (/proc/PID/schedstat). A run whose loop needs most of a core turns any stall
(a full garbage collection, a neighbour's burst of CPU) into a queue that drains slowly. That is the
run-to-run spread.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._profile import Profiler, summary
from benchmarks._serving import clean_env, draftloop_env
from benchmarks.bench_slack import (
    ACK_DEADLINE,
    App,
    Result,
    Watcher,
    db_duplicates,
    figures,
    pct,
    print_table,
    sample,
    stop_app,
)
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import FakeSlackAPI, event_envelope

APP_TOKEN = "xapp-1-bench"

# --------------------------------------------------------------------------- the reference app


def run_reference(app_token: str, slack_url: str, llm_url: str, token: str) -> None:
    """A minimal async bolt app in Socket Mode: ack, call the model, post the answer in the thread."""
    from openai import AsyncOpenAI
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_bolt.app.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    async def main() -> None:
        client = AsyncWebClient(token=token, base_url=slack_url)
        app = AsyncApp(client=client)
        llm = AsyncOpenAI(api_key="bench", base_url=llm_url, max_retries=0)

        @app.event("app_mention")
        async def on_mention(event: dict[str, Any], say: Any) -> None:
            answer = await llm.chat.completions.create(
                model="bench-model", messages=[{"role": "user", "content": event["text"]}]
            )
            await say(text=answer.choices[0].message.content or "", thread_ts=event["ts"])

        await AsyncSocketModeHandler(app, app_token=app_token).connect_async()
        await asyncio.Event().wait()

    asyncio.run(main())


# --------------------------------------------------------------------------- processes


@dataclass
class Started:
    app: App
    connections: int  # sockets it opens


def start_app(kind: str, fake: FakeSlackAPI, llm: FakeLLMServer, workdir: Path, connections: int | None) -> Started:
    env = clean_env()
    if kind == "draftloop":
        db = workdir / f"bench-socket-{time.monotonic_ns()}.db"
        env = draftloop_env(
            workdir=workdir,
            database_url=f"sqlite:///{db}",
            llm=llm,
            fake=fake,
        )
        env["SLACK_APP_TOKEN"] = APP_TOKEN
        if connections is not None:
            env["DRAFTLOOP_SLACK_CONNECTIONS"] = str(connections)
        exe = str(Path(sys.executable).parent / "draftloop")
        # As deployed, the release step migrates; here once, into a template each run copies.
        template = workdir / "template.db"
        if not template.exists():
            upgrade = dict(env, DATABASE_URL=f"sqlite:///{template}")
            subprocess.run([exe, "db", "upgrade"], env=upgrade, check=True, capture_output=True)
        shutil.copy(template, db)
        proc = subprocess.Popen([exe, "worker"], env=env, stderr=subprocess.DEVNULL)
        return Started(App(kind, proc, 0, db), connections or 2)
    cmd = [sys.executable, "-m", "benchmarks.bench_socket", "--reference", APP_TOKEN, fake.api_url]
    cmd += [llm.openai_base_url, fake.token]
    return Started(App(kind, subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL), 0, None), 1)


async def wait_connected(started: Started, fake: FakeSlackAPI) -> None:
    """Until the app holds its sockets (a worker has no HTTP port to poll)."""
    deadline = time.monotonic() + 30
    while len(fake.sockets) < started.connections:
        if started.app.proc.poll() is not None:
            raise RuntimeError(f"{started.app.name} exited with {started.app.proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{started.app.name} did not connect its {started.connections} sockets")
        await asyncio.sleep(0.05)


async def wait_disconnected(fake: FakeSlackAPI) -> None:
    deadline = time.monotonic() + 10
    while fake.sockets and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


# --------------------------------------------------------------------------- load


class FirstPosts:
    """When each thread got its first bot post (draftloop's acknowledgement; the reference's answer)."""

    def __init__(self, fake: FakeSlackAPI) -> None:
        self.fake = fake
        self.at: dict[str, float] = {}
        fake.observers.append(self)

    def __call__(self, method: str, params: dict[str, Any], result: dict[str, Any]) -> None:
        if method == "chat.postMessage" and params.get("thread_ts"):
            self.at.setdefault(str(params["thread_ts"]), time.monotonic())

    def close(self) -> None:
        self.fake.observers.remove(self)


@dataclass
class Timeline:
    """Per event, seconds after it was sent: acked, first post in its thread, final answer (nan: never)."""

    sent: list[float] = field(default_factory=list)
    acked: list[float] = field(default_factory=list)
    first: list[float] = field(default_factory=list)
    done: list[float] = field(default_factory=list)
    window: float = 0.0  # seconds from the first event sent to the last answered
    busy: float = 0.0  # the app's CPU seconds per second of that window: 1.0 is a whole core
    load: float = 0.0  # the machine's 1-minute load average at the end (2 cores here)
    loop_ran: float = 0.0  # the event loop's thread: seconds on a CPU per second of the window
    loop_waited: float = 0.0  # seconds it was ready to run but waited for a CPU (other processes had them)
    reconnects: int = 0  # sockets the app opened again during the run (a missed ping closes one)


def mention(fake: FakeSlackAPI, channel: str, n: int) -> tuple[str, dict[str, Any]]:
    msg = fake.add_user_message(channel, f"<@{fake.bot_user_id}> [writing] Write a short note number {n}", user="UB")
    inner = {
        "type": "app_mention",
        "user": "UB",
        "text": msg["text"],
        "ts": msg["ts"],
        "channel": channel,
        "event_ts": msg["ts"],
    }
    return msg["ts"], event_envelope(inner, bot_user_id=fake.bot_user_id)


async def one_event(
    fake: FakeSlackAPI, channel: str, res: Result, starts: dict[str, float], acks: dict[str, float] | None = None
) -> None:
    ts, envelope = mention(fake, channel, res.sent)
    res.sent += 1
    starts[ts] = time.monotonic()
    attempt = 0
    while True:
        eid = await fake.socket_send("events_api", envelope, retry_attempt=attempt)
        acked = await fake.socket_acked_in(eid, ACK_DEADLINE)
        if attempt == 0:
            res.acks.append(ACK_DEADLINE if acked is None else acked)
            if acks is not None:
                acks[ts] = ACK_DEADLINE if acked is None else acked
        if acked is not None or attempt == 3:  # Slack retries an unacked envelope three times
            return
        attempt += 1
        res.redelivered += 1


async def scenario(
    kind: str,
    name: str,
    fake: FakeSlackAPI,
    llm: FakeLLMServer,
    workdir: Path,
    *,
    count: int,
    rate: float | None,
    model_latency: float,
    connections: int | None,
    profile: Path | None = None,
    timeline: Timeline | None = None,
) -> Result:
    timeline = timeline if timeline is not None else Timeline()
    llm.latency = model_latency
    res = Result()
    started = start_app(kind, fake, llm, workdir, connections)
    app = started.app
    try:
        await wait_connected(started, fake)
        # Warm up (the first event authorizes with auth.test and opens the pooled sessions); not measured.
        warm = Watcher(fake, kind)
        warm_starts: dict[str, float] = {}
        await one_event(fake, "CWARM", Result(), warm_starts)
        deadline = time.monotonic() + model_latency + 10
        while time.monotonic() < deadline and len(warm.done) < len(warm_starts):
            await asyncio.sleep(0.05)
        warm.close()
        await asyncio.sleep(0.3 if count <= 50 else 1.0)
        watcher = Watcher(fake, kind)
        firsts = FirstPosts(fake)
        starts: dict[str, float] = {}
        acks: dict[str, float] = {}
        sampler = asyncio.create_task(sample(app))
        profiler = Profiler(app.proc.pid, profile) if profile is not None else None
        cpu0 = app.cpu()
        run0, wait0 = schedstat(app.proc.pid)
        opened = fake.counts()["apps.connections.open"]
        tasks = []
        t0 = time.monotonic()
        for i in range(count):
            channel = f"C{name[:3].upper()}{i % 10}"
            tasks.append(asyncio.create_task(one_event(fake, channel, res, starts, acks)))
            if rate:  # on a schedule, not after a sleep each: the rate holds however long sending takes
                await asyncio.sleep(max(0.0, t0 + (i + 1) / rate - time.monotonic()))
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + model_latency * 3 + 30
        while time.monotonic() < deadline and not all(ts in watcher.done for ts in starts):
            await asyncio.sleep(0.02)
        timeline.window = time.monotonic() - t0
        timeline.busy = (app.cpu() - cpu0) / timeline.window
        run1, wait1 = schedstat(app.proc.pid)
        timeline.loop_ran = (run1 - run0) / timeline.window
        timeline.loop_waited = (wait1 - wait0) / timeline.window
        timeline.load = os.getloadavg()[0]
        timeline.reconnects = fake.counts()["apps.connections.open"] - opened
        await asyncio.sleep(0.2 if count <= 50 else 0.5)  # late duplicates
        res.cpu_s = app.cpu() - cpu0
        if profiler is not None:
            profiler.stop()
        sampler.cancel()
        res.rss_mb = app.rss_peak / 1e6
        res.e2e = [watcher.done[ts] - t for ts, t in starts.items() if ts in watcher.done]
        res.completed = len(res.e2e)
        if kind == "draftloop":
            res.dup_posts = sum(max(0, watcher.posts[ts] - 2) + max(0, watcher.finals[ts] - 1) for ts in starts)
        else:
            res.dup_posts = res.dup_projects = sum(max(0, watcher.posts[ts] - 1) for ts in starts)
        nan = float("nan")
        for ts, t in sorted(starts.items(), key=lambda item: item[1]):
            timeline.sent.append(t - t0)
            timeline.acked.append(acks.get(ts, nan))
            timeline.first.append(firsts.at[ts] - t if ts in firsts.at else nan)
            timeline.done.append(watcher.done[ts] - t if ts in watcher.done else nan)
        watcher.close()
        firsts.close()
    finally:
        stop_app(app)
        await wait_disconnected(fake)
    if app.db is not None:
        res.dup_projects = db_duplicates(app.db)
    return res


# --------------------------------------------------------------------------- report


def schedstat(pid: int) -> tuple[float, float]:
    """The main thread's (an event loop's) time on a CPU and time waiting for one, in seconds (Linux)."""
    try:
        ran, waited, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(ran) / 1e9, int(waited) / 1e9


def per_reply(f: dict[str, float]) -> float:
    return f["CPU (s)"] / f["completed"] if f["completed"] else float("nan")


def ms(values: list[float], q: float) -> float:
    """The q-th percentile of the values that are not nan, in milliseconds."""
    return pct([v for v in values if not math.isnan(v)], q) * 1000


def run_line(res: Result, t: Timeline) -> str:
    """One steady run: where the time went (ack; ack → first post; first post → draft) and the CPU it had."""
    to_first = [f - a for a, f in zip(t.acked, t.first, strict=True)]
    to_done = [d - f for f, d in zip(t.first, t.done, strict=True)]
    per = res.cpu_s / res.completed * 1000 if res.completed else float("nan")
    return (
        f"e2e p50 {ms(t.done, 50):6.1f} p99 {ms(t.done, 99):7.1f} ms | ack p50 {ms(t.acked, 50):5.1f} "
        f"p99 {ms(t.acked, 99):6.1f} | ack→1st post p50 {ms(to_first, 50):6.1f} p99 {ms(to_first, 99):7.1f} | "
        f"1st post→draft p50 {ms(to_done, 50):5.1f} | done {res.completed}/{res.sent} | "
        f"CPU {per:4.1f} ms/reply, {t.busy:4.2f} core busy; loop ran {t.loop_ran:4.2f}, "
        f"waited for a CPU {t.loop_waited:4.2f} | load {t.load:4.1f}"
        + (f" | {t.reconnects} reconnects" if t.reconnects else "")
    )


def spread(values: list[float]) -> str:
    return f"{min(values) * 1000:.0f}–{max(values) * 1000:.0f} ms"


async def main(args: argparse.Namespace) -> int:
    tiny = args.tiny
    burst_latency = 0.3 if tiny else args.model_latency
    burst_count = 10 if tiny else args.burst
    steady_runs = 1 if tiny else args.runs
    steady_count = 20 if tiny else int(args.rate * args.seconds)
    rate = 10.0 if tiny else args.rate
    profiled = Path(args.profile).resolve() if args.profile else None
    only = set(args.only.split(",")) if args.only else {"burst", "steady"}
    burst: dict[str, dict[str, float]] = {}
    steady: dict[str, list[dict[str, float]]] = {"reference": [], "draftloop": []}
    timelines: dict[str, list[Timeline]] = {"reference": [], "draftloop": []}
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeSlackAPI() as fake, FakeLLMServer(latency=0.0) as llm:
            fake.app_token_prefix = "xapp-"
            if "burst" in only:
                for kind in ("reference", "draftloop"):
                    prof = profiled if kind == "draftloop" and args.profile_scenario == "burst" else None
                    res = await scenario(
                        kind,
                        "burst",
                        fake,
                        llm,
                        Path(tmp),
                        count=burst_count,
                        rate=None,
                        model_latency=burst_latency,
                        connections=args.connections,
                        profile=prof,
                    )
                    burst[kind] = figures(res)
                    print(
                        f"burst  {kind:<9} ack p99 {pct(res.acks, 99):.3f}s e2e p50 {pct(res.e2e, 50):.3f}s "
                        f"done {res.completed}/{res.sent}",
                        flush=True,
                    )
            if "steady" in only:
                for run in range(steady_runs):
                    for kind in ("reference", "draftloop"):
                        prof = (
                            profiled if kind == "draftloop" and args.profile_scenario == "steady" and run == 0 else None
                        )
                        timeline = Timeline()
                        res = await scenario(
                            kind,
                            "steady",
                            fake,
                            llm,
                            Path(tmp),
                            count=steady_count,
                            rate=rate,
                            model_latency=0.0,
                            connections=args.connections,
                            profile=prof,
                            timeline=timeline,
                        )
                        steady[kind].append(figures(res))
                        timelines[kind].append(timeline)
                        print(f"steady {kind:<9} run {run + 1}: {run_line(res, timeline)}", flush=True)
    conns = args.connections or 2
    checks: list[tuple[str, bool]] = []
    if burst:
        ours, ref = burst["draftloop"], burst["reference"]
        print(f"\nburst of {burst_count}, model {burst_latency} s, draftloop on {conns} connections, reference on 1")
        print_table("burst", ours, ref)
        print(
            f"  {'CPU per reply (ms)':<20} {per_reply(ours) * 1000:11.3f} {per_reply(ref) * 1000:11.3f} "
            f"{per_reply(ours) / per_reply(ref):7.2f}"
        )
        checks += [
            (f"burst: {burst_count}/{burst_count} complete", ours["completed"] == burst_count),
            ("burst: e2e p50 <= 1.3x reference", ours["e2e p50 (s)"] <= 1.3 * ref["e2e p50 (s)"]),
            ("burst: CPU per reply <= 3x reference", per_reply(ours) <= 3 * per_reply(ref)),
            ("burst: peak RSS <= 1.5x reference", ours["peak RSS (MB)"] <= 1.5 * ref["peak RSS (MB)"]),
            ("burst: zero duplicate projects and posts", ours["duplicate projects"] + ours["duplicate posts"] == 0),
        ]
    if steady["draftloop"]:
        print(
            f"\nsteady {rate:g}/s x {steady_count}, instant model, {steady_runs} runs of each app "
            "(medians; spread = min–max over the runs)"
        )
        ours_med = {k: statistics.median(r[k] for r in steady["draftloop"]) for k in steady["draftloop"][0]}
        ref_med = {k: statistics.median(r[k] for r in steady["reference"]) for k in steady["reference"][0]}
        print_table("steady", ours_med, ref_med)
        cpu_ours = statistics.median(per_reply(r) for r in steady["draftloop"])
        cpu_ref = statistics.median(per_reply(r) for r in steady["reference"])
        print(f"  {'CPU per reply (ms)':<20} {cpu_ours * 1000:11.3f} {cpu_ref * 1000:11.3f} {cpu_ours / cpu_ref:7.2f}")
        for kind in ("draftloop", "reference"):
            p50s = [r["e2e p50 (s)"] for r in steady[kind]]
            p99s = [r["e2e p99 (s)"] for r in steady[kind]]
            busy = [t.busy for t in timelines[kind]]
            print(
                f"  spread {kind:<10} e2e p50 {spread(p50s)}, p99 {spread(p99s)} over {len(p50s)} runs; "
                f"CPU busy {min(busy):.2f}–{max(busy):.2f} of a core"
            )
        # Why a run's figures move: an event loop serves one event at a time, so the app needs
        # (CPU per reply x rate) of one core. It gets what the machine leaves it. While it gets less,
        # the queue grows for the rest of the run. Near 1, a short stall (a gen2 collection, another
        # process) takes long to drain.
        for kind in ("draftloop", "reference"):
            needs = [r["CPU (s)"] / r["completed"] * rate for r in steady[kind] if r["completed"]]
            got = [t.busy for t in timelines[kind]]
            print(
                f"  {kind:<10} needs {min(needs):.2f}–{max(needs):.2f} of a core at {rate:g}/s "
                f"(CPU per reply x rate), got {min(got):.2f}–{max(got):.2f}"
            )
        worst_p99 = max(r["e2e p99 (s)"] for r in steady["draftloop"])
        checks += [
            ("steady: all complete in every run", all(r["completed"] == r["sent"] for r in steady["draftloop"])),
            (f"steady: e2e p99 <= 100 ms in every run (worst {worst_p99 * 1000:.0f} ms)", worst_p99 <= 0.100),
            ("steady: CPU per reply <= 2.5x reference", cpu_ours <= 2.5 * cpu_ref),
        ]
    if profiled is not None:
        print(f"\nprofile of draftloop worker ({args.profile_scenario}, py-spy, collapsed stacks: {profiled})")
        print(summary(profiled))
    if checks:
        print("\ntargets" + (" (--tiny: figures from a smoke run, not the targets' sizes)" if tiny else ""))
        for label, ok in checks:
            print(f"  [{'PASS' if ok else 'MISS'}] {label}")
    return 0


def cli() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--reference":
        app_token, slack_url, llm_url, token = sys.argv[2:6]
        run_reference(app_token, slack_url, llm_url, token)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--burst", type=int, default=300, help="mentions in the burst")
    parser.add_argument("--model-latency", type=float, default=5.0, help="the burst's model latency (s)")
    parser.add_argument("--rate", type=float, default=20.0, help="steady mentions per second")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each steady run")
    parser.add_argument("--runs", type=int, default=6, help="steady runs of each app")
    parser.add_argument("--connections", type=int, help="DRAFTLOOP_SLACK_CONNECTIONS (unset: the default)")
    parser.add_argument("--only", help="scenarios to run, comma-separated: burst, steady")
    parser.add_argument("--profile", metavar="FILE", help="py-spy draftloop (collapsed stacks to FILE) and summarise")
    parser.add_argument("--profile-scenario", choices=("burst", "steady"), default="steady")
    sys.exit(asyncio.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
