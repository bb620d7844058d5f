"""Scenario 2: the fake Slack's chat.postMessage answers HTTP 500 more times than the SDK retries
(the call and its three retries), then recovers.

Project #1's acknowledgement is the post that fails; project #2's first draft is. Each project
ends with its thread acknowledged exactly once and its draft shown exactly once, without new
traffic; the thread works (a reply there is feedback and gets v2) and ✅ on the draft accepts.
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import FakeSlackAPI
from tests.faults.outcome import acks, draft_posts, eventually, measure, rows
from tests.faults.processes import CHANNEL, LEASE_SECONDS, SWEEP_SECONDS, ProcessSet
from tests.faults.slack_player import SlackPlayer

SDK_ATTEMPTS = 4  # adapters/chat/slack/platform.py: the call and 3 retries on 500/503
SDK_BACKOFF = 0.5 + 1 + 2 + 3  # slack_sdk's back-off (0.5 s doubling) with its jitter of up to 1 s each


async def test_post_message_failing_past_the_sdk_retries_then_recovering(
    sqlite_url: str, procs: ProcessSet, fake_slack: FakeSlackAPI, llm: FakeLLMServer, record: Any
) -> None:
    serve = await procs.started(procs.serve(sqlite_url))
    player = SlackPlayer(fake_slack, [serve.events_url])
    try:
        bound = SDK_BACKOFF + LEASE_SECONDS + 2 * SWEEP_SECONDS + 2

        def shown(project: int, request: str) -> bool:
            posts = {(p, v) for p, v, _ in draft_posts(fake_slack, CHANNEL)}
            return (project, 1) in posts and acks(fake_slack, CHANNEL)[request] >= 1

        # #1: the acknowledgement cannot be posted (the call and the SDK's retries all get 500).
        llm.latency = 1.0
        fake_slack.fail_next("chat.postMessage", status=500, times=SDK_ATTEMPTS)
        started = time.monotonic()
        one = player.mention("[writing] A product update for the March newsletter")
        await player.settle()
        took = {1: time.monotonic() - started if await eventually(lambda: shown(1, one.ts), bound) else None}

        # #2: acknowledged, then its first draft cannot be posted (the model answers after 1 s).
        two = player.mention("[writing] An onboarding checklist for designers")
        await player.settle()
        two_acked = await eventually(lambda: acks(fake_slack, CHANNEL)[two.ts] == 1, bound)
        if two_acked:
            fake_slack.fail_next("chat.postMessage", status=500, times=SDK_ATTEMPTS)
        started = time.monotonic()
        took[2] = time.monotonic() - started if await eventually(lambda: shown(2, two.ts), bound) else None
        landed = None not in took.values()
        failed_calls = sum(1 for c in fake_slack.calls_of("chat.postMessage") if c.status == 500)

        # The thread works: a reply is feedback (v2 follows), and ✅ on a draft accepts.
        if landed:
            player.reply(one.ts, "Add a line about the new pricing page.")
            await player.settle()
            await eventually(lambda: (1, 2) in {(p, v) for p, v, _ in draft_posts(fake_slack, CHANNEL)}, 10)
            for project, version, msg in draft_posts(fake_slack, CHANNEL):
                if (project, version) in ((1, 2), (2, 1)):
                    player.react(msg["ts"], "white_check_mark")
            await player.settle()
            await eventually(lambda: False, 1.0)  # let the decisions land
        outcome = await measure(
            "chat.postMessage 500 x4 (ack, then draft)", "sqlite", sqlite_url, fake_slack, CHANNEL, player.deliveries
        )
        outcome.notes |= {
            "failed posts": failed_calls,
            "shown after (s)": "/".join("never" if t is None else f"{t:.1f}" for t in took.values()),
        }
        record(outcome)

        projects = await rows(sqlite_url, "SELECT id, thread_id, state, current_version FROM projects ORDER BY id")
        ack_count = acks(fake_slack, CHANNEL)
        assert two_acked, f"#2 was not acknowledged within {bound:.0f} s, with Slack answering: projects {projects}"
        assert failed_calls == 2 * SDK_ATTEMPTS
        assert landed, (
            f"not shown {bound:.0f} s after the failures (seconds per project: {took}): "
            f"acks per thread {dict(ack_count)}, "
            f"draft posts {[(p, v) for p, v, _ in draft_posts(fake_slack, CHANNEL)]}, projects {projects}"
        )
        assert ack_count[one.ts] == 1 and ack_count[two.ts] == 1, f"acknowledgements per thread: {dict(ack_count)}"
        assert [(p["id"], p["thread_id"]) for p in projects] == [(1, one.ts), (2, two.ts)]
        assert [(p["id"], p["state"], p["current_version"]) for p in projects] == [
            (1, "accepted", 2),
            (2, "accepted", 1),
        ], "the reply in #1's thread made v2 and ✅ accepted both"
        assert not outcome.misses(), outcome.problems
        assert outcome.drafted == outcome.sent
    finally:
        await player.close()
