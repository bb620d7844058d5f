"""Pure rendering: Reply → message parts, splitting, mentions, the button ids."""

from __future__ import annotations

from adapters.chat.discord.safe import mention_for
from adapters.chat.discord.views import CUSTOM_ID, controls_view, render_parts, split_text
from bot.replies import DraftHeader, Reply, ReplyKind


def test_split_text_on_paragraph_boundaries() -> None:
    paragraphs = [f"p{i} " + "word " * 90 for i in range(12)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    chunks = split_text(text, 2000)
    assert all(len(c) <= 2000 for c in chunks) and len(chunks) >= 3
    assert "\n\n".join(chunks) == text  # nothing lost or reordered, cut only between paragraphs
    huge = "x" * 4500  # one paragraph with no break at all is cut hard
    assert [len(c) for c in split_text(huge, 2000)] == [2000, 2000, 500]


def test_render_parts_puts_header_first_and_mentions_last() -> None:
    header = DraftHeader(number=7, state="in_review", version=2, category="writing", model="m1", agent="a")
    body = "\n\n".join(f"Paragraph {i}. " + "text " * 150 for i in range(8))
    reply = Reply(body, kind=ReplyKind.DRAFT, header=header, controls=True, mentions=("Writers", "42"))
    parts = render_parts(reply, lambda h: f"<@&{h}>")
    assert parts[0].content.startswith("**#7 · v2 · writing · m1**")
    assert all(len(p.content) <= 2000 for p in parts) and [p.last for p in parts][-1]
    assert not any(p.last for p in parts[:-1])
    assert "Experts: <@&Writers> <@&42>" in parts[-1].content and "in review" in parts[-1].content


def test_short_reply_is_one_part() -> None:
    parts = render_parts(Reply("Noted."), str)
    assert [(p.content, p.last) for p in parts] == [("Noted.", True)]


def test_button_ids_carry_the_project_number() -> None:
    view = controls_view(123)
    ids = [getattr(item, "custom_id", "") for item in view.children]
    assert ids == ["draftloop:accept:123", "draftloop:changes:123", "draftloop:reject:123"]
    assert all(CUSTOM_ID.fullmatch(i) for i in ids) and view.timeout is None and view.is_persistent()


def test_mentions_without_a_guild() -> None:
    assert mention_for("<@&1>", None) == "<@&1>"
    assert mention_for("1234", None) == "<@1234>"
    assert mention_for("@Writers", None) == "@Writers"
