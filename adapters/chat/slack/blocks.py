"""Reply → Slack Block Kit. Pure functions: no I/O, no SDK objects.

Limits respected (platform-facts A9): ≤ 50 blocks per message, section text ≤ 3,000 chars, header
≤ 150 chars, button value ≤ 2,000, and a total of block text kept under ~11,000 chars (Slack answers
`msg_blocks_too_long` near 13k even when each block is within its own limit). A longer text is cut
with a note; the platform uploads drafts longer than `limits.max_inline_chars` as a file before it
gets here. Markdown → mrkdwn is `mrkdwn.py`; the modals are `forms.py`.
"""

from __future__ import annotations

from typing import Any

from adapters.chat.slack import safe
from adapters.chat.slack.mrkdwn import SECTION_CHARS, split_text, to_mrkdwn
from bot.replies import DraftHeader, Reply, ReplyKind

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_TOTAL_CHARS = 11_000
HEADER_CHARS = 150
FALLBACK_CHARS = 3000

ACTION_ACCEPT = "dl_accept"
ACTION_CHANGES = "dl_changes"
ACTION_REJECT = "dl_reject"
ACTION_SIGNAL = "dl_signal"
ACTION_PICK = "dl_pick_"  # + the label: one action id per button of a block, as Slack requires
# A `markdown` block holds standard Markdown, rendered by Slack; all of a message's markdown blocks
# share 12,000 characters. A draft that fits (after neutralising) goes out as one, with room kept
# for the header and context; a longer one keeps the mrkdwn sections below.
MARKDOWN_CHARS = 11_500

# Escaping is whole (slack_safe): no token a person or a model wrote survives; these names stay for callers.
escape = safe.esc
mention = safe.mention

__all__ = [
    "render",
    "controls",
    "feedback_buttons",
    "pick_buttons",
    "header_line",
    "split_text",
    "to_mrkdwn",
    "escape",
    "mention",
]


def header_line(header: DraftHeader) -> str:
    return safe.plain(header.label())[:HEADER_CHARS]


def render(
    reply: Reply, *, text_override: str | None = None, markdown: bool = False, feedback: bool = False
) -> tuple[str, list[Block]]:
    """Return (`text` fallback, `blocks`) for chat.postMessage / chat.update.

    `markdown`: a draft (or its progress) whose text fits goes out as a `markdown` block, as written;
    `feedback`: a draft with controls also carries 👍 / 👎 (`feedback_buttons`)."""
    text = reply.text if text_override is None else text_override
    mrkdwn = to_mrkdwn(text)
    blocks: list[Block] = []
    if reply.header is not None and reply.kind in (ReplyKind.DRAFT, ReplyKind.PROGRESS):
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": header_line(reply.header)}})
    tail = tail_blocks(reply, feedback=feedback)
    room = MAX_BLOCKS - len(blocks) - len(tail)
    as_markdown = markdown_text(text) if markdown and reply.kind in (ReplyKind.DRAFT, ReplyKind.PROGRESS) else None
    if as_markdown:
        blocks.append({"type": "markdown", "text": as_markdown})
    else:
        blocks.extend(_sections(mrkdwn, room=room))
    blocks.extend(tail)
    return _fallback(reply, mrkdwn), blocks


def markdown_text(text: str) -> str | None:
    """`text` neutralised for a `markdown` block, or None when empty or too long for one."""
    shown = safe.markdown(text)
    return shown if shown.strip() and len(shown) <= MARKDOWN_CHARS else None


def _sections(mrkdwn: str, *, room: int) -> list[Block]:
    if not mrkdwn.strip() or room <= 0:
        return []
    chunks = split_text(mrkdwn)
    total = 0
    out: list[Block] = []
    for i, chunk in enumerate(chunks):
        is_last = i == len(chunks) - 1
        if total + len(chunk) <= MAX_TOTAL_CHARS and (is_last or room - len(out) > 1):
            out.append(_section(chunk))
            total += len(chunk)
            continue
        keep = max(0, min(len(chunk), MAX_TOTAL_CHARS - total, SECTION_CHARS - 60))
        out.append(_section(safe.cut(chunk, keep) + "\n_… (cut here: too long for one Slack message)_"))
        break
    return out


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text)}


def _mrkdwn(text: str) -> Block:
    """A mrkdwn object Slack does not "automatically parse" (no plain @channel, #name or URL handling)."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def tail_blocks(reply: Reply, *, feedback: bool = False) -> list[Block]:
    """What follows a message's text: its context line (state, agent, experts), 👍 / 👎 and the controls."""
    tail: list[Block] = []
    context: list[str] = []
    if reply.kind == ReplyKind.PROGRESS:
        context.append("_writing…_")
    if reply.header is not None and reply.kind == ReplyKind.DRAFT:
        meta = [reply.header.state.replace("_", " ")]
        if reply.header.agent:
            meta.append(f"agent {reply.header.agent}")
        context.append(safe.esc(" · ".join(meta)))
    if reply.mentions:
        context.append("Experts: " + " ".join(mention(m) for m in reply.mentions))
    if context:
        tail.append({"type": "context", "elements": [_mrkdwn(c) for c in context[:10]]})
    if reply.controls and reply.header is not None:
        if feedback and reply.header.version:
            tail.append(feedback_buttons(reply.header.number, reply.header.version))
        tail.append(controls(reply.header.number, reply.header.version))
    if reply.picks and reply.header is not None:
        tail.append(pick_buttons(reply.header.number, reply.picks))
    return tail


def pick_buttons(number: int, labels: tuple[str, ...]) -> Block:
    """`Pick A` / `Pick B` for a compared request; each value carries the project number and the label."""
    return {
        "type": "actions",
        "block_id": f"dl_picks_{number}",
        "elements": [_button(f"Pick {label}", f"{ACTION_PICK}{label}", f"{number}:{label}") for label in labels],
    }


def pick_value(value: object) -> tuple[int, str] | None:
    """(project number, label) from a pick button's value, or None."""
    number, _, label = str(value or "").partition(":")
    if not number.isdigit() or int(number) <= 0 or len(label) != 1 or not label.isalpha():
        return None
    return int(number), label.upper()


def feedback_buttons(number: int, version: int) -> Block:
    """👍 / 👎 on one version (a `context_actions` block); each value names the project and version."""

    def button(emoji: str, value: str, label: str) -> Block:
        return {
            "text": {"type": "plain_text", "text": emoji},
            "value": f"{value}:{number}:{version}",
            "accessibility_label": f"{label} v{version} of #{number}"[:75],
        }

    return {
        "type": "context_actions",
        "block_id": f"dl_signal_{number}_{version}",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": ACTION_SIGNAL,
                "positive_button": button("👍", "up", "Good draft:"),
                "negative_button": button("👎", "down", "Not good:"),
            }
        ],
    }


def signal_value(value: object) -> tuple[str, int, int] | None:
    """("up" | "down", project number, version) from a feedback button's value, or None."""
    parts = str(value or "").split(":")
    if len(parts) != 3 or parts[0] not in ("up", "down") or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    number, version = int(parts[1]), int(parts[2])
    return (parts[0], number, version) if number > 0 and version > 0 else None


def controls(number: int, version: int = 0) -> Block:
    """Accept / Request changes / Reject; each value carries the project number."""
    value = str(number)
    return {
        "type": "actions",
        "block_id": f"dl_controls_{number}_{version}",
        "elements": [
            _button("Accept", ACTION_ACCEPT, value, style="primary"),
            _button("Request changes", ACTION_CHANGES, value),
            _button("Reject", ACTION_REJECT, value, style="danger"),  # opens the reason form: its confirmation
        ],
    }


def _button(label: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _fallback(reply: Reply, mrkdwn: str) -> str:
    prefix = f"#{reply.header.number}: " if reply.header is not None else ""
    mentions = " ".join(mention(m) for m in reply.mentions)
    text = prefix + mrkdwn
    if len(text) > FALLBACK_CHARS:
        text = safe.cut(text, FALLBACK_CHARS - 1) + "…"
    return f"{text}\n{mentions}" if mentions else text
