"""Reading a tool's arguments (from MCP or the JSON API) with one sentence for each mistake.

The SDK's own validation answers a wrong type with a pydantic report several lines long that quotes
the value; these readers say what is wrong and what is accepted instead, and refuse unknown names,
so a model corrects its call at once. Sizes are the core's to judge (bot/loop/external.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from bot.errors import InvalidRequest


class BadArgument(InvalidRequest):
    """An argument of the wrong shape: nothing was stored."""


def only(tool: str, args: Mapping[str, Any], names: Iterable[str]) -> None:
    known = tuple(names)
    for name in args:
        if name not in known:
            raise BadArgument(f"{tool} has no argument {name!r}; it takes {', '.join(known)}.")


def text(args: Mapping[str, Any], name: str, *, required: bool = False, what: str = "") -> str | None:
    value = args.get(name)
    if value is None:
        if required:
            raise BadArgument(f"{name!r} is required{': ' + what if what else ''}.")
        return None
    if not isinstance(value, str):
        raise BadArgument(f"{name!r} must be text (a JSON string), not {_kind(value)}.")
    return value


def number(args: Mapping[str, Any], name: str = "number") -> int:
    """A project's number: a positive whole number (a string of digits too: a URL's path gives one)."""
    value = args.get(name)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadArgument(f"{name!r} must be a project number, like 12.")
    return value


def seconds(args: Mapping[str, Any], name: str, *, most: float) -> float:
    value = args.get(name)
    if value is None:
        return 0.0
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise BadArgument(f"{name!r} must be a number of seconds from 0 to {most:g}.")
    return float(value)


def flag(args: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = args.get(name)
    if value is None:
        return default
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    if not isinstance(value, bool):
        raise BadArgument(f"{name!r} must be true or false.")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
