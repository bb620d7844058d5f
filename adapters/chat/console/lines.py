"""What a console line means: a request, a reply in thread N, a command, or a mistake to point out.

A mistyped line must not become a project with a draft: `#`, `#abc hello` and `#1accept` look like
thread replies gone wrong, `[poetry]` like a category that does not exist. Those get one line that
says what was understood and what to type instead (`Hint`), and nothing is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.config import CATEGORIES
from bot.triage import normalise_category

# The largest project number any database stores (PostgreSQL `integer`); a longer number is a typo.
MAX_NUMBER = 2**31 - 1

_REPLY = re.compile(r"#(?P<n>[0-9]+)(?:\s+(?P<text>.*))?", re.DOTALL)
_GLUED = re.compile(r"#(?P<n>[0-9]+)(?P<text>\S.*)", re.DOTALL)
# The core's `[category]` prefix (bot/triage.py), as typed.
_TAG = re.compile(r"\[(?P<cat>[a-z][a-z &/_-]{1,40})\]", re.IGNORECASE)


@dataclass(frozen=True)
class Request:
    text: str


@dataclass(frozen=True)
class ThreadLine:
    number: int
    text: str


@dataclass(frozen=True)
class Command:
    name: str
    args: str


@dataclass(frozen=True)
class Hint:
    text: str


Line = Request | ThreadLine | Command | Hint


def _choices(number: int) -> str:
    n = f"#{number}"
    return f"`{n} <feedback>`, `{n} accept`, `{n} reject`, `{n} status`, `{n} retry` or `{n} // aside`"


def parse(line: str, *, categories: Iterable[str] = (), aside_marker: str = "//") -> Line | None:
    """The meaning of one input line; None for a blank one. `categories` are the configured ones
    (`[categories.NAME]`), known beside the built-in ones."""
    text = line.strip()
    if not text:
        return None
    if aside_marker and text.startswith(aside_marker):
        return Hint(f"an aside belongs in a thread: `#N {aside_marker} {text[len(aside_marker) :].strip() or 'text'}`")
    if text.startswith("/"):
        name, _, rest = text[1:].partition(" ")
        return Command(name.lower(), rest.strip())
    if text.startswith("#"):
        return _thread_line(text)
    tag = _TAG.match(text)
    if tag is not None and not _known_category(tag.group("cat"), categories):
        known = ", ".join(dict.fromkeys((*CATEGORIES, *categories)))
        return Hint(
            f"[{tag.group('cat')}] is not a category; nothing was sent. Use one of: {known}"
            " (or leave out the brackets and the request is classified)."
        )
    return Request(text)


def _thread_line(text: str) -> Line:
    reply = _REPLY.fullmatch(text)
    if reply is not None:
        number = int(reply.group("n"))
        said = (reply.group("text") or "").strip()
        if number > MAX_NUMBER:
            return Hint(f"#{reply.group('n')} is not a project number; `/status` lists the open ones.")
        if not said:
            return Hint(f"#{number} what? Reply {_choices(number)}.")
        return ThreadLine(number, said)
    glued = _GLUED.fullmatch(text)
    if glued is not None and int(glued.group("n")) <= MAX_NUMBER:
        number, said = int(glued.group("n")), glued.group("text")
        said = said if len(said) <= 40 else said[:40] + "…"
        return Hint(f"did you mean `#{number} {said}`? Put a space after the number; nothing was sent.")
    return Hint(
        "a line starting with # answers a thread: `#N <text>`, e.g. `#1 make it shorter`; nothing was sent. "
        "To start a request, type it without the #."
    )


def _known_category(raw: str, configured: Iterable[str]) -> bool:
    if normalise_category(raw) is not None:
        return True
    name = raw.strip().lower().replace(" ", "-").replace("_", "-")
    return name in {c.lower() for c in configured}
