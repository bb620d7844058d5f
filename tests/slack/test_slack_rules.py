"""Slack's rules: signatures, retries and redelivery, 429s, what is ignored, long drafts, restarts."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from bot.states import State
from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import event_envelope, sign
from tests.slack.conftest import (
    CHANNEL,
    EXPERT,
    REQUESTER,
    SECRET,
    SlackHarness,
    block_actions,
    button_in,
    mention_event,
    message_event,
)


async def test_bad_signature_and_stale_timestamp_get_401(slack: SlackHarness) -> None:
    envelope = event_envelope(
        {"type": "app_mention", "user": REQUESTER, "text": "<@UBOT> hi", "ts": "1.000001", "channel": CHANNEL}
    )
    body = json.dumps(envelope)
    status, _ = await slack.send(body, content_type="application/json", secret="not-the-secret")
    assert status == 401
    assert slack.http is not None
    stale = sign(SECRET, body, ts=int(time.time()) - 600)
    async with slack.http.post(slack.url, data=body, headers={"Content-Type": "application/json", **stale}) as resp:
        assert resp.status == 401
    await slack.settle()
    assert await slack.project_count() == 0
    assert "chat.postMessage" not in slack.fake.counts()


async def test_health_and_url_verification(slack: SlackHarness) -> None:
    assert slack.http is not None and slack.service is not None
    async with slack.http.get(f"http://127.0.0.1:{slack.service.port}/healthz") as resp:
        assert resp.status == 200 and (await resp.json())["ok"] is True
    status, body = await slack.send(
        json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"}), content_type="application/json"
    )
    assert status == 200 and json.loads(body)["challenge"] == "abc123"


async def test_same_event_three_times_makes_one_project(slack: SlackHarness) -> None:
    fake = slack.fake
    msg, inner = mention_event(fake, "[writing] Write a toast for a wedding")
    envelope = event_envelope(inner)
    # Slack's timeout retry arrives while the first delivery is still being processed, then later ones.
    results = await asyncio.gather(slack.envelope(envelope), slack.envelope(envelope, retry=1))
    assert [s for s, _ in results] == [200, 200]
    await slack.settle()
    assert (await slack.envelope(envelope, retry=2))[0] == 200
    await slack.settle()
    assert await slack.project_count() == 1
    assert len(slack.drafts()) == 1
    assert fake.counts()["reactions.add"] == 1


async def test_redelivery_is_dropped_across_a_restart(slack: SlackHarness) -> None:
    """The database, not process memory, remembers event ids."""
    msg = slack.fake.add_user_message(CHANNEL, "<@UBOT> [writing] Write an invitation", user=REQUESTER)
    envelope = event_envelope(
        {
            "type": "app_mention",
            "user": REQUESTER,
            "text": msg["text"],
            "ts": msg["ts"],
            "channel": CHANNEL,
            "event_ts": msg["ts"],
        }
    )
    await slack.envelope(envelope)
    await slack.settle()
    await slack.stop()
    await slack.start()
    assert (await slack.envelope(envelope, retry=3))[0] == 200
    await slack.settle()
    assert await slack.project_count() == 1
    assert len(slack.drafts()) == 1


async def test_429_on_post_message_is_retried_after_retry_after(slack: SlackHarness) -> None:
    fake = slack.fake
    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    await slack.mention("[writing] Write a thank-you note to the team")
    await slack.settle()
    posts = fake.calls_of("chat.postMessage")
    assert posts[0].status == 429 and posts[1].status == 200
    assert posts[0].params["text"] == posts[1].params["text"]  # the same message, sent again
    assert len(slack.drafts()) == 1
    assert (await slack.project(1)).state == State.IN_REVIEW.value


async def test_500_on_update_is_retried(slack: SlackHarness) -> None:
    request = await slack.mention("[writing] Write a slogan")
    await slack.settle()
    before = len(slack.fake.calls_of("chat.update"))
    slack.fake.fail_next("chat.update", status=500)
    await slack.reply(request["ts"], "Shorter, please.", user=REQUESTER)  # a revision edits its progress message
    await slack.settle()
    assert [c.status for c in slack.fake.calls_of("chat.update")][before : before + 2] == [500, 200]
    assert len(slack.drafts()) == 2


async def test_empty_mention_gets_help(slack: SlackHarness) -> None:
    msg = slack.fake.add_user_message(CHANNEL, "<@UBOT>", user=REQUESTER)
    await slack.event(
        {
            "type": "app_mention",
            "user": REQUESTER,
            "text": msg["text"],
            "ts": msg["ts"],
            "channel": CHANNEL,
            "event_ts": msg["ts"],
        }
    )
    await slack.settle()
    replies = [m for m in slack.fake.thread(CHANNEL, msg["ts"]) if m.get("bot_id")]
    assert len(replies) == 1 and "/draft" in replies[0]["text"]
    assert await slack.project_count() == 0


async def test_edits_deletions_bot_messages_and_asides_do_not_start_revisions(slack: SlackHarness) -> None:
    """Edits, deletions and bots' messages are dropped by the adapter; an aside goes to the core, which
    keeps it without a revision (the same rule as on Discord and the console)."""
    fake = slack.fake
    request = await slack.mention("[writing] Write a product description for a kettle")
    await slack.settle()
    before = dict(fake.counts())
    thread_ts = request["ts"]
    reply = fake.add_user_message(CHANNEL, "Shorter, please", user=EXPERT, thread_ts=thread_ts)
    edit: dict[str, Any] = {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": CHANNEL,
        "channel_type": "channel",
        "ts": fake.next_ts(),
        "event_ts": fake.next_ts(),
        "message": {**reply, "text": "Much shorter, please", "edited": {"user": EXPERT, "ts": fake.next_ts()}},
        "previous_message": reply,
    }
    deletion = {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": CHANNEL,
        "channel_type": "channel",
        "deleted_ts": reply["ts"],
        "ts": fake.next_ts(),
        "previous_message": reply,
    }
    other_bot = {
        "type": "message",
        "channel": CHANNEL,
        "channel_type": "channel",
        "bot_id": "BOTHER",
        "user": "UOTHERBOT",
        "text": "I am another bot",
        "ts": fake.next_ts(),
        "thread_ts": thread_ts,
    }
    own = message_event(fake.bot_messages(CHANNEL)[-1], channel=CHANNEL)
    aside = message_event(
        fake.add_user_message(CHANNEL, "// note to self: ask legal", user=EXPERT, thread_ts=thread_ts), channel=CHANNEL
    )
    for inner in (edit, deletion, other_bot, own, aside):
        status, _ = await slack.event(inner)
        assert status == 200
    await slack.settle()
    project = await slack.project(1)
    assert project.current_version == 1 and project.feedback_count == 0
    assert project.state == State.IN_REVIEW.value
    assert fake.counts()["chat.postMessage"] == before["chat.postMessage"]
    assert await slack.asides(1) == ["// note to self: ask legal"]


async def test_restart_between_feedback_and_revision_lands_the_revision_once(
    fake_slack: Any, slack_settings: Any
) -> None:
    """Process A stores the feedback and dies while the model is still writing; process B resumes."""
    async with FakeLLMServer(latency=0.0) as llm:
        settings = slack_settings(
            fake_slack,
            draftloop_agent="openai:gpt-test",
            openai_api_key="test-key",
            openai_base_url=llm.openai_base_url,
        )
        first = SlackHarness(fake_slack, settings)
        await first.start()
        try:
            request = await first.mention("[writing] Write a note about the office move")
            await first.settle()
            assert len(first.drafts()) == 1
            llm.latency = 30.0  # the revision hangs in the model...
            await first.reply(request["ts"], "Add the new address.", user=EXPERT)
            await fake_slack.wait_until(lambda: len(llm.log) >= 2)
            await first.stop(drain=False)  # ...and the process is killed
            llm.latency = 0.0
            assert len(first.drafts()) == 1

            await first.start()  # process B on the same database
            assert first.runtime is not None
            resumed = await first.runtime.workflow.resume_pending()
            await first.settle()
            assert resumed == 1
            assert len(first.drafts()) == 2
            project = await first.project(1)
            assert project.current_version == 2 and project.state == State.IN_REVIEW.value
            # Resuming again finds nothing to do: the revision landed once.
            assert await first.runtime.workflow.resume_pending() == 0
            await first.settle()
            assert len(first.drafts()) == 2
        finally:
            await first.close()


async def test_long_draft_is_uploaded_as_a_file_with_a_summary(fake_slack: Any, slack_settings: Any) -> None:
    long_text = "\n\n".join(f"## Part {i}\n\n" + ("All work and no play. " * 45) for i in range(20))
    assert len(long_text) >= 20_000
    async with FakeLLMServer(reply=lambda model, prompt: long_text) as llm:
        settings = slack_settings(
            fake_slack,
            draftloop_agent="openai:gpt-test",
            openai_api_key="test-key",
            openai_base_url=llm.openai_base_url,
        )
        harness = SlackHarness(fake_slack, settings)
        await harness.start()
        try:
            request = await harness.mention("[writing] Write a very long report")
            await harness.settle()
        finally:
            await harness.close()
    uploads = list(fake_slack.uploads.values())
    assert len(uploads) == 1 and uploads[0].completed
    assert uploads[0].content.decode() == long_text
    assert uploads[0].filename.endswith(".md") and uploads[0].thread_ts == request["ts"]
    drafts = [m for m in fake_slack.bot_messages(CHANNEL) if any(b["type"] == "actions" for b in m.get("blocks", []))]
    assert len(drafts) == 1
    total = sum(len(b.get("text", {}).get("text", "")) for b in drafts[0]["blocks"] if b["type"] == "section")
    assert total < 3000  # the message holds a summary, not the draft
    counts = fake_slack.counts()
    assert counts["files.getUploadURLExternal"] == 1 and counts["files.completeUploadExternal"] == 1


async def test_bolt_answers_within_the_ack_window_while_the_model_is_slow(fake_slack: Any, slack_settings: Any) -> None:
    """Slack needs a 2xx in 3 s; the draft continues after the ack."""
    async with FakeLLMServer(latency=1.0) as llm:
        settings = slack_settings(
            fake_slack,
            draftloop_agent="openai:gpt-test",
            openai_api_key="test-key",
            openai_base_url=llm.openai_base_url,
        )
        harness = SlackHarness(fake_slack, settings)
        await harness.start()
        try:
            await harness.mention("[writing] Write a riddle")
            assert harness.drafts() == []  # answered before the draft exists
            await harness.settle()
            assert len(harness.drafts()) == 1
        finally:
            await harness.close()


async def test_download_needs_the_bot_token(slack: SlackHarness) -> None:
    fake = slack.fake
    f = fake.add_file("brief.txt", b"secret notes")
    async with aiohttp.ClientSession() as session, session.get(f["url_private"], allow_redirects=False) as resp:
        assert resp.status == 302


async def test_malformed_signed_payloads_are_refused_and_nothing_breaks(slack: SlackHarness) -> None:
    for body, content_type in (
        ("{not json", "application/json"),
        ('{"type": "event_callback", "event": "not an object"}', "application/json"),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
    ):
        status, _ = await slack.send(body, content_type=content_type)
        assert status < 500, (body, status)
    await slack.settle()
    assert await slack.project_count() == 0
    await slack.mention("[writing] Still here?")  # the app keeps serving
    await slack.settle()
    assert await slack.project_count() == 1


async def test_a_click_whose_channel_is_a_bare_id_is_handled(slack: SlackHarness) -> None:
    # Slack's schema check lets `channel` through as an id or an object (bolt reads both); the
    # listener must read both too, not fail after the ack (found by the edge's property test).
    await slack.mention("[writing] Write a haiku about tea", user=REQUESTER)
    await slack.settle()
    draft = slack.drafts()[-1]
    payload = block_actions(
        draft, button_in(draft, "dl_accept"), user=REQUESTER, channel=CHANNEL, response_url=slack.fake.response_url()
    )
    payload["channel"] = CHANNEL
    status, _ = await slack.interact(payload)
    assert status == 200
    await slack.settle()
    assert (await slack.project(1)).state == State.ACCEPTED
