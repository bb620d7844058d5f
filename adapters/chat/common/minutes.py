"""Minutes a person states in a form's field, read by the core's one rule (bot/stats.parse_minutes).

A bare whole number is minutes (`20`); otherwise `20m`, `1h`, `1h30m`, `45 min` as in a reply. Stated
time is more than 0 and at most a day. An empty field or `0` states nothing; anything else is refused,
and each adapter says so in its own way (a form error on Slack; ignored on Discord, whose forms
cannot show one).
"""

from __future__ import annotations

from bot.stats import parse_minutes

MAX_MINUTES = 24 * 60


class NotMinutes(ValueError):
    """A minutes field that is filled in but is not a duration draftloop can read."""


def form_minutes(raw: str | None) -> int | None:
    """The minutes a form's field states; None when it states none. Raises NotMinutes."""
    text = (raw or "").strip()
    if not text or text == "0":
        return None
    if text.isdigit():
        minutes = int(text)
        if 0 < minutes <= MAX_MINUTES:
            return minutes
        raise NotMinutes(text)
    parsed = parse_minutes(text)
    if parsed is None or parsed > MAX_MINUTES:
        raise NotMinutes(text)
    return parsed
