"""`/draftloop status N` answers only where project N lives, or privately to its insiders.

Signed slash commands and events to the web app of `draftloop serve`; what the bot posted is read
back from the fake Web API (messages, ephemerals, response_url posts).
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.slack.conftest import EXPERT, OUTSIDER, REQUESTER, SlackHarness

PRIVATE = "G0PRIVATE"  # the project's (private) channel
OTHER = "C0OTHER"
SECRET_WORD = "merger"


def everything_sent(slack: SlackHarness, channel: str) -> list[tuple[str, str]]:
    """(how, text) of everything the bot sent to `channel` or via a response_url, in order."""
    out = [("post", json.dumps(m)) for m in slack.fake.bot_messages(channel)]
    out += [(f"ephemeral:{e['user']}", json.dumps(e)) for e in slack.fake.ephemerals if e["channel"] == channel]
    out += [("response_url", json.dumps(r)) for r in slack.fake.responses]
    return out


async def _project_in_private_channel(slack: SlackHarness) -> dict[str, Any]:
    request = await slack.mention(f"[writing] Draft the {SECRET_WORD} memo for Acme", channel=PRIVATE)
    await slack.settle()
    assert (await slack.project(1)).channel == PRIVATE
    return request


async def test_status_from_another_channel_leaks_nothing(slack: SlackHarness) -> None:
    await _project_in_private_channel(slack)
    assert (await slack.command("/draftloop", "status 1", user=OUTSIDER, channel=OTHER))[0] == 200
    await slack.settle()
    assert (await slack.command("/draftloop", "status 999", user=OUTSIDER, channel=OTHER))[0] == 200
    await slack.settle()
    assert (await slack.command("/draftloop", "status", user=OUTSIDER, channel=OTHER))[0] == 200
    await slack.settle()

    sent = everything_sent(slack, OTHER)
    assert not any(SECRET_WORD in text for _, text in sent), sent
    answers = [m["text"] for m in slack.fake.bot_messages(OTHER)]
    assert len(answers) == 3
    hidden, missing, listing = answers
    assert "No project #1 here." in hidden
    assert re.sub(r"#\d+", "#N", hidden) == re.sub(r"#\d+", "#N", missing)  # the same answer as for no project
    assert "No open projects." in listing


async def test_insiders_get_the_status_privately_elsewhere(slack: SlackHarness) -> None:
    await _project_in_private_channel(slack)
    for who in (REQUESTER, EXPERT):
        await slack.command("/draftloop", "status #1", user=who, channel=OTHER)
        await slack.settle()
    assert slack.fake.bot_messages(OTHER) == []  # nothing in the open
    private = {e["user"]: e["text"] for e in slack.fake.ephemerals if e["channel"] == OTHER}
    assert set(private) == {REQUESTER, EXPERT}
    assert all(SECRET_WORD in text and "#1" in text for text in private.values())


async def test_status_in_the_projects_channel_and_thread_still_answers(slack: SlackHarness) -> None:
    request = await _project_in_private_channel(slack)
    await slack.command("/draftloop", "status 1", user=OUTSIDER, channel=PRIVATE)
    await slack.settle()
    top = [m["text"] for m in slack.fake.bot_messages(PRIVATE) if not m.get("thread_ts")]
    assert any("#1" in t and SECRET_WORD in t for t in top)

    await slack.reply(request["ts"], "status", user=OUTSIDER, channel=PRIVATE)
    await slack.settle()
    in_thread = [m["text"] for m in slack.fake.thread(PRIVATE, request["ts"]) if m.get("bot_id")]
    assert "in review" in in_thread[-1] and SECRET_WORD in in_thread[-1]
