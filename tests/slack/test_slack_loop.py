"""The whole loop in a Slack thread, through the real bolt app and AsyncWebClient against the fake."""

from __future__ import annotations

import pytest

from bot.states import State
from tests.slack.conftest import CHANNEL, EXPERT, GROUP, OUTSIDER, REQUESTER, SlackHarness


async def test_full_loop_two_feedback_rounds_and_accept_by_button(slack: SlackHarness) -> None:
    fake = slack.fake
    request = await slack.mention("[writing] Write a short post about green tea for our blog")
    await slack.settle()

    # Acknowledged in the request's thread: 👀 on the request, an ack, then the draft v1 with buttons.
    assert {"channel": CHANNEL, "ts": request["ts"], "name": "eyes"} in fake.reactions
    thread = fake.thread(CHANNEL, request["ts"])
    bot_replies = [m for m in thread if m.get("bot_id")]
    assert "#1" in bot_replies[0]["text"]
    drafts = slack.drafts()
    assert len(drafts) == 1 and drafts[0]["thread_ts"] == request["ts"]
    header = drafts[0]["blocks"][0]
    assert header["type"] == "header" and header["text"]["text"].startswith("#1 · v1 · writing")
    context = " ".join(e["text"] for b in drafts[0]["blocks"] if b["type"] == "context" for e in b["elements"])
    assert f"<@{EXPERT}>" in context and f"<!subteam^{GROUP}>" in context
    updates = fake.counts()["chat.update"]  # 0 when v1 was written before a progress message was due

    # Round 1: the expert replies in the thread.
    await slack.reply(request["ts"], "Make it shorter and mention where the tea comes from.", user=EXPERT)
    await slack.settle()
    assert len(slack.drafts()) == 2
    assert fake.counts()["chat.update"] > updates  # the revision's progress message became the draft
    assert (await slack.project(1)).current_version == 2

    # Round 2: "Request changes" on v2 opens a form; submitting it starts v3.
    v2 = slack.drafts()[-1]
    status, _ = await slack.click(v2, "dl_changes", user=EXPERT)
    assert status == 200
    await fake.wait_until(lambda: fake.views)
    view = fake.views[-1]["view"]
    assert view["callback_id"] == "dl_changes_form"
    status, body = await slack.submit(
        view, {"feedback": "Add a title with the word Sencha.", "minutes": "15"}, user=EXPERT
    )
    assert status == 200 and body == ""
    await slack.settle()
    project = await slack.project(1)
    assert project.current_version == 3
    # The form's feedback is shown in the thread under its author's live mention.
    assert any(
        m["text"].startswith(f"<@{EXPERT}> asked for changes (15 min)") for m in fake.thread(CHANNEL, request["ts"])
    )
    assert "Sencha" in slack.drafts()[-1]["text"]

    # Accept with the button on the *old* v1 message: it acts on the project (now v3).
    status, _ = await slack.click(slack.drafts()[0], "dl_accept", user=REQUESTER)
    assert status == 200
    await slack.settle()
    project = await slack.project(1)
    assert project.state == State.ACCEPTED.value
    assert project.accepted_version == 3
    assert await slack.project_count() == 1
    print("\nWeb API calls of one full loop:", dict(sorted(fake.counts().items())))


@pytest.mark.parametrize("reaction", ["white_check_mark", "heavy_check_mark", "ballot_box_with_check"])
async def test_accept_by_reaction_on_the_draft(slack: SlackHarness, reaction: str) -> None:
    """Every accepting emoji of the one vocabulary (bot/vocabulary.py), as Slack names it."""
    request = await slack.mention("[writing] Write a haiku about autumn")
    await slack.settle()
    draft = slack.drafts()[-1]
    status, _ = await slack.react(draft["ts"], reaction, user=REQUESTER)
    assert status == 200
    await slack.settle()
    assert (await slack.project(1)).state == State.ACCEPTED.value
    assert request["ts"] == (await slack.project(1)).thread_id


async def test_reject_by_reaction_on_the_request(slack: SlackHarness) -> None:
    request = await slack.mention("[writing] Write a limerick about a cat")
    await slack.settle()
    await slack.react(request["ts"], "x", user=REQUESTER)
    await slack.settle()
    assert (await slack.project(1)).state == State.REJECTED.value


async def test_decision_by_someone_not_allowed_is_private_and_changes_nothing(slack: SlackHarness) -> None:
    fake = slack.fake
    await slack.mention("[writing] Write a tagline for a bakery")
    await slack.settle()
    before = dict(fake.counts())
    status, _ = await slack.click(slack.drafts()[-1], "dl_accept", user=OUTSIDER)
    assert status == 200
    await slack.react(slack.drafts()[-1]["ts"], "white_check_mark", user=OUTSIDER)
    await slack.settle()
    project = await slack.project(1)
    assert project.state == State.IN_REVIEW.value
    refusals = [e for e in fake.ephemerals if e["user"] == OUTSIDER]
    assert len(refusals) == 2 and all("not" in e["text"].lower() for e in refusals)
    after = fake.counts()
    assert after["chat.postMessage"] == before.get("chat.postMessage", 0)  # nothing public was said
