"""Markdown (what models and people write) → Slack mrkdwn, and splitting it into sections.

Pure functions: no I/O, no SDK objects. Everything is neutralised on the way (adapters/chat/slack/safe.py):
no token a person or a model wrote survives as a live mention.
"""

from __future__ import annotations

import re

from adapters.chat.slack import safe
from bot.chunking import pack

SECTION_CHARS = 2900

_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
_QUOTE = re.compile(r"^\s*>\s?")
_BULLET = re.compile(r"^(\s*)[-*+]\s+")
_FENCE = "```"


def to_mrkdwn(markdown: str) -> str:
    """Convert common Markdown (what models write) to Slack mrkdwn, neutralised (see slack_safe)."""
    lines: list[str] = []
    in_code = False
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith(_FENCE):
            in_code = not in_code
            lines.append(_FENCE + safe.esc(stripped[len(_FENCE) :]))
            continue
        if in_code:
            lines.append(safe.esc(line))
            continue
        lines.append(_inline(line))
    return "\n".join(lines)


def _inline(line: str) -> str:
    quote = _QUOTE.match(line)
    if quote:  # a Markdown quote is a Slack quote: keep the marker, escape the rest
        return "> " + _inline(line[quote.end() :])
    heading = _HEADING.match(line)
    if heading:
        return f"*{safe.inline(heading.group(1).strip())}*"
    return safe.inline(_BULLET.sub(lambda m: f"{m.group(1)}• ", line))


# ---------------------------------------------------------------- splitting


def split_text(text: str, limit: int = SECTION_CHARS) -> list[str]:
    """Split on paragraph, then line, then word boundaries into chunks of at most `limit` chars.

    Code fences cut by a split are closed at the end of one chunk and reopened in the next.
    """
    return _balance_fences(pack(_pieces(text, limit), limit, "\n"), limit)


def _pieces(text: str, limit: int) -> list[str]:
    out: list[str] = []
    for line in text.split("\n"):
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            opened = line.rfind("<", 0, cut)
            if 0 < opened and opened > line.rfind(">", 0, cut):  # never inside a link: start it anew
                cut = opened
            out.append(line[:cut])
            line = line[cut:].lstrip(" ")
        out.append(line)
    return out


def _balance_fences(chunks: list[str], limit: int) -> list[str]:
    out: list[str] = []
    open_fence = False
    for chunk in chunks:
        body = ("```\n" + chunk) if open_fence else chunk
        if body.count("```") % 2 == 1:
            body += "\n```"
            open_fence = True
        else:
            open_fence = False
        out.append(body[: limit + 8])
    return out
