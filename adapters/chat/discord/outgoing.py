"""A Reply made ready to send on Discord: its message parts or its layout, who it may notify, its
buttons, its files.

Drafts and their progress are one Components V2 message (`layout.py`); everything else is plain
content split at 2,000 characters (`views.render_parts`). Pure preparation, no sending: `platform.py`
sends, edits and follows up with what this gives.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from typing import Any

import discord

from adapters.chat.discord import safe as discord_safe
from adapters.chat.discord.layout import Layout, render_layout
from adapters.chat.discord.safe import mention_for
from adapters.chat.discord.views import Part, controls_view, picks_view, render_parts
from bot.replies import Reply, ReplyKind
from bot.report.render import render_discord

_log = logging.getLogger(__name__)

MAX_FILES = 10  # per message
FALLBACK_CHARS = 300  # the text beside a digest's embed


@dataclass
class Outgoing:
    parts: list[Part]  # plain messages; empty for a layout message
    allowed: discord.AllowedMentions  # exactly the users and roles of the experts' mentions shown
    view: discord.ui.View | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # files, embed: on the last part
    layout: Layout | None = None  # the whole message, when it is a layout message


def prepare(reply: Reply, guild: discord.Guild | None, *, attachments: bool = True, layout: bool = False) -> Outgoing:
    """The reply's parts (split at 2,000 characters) or, with `layout`, its one layout message; mentions
    resolved in `guild`; with `attachments`, its files and, for a digest, an embed that carries it (the
    text then is a one-line fallback)."""

    def resolve(handle: str) -> str:
        return mention_for(handle, guild)

    extras = _extras(reply) if attachments else {}
    if layout:
        files = extras.get("files") or []
        shown = render_layout(reply, resolve, attachment=files[0].filename if files else None)
        allowed = discord_safe.chosen(shown.mentions)
        return Outgoing([], allowed, None, {k: v for k, v in extras.items() if k == "files"}, shown)
    shown_reply = reply
    if "embed" in extras:
        shown_reply = Reply(reply.text.split("\n", 1)[0][:FALLBACK_CHARS], kind=reply.kind)
    view = None
    if reply.header is not None and reply.controls:
        view = controls_view(reply.header.number)
    elif reply.header is not None and reply.picks:
        view = picks_view(reply.header.number, reply.picks)
    allowed = discord_safe.chosen(resolve(m) for m in reply.mentions)
    return Outgoing(render_parts(shown_reply, resolve), allowed, view, extras)


def _extras(reply: Reply) -> dict[str, Any]:
    """Files and, for a digest with a report object, an embed (with the chart as its image)."""
    extras: dict[str, Any] = {}
    files = [discord.File(io.BytesIO(body), filename=name) for name, body in reply.files[:MAX_FILES]]
    if files:
        extras["files"] = files
    if reply.kind == ReplyKind.DIGEST and reply.data is not None:
        png = next((name for name, _ in reply.files if name.lower().endswith(".png")), None)
        try:
            embed = render_discord(reply.data, image=f"attachment://{png}" if png else None)
            extras["embed"] = discord.Embed.from_dict(embed)
        except Exception:  # a report the renderer cannot read: the text says it all
            _log.exception("digest embed could not be rendered; posting text")
    return extras
