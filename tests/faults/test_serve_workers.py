"""`draftloop serve --workers 2`: two processes on one port (SO_REUSEPORT), one PostgreSQL database.

Every event is delivered twice to the shared port (as a Slack retry would be), so the two copies
may land on different processes: one project per mention, one model call per first draft, one
acknowledgement per thread; both processes take connections; SIGTERM stops the whole serve with 0.
The supervisor: a worker outlives no supervisor (even one killed with SIGKILL), and SIGTERM during
a worker's restart delay starts no new worker.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from typing import Any

import psutil

from bot.app.runtime import EARLY_EXIT_SECONDS
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import FakeSlackAPI
from tests.faults.outcome import acks, draft_posts, eventually, rows
from tests.faults.processes import CHANNEL, MODEL, ProcessSet
from tests.faults.slack_player import SlackPlayer

MENTIONS = 16


def _accepted(proc: psutil.Process, port: int) -> int:
    """Connections to the shared port this worker accepted and still holds (the player keeps its
    connections alive until it closes): each carried at least one event to this worker."""
    return sum(
        1 for c in proc.net_connections(kind="tcp") if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
    )


async def test_two_workers_share_one_port_with_one_model_call_per_draft(
    postgres_url: str, procs: ProcessSet, fake_slack: FakeSlackAPI, llm: FakeLLMServer, record: Any
) -> None:
    # The suite's 3 s lease is for takeover after a kill, which this test is not about: on a loaded
    # machine a starved worker renews late, the other's sweeper takes its project over and both post
    # (a lease that runs out is taken over by design; the default lease is 60 s).
    serve = procs.serve(postgres_url, name="serve-workers", config=procs.config(lease=30.0))
    serve.args = ["serve", "--workers", "2"]
    await procs.started(serve)
    assert serve.proc is not None
    children = psutil.Process(serve.proc.pid).children()
    assert len(children) == 2, f"{len(children)} worker processes"
    await eventually(lambda: False, 1.0)  # the second child may answer /healthz a moment after the first

    player = SlackPlayer(fake_slack, [serve.events_url, serve.events_url])
    llm.latency = 0.3  # both copies of an event are in flight at once
    try:
        mentions = [player.mention(f"[writing] Release note {i} for the mobile app") for i in range(MENTIONS)]
        await player.settle()
        shown = await eventually(
            lambda: sum(1 for _, v, _ in draft_posts(fake_slack, CHANNEL) if v == 1) >= MENTIONS, 20
        )
        await eventually(lambda: False, 1.0)  # a duplicate call or post would show now
        projects = await rows(postgres_url, "SELECT id, request_message_id FROM projects")
        calls = len(llm.requests(model=MODEL))
        per_thread = acks(fake_slack, CHANNEL)
        per_version = Counter(v for _, v, _ in draft_posts(fake_slack, CHANNEL))
        # Which worker took events: the connections each accepted (CPU time was the proxy before, and
        # with a few milliseconds per event a worker's share no longer stands clear of an idle one's).
        taken = [_accepted(c, serve.port) for c in children]

        assert shown and per_version[1] == MENTIONS, f"first drafts shown: {per_version[1]} of {MENTIONS}"
        assert len(projects) == MENTIONS, f"{len(projects)} projects for {MENTIONS} mentions"
        assert calls == MENTIONS, f"{calls} model calls for {MENTIONS} first drafts"
        assert all(per_thread[m.ts] == 1 for m in mentions), f"acknowledgements per thread: {dict(per_thread)}"
        assert all(m.acked for m in mentions)
        assert min(taken) > 0, f"connections each worker accepted: {taken}: one took no events"
    finally:
        await player.close()

    assert await serve.terminate() == 0
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_workers_stop_when_the_supervisor_is_killed(postgres_url: str, procs: ProcessSet) -> None:
    """SIGKILL (or the OOM killer) gives the supervisor no chance to stop its children: each child asked
    the kernel for SIGTERM when its parent dies, so none goes on serving the port with nobody to
    restart or stop it (a new serve's children would share the port with it)."""
    serve = procs.serve(postgres_url, name="serve-workers")
    serve.args = ["serve", "--workers", "2"]
    await procs.started(serve)
    assert serve.proc is not None
    children = psutil.Process(serve.proc.pid).children()
    assert len(children) == 2, f"{len(children)} worker processes"
    try:
        await serve.kill()
        stopped = await eventually(lambda: not any(_alive(c) for c in children), 20)
        assert stopped, f"workers still running after their supervisor was killed: {[c.pid for c in children]}"
    finally:
        for child in children:
            if _alive(child):
                child.kill()


async def test_sigterm_during_a_restart_starts_no_worker(postgres_url: str, procs: ProcessSet) -> None:
    """A worker dies, and SIGTERM arrives while the supervisor waits to start it again: the serve stops
    without starting one (a child started then would get no signal and be killed at the deadline)."""
    serve = procs.serve(postgres_url, name="serve-workers")
    serve.args = ["serve", "--workers", "2"]
    await procs.started(serve)
    # The supervisor's clock for a start begins when it has started both workers, which is before it
    # answers (a child's create_time is earlier still, by its exec time, a second on a loaded machine).
    up = time.monotonic()
    assert serve.proc is not None
    supervisor = psutil.Process(serve.proc.pid)
    children = supervisor.children()
    assert len(children) == 2, f"{len(children)} worker processes"
    # A child dying sooner after its start is a failed start-up, which stops the serve instead.
    await asyncio.sleep(max(0.0, EARLY_EXIT_SECONDS + 0.5 - (time.monotonic() - up)))
    seen = {c.pid for c in children}

    children[0].kill()
    restarting = await eventually(lambda: "starting it again" in serve.log_path.read_text(errors="replace"), 10, 0.01)
    assert restarting, "the supervisor did not see its worker die"
    serve.proc.send_signal(signal.SIGTERM)  # within the restart delay: the line is logged just before it

    async def watch() -> None:
        while serve.proc is not None and serve.proc.returncode is None:
            try:
                seen.update(c.pid for c in supervisor.children())
            except psutil.NoSuchProcess:
                return
            await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch())
    code = await serve.terminate(timeout=20)  # sends SIGTERM again; the supervisor is already stopping
    await watcher
    assert code == 0
    started = seen - {c.pid for c in children}
    assert not started, f"workers started after SIGTERM: {sorted(started)}"
