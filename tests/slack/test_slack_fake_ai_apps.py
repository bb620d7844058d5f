"""The fake Slack learns the AI-app methods with their documented limits, and refuses what Slack refuses:
these pin the fake itself, through the real AsyncWebClient (docs/slack-notes.md lists the limits)."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from adapters.chat.slack import blocks as sb
from adapters.chat.slack.platform import make_client
from tests.fakes.slack_api import FakeSlackAPI

T = "1700000000.000100"


async def _error(client: Any, method: str, **params: Any) -> str | None:
    try:
        await client.api_call(method, json=params)
    except SlackApiError as exc:
        return str(exc.response["error"])
    return None


async def test_a_stream_is_a_reply_for_someone_and_grows_only_while_it_streams() -> None:
    async with FakeSlackAPI.with_ai_apps() as fake:
        client = make_client(fake.token, base_url=fake.api_url, retries=0)
        assert await _error(client, "chat.startStream", channel="C1", markdown_text="x") == "invalid_arguments"
        assert await _error(client, "chat.startStream", channel="C1", thread_ts=T, markdown_text="x") == (
            "invalid_arguments"  # outside a DM: recipient_user_id and recipient_team_id
        )
        dm = await client.api_call("chat.startStream", json={"channel": "D1", "thread_ts": T, "markdown_text": "a"})
        ts = dm["ts"]
        too_long = "x" * 12_001
        assert await _error(client, "chat.appendStream", channel="D1", ts=ts, markdown_text=too_long) == "msg_too_long"
        assert await _error(client, "chat.appendStream", channel="D1", ts=ts) == "invalid_arguments"
        await client.api_call("chat.appendStream", json={"channel": "D1", "ts": ts, "markdown_text": "b"})
        chunk = [{"type": "markdown_text", "text": "c"}]
        await client.api_call("chat.appendStream", json={"channel": "D1", "ts": ts, "chunks": chunk})
        assert await _error(client, "chat.update", channel="D1", ts=ts, text="z") == "message_is_streaming"
        bad = [{"type": "context_actions", "elements": [{"type": "feedback_buttons"}]}]
        assert await _error(client, "chat.stopStream", channel="D1", ts=ts, blocks=bad) == "invalid_blocks"
        await client.api_call("chat.stopStream", json={"channel": "D1", "ts": ts, "blocks": [sb.controls(1, 1)]})
        assert fake.streamed("D1", ts) == "abc"
        assert await _error(client, "chat.appendStream", channel="D1", ts=ts, markdown_text="d") == (
            "message_not_in_streaming_state"
        )


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([{"type": "markdown", "text": "x" * 12_001}], "msg_blocks_too_long"),
        ([{"type": "markdown", "text": "x" * 6_001}, {"type": "markdown", "text": "y" * 6_000}], "msg_blocks_too_long"),
        ([{"type": "markdown", "text": ""}], "invalid_blocks"),
        ([{"type": "context_actions", "elements": []}], "invalid_blocks"),
        ([{"type": "context_actions", "elements": [{"type": "button"}]}], "invalid_blocks"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3_001}}], "invalid_blocks"),
    ],
)
async def test_malformed_blocks_are_refused(blocks: list[dict[str, Any]], error: str) -> None:
    async with FakeSlackAPI() as fake:
        client = make_client(fake.token, base_url=fake.api_url, retries=0)
        assert await _error(client, "chat.postMessage", channel="C1", text="t", blocks=blocks) == error


async def test_feedback_buttons_within_their_limits_pass_and_beyond_them_do_not() -> None:
    async with FakeSlackAPI() as fake:
        client = make_client(fake.token, base_url=fake.api_url, retries=0)
        good = sb.feedback_buttons(12, 3)
        assert await _error(client, "chat.postMessage", channel="C1", text="t", blocks=[good]) is None
        long = {**good, "elements": [{**good["elements"][0]}]}
        long["elements"][0]["positive_button"] = {
            **good["elements"][0]["positive_button"],
            "text": {"type": "plain_text", "text": "x" * 76},
        }
        assert await _error(client, "chat.postMessage", channel="C1", text="t", blocks=[long]) == "invalid_blocks"
        assert sb.signal_value(good["elements"][0]["negative_button"]["value"]) == ("down", 12, 3)
        assert sb.signal_value("down:12") is None and sb.signal_value("sideways:1:1") is None


async def test_status_prompts_and_home_views_keep_their_limits() -> None:
    async with FakeSlackAPI.with_ai_apps() as fake:
        client = make_client(fake.token, base_url=fake.api_url, retries=0)
        eleven = [str(i) for i in range(11)]
        status = {"channel_id": "C1", "thread_ts": T, "status": "is drafting v1…"}
        assert await _error(client, "assistant.threads.setStatus", **status, loading_messages=eleven) == (
            "invalid_arguments"
        )
        assert await _error(client, "assistant.threads.setStatus", channel_id="C1", status="x") == "invalid_thread_ts"
        await client.api_call("assistant.threads.setStatus", json=status)
        assert fake.statuses[("C1", T)]["status"] == "is drafting v1…"
        await client.api_call("chat.postMessage", json={"channel": "C1", "thread_ts": T, "text": "a reply"})
        assert ("C1", T) not in fake.statuses  # a bot message in the thread clears it, as Slack does
        five = [{"title": f"p{i}", "message": "m"} for i in range(5)]
        prompts = {"channel_id": "D1", "thread_ts": T}
        assert await _error(client, "assistant.threads.setSuggestedPrompts", **prompts, prompts=five) == (
            "invalid_arguments"
        )
        no_message = [{"title": "p"}]
        assert await _error(client, "assistant.threads.setSuggestedPrompts", **prompts, prompts=no_message) == (
            "invalid_arguments"
        )
        home = {"type": "home", "blocks": [{"type": "divider"}] * 101}
        assert await _error(client, "views.publish", user_id="U1", view=home) == "invalid_arguments"
        assert await _error(client, "views.publish", user_id="U1", view={"type": "modal", "blocks": []}) == (
            "invalid_arguments"
        )


async def test_a_workspace_without_the_surface_does_not_know_its_methods() -> None:
    async with FakeSlackAPI() as fake:
        client = make_client(fake.token, base_url=fake.api_url, retries=0)
        for method in ("chat.startStream", "assistant.threads.setStatus", "assistant.threads.setSuggestedPrompts"):
            assert await _error(client, method, channel="D1", channel_id="D1", thread_ts=T, status="") == (
                "unknown_method"
            )
