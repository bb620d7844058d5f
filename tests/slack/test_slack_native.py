"""Slack's AI-app surface (issue 17) through the real bolt app and AsyncWebClient against the fake:
status while drafting, native streaming and its fallback, 👍 / 👎, markdown blocks, the reject form,
`/draftloop mine`, the App Home and the assistant DM. Each runs in a workspace with the surface
(`FakeSlackAPI.with_ai_apps()`) and, where it changes the path, without it (the default fake)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.chat.slack import blocks as sb, forms
from adapters.chat.slack.platform import SLACK_LIMITS
from bot.ports import DraftRequest, DraftResult
from bot.states import State
from storage.models import Decision, Signal
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import (
    CHANNEL,
    EXPERT,
    OUTSIDER,
    REQUESTER,
    SlackHarness,
    block_actions,
    message_event,
)

LINES = [f"Line {i} of the draft, about green tea and where it grows." for i in range(1, 9)]


class Paced:
    """A model that writes one line every `gap` seconds, so the draft is shown while it is written."""

    def __init__(self, gap: float = 0.04) -> None:
        self.name, self.model, self.gap = "offline", "paced-1", gap

    async def stream(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
        text = ""
        for line in [f"# v{request.version}", *LINES]:
            await asyncio.sleep(self.gap)
            text += line + "\n"
            yield line + "\n"
        yield DraftResult(text=text, model=self.model)

    async def aclose(self) -> None:
        return None


async def _harness(fake: FakeSlackAPI, slack_settings: Any) -> SlackHarness:
    harness = SlackHarness(fake, slack_settings(fake))
    await harness.start()
    assert harness.runtime is not None and harness.service is not None
    harness.runtime.agents.use("offline", Paced())
    # Edits as often as the test's model writes: the same path as Slack's 1.2 s, in a fraction of it.
    harness.service.platform.limits = dataclasses.replace(SLACK_LIMITS, min_edit_interval=0.05)
    return harness


@pytest.fixture
async def native(slack_settings: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackHarness]:
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    async with FakeSlackAPI.with_ai_apps() as fake:
        harness = await _harness(fake, slack_settings)
        try:
            yield harness
        finally:
            await harness.close()


@pytest.fixture
async def classic(slack_settings: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SlackHarness]:
    """A workspace without the AI-app surface (no streaming, status or prompts)."""
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    async with FakeSlackAPI() as fake:
        harness = await _harness(fake, slack_settings)
        try:
            yield harness
        finally:
            await harness.close()


def _full(version: int) -> str:
    return "\n".join([f"# v{version}", *LINES])


def _shown(slack: SlackHarness, message: dict[str, Any]) -> str:
    """What a draft message shows: its streamed Markdown, or its markdown block."""
    found = slack.fake.find(CHANNEL, message["ts"]) or message
    if found.get("markdown_text"):
        return str(found["markdown_text"])
    return "".join(b["text"] for b in found.get("blocks") or [] if b["type"] == "markdown")


def _versions(slack: SlackHarness, version: int) -> list[dict[str, Any]]:
    return [m for m in slack.drafts() if _full(version) in _shown(slack, m)]


async def _loop(slack: SlackHarness) -> dict[str, Any]:
    """Request → v1 → the expert's reply → v2; every version shown exactly once, with its buttons."""
    request = await slack.mention("[writing] Write a short post about green tea for our blog")
    await slack.settle()
    await slack.reply(request["ts"], "Name the regions where it grows.", user=EXPERT)
    await slack.settle()
    assert (await slack.project(1)).current_version == 2
    for version in (1, 2):
        assert len(_versions(slack, version)) == 1, f"v{version} shown {len(_versions(slack, version))} times"
    assert len(slack.drafts()) == 2
    for draft in slack.drafts():
        kinds = [b["type"] for b in draft["blocks"]]
        assert kinds[-2:] == ["context_actions", "actions"]  # 👍 / 👎 above the controls
    return request


async def test_a_draft_streams_natively_with_its_buttons_at_the_stop(native: SlackHarness) -> None:
    fake = native.fake
    request = await _loop(native)
    counts = fake.counts()
    assert counts["chat.startStream"] == 2 and counts["chat.stopStream"] == 2 and counts["chat.appendStream"] >= 2
    assert counts["chat.update"] == 0  # nothing was edited the old way
    for draft in native.drafts():
        streamed = fake.find(CHANNEL, draft["ts"])
        assert streamed is not None and streamed["streaming"] is False and streamed["thread_ts"] == request["ts"]
        assert streamed["markdown_text"].startswith("**#1 · v")
    starts = fake.calls_of("chat.startStream")
    # Outside a DM a stream is for someone: the requester's v1, the expert's v2.
    assert [c.params["recipient_user_id"] for c in starts] == [REQUESTER, EXPERT]
    assert {c.params["recipient_team_id"] for c in starts} == {fake.team_id}
    # ✅ on the streamed v2 decides: its ts is the draft's recorded message.
    status, _ = await native.react(native.drafts()[-1]["ts"], "white_check_mark", user=REQUESTER)
    await native.settle()
    assert status == 200 and (await native.project(1)).state == State.ACCEPTED.value
    print("\nWeb API calls of one loop, streaming:", dict(sorted(fake.counts().items())))


async def test_without_streaming_every_draft_is_posted_once_as_markdown(classic: SlackHarness) -> None:
    fake = classic.fake
    await _loop(classic)
    counts = fake.counts()
    assert counts["chat.startStream"] == 1  # asked once, refused for good (unknown_method): then never again
    assert "chat.appendStream" not in counts and "chat.stopStream" not in counts
    assert counts["assistant.threads.setStatus"] == 1  # likewise
    for draft in classic.drafts():
        assert any(b["type"] == "markdown" for b in draft["blocks"])
        assert not any(b["type"] == "section" for b in draft["blocks"])
    print("\nWeb API calls of one loop, no AI-app surface:", dict(sorted(fake.counts().items())))


@pytest.mark.parametrize(
    ("method", "error"),
    [
        ("chat.startStream", "ratelimited"),
        ("chat.startStream", "internal_error"),
        ("chat.appendStream", "ratelimited"),
        ("chat.appendStream", "message_not_in_streaming_state"),
        ("chat.stopStream", "internal_error"),
    ],
)
async def test_a_refused_stream_falls_back_without_losing_or_repeating_text(
    native: SlackHarness, method: str, error: str
) -> None:
    fake = native.fake
    fake.fail_next(method, ok_false=error)
    await _loop(native)
    v1 = _versions(native, 1)[0]
    assert _shown(native, v1).count("Line 8 of the draft") == 1
    if method != "chat.startStream" or error == "internal_error":
        assert fake.counts()["chat.update"] >= 1 or method == "chat.startStream"
    # The fallback was for that message only: the feature stays on for the next one.
    assert native.service is not None and native.service.platform.features.streaming


async def test_a_lasting_refusal_turns_streaming_off_for_the_process(native: SlackHarness) -> None:
    native.fake.unsupported.add("chat.startStream")
    await _loop(native)
    assert native.service is not None and not native.service.platform.features.streaming
    assert native.fake.counts()["chat.startStream"] == 1


async def test_the_thread_shows_a_status_until_the_draft_appears(native: SlackHarness) -> None:
    fake = native.fake
    request = await _loop(native)
    thread = (CHANNEL, request["ts"])
    log = [(status) for channel, ts, status in fake.status_log if (channel, ts) == thread]
    # v1: set after the acknowledgement, cleared by the streamed draft's first message;
    # v2: set when the feedback is taken up, cleared when its first words are appended.
    assert log == ["is drafting v1…", "", "is drafting v2 from Uexp's feedback…", ""]
    first = fake.calls_of("assistant.threads.setStatus")[0].params
    assert 1 <= len(first["loading_messages"]) <= 10 and "Writing v1…" in first["loading_messages"]
    assert thread not in fake.statuses


async def test_a_failed_cycle_clears_the_status(native: SlackHarness) -> None:
    from bot.errors import AgentUnavailable
    from tests.fakes.agents import Intercepted

    async def fail(request: DraftRequest) -> None:
        raise AgentUnavailable("offline: the provider timed out", agent="offline")

    assert native.runtime is not None
    pool = native.runtime.agents
    pool.use("offline", Intercepted(pool.backend(pool.spec("offline")), fail))
    request = await native.mention("[writing] Write a haiku")
    await native.settle()
    assert (await native.project(1)).state == State.FAILED.value
    assert (CHANNEL, request["ts"]) not in native.fake.statuses


async def test_thumbs_are_signals_per_version_and_person(native: SlackHarness) -> None:
    await native.mention("[writing] Write a haiku about autumn")
    await native.settle()
    draft = native.drafts()[-1]
    block = next(b for b in draft["blocks"] if b["type"] == "context_actions")
    buttons = block["elements"][0]

    async def tap(user: str, side: str) -> None:
        button = {**buttons[side], "action_id": sb.ACTION_SIGNAL, "block_id": block["block_id"]}
        payload = block_actions(draft, button, user=user, channel=CHANNEL, response_url=native.fake.response_url())
        payload["actions"][0]["type"] = "feedback_buttons"
        status, _ = await native.interact(payload)
        assert status == 200
        await native.settle()

    await tap(OUTSIDER, "positive_button")
    await tap(OUTSIDER, "negative_button")
    await tap(EXPERT, "positive_button")
    assert native.runtime is not None
    async with native.runtime.db.session() as s:
        rows = (await s.execute(select(Signal).order_by(Signal.person_id))).scalars().all()
    assert [(r.person_id, r.version, r.value) for r in rows] == [(EXPERT, 1, "up"), (OUTSIDER, 1, "down")]
    project = await native.project(1)
    assert (project.current_version, project.feedback_count) == (1, 0)  # never a cycle


async def test_reject_opens_a_form_with_the_reasons_and_stores_the_answer(native: SlackHarness) -> None:
    fake = native.fake
    await native.mention("[writing] Write a haiku about autumn")
    await native.settle()
    status, _ = await native.click(native.drafts()[-1], sb.ACTION_REJECT, user=REQUESTER)
    assert status == 200
    await fake.wait_until(lambda: fake.views)
    view = fake.views[-1]["view"]
    assert view["callback_id"] == forms.REJECT_FORM
    radio = view["blocks"][0]["element"]
    assert radio["type"] == "radio_buttons"
    assert [o["value"] for o in radio["options"]] == ["wrong scope", "factual errors", "tone", "format", "other"]
    assert (await native.project(1)).state == State.IN_REVIEW.value  # nothing decided by the click

    status, body = await native.interact(_submitted(view, REQUESTER, None, "x"))
    assert status == 200 and "Choose one of the reasons" in body
    status, _ = await native.interact(_submitted(view, REQUESTER, "tone", "Too formal for the blog."))
    assert status == 200
    await native.settle()
    assert (await native.project(1)).state == State.REJECTED.value
    assert native.runtime is not None
    async with native.runtime.db.session() as s:
        decision = (await s.execute(select(Decision))).scalar_one()
    assert (decision.reason, decision.comment, decision.via) == ("tone", "Too formal for the blog.", "form")
    assert any("Reason: tone." in str(m.get("text")) for m in fake.bot_messages(CHANNEL))


async def test_reject_by_someone_who_may_not_decide_is_refused_at_once(native: SlackHarness) -> None:
    await native.mention("[writing] Write a haiku about autumn")
    await native.settle()
    await native.click(native.drafts()[-1], sb.ACTION_REJECT, user=OUTSIDER)
    await native.settle()
    assert not native.fake.views  # no form for a click that cannot decide
    assert any("Not allowed" in e["text"] for e in native.fake.ephemerals if e["user"] == OUTSIDER)


def _submitted(view: dict[str, Any], user: str, reason: str | None, comment: str) -> dict[str, Any]:
    state = {
        "reason": {"reason": {"type": "radio_buttons", "selected_option": {"value": reason} if reason else None}},
        "comment": {"comment": {"type": "plain_text_input", "value": comment}},
    }
    return {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "trigger_id": "trig.reject",
        "view": {**view, "state": {"values": state}, "hash": "h", "team_id": "T0001", "app_id": "A0001"},
        "response_urls": [],
    }


async def test_mine_answers_privately_with_links_to_each_thread(native: SlackHarness) -> None:
    fake = native.fake
    request = await native.mention("[writing] Write a haiku about autumn")
    await native.settle()
    status, _ = await native.command("/draftloop", "mine", user=EXPERT)
    assert status == 200
    await native.settle()
    [answer] = [e for e in fake.ephemerals if e["user"] == EXPERT]
    text = " ".join(b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")
    permalink = f"https://example.slack.com/archives/{CHANNEL}/p{request['ts'].replace('.', '')}"
    assert "Waiting on your feedback as an expert" in text and f"<{permalink}|#1>" in text
    await native.command("/draftloop", "mine", user=OUTSIDER)
    await native.settle()
    assert "Nothing waits on you" in [e for e in fake.ephemerals if e["user"] == OUTSIDER][0]["text"]


async def test_the_home_tab_lists_what_waits_and_refreshes_when_it_changes(native: SlackHarness) -> None:
    fake = native.fake
    await native.mention("[writing] Write a haiku about autumn")
    await native.settle()
    status, _ = await native.event({"type": "app_home_opened", "user": REQUESTER, "tab": "home", "channel": "D1"})
    assert status == 200
    await native.settle()
    home = fake.home_views[REQUESTER]
    text = " ".join(str(b.get("text", {}).get("text", "")) for b in home["blocks"])
    assert home["type"] == "home" and "Drafts waiting on your decision" in text and "|#1>" in text
    assert "This week" in text
    published = fake.counts()["views.publish"]

    await native.mention("[writing] Write a limerick", user=REQUESTER)  # a change to one of theirs
    await native.settle()
    assert fake.counts()["views.publish"] > published
    text = " ".join(str(b.get("text", {}).get("text", "")) for b in fake.home_views[REQUESTER]["blocks"])
    assert "|#2>" in text
    other = await native.event({"type": "app_home_opened", "user": REQUESTER, "tab": "messages", "channel": "D1"})
    assert other[0] == 200


async def test_the_assistant_dm_offers_prompts_and_takes_a_request_in_its_thread(native: SlackHarness) -> None:
    fake = native.fake
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {"user_id": REQUESTER, "channel_id": "D0DM", "thread_ts": "1700000000.000100"},
        "event_ts": "1700000000.000101",
    }
    status, _ = await native.event(started)
    assert status == 200
    await native.settle()
    [call] = fake.prompts
    assert 1 <= len(call["prompts"]) <= 4 and call["prompts"][0]["message"].startswith("[writing] ")
    msg = fake.add_user_message("D0DM", "[writing] Write a haiku", user=REQUESTER, thread_ts="1700000000.000100")
    await native.event(message_event(msg, channel="D0DM", channel_type="im"))
    await native.settle()
    project = await native.project(1)
    assert (project.channel, project.thread_id, project.current_version) == ("D0DM", "1700000000.000100", 1)
    reply = fake.add_user_message("D0DM", "Shorter, please", user=REQUESTER, thread_ts="1700000000.000100")
    await native.event(message_event(reply, channel="D0DM", channel_type="im"))
    await native.settle()
    assert (await native.project(1)).current_version == 2 and await native.project_count() == 1


class Pinging(Paced):
    async def stream(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
        lines = ["Hello <!channel> and <@UOUT>,\n", "pay at [paypal.com](https://evil.example/pay)\n", "@here done\n"]
        for line in lines * 3:
            await asyncio.sleep(self.gap)
            yield line
        yield DraftResult(text="".join(lines * 3), model=self.model)


async def test_a_streamed_draft_pings_nobody_and_hides_no_link(native: SlackHarness) -> None:
    assert native.runtime is not None
    native.runtime.agents.use("offline", Pinging())
    await native.mention("[writing] Write a greeting")
    await native.settle()
    sent = [
        c.params.get("markdown_text", "")
        for c in native.fake.calls
        if c.method in ("chat.startStream", "chat.appendStream", "chat.stopStream")
    ]
    assert native.fake.counts()["chat.appendStream"] >= 1 and sent
    streamed = "".join(sent)
    assert "<" not in streamed and "&lt;!channel>" in streamed and "&lt;@UOUT>" in streamed
    assert "paypal.com (https://evil.example/pay)" in streamed and "[paypal.com]" not in streamed
    assert "@here" not in streamed  # a zero-width space keeps it a word


async def test_a_stream_left_by_a_stopped_process_becomes_the_draft_in_the_same_message(
    native: SlackHarness,
) -> None:
    from bot import texts
    from tests.fakes.agents import Intercepted

    fake = native.fake
    request = await native.mention("[writing] a post on sencha")
    await native.settle()
    assert native.runtime is not None
    entered, hold = asyncio.Event(), asyncio.Event()

    async def held(req: DraftRequest) -> None:
        entered.set()
        await hold.wait()

    pool = native.runtime.agents
    pool.use("offline", Intercepted(pool.backend(pool.spec("offline")), held))
    await native.reply(request["ts"], "Add a line on brewing.", user=EXPERT)
    await asyncio.wait_for(entered.wait(), 10)
    [streaming] = [m for m in fake.bot_messages() if m.get("streaming")]  # v2's stream, header only

    await native.stop(drain=False)  # the process stops mid-call, its stream left open
    await native.start()  # a new process: it did not start that stream
    assert native.runtime is not None
    await native.runtime.workflow.sweeper.sweep()
    await native.settle()
    project = await native.project(1)
    assert (project.current_version, project.posted_version) == (2, 2)
    assert native.drafts()[-1]["ts"] == streaming["ts"]  # the same message became v2: nothing shown twice
    assert not fake.find(CHANNEL, streaming["ts"])["streaming"]
    assert not any(texts.drafting(2) in str(m.get("text")) for m in fake.bot_messages())
    assert len([m for m in fake.bot_messages() if m.get("thread_ts") == request["ts"] and m.get("blocks")]) >= 2
