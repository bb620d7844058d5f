"""Scenario 1: `kill -9` of `draftloop serve` while a first draft and a revision are being written.

One project is in review (v1 shown); its expert replies, and a second mention arrives. Once the
model server holds both calls (a revision with its "Writing v2…" message posted, and a first draft),
the process is killed with SIGKILL: no drain, leases not handed back. `serve` is started again
alone, with no new traffic. Within the lease plus one sweep interval (plus the restart and the
model's answer) both versions land, each exactly once (one stored version, one draft post, one
model call each after the restart), and no "Writing v2…" message is left showing.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import FakeSlackAPI
from tests.faults.outcome import (
    database_of,
    draft_posts,
    eventually,
    measure,
    message_text,
    rows,
    stale_progress,
    until,
)
from tests.faults.processes import CHANNEL, LEASE_SECONDS, MODEL, SWEEP_SECONDS, ProcessSet
from tests.faults.slack_player import SlackPlayer

SLOW_MODEL = 4.0  # seconds the model takes while the kill is prepared: the kill lands mid-call
FAST_MODEL = 0.2  # after the kill
SLACK_SECONDS = 2.0  # posting, scheduling, the fake's answers


async def test_kill_9_mid_first_draft_and_mid_revision_resumes_after_restart_alone(
    db_url: str,
    procs: ProcessSet,
    fake_slack: FakeSlackAPI,
    llm: FakeLLMServer,
    record: Any,
) -> None:
    name, url = database_of(db_url), db_url
    serve = await procs.started(procs.serve(url))
    player = SlackPlayer(fake_slack, [serve.events_url])
    try:
        # Before the fault: project #1 drafted and shown.
        first = player.mention("[writing] A short note on tea for the newsletter")
        await player.settle()
        await until(lambda: len(draft_posts(fake_slack, CHANNEL)) == 1, 15, "v1 of the first project")

        # The fault: a revision and a first draft in flight, then SIGKILL.
        llm.latency = SLOW_MODEL
        calls_before = len(llm.requests(model=MODEL))
        reply = player.reply(first.ts, "Shorter, and say where the tea comes from.")
        second = player.mention("[writing] A welcome message for new engineers")
        await player.settle()
        assert reply.acked and second.acked, "both events were acknowledged before the kill"
        await until(
            lambda: llm.in_flight[MODEL] >= 2 and bool(stale_progress(fake_slack, CHANNEL)),
            10,
            "both model calls in flight and the revision's progress message posted",
            lambda: (
                f"model calls in flight {llm.in_flight[MODEL]}, bot messages "
                f"{[message_text(m)[:80] for m in fake_slack.bot_messages(CHANNEL)]}"
            ),
        )
        await serve.kill()
        killed_at = time.monotonic()
        llm.latency = FAST_MODEL
        assert stale_progress(fake_slack, CHANNEL), "the kill left a progress message to repair"
        calls_at_kill = len(llm.requests(model=MODEL))

        # Restart alone: no new traffic.
        restarted = await procs.started(serve)
        restart_seconds = time.monotonic() - killed_at
        bound = LEASE_SECONDS + SWEEP_SECONDS + restart_seconds + FAST_MODEL + SLACK_SECONDS

        def landed() -> bool:
            shown = {(p, v) for p, v, _ in draft_posts(fake_slack, CHANNEL)}
            return {(1, 2), (2, 1)} <= shown and not stale_progress(fake_slack, CHANNEL)

        if await eventually(landed, bound + 3):
            took = time.monotonic() - killed_at
            await asyncio.sleep(LEASE_SECONDS + SWEEP_SECONDS)  # time for a duplicate to show up, if any
        else:
            took = float("inf")

        posts = Counter((p, v) for p, v, _ in draft_posts(fake_slack, CHANNEL))
        versions = await rows(url, "SELECT project_id, number FROM versions ORDER BY project_id, number")
        projects = await rows(url, "SELECT id, state, current_version, lease_owner FROM projects ORDER BY id")
        calls_after = len(llm.requests(model=MODEL)) - calls_at_kill
        outcome = await measure(f"kill -9 serve mid-draft ({name})", name, url, fake_slack, CHANNEL, player.deliveries)
        outcome.notes |= {
            "landed after kill (s)": round(took, 1),
            "bound (s)": round(bound, 1),
            "model calls after restart": calls_after,
        }
        record(outcome)

        assert took <= bound, (
            f"v2 of #1 and v1 of #2 did not land within {bound:.1f} s of the kill (lease + sweep + restart + slack): "
            f"draft posts {dict(posts)}, projects {projects}, stale progress {outcome.stale_progress}"
        )
        assert [(v["project_id"], v["number"]) for v in versions] == [(1, 1), (1, 2), (2, 1)]
        assert posts == Counter({(1, 1): 1, (1, 2): 1, (2, 1): 1}), f"draft posts per (project, version): {posts}"
        assert [(p["id"], p["state"], p["current_version"]) for p in projects] == [
            (1, "in_review", 2),
            (2, "in_review", 1),
        ]
        assert not stale_progress(fake_slack, CHANNEL)
        assert calls_after == 2, f"one model call per owed version after the restart, saw {calls_after}"
        assert calls_at_kill - calls_before == 2
        assert not outcome.misses(), outcome.problems
        assert restarted.running
    finally:
        await player.close()
