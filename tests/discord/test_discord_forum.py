"""Forum boards: in a configured forum each project is a post whose tags follow its state.

Run with and without what the board needs (the forum configured, Manage Channels to create the tags,
Manage Threads to set them on members' posts): whatever is missing, every draft arrives exactly once and
Discord is never asked for what it would refuse.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.app.jobs import expire_idle
from tests.discord.conftest import DiscordHarness, sqlite_only
from tests.fakes.discord_api import MANAGE_CHANNELS, MANAGE_THREADS, FakeDiscord, buttons, text_of

pytestmark = sqlite_only()

STATE_TAGS = ["drafting", "in review", "accepted", "rejected", "expired"]
PATCH_CHANNEL = ("PATCH", "/channels/{channel_id}")
NO_FORUM = '[categories.writing]\nexpert_roles = ["Writers"]\n'


def drafts(fake: FakeDiscord, thread: int) -> list[int]:
    """The versions shown in a thread, one entry per message that carries a version's buttons."""
    return [int(text_of(m).split(" · v", 1)[1].split()[0].strip("*")) for m in fake.bot_messages(thread) if buttons(m)]


async def applied(dc: DiscordHarness, thread: int, tags: list[str]) -> None:
    await dc.fake.wait_for(lambda: dc.fake.applied(thread) == tags, what=f"tags {tags}")


async def test_a_forum_post_shows_each_state_as_a_tag(
    fake_discord: FakeDiscord, harness_factory: Callable[..., Any]
) -> None:
    fake = fake_discord
    fake.grant(MANAGE_CHANNELS, MANAGE_THREADS)
    question = fake.add_forum_tag("question")
    dc: DiscordHarness = await harness_factory()
    assert list(fake.forum_tags()) == ["question", *STATE_TAGS]  # created at start, beside the forum's own
    assert all(t["moderated"] for t in fake.channels[fake.forum]["available_tags"][1:])

    post, _ = await fake.forum_post(fake.alice, "Onboarding", "[writing] a post on onboarding", tags=[question])
    tid = int(post["id"])  # the member's own tag stays beside the state
    await dc.said(tid, "Project #1")
    v1 = await dc.draft(tid, 1)
    await dc.idle()
    assert fake.applied(tid) == ["question", "in review"]
    await fake.message(tid, fake.wendy, "Shorter, please")
    await dc.draft(tid, 2)
    await dc.idle()
    assert fake.applied(tid) == ["question", "in review"]
    await fake.click(fake.alice, v1, "draftloop:accept:1")
    await applied(dc, tid, ["question", "accepted"])
    await dc.idle()
    assert drafts(fake, tid) == [1, 2]  # every draft exactly once

    # Only transitions cost a call: drafting, in review, drafting (v2), in review, accepted.
    tag_calls = [c for c in fake.calls if (c.method, c.route) == PATCH_CHANNEL and c.path == f"/channels/{tid}"]
    assert len(tag_calls) == 5 and all(c.status == 200 for c in tag_calls)


async def test_rejected_and_expired_posts_show_it(
    fake_discord: FakeDiscord, harness_factory: Callable[..., Any]
) -> None:
    fake = fake_discord
    fake.grant(MANAGE_CHANNELS, MANAGE_THREADS)
    dc: DiscordHarness = await harness_factory()
    first, _ = await fake.forum_post(fake.alice, "Slogan", "[writing] a slogan for a bakery")
    await dc.draft(int(first["id"]), 1)
    await dc.idle()
    await fake.message(int(first["id"]), fake.alice, "reject")
    await applied(dc, int(first["id"]), ["rejected"])

    second, _ = await fake.forum_post(fake.alice, "Motto", "[writing] a motto for a library")
    await dc.draft(int(second["id"]), 1)
    await dc.idle()
    assert dc.runtime is not None
    assert await expire_idle(dc.runtime, now=dc.runtime.clock.now() + timedelta(days=400)) == 1
    await applied(dc, int(second["id"]), ["expired"])
    assert fake.applied(int(first["id"])) == ["rejected"]


async def test_without_manage_channels_the_forum_is_worked_without_tags(
    harness_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    dc: DiscordHarness = await harness_factory()
    fake = dc.fake  # the invite's permissions: no Manage Channels, no Manage Threads
    post, _ = await fake.forum_post(fake.alice, "Landing page", "[web-dev] hero section for a yoga studio")
    tid = int(post["id"])
    await dc.draft(tid, 1)
    await fake.message(tid, fake.alice, "Add pricing")
    await dc.draft(tid, 2)
    await dc.idle()
    assert drafts(fake, tid) == [1, 2] and fake.forum_tags() == {} and fake.applied(tid) == []
    assert fake.counts()[PATCH_CHANNEL] == 0 and not any(c.status >= 400 for c in fake.calls)  # never refused
    assert caplog.text.count("may not create them (Manage Channels)") == 1


async def test_tags_made_by_an_admin_but_no_manage_threads_are_left_alone(
    fake_discord: FakeDiscord, harness_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    for name in STATE_TAGS:
        fake.add_forum_tag(name, moderated=True)
    caplog.set_level(logging.WARNING)
    dc: DiscordHarness = await harness_factory()
    post, _ = await fake.forum_post(fake.alice, "Landing page", "[web-dev] hero section")
    tid = int(post["id"])
    await dc.draft(tid, 1)
    await fake.message(tid, fake.alice, "Add pricing")
    await dc.draft(tid, 2)
    await dc.idle()
    assert drafts(fake, tid) == [1, 2] and fake.applied(tid) == []
    assert fake.counts()[PATCH_CHANNEL] == 0 and not any(c.status >= 400 for c in fake.calls)
    assert caplog.text.count("may not set tags on members' posts (Manage Threads)") == 1


async def test_a_forum_with_little_room_gets_what_fits(
    fake_discord: FakeDiscord, harness_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    fake.grant(MANAGE_CHANNELS, MANAGE_THREADS)
    for i in range(18):
        fake.add_forum_tag(f"topic {i}")
    caplog.set_level(logging.WARNING)
    await harness_factory()
    assert [n for n in fake.forum_tags() if not n.startswith("topic")] == ["drafting", "in review"]
    assert "room for 2 more tags" in caplog.text


async def test_without_a_configured_forum_no_tag_is_touched(
    fake_discord: FakeDiscord, harness_factory: Callable[..., Any]
) -> None:
    fake = fake_discord
    fake.grant(MANAGE_CHANNELS, MANAGE_THREADS)
    dc: DiscordHarness = await harness_factory(NO_FORUM)
    request = await fake.message(fake.general, fake.alice, "[writing] a haiku", mention=True)
    thread = await dc.thread_of(request)
    await dc.draft(thread, 1)
    await dc.idle()
    assert drafts(fake, thread) == [1] and fake.forum_tags() == {} and fake.counts()[PATCH_CHANNEL] == 0
