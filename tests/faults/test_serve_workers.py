"""`draftloop serve --workers 2`: two processes on one port (SO_REUSEPORT), one PostgreSQL database.

Every event is delivered twice to the shared port (as a Slack retry would be), so the two copies
may land on different processes: one project per mention, one model call per first draft, one
acknowledgement per thread; both processes take connections; SIGTERM stops the whole serve with 0.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import psutil

from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import FakeSlackAPI
from tests.faults.outcome import acks, draft_posts, eventually, rows
from tests.faults.processes import CHANNEL, MODEL, ProcessSet
from tests.faults.slack_player import SlackPlayer

MENTIONS = 16


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


async def test_two_workers_share_one_port_with_one_model_call_per_draft(
    postgres_url: str, procs: ProcessSet, fake_slack: FakeSlackAPI, llm: FakeLLMServer, record: Any
) -> None:
    serve = procs.serve(postgres_url, name="serve-workers")
    serve.args = ["serve", "--workers", "2"]
    await procs.started(serve)
    assert serve.proc is not None
    children = psutil.Process(serve.proc.pid).children()
    assert len(children) == 2, f"{len(children)} worker processes"
    await eventually(lambda: False, 1.0)  # the second child may answer /healthz a moment after the first
    before = [_cpu(c) for c in children]

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
        used = [_cpu(c) - b for c, b in zip(children, before, strict=True)]

        assert shown and per_version[1] == MENTIONS, f"first drafts shown: {per_version[1]} of {MENTIONS}"
        assert len(projects) == MENTIONS, f"{len(projects)} projects for {MENTIONS} mentions"
        assert calls == MENTIONS, f"{calls} model calls for {MENTIONS} first drafts"
        assert all(per_thread[m.ts] == 1 for m in mentions), f"acknowledgements per thread: {dict(per_thread)}"
        assert all(m.acked for m in mentions)
        assert min(used) > 0.05, f"CPU seconds per worker during the burst: {used}: one took no events"
    finally:
        await player.close()

    assert await serve.terminate() == 0
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
