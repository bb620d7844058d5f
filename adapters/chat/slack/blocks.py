"""Reply → Slack Block Kit, and the two modals. Pure functions: no I/O, no SDK objects.

Limits respected (platform-facts A9): ≤ 50 blocks per message, section text ≤ 3,000 chars, header
≤ 150 chars, button value ≤ 2,000, modal title ≤ 24, private_metadata ≤ 3,000, and a total of
block text kept under ~11,000 chars (Slack answers `msg_blocks_too_long` near 13k even when each
block is within its own limit). A longer text is cut with a note; the platform uploads drafts
longer than `limits.max_inline_chars` as a file before it gets here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from adapters.chat.slack import safe
from bot.chunking import pack
from bot.replies import DraftHeader, Reply, ReplyKind

Block = dict[str, Any]

SECTION_CHARS = 2900
MAX_BLOCKS = 50
MAX_TOTAL_CHARS = 11_000
HEADER_CHARS = 150
FALLBACK_CHARS = 3000

ACTION_ACCEPT = "dl_accept"
ACTION_CHANGES = "dl_changes"
ACTION_REJECT = "dl_reject"
DRAFT_FORM = "dl_draft_form"
CHANGES_FORM = "dl_changes_form"
SHORTCUT = "dl_draft_from_message"

# ---------------------------------------------------------------- Markdown → mrkdwn

_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?")
_BULLET = re.compile(r"^(\s*)[-*+]\s+")
_FENCE = "```"

# Escaping is whole (slack_safe): no token a person or a model wrote survives; these names stay for callers.
escape = safe.esc
mention = safe.mention


def to_mrkdwn(markdown: str) -> str:
    """Convert common Markdown (what models write) to Slack mrkdwn, neutralised (see slack_safe)."""
    lines: list[str] = []
    in_code = False
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith(_FENCE):
            in_code = not in_code
            lines.append(_FENCE + safe.esc(stripped[len(_FENCE) :]))
            continue
        if in_code:
            lines.append(safe.esc(line))
            continue
        lines.append(_inline(line))
    return "\n".join(lines)


def _inline(line: str) -> str:
    quote = _QUOTE.match(line)
    if quote:  # a Markdown quote is a Slack quote: keep the marker, escape the rest
        return "> " + _inline(line[quote.end() :])
    heading = _HEADING.match(line)
    if heading:
        return f"*{safe.inline(heading.group(1).strip())}*"
    return safe.inline(_BULLET.sub(lambda m: f"{m.group(1)}• ", line))


# ---------------------------------------------------------------- splitting


def split_text(text: str, limit: int = SECTION_CHARS) -> list[str]:
    """Split on paragraph, then line, then word boundaries into chunks of at most `limit` chars.

    Code fences cut by a split are closed at the end of one chunk and reopened in the next.
    """
    return _balance_fences(pack(_pieces(text, limit), limit, "\n"), limit)


def _pieces(text: str, limit: int) -> list[str]:
    out: list[str] = []
    for line in text.split("\n"):
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            opened = line.rfind("<", 0, cut)
            if 0 < opened and opened > line.rfind(">", 0, cut):  # never inside a link: start it anew
                cut = opened
            out.append(line[:cut])
            line = line[cut:].lstrip(" ")
        out.append(line)
    return out


def _balance_fences(chunks: list[str], limit: int) -> list[str]:
    out: list[str] = []
    open_fence = False
    for chunk in chunks:
        body = ("```\n" + chunk) if open_fence else chunk
        if body.count("```") % 2 == 1:
            body += "\n```"
            open_fence = True
        else:
            open_fence = False
        out.append(body[: limit + 8])
    return out


# ---------------------------------------------------------------- replies


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


# ---------------------------------------------------------------- modals


def draft_form(*, channel_id: str, categories: tuple[str, ...], brief: str = "") -> Block:
    """The /draft form: brief, category (or auto), optional deadline and expert minutes."""
    options = [_option("Let draftloop decide", "auto")] + [_option(c, c) for c in categories[:99]]
    brief_input: Block = {"type": "plain_text_input", "action_id": "brief", "multiline": True, "max_length": 3000}
    if brief:
        brief_input["initial_value"] = brief[:3000]
    return {
        "type": "modal",
        "callback_id": DRAFT_FORM,
        "private_metadata": json.dumps({"channel": channel_id}),
        "title": {"type": "plain_text", "text": "New draft request"},
        "submit": {"type": "plain_text", "text": "Start"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "brief",
                "label": _plain("What should the agent write?"),
                "element": brief_input,
            },
            {
                "type": "input",
                "block_id": "category",
                "label": _plain("Category"),
                "element": {
                    "type": "static_select",
                    "action_id": "category",
                    "options": options,
                    "initial_option": options[0],
                },
            },
            {
                "type": "input",
                "block_id": "deadline",
                "optional": True,
                "label": _plain("Deadline"),
                "element": {"type": "datepicker", "action_id": "deadline"},
            },
            _minutes_input("Expert minutes you can give (optional)"),
        ],
    }


def changes_form(*, number: int, channel_id: str, thread_ts: str) -> Block:
    """The "Request changes" form: feedback text and minutes spent."""
    meta = json.dumps({"number": number, "channel": channel_id, "thread": thread_ts})
    return {
        "type": "modal",
        "callback_id": CHANGES_FORM,
        "private_metadata": meta,
        "title": {"type": "plain_text", "text": f"Changes to #{number}"[:24]},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "feedback",
                "label": _plain("What should change?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "feedback",
                    "multiline": True,
                    "max_length": 3000,
                },
            },
            _minutes_input("Minutes you spent reviewing (optional)"),
        ],
    }


def _minutes_input(label: str) -> Block:
    return {
        "type": "input",
        "block_id": "minutes",
        "optional": True,
        "label": _plain(label),
        "element": {"type": "number_input", "action_id": "minutes", "is_decimal_allowed": False, "min_value": "0"},
    }


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text}


def _option(label: str, value: str) -> Block:
    return {"text": _plain(label[:75]), "value": value[:150]}


def form_values(view: dict[str, Any]) -> dict[str, str | None]:
    """Flatten a submitted view's state into {block_id: value} (selects give their value)."""
    out: dict[str, str | None] = {}
    for block_id, actions in (view.get("state", {}).get("values") or {}).items():
        for item in actions.values():
            value = item.get("value")
            if value is None and item.get("selected_option"):
                value = item["selected_option"].get("value")
            if value is None:
                value = item.get("selected_date")
            out[block_id] = value
    return out
