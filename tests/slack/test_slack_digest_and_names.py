"""On Slack: `/draftloop digest` measures waiting to now and names the days it covers; a decision
typed by the requester (a message event carries only their id) names them: the adapter asks Slack
for the name (users.info)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.slack.conftest import CHANNEL, REQUESTER, SlackHarness


def _header(day: datetime) -> str:
    today = day.date()
    return f"draftloop digest {today - timedelta(days=6)} → {today} (UTC)"


async def test_digest_command_measures_waiting_to_now(slack: SlackHarness) -> None:
    await slack.mention("[writing] Write a memo")
    await slack.settle()
    before = datetime.now(UTC)
    status, _ = await slack.command("/draftloop", "digest", user=REQUESTER)
    assert status == 200
    await slack.settle()
    after = datetime.now(UTC)
    [digest] = [m for m in slack.fake.bot_messages(CHANNEL) if "thread_ts" not in m and m.get("blocks")][-1:]
    # the 7 days up to and including today: today is the last day shown, not tomorrow
    assert digest["blocks"][0]["text"]["text"] in {_header(before), _header(after)}
    shown = str(digest["blocks"])
    assert "#1 writing v1, waiting under a minute" in shown, shown


async def test_a_typed_accept_names_the_requester_not_their_id(slack: SlackHarness) -> None:
    status, _ = await slack.command("/draft", "[writing] Write a welcome note", user=REQUESTER)
    assert status == 200
    await slack.settle()
    project = await slack.project(1)
    assert project.thread_id
    await slack.reply(project.thread_id, "accept", user=REQUESTER)
    await slack.settle()
    texts = [m["text"] for m in slack.fake.bot_messages(CHANNEL) if "accepted at" in m.get("text", "")]
    assert len(texts) == 1 and texts[0].endswith("accepted at v1 by Ureq."), texts  # a name, not the raw id
