"""The words and emoji that decide a project, one vocabulary for the core and every adapter.

A reply in a project's thread that is only one of `DECISION_WORDS` decides it (the core reads replies);
a reaction with one of `DECISION_EMOJI` decides it too (each adapter maps its platform's reaction to
the emoji: Slack names them, Discord sends the character).
"""

from __future__ import annotations

from types import MappingProxyType

from bot.events import Outcome

# Emoji are compared without the variation selector (U+FE0F), which clients add or leave out.
_VS16 = "\ufe0f"

DECISION_EMOJI = MappingProxyType(
    {
        "✅": Outcome.ACCEPT,  # white check mark
        "✔": Outcome.ACCEPT,  # heavy check mark
        "☑": Outcome.ACCEPT,  # ballot box with check
        "❌": Outcome.REJECT,  # cross mark
    }
)

DECISION_WORDS = MappingProxyType(
    {
        "accept": Outcome.ACCEPT,
        "accepted": Outcome.ACCEPT,
        "approve": Outcome.ACCEPT,
        "reject": Outcome.REJECT,
        "rejected": Outcome.REJECT,
        **DECISION_EMOJI,
    }
)


def emoji_outcome(emoji: str) -> Outcome | None:
    """The decision an emoji (as a platform sends it, with or without U+FE0F) stands for, if any."""
    return DECISION_EMOJI.get(emoji.replace(_VS16, "").strip())


def word_outcome(text: str) -> Outcome | None:
    """The decision a whole reply stands for (`Accept.`, `reject!`, `✅`), if it is only a decision word."""
    word = text.strip().lower().rstrip(".! ").replace(_VS16, "")
    return DECISION_WORDS.get(word)
