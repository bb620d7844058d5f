"""Slack names people by name, never by id and never by `<@U…>` (every user mention notifies): events
carry only ids, so the adapter asks `users.info` once per person per hour, and a failed lookup shows
the id without a traceback."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from adapters.chat.slack.people import names
from bot.app.jobs import send_digest
from bot.config import DigestChannel
from tests.slack.conftest import CHANNEL, EXPERT, REQUESTER, SlackHarness

# The fake's users.info: display name "Uexp" (username "uexp", real name "Uexp Real").
EXPERT_NAME, REQUESTER_NAME = EXPERT.capitalize(), REQUESTER.capitalize()


async def _expert_feedback_then_accept(slack: SlackHarness) -> None:
    """A request; the expert types feedback in the thread (a message event: only their id); accepted."""
    await slack.mention("[writing] Write a memo")
    await slack.settle()
    project = await slack.project(1)
    assert project.thread_id
    await slack.reply(project.thread_id, "Shorter please, 10m", user=EXPERT)
    await slack.settle()
    assert (await slack.project(1)).current_version == 2
    await slack.reply(project.thread_id, "accept", user=EXPERT)
    await slack.settle()
    assert (await slack.project(1)).state == "accepted"


def _top_level_blocks(slack: SlackHarness) -> str:
    top = [m for m in slack.fake.bot_messages(CHANNEL) if "thread_ts" not in m and m.get("blocks")]
    return str(top[-1]["blocks"])


def _decision_texts(slack: SlackHarness) -> list[str]:
    return [str(m["text"]) for m in slack.fake.bot_messages(CHANNEL) if "accepted at" in m.get("text", "")]


async def test_a_typed_accept_names_the_decider(slack: SlackHarness) -> None:
    await _expert_feedback_then_accept(slack)
    [text] = _decision_texts(slack)
    assert text.endswith(f"accepted at v2 by {EXPERT_NAME}."), text
    assert EXPERT not in text and "<@" not in text  # neither the id nor a ping


async def test_the_digest_command_names_experts(slack: SlackHarness) -> None:
    await _expert_feedback_then_accept(slack)
    status, _ = await slack.command("/draftloop", "digest", user=REQUESTER)
    assert status == 200
    await slack.settle()
    shown = _top_level_blocks(slack)
    assert EXPERT_NAME in shown, shown
    assert EXPERT not in shown and "<@" not in shown, shown


async def test_the_scheduled_digest_names_experts(slack: SlackHarness) -> None:
    await _expert_feedback_then_accept(slack)
    today = datetime.now(UTC)
    monday = (today + timedelta(days=7 - today.weekday())).replace(hour=10, minute=0, second=0, microsecond=0)
    assert slack.runtime is not None
    outcome = await send_digest(slack.runtime, DigestChannel(platform="slack", channel=CHANNEL), now=monday)
    assert outcome.status == "posted", outcome
    shown = _top_level_blocks(slack)
    assert EXPERT_NAME in shown, shown
    assert EXPERT not in shown and "<@" not in shown, shown


async def test_a_burst_from_one_person_asks_slack_once(slack: SlackHarness) -> None:
    await asyncio.gather(*(slack.mention(f"[writing] Write note {i}") for i in range(6)))
    await slack.settle()
    assert len(slack.fake.calls_of("users.info")) == 1
    assert [(await slack.project(n)).requester_name for n in range(1, 7)] == [REQUESTER_NAME] * 6
    await slack.mention("[writing] One more", user=EXPERT)  # another person: their own lookup
    await slack.settle()
    assert [c.params.get("user") for c in slack.fake.calls_of("users.info")] == [REQUESTER, EXPERT]


async def test_a_name_is_asked_again_after_the_ttl(slack: SlackHarness) -> None:
    assert slack.service is not None
    cache = names(slack.service.platform)
    await slack.mention("[writing] Write a memo")
    await slack.settle()
    cache.ttl = 0.0  # as if an hour had passed
    await slack.mention("[writing] Write another")
    await slack.settle()
    assert len(slack.fake.calls_of("users.info")) == 2


async def test_a_failed_lookup_shows_the_id_without_a_traceback(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    slack.fake.fail_next("users.info", ok_false="user_not_found", times=10)
    caplog.set_level(logging.WARNING)
    await slack.mention("[writing] Write a memo")
    await slack.settle()
    project = await slack.project(1)
    assert project.thread_id and project.requester_name == ""
    assert slack.drafts(), "the draft is posted all the same"
    await slack.reply(project.thread_id, "accept", user=REQUESTER)
    await slack.settle()
    [text] = _decision_texts(slack)
    assert text.endswith(f"accepted at v1 by {REQUESTER}."), text
    failures = [r for r in caplog.records if "users.info" in r.getMessage()]
    assert failures and all(r.levelno == logging.WARNING and r.exc_info is None for r in failures)
    assert "SlackApiError" in failures[0].getMessage() and "Traceback" not in caplog.text
    # one call for the burst of two events, then the failure is remembered for a while
    assert len(slack.fake.calls_of("users.info")) == 1


async def test_a_failed_lookup_keeps_the_name_the_payload_gave(slack: SlackHarness) -> None:
    slack.fake.fail_next("users.info", ok_false="user_not_found", times=10)
    await slack.mention("[writing] Write a memo")
    await slack.settle()
    status, _ = await slack.click(slack.drafts()[-1], "dl_accept", user=REQUESTER)
    assert status == 200
    await slack.settle()
    [text] = _decision_texts(slack)
    assert text.endswith(f"accepted at v1 by {REQUESTER.lower()}."), text  # the click's user.name
