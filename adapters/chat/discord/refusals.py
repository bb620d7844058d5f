"""Discord's refusals (JSON error codes) as the sentence a PlatformError carries."""

from __future__ import annotations

import discord

ARCHIVED = 50083
MISSING_PERMISSIONS = 50013
THREAD_EXISTS = 160004
UNKNOWN_CHANNEL = 10003


def describe(exc: discord.HTTPException, what: str) -> str:
    if exc.code == MISSING_PERMISSIONS or isinstance(exc, discord.Forbidden):
        return f"Discord refused to {what}: the bot is missing a permission in that channel ({exc.status} {exc.code})"
    if exc.code == ARCHIVED:
        return f"Discord refused to {what}: the thread is archived and locked"
    if isinstance(exc, discord.NotFound):
        return f"Discord refused to {what}: not found ({exc.code})"
    return f"Discord refused to {what}: HTTP {exc.status} (code {exc.code})"
