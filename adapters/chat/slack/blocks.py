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

# Escaping is whole (slack_safe): no token a person or a model wrote survives; these names stay for callers.
escape = safe.esc
mention = safe.mention

__all__ = ["render", "controls", "header_line", "split_text", "to_mrkdwn", "escape", "mention"]


def header_line(header: DraftHeader) -> str:
    return safe.plain(header.label())[:HEADER_CHARS]


def render(reply: Reply, *, text_override: str | None = None) -> tuple[str, list[Block]]:
    """Return (`text` fallback, `blocks`) for chat.postMessage / chat.update."""
    text = reply.text if text_override is None else text_override
    mrkdwn = to_mrkdwn(text)
    blocks: list[Block] = []
    if reply.header is not None and reply.kind in (ReplyKind.DRAFT, ReplyKind.PROGRESS):
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": header_line(reply.header)}})
    tail = _tail_blocks(reply)
    room = MAX_BLOCKS - len(blocks) - len(tail)
    blocks.extend(_sections(mrkdwn, room=room))
    blocks.extend(tail)
    return _fallback(reply, mrkdwn), blocks


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


def _tail_blocks(reply: Reply) -> list[Block]:
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
        tail.append(controls(reply.header.number, reply.header.version))
    return tail


def controls(number: int, version: int = 0) -> Block:
    """Accept / Request changes / Reject; each value carries the project number."""
    value = str(number)
    return {
        "type": "actions",
        "block_id": f"dl_controls_{number}_{version}",
        "elements": [
            _button("Accept", ACTION_ACCEPT, value, style="primary"),
            _button("Request changes", ACTION_CHANGES, value),
            {
                **_button("Reject", ACTION_REJECT, value, style="danger"),
                "confirm": {
                    "title": {"type": "plain_text", "text": f"Reject #{number}?"},
                    "text": {"type": "mrkdwn", "text": "The project will be closed as rejected."},
                    "confirm": {"type": "plain_text", "text": "Reject"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            },
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
