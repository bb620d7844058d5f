"""NUL bytes and bytes that are not UTF-8, in a Discord message and its attached file, on SQLite
and PostgreSQL (the real discord.py client, the fake gateway): stored cleaned and drafted."""

from __future__ import annotations

from tests.discord.conftest import DiscordHarness
from tests.fakes.discord_api import text_of


async def test_nul_bytes_and_bad_utf8_from_discord_are_cleaned_stored_and_drafted(dc: DiscordHarness) -> None:
    fake = dc.fake
    request = await fake.message(
        fake.general,
        fake.alice,
        "[writing] a post\x00 on remote onboarding",
        mention=True,
        attachments=[("notes.txt", b"buddy\x00 system \xff\xfe notes")],
    )
    thread = await dc.thread_of(request)
    await dc.draft(thread, 1)
    await dc.idle()
    project = await dc.project(1)
    assert (project.state, project.current_version) == ("in_review", 1)
    assert "a post on remote onboarding" in project.brief and "buddy system \ufffd\ufffd notes" in project.brief

    await fake.message(thread, fake.alice, "Name the\x00 buddy system")
    v2 = await dc.draft(thread, 2)
    assert "Name the buddy system" in text_of(v2)
