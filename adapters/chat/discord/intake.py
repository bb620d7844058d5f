"""What the Discord client and its interactions share: who acts, what they attached, where they are."""

from __future__ import annotations

import logging
from typing import Any

import discord

from adapters.chat.common import files
from adapters.chat.discord.policy import NAME
from bot.events import Actor, Attachment, ThreadRef

_log = logging.getLogger(__name__)


def intents() -> discord.Intents:
    """Only what draftloop needs: guilds, guild messages (+ message content, privileged), reactions."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True
    wanted.guild_reactions = True
    return wanted


def actor_of(user: discord.abc.User | discord.Member) -> Actor:
    """The acting member. Its display name is shown, never matched; its roles (names and ids) may be."""
    roles: set[str] = set()
    if isinstance(user, discord.Member):
        for role in user.roles:
            if role.is_default():
                continue
            roles.add(role.name)
            roles.add(str(role.id))
    return Actor(
        platform=NAME,
        user_id=str(user.id),
        name=getattr(user, "display_name", "") or user.name,
        roles=frozenset(roles),
        is_bot=user.bot,
    )


def thread_ref(channel: Any, channel_id: int) -> ThreadRef:
    """Where an interaction happened: a thread (parent, thread) or a channel (channel, channel)."""
    if isinstance(channel, discord.Thread):
        return ThreadRef(NAME, str(channel.parent_id), str(channel.id))
    return ThreadRef(NAME, str(channel_id), str(channel_id))


async def read_attachments(attachments: list[discord.Attachment]) -> tuple[Attachment, ...]:
    """Readable files (adapters/chat/common/files.py) become part of the brief; others are named only."""
    out: list[Attachment] = []
    for att in attachments[: files.MAX_FILES]:
        ctype = (att.content_type or "").split(";")[0]
        kind = files.readable(att.filename, att.size, ctype)
        text: str | None = None
        if kind is not None:
            try:
                text = files.file_text(await att.read(), kind)
            except (discord.HTTPException, OSError) as exc:
                _log.info("could not read attachment %s: %s", att.filename, exc)
        out.append(Attachment(filename=att.filename, text=text, size=att.size, mimetype=ctype))
    return tuple(out)
