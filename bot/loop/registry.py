"""The registry of running chat platforms: each by name, behind the process's one redaction.

Not to be confused with bot/platforms.py, which says what the core knows of a platform by name
(its policy) whether or not it runs here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from bot.errors import DraftloopError
from bot.ports import ChatPlatform
from bot.redact import Redactor
from bot.redacting_platform import RedactingPlatform


class Platforms(Mapping[str, ChatPlatform]):
    """Registered platforms by name. Every part of the core (stages, streaming edits, commands,
    jobs, the CLI) reaches a platform through here, so nothing it shows skips the redaction."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._by_name: dict[str, ChatPlatform] = {}

    def register(self, platform: ChatPlatform) -> None:
        if not isinstance(platform, RedactingPlatform):
            platform = RedactingPlatform(platform, self.redactor)
        self._by_name[platform.name] = platform

    def named(self, name: str) -> ChatPlatform:
        """The platform called `name`; an error (not a user's mistake) when none is registered."""
        try:
            return self._by_name[name]
        except KeyError:
            raise DraftloopError(f"no chat platform {name!r} is registered") from None

    def __getitem__(self, name: str) -> ChatPlatform:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)
