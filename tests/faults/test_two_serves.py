"""Scenario 5: two `draftloop serve` processes on one PostgreSQL database, every event delivered
to both (as when two replicas each get a copy, or a redelivery lands on the other replica).

One project per mention, one model call per first draft (the fake model server counts them: the
process that did not win the project's key must not have asked the model), one acknowledgement
and one draft post per project; replies make one revision each.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import FakeSlackAPI
from tests.faults.outcome import acks, draft_posts, eventually, measure, rows
from tests.faults.processes import CHANNEL, MODEL, ProcessSet
from tests.faults.slack_player import SlackPlayer

MENTIONS = 10
REPLIES = 5


async def test_two_serves_receiving_every_event_make_one_model_call_per_draft(
    postgres_url: str, procs: ProcessSet, fake_slack: FakeSlackAPI, llm: FakeLLMServer, record: Any
) -> None:
    a = procs.serve(postgres_url, name="serve-a")
    b = procs.serve(postgres_url, name="serve-b")
    await procs.started(a)
    await procs.started(b)
    player = SlackPlayer(fake_slack, [a.events_url, b.events_url])
    llm.latency = 0.3  # both processes are mid-call at once if both start one
    try:
        mentions = [player.mention(f"[writing] Release note {i} for the mobile app") for i in range(MENTIONS)]
        await player.settle()
        first_drafts = await eventually(
            lambda: sum(1 for _, v, _ in draft_posts(fake_slack, CHANNEL) if v == 1) >= MENTIONS, 15
        )
        await eventually(lambda: False, 1.0)  # a second process's late call or post would show now
        first_calls = len(llm.requests(model=MODEL))

        replies = [player.reply(m.ts, f"Reply {i}: mention the dark mode.") for i, m in enumerate(mentions[:REPLIES])]
        await player.settle()
        await eventually(lambda: sum(1 for _, v, _ in draft_posts(fake_slack, CHANNEL) if v == 2) >= REPLIES, 15)
        await eventually(lambda: False, 1.0)
        revision_calls = len(llm.requests(model=MODEL)) - first_calls

        outcome = await measure(
            "two serves, every event to both", "postgres", postgres_url, fake_slack, CHANNEL, mentions + replies
        )
        outcome.notes |= {"model calls (first drafts)": first_calls, "model calls (revisions)": revision_calls}
        record(outcome)

        projects = await rows(postgres_url, "SELECT id, request_message_id FROM projects")
        ack_count = acks(fake_slack, CHANNEL)
        per_version = Counter(v for _, v, _ in draft_posts(fake_slack, CHANNEL))
        assert len(projects) == MENTIONS, f"{len(projects)} projects for {MENTIONS} mentions"
        assert first_drafts and per_version[1] == MENTIONS, f"first drafts shown: {per_version[1]}"
        assert first_calls == MENTIONS, f"{first_calls} model calls for {MENTIONS} first drafts"
        assert revision_calls == REPLIES, f"{revision_calls} model calls for {REPLIES} revisions"
        assert all(ack_count[m.ts] == 1 for m in mentions), f"acknowledgements per thread: {dict(ack_count)}"
        assert not outcome.misses(), outcome.problems
        assert outcome.drafted == outcome.sent
    finally:
        await player.close()
