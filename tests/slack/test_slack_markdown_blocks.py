"""Drafts as Slack `markdown` blocks (standard Markdown, as written) where they fit; mrkdwn sections where
they do not; Slack's tokens never live in either."""

from __future__ import annotations

from adapters.chat.slack import blocks as sb, safe
from bot.replies import DraftHeader, Reply, ReplyKind

HEADER = DraftHeader(number=7, state="in_review", version=3, category="writing", model="gpt-test", agent="main")


def _draft(text: str, kind: ReplyKind = ReplyKind.DRAFT) -> Reply:
    return Reply(text, kind=kind, header=HEADER, controls=kind == ReplyKind.DRAFT, mentions=("U123",))


def test_a_draft_that_fits_is_one_markdown_block_as_written() -> None:
    md = "# Title\n\n**bold**, _italic_, `a < b` and [docs](https://docs.example/x?a=1&b=2)\n\n> quoted\n- item"
    _, blocks = sb.render(_draft(md), markdown=True, feedback=True)
    kinds = [b["type"] for b in blocks]
    assert kinds == ["header", "markdown", "context", "context_actions", "actions"]
    shown = blocks[1]["text"]
    assert shown == md.replace("<", "&lt;")  # nothing converted; only Slack's token opener escaped
    assert "&b=2" in shown and "> quoted" in shown


def test_a_draft_too_long_for_the_block_keeps_the_mrkdwn_sections() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 60 for i in range(40))[: sb.MARKDOWN_CHARS + 100]
    _, blocks = sb.render(_draft(text), markdown=True)
    assert not any(b["type"] == "markdown" for b in blocks)
    assert any(b["type"] == "section" for b in blocks)
    # Escaping counts: a text that fits only before its `<` become entities is not a markdown block.
    edge = "<" * (sb.MARKDOWN_CHARS // 4 + 1)
    assert sb.markdown_text(edge) is None and sb.markdown_text("<" * 10) == "&lt;" * 10


def test_progress_is_markdown_too_but_notices_stay_mrkdwn() -> None:
    _, progress = sb.render(_draft("half a draft ▍", ReplyKind.PROGRESS), markdown=True)
    assert [b["type"] for b in progress][:2] == ["header", "markdown"]
    _, notice = sb.render(Reply("#7 accepted", kind=ReplyKind.NOTICE, header=HEADER), markdown=True)
    assert not any(b["type"] == "markdown" for b in notice)
    _, plain = sb.render(_draft("hello"), markdown=False)
    assert not any(b["type"] in ("markdown", "context_actions") for b in plain)


def test_markdown_keeps_no_live_token_and_no_disguised_link() -> None:
    out = safe.markdown(
        "<!channel> <@U1> <#C1> <https://evil.example|bank.example> @here [bank.example](https://evil.example)"
    )
    assert "<" not in out and "&lt;!channel>" in out and "&lt;@U1>" in out
    assert "@\u200bhere" in out and "bank.example (https://evil.example)" in out
