"""A draft as one Components V2 message: a container holding the header, the text, a state line, the
experts' mentions and the Accept / Request changes / Reject buttons.

A layout message (flag IS_COMPONENTS_V2) has no `content`: its text lives in text displays, at most
4,000 characters over all of them, in at most 40 components counted at every depth. A draft uses one
container with four text displays at most, a separator and one row of three buttons (ten components).
`BODY_CHARS` is what the draft's own text may take (the platform's `max_inline_chars`: a longer draft
is attached as a Markdown file by the core); the header, the state line and the mentions take the rest.

Once a message carries the flag it keeps it, so every edit of a progress message (the streamed text,
the finished draft, "moved to a file", a failure) is rendered here too. Rendering is pure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import discord

from adapters.chat.discord.safe import undisguise
from adapters.chat.discord.views import ACTIONS, DecisionButton, MentionResolver, header_line
from bot.replies import Reply, ReplyKind

_log = logging.getLogger(__name__)

TEXT_LIMIT = 4000  # characters over all text displays of a message
COMPONENT_LIMIT = 40  # components of a message, nested ones included
BODY_CHARS = 3600  # a draft's text; 400 are left for the header, the state line and the mentions
ELLIPSIS = "…"

# The container's stripe says the state at a glance (Discord's own palette).
ACCENT = {
    "drafting": 0x99AAB5,
    "revising": 0x99AAB5,
    "in_review": 0x5865F2,
    "accepted": 0x57F287,
    "rejected": 0xED4245,
    "failed": 0xED4245,
    "expired": 0x4E5058,
    "cancelled": 0x4E5058,
}

LAYOUT_KINDS = frozenset({ReplyKind.PROGRESS, ReplyKind.DRAFT})


def wants_layout(reply: Reply) -> bool:
    """A new post is a layout message when it shows a draft or its progress."""
    return reply.kind in LAYOUT_KINDS and reply.header is not None


@dataclass(frozen=True)
class Layout:
    view: discord.ui.LayoutView
    mentions: tuple[str, ...]  # the rendered mentions the message shows (and may notify)
    chars: int  # characters over its text displays


def state_line(reply: Reply) -> str:
    """`-# in review · agent offline · decide with …`: small text under the draft."""
    if reply.kind == ReplyKind.PROGRESS:
        return "-# writing…"
    if reply.header is None or reply.kind != ReplyKind.DRAFT:
        return ""
    meta = [reply.header.state.replace("_", " ")]
    if reply.header.agent:
        meta.append(f"agent {reply.header.agent}")
    if reply.controls:
        meta.append("decide with the buttons or a ✅ / ❌ reaction; reply here to request changes")
    return "-# " + " · ".join(meta)


def render_layout(reply: Reply, resolve: MentionResolver, *, attachment: str | None = None) -> Layout:
    """The layout message for `reply`; `attachment` names a file of the message to show in it."""
    header = header_line(reply.header) if reply.header is not None else ""
    body = undisguise(reply.text.strip())
    small = state_line(reply)
    mentions = [resolve(m) for m in reply.mentions]
    room = TEXT_LIMIT - len(header) - len(small)
    mentions = _fit_mentions(mentions, room - min(len(body), BODY_CHARS))
    experts = f"Experts: {' '.join(mentions)}" if mentions else ""
    room -= len(experts)
    if len(body) > room:
        if reply.kind == ReplyKind.PROGRESS:  # the newest words matter while a draft is written
            body = ELLIPSIS + body[-(room - 1) :]
        else:
            _log.warning("a %s of %d characters was cut to fit one Discord message", reply.kind, len(body))
            body = body[: room - 1] + ELLIPSIS

    container = discord.ui.Container[discord.ui.LayoutView](accent_colour=_accent(reply))
    texts = [t for t in (header, body) if t]
    for t in texts:
        container.add_item(discord.ui.TextDisplay(t))
    if attachment is not None:
        container.add_item(discord.ui.File(f"attachment://{attachment}"))
    tail = [t for t in (small, experts) if t]
    if tail and texts:
        container.add_item(discord.ui.Separator(visible=True))
    for t in tail:
        container.add_item(discord.ui.TextDisplay(t))
    if reply.controls and reply.header is not None:
        row = discord.ui.ActionRow[discord.ui.LayoutView]()
        for action in ACTIONS:
            row.add_item(DecisionButton(action, reply.header.number))
        container.add_item(row)
    if not texts and not tail:
        container.add_item(discord.ui.TextDisplay(ELLIPSIS))  # a text display is never empty
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(container)
    return Layout(view, tuple(mentions), sum(len(t) for t in (*texts, *tail)))


def _fit_mentions(mentions: list[str], room: int) -> list[str]:
    """As many mentions as the text leaves room for (a line of more than ~10 roles is cut, not the draft)."""
    shown: list[str] = []
    used = len("Experts: ")
    for m in mentions:
        used += len(m) + 1
        if used > room:
            break
        shown.append(m)
    return shown


def _accent(reply: Reply) -> int | None:
    if reply.header is None:
        return None
    if reply.kind == ReplyKind.ERROR:
        return ACCENT["failed"]
    return ACCENT.get(reply.header.state)
