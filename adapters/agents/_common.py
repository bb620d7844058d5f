"""Helpers of the agent backends: agent labels, safe error lines, retry hints, the cache prefix split."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from bot import redact
from bot.agent_spec import AgentSpec
from bot.settings import Settings

_MAX_LINE = 240


def agent_label(spec: AgentSpec) -> str:
    """How errors name an agent: its configured name, else provider:model."""
    return spec.name or f"{spec.provider}:{spec.model}"


class Redactor:
    """Turns provider text into one safe line: no newlines, no secret, bounded length.

    The masking is the process's one redaction (bot/redact.py), built from the settings, so an
    error body that quotes the Slack token or the signing secret is masked as well as the key.
    """

    def __init__(self, settings: Settings | None = None, *keys: str | None) -> None:
        base = redact.Redactor.from_settings(settings) if settings is not None else redact.Redactor()
        self.mask = base.extended(*keys)

    def line(self, text: str) -> str:
        text = " ".join(self.mask(text).split())
        return text if len(text) <= _MAX_LINE else text[: _MAX_LINE - 1] + "…"


def retry_after_seconds(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Parse `retry-after-ms`, then `retry-after` (seconds or an HTTP date). None when absent or bad."""
    if not headers:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        return value if value >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def split_cache_prefix(text: str, prefix_chars: int) -> tuple[str, str]:
    """Split the first user message at the end of its stable prefix."""
    if prefix_chars <= 0:
        return "", text
    return text[:prefix_chars], text[prefix_chars:]
