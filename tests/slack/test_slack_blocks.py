"""Reply → Block Kit: Slack's per-block and per-message limits, mrkdwn, mentions, buttons."""

from __future__ import annotations

import pytest

from adapters.chat.slack import blocks as sb, forms
from bot.replies import DraftHeader, Reply, ReplyKind


def _draft(text: str, **kw: object) -> Reply:
    header = DraftHeader(number=7, state="in_review", version=3, category="writing", model="gpt-test", agent="main")
    return Reply(text, kind=ReplyKind.DRAFT, header=header, controls=True, **kw)  # type: ignore[arg-type]


def _section_texts(blocks: list[dict[str, object]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]  # type: ignore[index]


@pytest.mark.parametrize("size", [10, 2_999, 3_001, 9_999, 30_000])
def test_sections_stay_within_slack_limits(size: int) -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 60 for i in range(size // 300 + 1))[:size]
    fallback, blocks = sb.render(_draft(text))
    sections = _section_texts(blocks)
    assert len(blocks) <= sb.MAX_BLOCKS
    assert all(len(s) <= 3000 for s in sections)
    assert sum(len(s) for s in sections) <= sb.MAX_TOTAL_CHARS + 100
    assert len(fallback) <= sb.FALLBACK_CHARS + 200
    if size <= 9_999:
        assert "".join(sections).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
    else:
        assert "cut here" in sections[-1]


def test_header_buttons_and_mentions() -> None:
    _, blocks = sb.render(_draft("Hello", mentions=("U123", "S0GROUP", "<!here>", "alice")))
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "#7 · v3 · writing · gpt-test"}}
    actions = [b for b in blocks if b["type"] == "actions"][0]
    assert [e["action_id"] for e in actions["elements"]] == ["dl_accept", "dl_changes", "dl_reject"]
    assert {e["value"] for e in actions["elements"]} == {"7"}
    context = " ".join(e["text"] for b in blocks if b["type"] == "context" for e in b["elements"])
    assert "<@U123>" in context and "<!subteam^S0GROUP>" in context and "<!here>" in context and "@alice" in context


def test_pick_buttons_carry_the_project_and_the_label_and_need_a_header() -> None:
    notice = Reply("Two drafts", header=DraftHeader(number=4, state="in_review", version=1), picks=("A", "B"))
    _, blocks = sb.render(notice)
    [picks] = [b for b in blocks if b["type"] == "actions"]
    assert [(e["action_id"], e["value"]) for e in picks["elements"]] == [("dl_pick_A", "4:A"), ("dl_pick_B", "4:B")]
    _, bare = sb.render(Reply("Two drafts", picks=("A", "B")))  # no project to name: no buttons
    assert not [b for b in bare if b["type"] == "actions"]


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("4:A", (4, "A")),
        ("12:b", (12, "B")),
        ("0:A", None),
        ("-1:A", None),
        ("4:", None),
        ("4:AB", None),
        ("x:A", None),
        ("4", None),
        ("", None),
        (None, None),
        ("4:1", None),
    ],
)
def test_a_pick_value_names_a_project_and_one_label(value: object, parsed: tuple[int, str] | None) -> None:
    assert sb.pick_value(value) == parsed


def test_markdown_becomes_mrkdwn_and_is_escaped() -> None:
    md = "# Title\n**bold** and [link](https://example.com) and ~~old~~\n- item\n1 < 2 & <@U1>\n```\na < b\n```"
    out = sb.to_mrkdwn(md)
    assert out.splitlines()[0] == "*Title*"
    assert "*bold*" in out and "<https://example.com|link>" in out and "~old~" in out
    assert sb.to_mrkdwn("> quoted & <b>") == "> quoted &amp; &lt;b&gt;"
    # A mention in the text is shown, not live (it used to pass through and ping; issue 11)
    assert "• item" in out and "1 &lt; 2 &amp; &lt;@U1&gt;" in out and "a &lt; b" in out


def test_split_keeps_code_fences_balanced() -> None:
    code = "```\n" + "\n".join(f"line {i} " + "x" * 50 for i in range(200)) + "\n```"
    chunks = sb.split_text(code, 1000)
    assert len(chunks) > 1
    assert all(c.count("```") % 2 == 0 for c in chunks)
    assert all(len(c) <= 1010 for c in chunks)


def test_forms_respect_modal_limits() -> None:
    form = forms.draft_form(channel_id="C1", categories=("writing", "design"))
    assert len(form["title"]["text"]) <= 24 and len(form["private_metadata"]) <= 3000
    changes = forms.changes_form(number=123456, channel_id="C1", thread_ts="1.2")
    assert len(changes["title"]["text"]) <= 24
    state = {
        "values": {
            "feedback": {"feedback": {"type": "plain_text_input", "value": "x"}},
            "minutes": {"minutes": {"type": "number_input", "value": "5"}},
        }
    }
    assert forms.form_values({"state": state}) == {"feedback": "x", "minutes": "5"}
