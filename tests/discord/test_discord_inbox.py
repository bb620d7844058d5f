"""Discord's gateway sends an event once and waits for no answer: every event with an effect is stored
in the inbox before it is handled, so one whose handling fails, or whose process stops, is replayed by
the sweeper (in this process or the next); a command, which only answers, is not stored."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import texts
from storage.engine import Database
from storage.models import Feedback, InboxEntry, Project
from tests.core.test_event_keys import refusing
from tests.discord.conftest import DiscordHarness, sqlite_only
from tests.fakes.discord_api import text_of


async def _entries(db: Database) -> list[tuple[str, str, str]]:
    async with db.session() as s:
        rows = (await s.execute(select(InboxEntry.source, InboxEntry.key, InboxEntry.status))).all()
    return sorted((str(a), str(b), str(c)) for a, b, c in rows)


async def _count(db: Database, model: Any) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def _sweep(dc: DiscordHarness) -> int:
    assert dc.runtime is not None
    replayed = (await dc.runtime.workflow.sweeper.sweep()).replayed
    await dc.idle()
    return replayed


async def test_a_mention_whose_handling_failed_is_kept_and_replayed_by_the_sweeper(
    dc: DiscordHarness, db: Database
) -> None:
    fake = dc.fake
    async with refusing(db, "INSERT", "projects"):
        request = await fake.message(fake.general, fake.alice, "[writing] a post on green tea", mention=True)
        await dc.said(fake.general, texts.KEPT_FOR_RETRY)  # what is true: kept, and tried again
        await dc.idle()
    assert await _count(db, Project) == 0
    assert await _entries(db) == [("discord", f"msg:{request['id']}", "pending")]

    assert await _sweep(dc) == 1
    thread = await dc.thread_of(request)
    assert "green tea" in text_of(await dc.draft(thread, 1))
    assert await _count(db, Project) == 1
    assert await _entries(db) == [("discord", f"msg:{request['id']}", "done")]
    assert await _sweep(dc) == 0  # done: not replayed twice
    assert len(fake.threads()) == 1


@sqlite_only()
async def test_feedback_kept_by_one_process_is_replayed_by_the_next_from_what_was_stored(
    dc: DiscordHarness, db: Database
) -> None:
    fake = dc.fake
    _, thread, _ = await dc.first_draft("[writing] a tagline for a bakery")
    async with refusing(db, "INSERT", "feedback"):
        reply = await fake.message(thread, fake.wendy, "Mention the sourdough. 10m")
        await dc.said(thread, texts.KEPT_FOR_RETRY)
        await dc.idle()
    assert await _count(db, Feedback) == 0

    await dc.restart()  # a new process: nothing of the event in memory, only the stored entry
    assert await _sweep(dc) == 1
    v2 = await dc.draft(thread, 2)
    assert "sourdough" in text_of(v2)
    async with db.session() as s:
        feedback = (await s.execute(select(Feedback))).scalars().one()
    assert (feedback.author_id, feedback.stated_minutes) == (str(fake.wendy.id), 10)
    assert ("discord", f"msg:{reply['id']}", "done") in await _entries(db)


@sqlite_only()
async def test_a_reaction_and_a_button_are_stored_before_they_are_handled(dc: DiscordHarness, db: Database) -> None:
    fake = dc.fake
    request, thread, v1 = await dc.first_draft("[writing] an about page")
    await fake.react(thread, int(v1["id"]), fake.alice, "👍")
    click = await fake.click(fake.wendy, v1, "draftloop:accept:1")
    await dc.said(thread, "#1 accepted at v1 by wendy")
    await dc.idle()
    keys = {key: status for source, key, status in await _entries(db) if source == "discord"}
    assert keys == {
        f"msg:{request['id']}": "done",
        f"react:{v1['id']}:{fake.alice.id}:up": "done",
        f"ix:{click.id}": "done",
    }


@sqlite_only()
async def test_a_command_only_answers_and_is_not_stored(dc: DiscordHarness, db: Database) -> None:
    fake = dc.fake
    help_ = await fake.slash(fake.alice, fake.general, "draftloop", sub="help")
    await fake.wait_for(lambda: help_.responses, what="the defer")
    await dc.idle()
    assert any("/draft" in text_of(m) for m in fake.bot_messages())
    assert await _entries(db) == []


@sqlite_only()
async def test_an_event_that_cannot_be_stored_is_handled_all_the_same(
    dc: DiscordHarness, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    fake = dc.fake
    with caplog.at_level(logging.WARNING, logger="bot.loop.inbox"):
        async with refusing(db, "INSERT", "inbox"):
            request = await fake.message(fake.general, fake.alice, "[writing] a note on oolong", mention=True)
            thread = await dc.thread_of(request)
            await dc.draft(thread, 1)
            await dc.idle()
    assert await _count(db, Project) == 1 and await _entries(db) == []
    assert f"discord event msg:{request['id']} handled unstored" in caplog.text
