"""Interactions draftloop has acknowledged and may still answer through (their tokens live 15 minutes).

- A click or a form (`hold_private`): a "not allowed" for that person goes back as an ephemeral
  follow-up of their own interaction instead of a DM.
- A deferred slash command (`answer_target`): the core is handed a ThreadRef that names the
  interaction, so what it posts there replaces the "thinking…" placeholder, whoever else is busy in
  the same channel. A private command (`/draftloop mine`) is deferred ephemerally and answered so.
"""

from __future__ import annotations

import time
from typing import Any

import discord

from bot.events import ThreadRef

INTERACTION_TTL = 14 * 60.0  # an interaction token is good for 15 minutes
ANSWER_SEP = "/ix:"


class PendingInteractions:
    def __init__(self) -> None:
        self._private: dict[tuple[str, str], tuple[discord.Interaction[Any], float]] = {}
        self._answers: dict[str, tuple[discord.Interaction[Any], float]] = {}
        self._ephemeral: set[int] = set()  # interactions whose answer only their user sees

    def hold_private(self, user_id: str, thread_id: str, interaction: discord.Interaction[Any]) -> None:
        """Remember an acknowledged interaction so a "not allowed" can go back to that person privately."""
        now = time.monotonic()
        self._private = {k: v for k, v in self._private.items() if v[1] > now}
        self._private[(user_id, thread_id)] = (interaction, now + INTERACTION_TTL)

    def take_private(self, user_id: str, thread_id: str) -> discord.Interaction[Any] | None:
        held = self._private.pop((user_id, thread_id), None)
        if held is None or held[1] < time.monotonic():
            return None
        return held[0]

    def answer_target(
        self, thread: ThreadRef, interaction: discord.Interaction[Any], *, ephemeral: bool = False
    ) -> ThreadRef:
        """A ThreadRef for a deferred command's answer: `thread` with the interaction's id in it."""
        now = time.monotonic()
        self._answers = {k: v for k, v in self._answers.items() if v[1] > now}
        self._ephemeral = {i for i in self._ephemeral if str(i) in self._answers}
        if ephemeral:
            self._ephemeral.add(interaction.id)
        self._answers[str(interaction.id)] = (interaction, now + INTERACTION_TTL)
        return ThreadRef(thread.platform, thread.channel, f"{thread.thread_id}{ANSWER_SEP}{interaction.id}")

    def take_answer(self, thread: ThreadRef) -> tuple[ThreadRef, discord.Interaction[Any] | None]:
        """The plain ThreadRef behind `thread`, and its pending interaction (once) if it names one."""
        base, sep, ix = thread.thread_id.partition(ANSWER_SEP)
        if not sep:
            return thread, None
        held = self._answers.pop(ix, None)
        plain = ThreadRef(thread.platform, thread.channel, base)
        if held is None or held[1] < time.monotonic():
            return plain, None
        return plain, held[0]

    def is_ephemeral(self, interaction: discord.Interaction[Any]) -> bool:
        """Whether a command's answer is private (kept until the next command prunes it)."""
        return interaction.id in self._ephemeral
