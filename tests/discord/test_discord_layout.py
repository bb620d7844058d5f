"""Drafts as one Components V2 message, streamed in place (the real discord.py client, the fake's REST API).

The fake refuses what Discord refuses (content beside the flag, more than 4,000 characters of text, the
flag removed), so every send and edit here passed Discord's own checks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest

from adapters.chat.discord.layout import BODY_CHARS, TEXT_LIMIT, render_layout
from adapters.chat.discord.platform import DiscordPlatform
from adapters.chat.discord.service import configure_urls
from bot.events import ThreadRef
from bot.loop.streaming import ThrottledEditor
from bot.replies import DraftHeader, Reply, ReplyKind
from tests.fakes.discord_api import IS_COMPONENTS_V2, FakeDiscord, buttons, text_of
from tests.fakes.discord_components import TEXT_DISPLAY, walk


@pytest.fixture
async def platform(fake_discord: FakeDiscord) -> AsyncIterator[DiscordPlatform]:
    configure_urls(fake_discord.api_base, None)
    client = discord.Client(intents=discord.Intents.none())
    await client.login(fake_discord.token)
    try:
        yield DiscordPlatform(client)
    finally:
        await client.close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def texts(message: dict[str, Any]) -> list[str]:
    return [c["content"] for c in walk(message["components"]) if c["type"] == TEXT_DISPLAY]


async def test_a_draft_streams_into_one_layout_message_and_ends_with_its_buttons(
    platform: DiscordPlatform, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    header = DraftHeader(number=3, state="drafting", version=1, category="writing", agent="offline")
    clock = Clock()
    editor = ThrottledEditor(platform, ThreadRef("discord", str(fake.general), ""), header, clock=clock)
    words = [f"word{i}" for i in range(2000)]  # ~14,000 characters: past one message's text
    for n in range(0, 2000, 250):
        clock.now += 2 * platform.limits.min_edit_interval
        await editor.update(" ".join(words[: n + 1]))
    assert editor.message is not None and editor.edits >= 5
    [message] = fake.bot_messages()  # posted once, then edited in place
    assert message["flags"] & IS_COMPONENTS_V2 and message["content"] == ""
    assert sum(len(t) for t in texts(message)) <= TEXT_LIMIT  # the stream's newest words, cut in front
    title, body, state = texts(message)
    assert title == "**#3 · v1 · writing**"
    assert body.startswith("…") and body.endswith("word1750 ▍") and state == "-# writing…" and not buttons(message)

    final = "Paragraph one.\n\n" + "The text of the finished draft. " * 100
    done = DraftHeader(number=3, state="in_review", version=1, category="writing", agent="offline")
    await platform.edit(editor.message, Reply(final, kind=ReplyKind.DRAFT, header=done, controls=True))
    [message] = fake.bot_messages()
    assert texts(message)[0] == "**#3 · v1 · writing**" and final.strip() in texts(message)[1]
    assert [b["custom_id"] for b in buttons(message)] == [f"draftloop:{a}:3" for a in ("accept", "changes", "reject")]
    assert fake.edits[int(message["id"])] == editor.edits + 1 and fake.refusals == []


async def test_a_draft_of_the_full_length_keeps_every_character_beside_a_long_header_and_many_mentions() -> None:
    header = DraftHeader(number=12345, state="in_review", version=12, category="c" * 40, model="m" * 60, agent="a" * 40)
    body = ("word " * (BODY_CHARS // 5)).strip()
    roles = tuple(str(100_000_000_000_000_000 + i) for i in range(30))
    reply = Reply(body, kind=ReplyKind.DRAFT, header=header, controls=True, mentions=roles)
    layout = render_layout(reply, lambda h: f"<@&{h}>")
    shown = [c["content"] for c in walk(layout.view.to_components()) if c["type"] == TEXT_DISPLAY]
    assert body in shown and layout.chars == sum(len(t) for t in shown) <= TEXT_LIMIT
    assert 0 < len(layout.mentions) < len(roles)  # the mention line is cut, never the draft
    assert all(m in shown[-1] for m in layout.mentions) and not any(f"<@&{r}>" in shown[-1] for r in roles[-1:])


async def test_the_experts_notified_are_exactly_those_a_layout_shows(
    platform: DiscordPlatform, fake_discord: FakeDiscord
) -> None:
    roles = tuple(f"<@&{100_000_000_000_000_000 + i}>" for i in range(30))
    header = DraftHeader(number=1, state="in_review", version=1)
    reply = Reply("x" * BODY_CHARS, kind=ReplyKind.DRAFT, header=header, controls=True, mentions=roles)
    await platform.post(ThreadRef("discord", str(fake_discord.general), ""), reply)
    [message] = fake_discord.bot_messages()
    allowed = {int(r) for r in message["allowed_mentions"]["roles"]}
    assert allowed and allowed == {int(r[3:-1]) for r in roles if r in text_of(message)}
    assert len(allowed) < len(roles)


async def test_a_plain_split_progress_message_from_before_the_upgrade_becomes_one_layout(
    platform: DiscordPlatform, fake_discord: FakeDiscord
) -> None:
    """A draft split over plain messages by an older version is edited into one layout message: its content
    cleared as opting in requires, the continuation deleted."""
    fake = fake_discord
    thread = ThreadRef("discord", str(fake.general), "")
    old = await platform.post(thread, Reply("para. " * 600, kind=ReplyKind.NOTICE))  # 3,600 characters: 2 messages
    first, second = fake.bot_messages()
    header = DraftHeader(number=1, state="in_review", version=1)
    await platform.edit(old, Reply("The draft.", kind=ReplyKind.DRAFT, header=header, controls=True))
    assert int(second["id"]) not in fake.messages
    edited = fake.messages[int(first["id"])]
    assert edited["content"] == "" and edited["flags"] & IS_COMPONENTS_V2 and "The draft." in text_of(edited)
    assert fake.refusals == []


async def test_the_acknowledgement_stays_plain_when_edited(
    platform: DiscordPlatform, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    header = DraftHeader(number=1, state="drafting")
    ack = await platform.post(
        ThreadRef("discord", str(fake.general), ""), Reply("Project #1", kind=ReplyKind.ACK, header=header)
    )
    await platform.edit(ack, Reply("Project #1 · writing", kind=ReplyKind.ACK, header=header))
    [message] = fake.bot_messages()
    assert message["content"] == "Project #1 · writing" and not message["flags"] & IS_COMPONENTS_V2
