"""Scenario 3: PostgreSQL backends terminated every 0.15 s (`pg_terminate_backend` on every
connection to the test's database) during a burst of 50 mentions.

The test plays Slack: whatever got a 5xx or no answer in 3 s is redelivered. Once the burst is
handled: 50 projects, one per mention; 50 first drafts, each shown once; and ✅ by the requester
on every posted draft accepts its project (the draft's message link was stored with its version).
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import FakeSlackAPI
from tests.faults.outcome import draft_posts, eventually, measure, rows
from tests.faults.pg_faults import BackendTerminator, database_name
from tests.faults.processes import CHANNEL, LEASE_SECONDS, SWEEP_SECONDS, ProcessSet
from tests.faults.slack_player import SlackPlayer

BURST = 50
BEAT = 0.15
TOPICS = ("tea", "bicycles", "onboarding", "pricing", "security", "hiring", "release notes", "accessibility")


async def test_backends_terminated_during_a_burst_of_50_mentions(
    postgres_url: str, procs: ProcessSet, fake_slack: FakeSlackAPI, llm: FakeLLMServer, record: Any
) -> None:
    serve = await procs.started(procs.serve(postgres_url))
    player = SlackPlayer(fake_slack, [serve.events_url])
    llm.latency = 0.05
    try:

        def drafted() -> int:
            return len({p for p, v, _ in draft_posts(fake_slack, CHANNEL) if v == 1})

        async with BackendTerminator(database_name(postgres_url), every=BEAT) as killer:
            started = time.monotonic()
            mentions = [
                player.mention(f"[writing] Note {i} on {TOPICS[i % len(TOPICS)]} for the team") for i in range(BURST)
            ]
            await player.settle(timeout=40)
            # Terminations go on while the drafts are written and recorded, not only at intake.
            await eventually(lambda: drafted() >= BURST, 6)
        burst_seconds = time.monotonic() - started
        terminated = killer.terminated
        # After the fault: what is owed is finished within a lease and a sweep (and some slack).
        all_drafted = await eventually(lambda: drafted() >= BURST, LEASE_SECONDS + 2 * SWEEP_SECONDS + 5)

        for _, version, msg in draft_posts(fake_slack, CHANNEL):
            if version == 1:
                player.react(msg["ts"], "white_check_mark")
        await player.settle()

        async def accepted() -> int:
            return int(len(await rows(postgres_url, "SELECT id FROM projects WHERE state = 'accepted'")))

        deadline = time.monotonic() + LEASE_SECONDS + 2 * SWEEP_SECONDS + 3
        while await accepted() < BURST and time.monotonic() < deadline:
            await eventually(lambda: False, 0.3)
        n_accepted = await accepted()

        outcome = await measure(
            f"pg_terminate_backend every {BEAT} s, burst of {BURST}",
            "postgres",
            postgres_url,
            fake_slack,
            CHANNEL,
            mentions,
        )
        outcome.notes |= {"backends terminated": terminated, "burst (s)": round(burst_seconds, 1)}
        outcome.notes["accepted by ✅"] = n_accepted
        record(outcome)

        projects = await rows(postgres_url, "SELECT id, state, current_version, lease_owner FROM projects")
        no_retry = [a for d in player.deliveries for a in d.attempts if a.status >= 500 and a.no_retry]
        assert terminated > 0, "the terminator ended no backend: the fault was not applied"
        assert not no_retry, f"{len(no_retry)} 5xx answers said X-Slack-No-Retry: Slack would drop those events"
        assert all(d.acked for d in mentions), (
            f"{sum(not d.acked for d in mentions)} mentions never got a 2xx in Slack's 4 attempts"
        )
        assert not outcome.misses(), outcome.problems
        assert len(projects) == BURST
        assert all_drafted and outcome.drafted == BURST, (
            f"{outcome.drafted} of {BURST} first drafts shown; stuck: "
            f"{[p for p in projects if p['current_version'] == 0][:5]}"
        )
        assert n_accepted == BURST, (
            f"✅ accepted {n_accepted} of {BURST}; "
            f"not accepted: {[p for p in projects if p['state'] != 'accepted'][:5]}"
        )
    finally:
        await player.close()
