"""Ways in: slash commands, the form, the message shortcut, direct messages, files, /draftloop."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from bot.states import State
from tests.slack.conftest import CHANNEL, REQUESTER, SlackHarness, message_event


async def test_draft_command_with_text_posts_a_root_message_and_starts(slack: SlackHarness) -> None:
    status, body = await slack.command("/draft", "[writing] Write a welcome note for new hires", user=REQUESTER)
    assert status == 200 and body == ""
    await slack.settle()
    project = await slack.project(1)
    root = slack.fake.find(CHANNEL, project.thread_id or "")
    assert root is not None and "welcome note" in root["text"] and f"<@{REQUESTER}>" in root["text"]
    assert project.requester_id == REQUESTER and project.category == "writing"
    assert len(slack.drafts()) == 1 and slack.drafts()[0]["thread_ts"] == root["ts"]


async def test_draft_command_without_text_opens_the_form(slack: SlackHarness) -> None:
    fake = slack.fake
    status, _ = await slack.command("/draft", "", user=REQUESTER)
    assert status == 200
    await fake.wait_until(lambda: fake.views)
    view = fake.views[-1]["view"]
    assert view["callback_id"] == "dl_draft_form"
    # An empty brief is refused in the form itself.
    status, body = await slack.submit(view, {"brief": "  "}, user=REQUESTER)
    assert status == 200 and json.loads(body)["response_action"] == "errors"
    assert "brief" in json.loads(body)["errors"]
    status, body = await slack.submit(
        view,
        {
            "brief": "Outline a data cleaning plan",
            "category": "data-science",
            "deadline": "2030-01-31",
            "minutes": "20",
        },
        user=REQUESTER,
    )
    assert status == 200 and body == ""
    await slack.settle()
    project = await slack.project(1)
    assert project.category == "data-science" and project.deadline == "2030-01-31"
    assert project.state == State.IN_REVIEW.value


def shortcut_on(msg: dict[str, Any], response_url: str, action_ts: str) -> dict[str, Any]:
    """Slack's payload for "Draft from message" (the message shortcut) on `msg`, by the requester."""
    return {
        "type": "message_action",
        "callback_id": "dl_draft_from_message",
        "trigger_id": f"trig.{action_ts}",
        "user": {"id": REQUESTER, "name": "req"},
        "team": {"id": "T0001", "domain": "example"},
        "channel": {"id": CHANNEL, "name": "general"},
        "message": msg,
        "message_ts": msg["ts"],
        "response_url": response_url,
        "action_ts": action_ts,
    }


async def test_message_shortcut_turns_a_message_into_a_request(slack: SlackHarness) -> None:
    fake = slack.fake
    msg = fake.add_user_message(CHANNEL, "We need a FAQ for the new pricing page", user="UOTHER")
    status, _ = await slack.interact(shortcut_on(msg, fake.response_url(), "1700000000.1"))
    assert status == 200
    await slack.settle()
    project = await slack.project(1)
    assert project.thread_id == msg["ts"] and project.requester_id == REQUESTER
    assert {"channel": CHANNEL, "ts": msg["ts"], "name": "eyes"} in fake.reactions
    assert len(slack.drafts()) == 1


async def test_direct_message_is_a_request_and_thread_replies_are_feedback(slack: SlackHarness) -> None:
    fake = slack.fake
    dm = "D0DM"
    msg = fake.add_user_message(dm, "[writing] Write a birthday card text for Sam", user=REQUESTER)
    await slack.event(message_event(msg, channel=dm, channel_type="im"))
    await slack.settle()
    assert len(slack.drafts(dm)) == 1
    reply = fake.add_user_message(dm, "Make it funnier", user=REQUESTER, thread_ts=msg["ts"])
    await slack.event(message_event(reply, channel=dm, channel_type="im"))
    await slack.settle()
    assert (await slack.project(1)).current_version == 2


async def test_top_level_channel_chatter_is_not_a_request(slack: SlackHarness) -> None:
    msg = slack.fake.add_user_message(CHANNEL, "lunch anyone?", user=REQUESTER)
    await slack.event(message_event(msg, channel=CHANNEL))
    await slack.settle()
    assert await slack.project_count() == 0
    assert "chat.postMessage" not in slack.fake.counts()


def _pdf_with_text(text: str) -> bytes:
    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=200)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode())
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_attached_files_are_read_into_the_brief(slack: SlackHarness) -> None:
    fake = slack.fake
    files = [
        fake.add_file("notes.md", b"# Notes\nThe launch is on Friday."),
        fake.add_file("numbers.csv", b"region,sales\nnorth,12\n", mimetype="text/csv"),
        fake.add_file("spec.pdf", _pdf_with_text("Budget is 5000 euros"), mimetype="application/pdf"),
        fake.add_file("logo.png", b"\x89PNG....", mimetype="image/png"),
    ]
    await slack.mention("[writing] Write the launch email", files=files)
    await slack.settle()
    brief = (await slack.project(1)).brief
    assert "The launch is on Friday." in brief
    assert "north,12" in brief
    assert "Budget is 5000 euros" in brief
    assert "logo.png" in brief and "not readable" in brief
    downloads = [c.params["name"] for c in fake.calls_of("file_download")]
    assert sorted(downloads) == ["notes.md", "numbers.csv", "spec.pdf"]  # the PNG is listed, not fetched


async def test_draftloop_help_status_and_digest_answer_in_the_channel(slack: SlackHarness) -> None:
    fake = slack.fake
    await slack.mention("[writing] Write a memo")
    await slack.settle()
    top_level_before = [m for m in fake.bot_messages(CHANNEL) if "thread_ts" not in m]
    for text in ("help", "status", "status 1", "digest"):
        status, _ = await slack.command("/draftloop", text, user=REQUESTER)
        assert status == 200
    await slack.settle()
    top_level = [m for m in fake.bot_messages(CHANNEL) if "thread_ts" not in m]
    assert len(top_level) - len(top_level_before) == 4
    help_msg, status_all, status_one, digest = top_level[-4:]
    assert "/draft" in help_msg["text"]
    assert "#1" in status_all["text"] and "#1" in status_one["text"]
    assert digest["blocks"][0]["type"] == "header"


async def test_slack_entities_are_stored_as_the_person_typed_them(slack: SlackHarness) -> None:
    # Slack delivers a typed "a < b & c > d" as entities; the brief (and so the model) gets the characters.
    status, _ = await slack.command("/draft", "[writing] Explain why a &lt; b &amp; c &gt; d", user=REQUESTER)
    assert status == 200
    await slack.settle()
    project = await slack.project(1)
    assert "a < b & c > d" in project.brief


async def test_the_shortcut_on_a_message_that_is_already_a_project_says_so(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    fake = slack.fake
    msg = await slack.mention("[writing] Write a launch tweet", user=REQUESTER)
    await slack.settle()
    payload = shortcut_on(msg, fake.response_url(), "1700000000.2")
    with caplog.at_level("WARNING"):
        status, _ = await slack.interact(payload)
        await slack.settle()
    assert status == 200
    assert len(slack.drafts()) == 1
    assert any("already project #1" in m["text"] for m in fake.thread(CHANNEL, msg["ts"]))
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
