"""On Discord a display name grants nothing: user ids, role ids and (admin-controlled) role names do.

The real discord.py client against the fake gateway, with members whose display names are the
configured names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from bot import identity
from tests.discord.conftest import DiscordHarness, sqlite_only
from tests.fakes.discord_api import FakeDiscord

pytestmark = sqlite_only()


def config(fake: FakeDiscord) -> str:
    return f"""
admins = ["boss"]
[discord]
admin_roles = ["Moderators"]
[categories.writing]
experts = ["wendy", "{fake.dana.id}"]
"""


@pytest.fixture
async def named(harness_factory: Callable[..., Any], fake_discord: FakeDiscord) -> DiscordHarness:
    harness: DiscordHarness = await harness_factory(config(fake_discord))
    return harness


def refusals(fake: FakeDiscord, thread: int) -> list[dict[str, Any]]:
    return [m for m in fake.bot_messages(thread) if int(m["flags"]) & 64 and "Not allowed" in str(m["content"])]


async def test_a_member_named_like_an_expert_or_admin_cannot_decide(named: DiscordHarness) -> None:
    fake = named.fake
    boss = fake.add_user("boss")  # display name "boss", no role
    request = await fake.message(fake.general, fake.alice, "[writing] a note for the new office", mention=True)
    thread = await named.thread_of(request)
    v1 = await named.draft(thread, 1)
    await named.idle()

    await fake.click(fake.wendy, v1, "draftloop:accept:1")  # display name "wendy" (config names "wendy")
    await fake.wait_for(lambda: len(refusals(fake, thread)) == 1, what="wendy's refusal")
    await named.reject(boss, v1, 1)
    await fake.wait_for(lambda: len(refusals(fake, thread)) == 2, what="boss's refusal")
    await fake.message(thread, fake.wendy, "accept")  # the typed word, too
    await named.idle()
    project = await named.project(1)
    assert project.state == "in_review" and project.decided_at is None

    await fake.click(fake.dana, v1, "draftloop:accept:1")  # the expert configured by id
    await named.said(thread, "#1 accepted at v1 by dana")
    await named.idle()
    assert (await named.project(1)).state == "accepted"


async def test_admin_role_by_name_still_decides(named: DiscordHarness) -> None:
    fake = named.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a farewell card", mention=True)
    thread = await named.thread_of(request)
    v1 = await named.draft(thread, 1)
    await named.idle()
    await named.reject(fake.mod, v1, 1, reason="format")  # holds the Moderators role
    await named.said(thread, "#1 rejected at v1 by mod. Reason: format.")
    await named.idle()
    assert (await named.project(1)).state == "rejected"


async def test_start_up_warns_about_names_on_discord(
    harness_factory: Callable[..., Any],
    fake_discord: FakeDiscord,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(identity, "_warned", set())  # a fresh process
    with caplog.at_level(logging.WARNING, logger="bot.identity"):
        await harness_factory(config(fake_discord))
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.identity"]
    assert lines == [
        "config: admins entry 'boss' is not a Discord or Slack id; it only matches on the console",
        "config: experts of 'writing' entry 'wendy' is not a Discord or Slack id; it only matches on the console",
    ]
