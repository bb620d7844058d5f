"""The chat platforms' `draftloop.services` entry points: each is the platform's policy
(bot/platforms.py), which the core reads by name and which, called with `(runtime, role)`, makes
the platform's service. Kept light: a platform's SDK is imported only when its token is set, so a
process pays (in start-up time and memory) only for the platforms it runs."""

from __future__ import annotations

from adapters.chat.console.policy import CONSOLE
from adapters.chat.discord.policy import DISCORD
from adapters.chat.slack.policy import SLACK

console = CONSOLE
slack = SLACK
discord = DISCORD

__all__ = ["console", "discord", "slack"]
