"""Scenario 4: the database refuses connections for a while (tests/fakes/pg_proxy.py between
`serve` and PostgreSQL: open connections reset, new ones refused) during 20 mentions and 20 replies.

The test plays Slack: an answer that is not a 2xx within 3 s is redelivered on Slack's schedule
(tests/faults/slack_player.py, compressed 50-fold). After the outage every message is stored
(by a redelivery or from the stored event), none twice, each mention gets its first draft and each
reply its revision, and nobody was told their message was saved when it was not. Throughout,
/healthz says whether the database answers and /readyz fails while it does not.

The outage lasts OUTAGE seconds (4 by default; DRAFTLOOP_FAULTS_OUTAGE=10 runs the issue's
figure). 4 s keeps what matters about a 10-s outage in production: it is longer than Slack's 3-s
answer deadline, so no delivery made at its start can be stored and acknowledged in time whatever
the process retries inside; and on the compressed schedule it outlasts Slack's quick retry and
ends before its last one (1.2 s and 6 s here, 1 and 5 minutes in production), as a 10-s outage
ends before Slack's 1-minute retry. A 10-s outage here would outlast the compressed schedule's
last retry: that stands for an 8-minute outage, where only what the process stored itself is
safe.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import aiohttp

from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.pg_proxy import PgProxy
from tests.fakes.slack_api import FakeSlackAPI
from tests.faults.outcome import draft_posts, eventually, measure
from tests.faults.processes import CHANNEL, LEASE_SECONDS, SWEEP_SECONDS, Process, ProcessSet
from tests.faults.slack_player import RETRY_DELAYS, SlackPlayer

OUTAGE = float(os.environ.get("DRAFTLOOP_FAULTS_OUTAGE", "4"))
EACH = 20  # mentions, and replies, sent during the outage
WAVES = 4  # sent in waves over the first half of the outage


async def _probe(session: aiohttp.ClientSession, serve: Process) -> tuple[int, str, int]:
    """(/healthz status, its "database" field, /readyz status); 0 for no answer in 3 s."""
    timeout = aiohttp.ClientTimeout(total=3)
    try:
        async with session.get(f"{serve.base_url}/healthz", timeout=timeout) as resp:
            health_status = resp.status
            body = await resp.json(content_type=None) if resp.status == 200 else {}
        async with session.get(f"{serve.base_url}/readyz", timeout=timeout) as resp:
            ready = resp.status
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return 0, "", 0
    return health_status, str(body.get("database", "") if isinstance(body, dict) else ""), ready


async def test_database_refusing_connections_during_20_mentions_and_20_replies(
    postgres_url: str, procs: ProcessSet, fake_slack: FakeSlackAPI, llm: FakeLLMServer, record: Any
) -> None:
    async with PgProxy() as proxy, aiohttp.ClientSession() as http:
        serve = await procs.started(procs.serve(proxy.url_for(postgres_url)))
        player = SlackPlayer(fake_slack, [serve.events_url])
        try:
            # Before: EACH projects in review, to reply to.
            setup = [player.mention(f"[writing] Setup note {i} for the team wiki") for i in range(EACH)]
            await player.settle()
            await eventually(lambda: len(draft_posts(fake_slack, CHANNEL)) >= EACH, 20)
            assert len(draft_posts(fake_slack, CHANNEL)) == EACH, "the setup projects were drafted"
            before = await _probe(http, serve)

            # The outage.
            proxy.refuse()
            started = time.monotonic()
            during: list[Any] = []
            for wave in range(WAVES):
                for i in range(wave * EACH // WAVES, (wave + 1) * EACH // WAVES):
                    during.append(player.mention(f"[writing] Outage request {i} about the roadmap"))
                    during.append(player.reply(setup[i].ts, f"Outage reply {i}: make it shorter."))
                await asyncio.sleep(OUTAGE / 2 / WAVES)
            await asyncio.sleep(max(0.0, OUTAGE - 1.0 - (time.monotonic() - started)))
            in_outage = await _probe(http, serve)
            await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - started)))
            reopened = proxy.pass_through()
            if reopened is not None:
                await reopened
            recovered_at = time.monotonic()

            # After: Slack's retries run out by the last delay; the rest is the sweeper's.
            await player.settle(timeout=60)
            after = await _probe(http, serve)
            mentions = [d for d in during if d.kind == "mention"]
            replies = [d for d in during if d.kind == "reply"]

            def all_shown() -> bool:
                posts = {(p, v) for p, v, _ in draft_posts(fake_slack, CHANNEL)}
                first = sum(1 for p, v in posts if v == 1)
                second = sum(1 for p, v in posts if v == 2)
                return first >= 2 * EACH and second >= EACH

            shown = await eventually(all_shown, LEASE_SECONDS + 2 * SWEEP_SECONDS + RETRY_DELAYS[-1] + 5)
            settled_after = time.monotonic() - recovered_at
            await asyncio.sleep(SWEEP_SECONDS * 2)  # a duplicate, if any, would show now

            outcome = await measure(
                f"db refusing connections {OUTAGE:g} s, {EACH} mentions + {EACH} replies",
                "postgres",
                postgres_url,
                fake_slack,
                CHANNEL,
                during,
            )
            outcome.notes |= {
                "told 'not saved'": outcome.told_not_saved,
                "healthz/readyz in outage": f"{in_outage[0]} {in_outage[1] or '-'} / {in_outage[2]}",
                "done after recovery (s)": round(settled_after, 1) if shown else "never",
            }
            record(outcome)

            unacked = [d for d in during if not d.acked]
            no_retry = [a for d in during for a in d.attempts if a.status >= 500 and a.no_retry]
            assert not no_retry, f"{len(no_retry)} 5xx answers said X-Slack-No-Retry: Slack would drop those events"
            assert not outcome.misses(), outcome.problems
            assert outcome.stored == len(mentions) + len(replies)
            assert shown and outcome.drafted == outcome.sent, (
                f"{outcome.drafted} of {outcome.sent} drafted (first drafts and revisions) after recovery; "
                f"unacknowledged deliveries: {len(unacked)}"
            )
            assert before == (200, "ok", 200), f"before the outage /healthz, database, /readyz: {before}"
            assert in_outage[0] == 200 and in_outage[1] == "unreachable", (
                f"/healthz during the outage: {in_outage[:2]} (200 with database: unreachable expected)"
            )
            assert in_outage[2] == 503, f"/readyz during the outage answered {in_outage[2]}, not 503"
            assert after == (200, "ok", 200), f"after recovery /healthz, database, /readyz: {after}"
        finally:
            await player.close()
