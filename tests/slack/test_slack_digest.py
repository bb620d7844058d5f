"""The scheduled digest reaches Slack as Block Kit with its chart uploaded beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.app.jobs import send_digest
from bot.config import DigestChannel
from tests.slack.conftest import CHANNEL, REQUESTER, SlackHarness


async def test_scheduled_digest_posts_blocks_and_the_chart(slack: SlackHarness) -> None:
    await slack.mention("[writing] Write a memo")
    await slack.settle()
    status, _ = await slack.click(slack.drafts()[-1], "dl_accept", user=REQUESTER)
    assert status == 200
    await slack.settle()
    assert (await slack.project(1)).state == "accepted"

    # the Monday 09:00 run after today's decision reports the week that holds it
    today = datetime.now(UTC)
    monday = (today + timedelta(days=7 - today.weekday())).replace(hour=10, minute=0, second=0, microsecond=0)
    channel = DigestChannel(platform="slack", channel=CHANNEL, cron="0 9 * * mon")
    assert slack.runtime is not None
    outcome = await send_digest(slack.runtime, channel, now=monday)
    assert outcome.status == "posted", outcome
    again = await send_digest(slack.runtime, channel, now=monday)
    assert again.status == "skipped"  # one run per (channel, period), however often the job fires

    top = [m for m in slack.fake.bot_messages(CHANNEL) if "thread_ts" not in m and m.get("blocks")]
    digest = top[-1]
    assert digest["blocks"][0]["type"] == "header"
    assert "100%" in str(digest["blocks"])  # 1 of 1 decided project accepted
    charts = [u for u in slack.fake.uploads.values() if u.filename.endswith(".png")]
    assert len(charts) == 1 and charts[0].channel == CHANNEL
    assert charts[0].content.startswith(b"\x89PNG\r\n\x1a\n")
