"""`/draftloop status` on Discord: a project's state and brief only where the project lives.

Discord's `/draftloop status` names no number: in a project's thread it is that project, elsewhere
the list of the channel's own open projects. The real discord.py client against the fake gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.discord.conftest import DiscordHarness, sqlite_only
from tests.fakes.discord_api import FakeDiscord, InteractionRecord, text_of

pytestmark = sqlite_only()

SECRET_WORD = "merger"


async def status(dc: DiscordHarness, user: Any, channel: int) -> str:
    """Run `/draftloop status` as `user` in `channel`; the text of its answer."""
    fake = dc.fake
    before = set(fake.messages)
    ix: InteractionRecord = await fake.slash(user, channel, "draftloop", sub="status")
    await fake.wait_for(lambda: ix.responses, what="the defer")
    await dc.idle()
    mine = str(fake.bot.id)
    new = [m for mid, m in fake.messages.items() if mid not in before and m["author"]["id"] == mine]
    answers = [m for m in new if m.get("interaction_metadata") is None]  # not the "thinking…" placeholder
    assert len(answers) == 1, [text_of(m) for m in new]
    return text_of(answers[0])


async def test_status_elsewhere_lists_only_that_channels_projects(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, f"[writing] the {SECRET_WORD} memo", mention=True)
    thread = await dc.thread_of(request)
    await dc.draft(thread, 1)
    await dc.idle()

    other = await status(dc, fake.eve, fake.second)  # another channel
    assert SECRET_WORD not in other and "#1" not in other and "No open projects." in other
    here = await status(dc, fake.eve, thread)  # the project's thread
    assert here.startswith("#1") and SECRET_WORD in here
    listing = await status(dc, fake.eve, fake.general)  # the channel the project lives in
    assert "#1" in listing and SECRET_WORD in listing


async def test_status_in_a_thread_of_no_project_lists_its_channel(
    harness_factory: Callable[..., Any], fake_discord: FakeDiscord
) -> None:
    # No forum is configured, so a forum post is an ordinary thread, not a project.
    dc: DiscordHarness = await harness_factory('[categories.writing]\nexpert_roles = ["Writers"]\n')
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, f"[writing] the {SECRET_WORD} memo", mention=True)
    await dc.draft(await dc.thread_of(request), 1)
    post, _ = await fake.forum_post(fake.eve, "Lunch?", "Who is in for lunch")
    answer = await status(dc, fake.eve, int(post["id"]))
    assert answer == "No open projects."
