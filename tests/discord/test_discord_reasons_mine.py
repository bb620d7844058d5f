"""Reject with a reason (a form with a radio group and a comment) and `/draftloop mine` (an ephemeral
list of what waits on the caller), with the real discord.py client against the fake."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bot.report.digest import Period, build_report
from storage import signals
from tests.discord.conftest import DiscordHarness, sqlite_only
from tests.fakes.discord_api import EPHEMERAL, IS_COMPONENTS_V2, FakeDiscord, FakeUser, text_of
from tests.fakes.discord_components import RADIO_GROUP, walk

pytestmark = sqlite_only()


async def test_reject_asks_why_and_the_reason_and_comment_are_said_stored_and_counted(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a note on the office move", mention=True)
    thread = await dc.thread_of(request)
    v1 = await dc.draft(thread, 1)
    await dc.idle()
    form = await dc.reject(fake.wendy, v1, 1, reason="factual errors", comment="The move is in May, not June.")
    assert form.response_type == 6  # the form is closed at once; the thread says the rest
    said = await dc.said(thread, "#1 rejected at v1 by wendy. Reason: factual errors.")
    assert "> The move is in May, not June." in text_of(said)
    await dc.idle()
    assert (await dc.project(1)).state == "rejected"

    click = next(r for r in fake.interactions.values() if r.kind == 3)
    modal = click.responses[0]["data"]
    [radio] = [c for c in walk(modal["components"]) if c["type"] == RADIO_GROUP]
    assert [o["value"] for o in radio["options"]] == ["wrong scope", "factual errors", "tone", "format", "other"]
    report = await build_report(dc.db, Period.last_days(7, now=datetime.now(UTC), tz=dc.settings.tz))
    assert report.to_json()["reject_reasons"]["factual errors"] == 1


async def test_a_reaction_still_rejects_without_a_reason(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a tagline", mention=True)
    thread = await dc.thread_of(request)
    v1 = await dc.draft(thread, 1)
    await dc.idle()
    await fake.react(thread, int(v1["id"]), fake.alice, "❌")
    said = await dc.said(thread, "#1 rejected at v1 by alice")
    assert "Reason" not in text_of(said)


async def test_a_reject_form_from_someone_who_may_not_decide_changes_nothing(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a welcome card", mention=True)
    thread = await dc.thread_of(request)
    v1 = await dc.draft(thread, 1)
    await dc.idle()
    await dc.reject(fake.eve, v1, 1, reason="tone")

    def refused() -> list[dict[str, Any]]:
        return [m for m in fake.bot_messages(thread) if int(m["flags"]) & EPHEMERAL and "Not allowed" in text_of(m)]

    await fake.wait_for(refused, what="eve's private refusal")
    await dc.idle()
    assert (await dc.project(1)).state == "in_review"


async def mine(dc: DiscordHarness, user: FakeUser, channel: int) -> dict[str, Any]:
    """Run `/draftloop mine`; the one answer it got (checked: only its caller sees it)."""
    fake = dc.fake
    before = set(fake.messages)
    ix = await fake.slash(user, channel, "draftloop", sub="mine")
    await fake.wait_for(lambda: ix.responses, what="the defer")
    await dc.idle()
    assert ix.response_type == 5 and int(ix.responses[0]["data"]["flags"]) & EPHEMERAL  # "thinking…" for them only
    new = [fake.messages[m] for m in fake.messages if m not in before and m != ix.original_id]
    [answer] = new
    assert int(answer["flags"]) & EPHEMERAL
    return answer


async def test_mine_lists_what_waits_on_the_caller_privately_with_links(dc: DiscordHarness) -> None:
    fake: FakeDiscord = dc.fake
    first = await fake.message(fake.general, fake.alice, "[writing] a launch post for the app", mention=True)
    thread = await dc.thread_of(first)
    await dc.draft(thread, 1)
    await dc.idle()

    answer = await mine(dc, fake.alice, fake.second)  # anywhere in the server
    assert answer["flags"] & IS_COMPONENTS_V2
    shown = text_of(answer)
    assert "Drafts waiting on your decision" in shown
    assert f"[#1](https://discord.com/channels/{fake.guild_id}/{thread})" in shown and "launch post" in shown

    expert = text_of(await mine(dc, fake.wendy, fake.general))  # a Writers member: a thread to review
    assert "Waiting on your feedback as an expert" in expert and "#1" in expert
    nobody = text_of(await mine(dc, fake.eve, fake.general))
    assert "Nothing waits on you right now." in nobody and "#1" not in nobody
    assert fake.refusals == []


async def signal(dc: DiscordHarness, user: FakeUser, version: int) -> str | None:
    async with dc.db.session() as session:
        return await signals.signal_of(session=session, project_id=1, version=version, person_id=str(user.id))


async def stored(dc: DiscordHarness, user: FakeUser, value: str) -> None:
    """Wait until `user`'s signal on v1 is `value` (a reaction reaches the core a moment after it is made)."""
    for _ in range(250):
        if await signal(dc, user, 1) == value:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{user.name}'s signal never became {value!r}")


async def test_thumbs_on_a_draft_are_one_tap_feedback_also_after_a_restart(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(fake.general, fake.alice, "[writing] a line for the invite", mention=True)
    thread = await dc.thread_of(request)
    v1 = await dc.draft(thread, 1)
    await dc.idle()
    said = len(fake.bot_messages(thread))
    await fake.react(thread, int(v1["id"]), fake.wendy, "👍🏽")  # a skin tone says the same
    await stored(dc, fake.wendy, "up")
    await fake.react(thread, int(v1["id"]), fake.wendy, "👎")  # a second tap replaces the first
    await stored(dc, fake.wendy, "down")

    await dc.restart()  # a new process knows the draft only from its header
    await fake.react(thread, int(v1["id"]), fake.alice, "👍")
    await stored(dc, fake.alice, "up")
    assert fake.counts()[("GET", "/channels/{channel_id}/messages/{message_id}")] == 1  # its header, read once

    reply = await fake.message(thread, fake.alice, "// nice")
    await fake.react(thread, int(reply["id"]), fake.wendy, "👍")  # a thumb on a person's reply: not a signal
    await fake.react(thread, int(v1["id"]), fake.dana, "👍")  # and then one on the draft
    await stored(dc, fake.dana, "up")
    assert await signal(dc, fake.wendy, 1) == "down"
    assert len(fake.bot_messages(thread)) == said  # nothing is said for a signal
    assert (await dc.project(1)).state == "in_review" and (await dc.project(1)).current_version == 1
