"""A small schema language for parsed JSON: each check raises `Malformed` naming the schema path.

Used by adapters/chat/slack/shapes.py. Paths are built from the schema's own keys (and list
indices), never from values, so a refusal can be logged without the payload's text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class Malformed(ValueError):
    """A body draftloop will not hand on; the message names a schema path, no user text."""


Check = Callable[[Any, str], None]


def is_(kind: type | tuple[type, ...], what: str, *, nullable: bool = False) -> Check:
    def check(value: Any, path: str) -> None:
        if value is None and nullable:
            return
        # bool is an int in Python; Slack's integers never are booleans
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise Malformed(f"{path}: expected {what}")

    return check


STR = is_(str, "a string")
OPT_STR = is_(str, "a string or null", nullable=True)
INT = is_(int, "an integer")
OPT_INT = is_(int, "an integer or null", nullable=True)
BOOL = is_(bool, "a boolean")
DICT = is_(dict, "an object")


def obj(required: Mapping[str, Check] | None = None, optional: Mapping[str, Check] | None = None) -> Check:
    """An object with these fields (extra fields allowed)."""

    def check(value: Any, path: str) -> None:
        DICT(value, path)
        for key, sub in (required or {}).items():
            if key not in value:
                raise Malformed(f"{path}.{key}: missing")
            sub(value[key], f"{path}.{key}")
        for key, sub in (optional or {}).items():
            if key in value:
                sub(value[key], f"{path}.{key}")

    return check


def list_of(item: Check, *, at_least: int = 0) -> Check:
    def check(value: Any, path: str) -> None:
        if not isinstance(value, list) or len(value) < at_least:
            raise Malformed(f"{path}: expected a list of at least {at_least}")
        for i, element in enumerate(value):
            item(element, f"{path}[{i}]")

    return check


def values_of(item: Check) -> Check:
    """An object whose every value matches `item` (keys are ids chosen by the app)."""

    def check(value: Any, path: str) -> None:
        DICT(value, path)
        for element in value.values():
            item(element, f"{path}.*")

    return check


def either(*options: Check, what: str) -> Check:
    def check(value: Any, path: str) -> None:
        for option in options:
            try:
                option(value, path)
            except Malformed:
                continue
            return
        raise Malformed(f"{path}: expected {what}")

    return check


def null(value: Any, path: str) -> None:
    if value is not None:
        raise Malformed(f"{path}: expected null")


def ref(fields: Mapping[str, Check]) -> Check:
    """A string id, null, or an object whose `id` (and other fields) have these types."""
    return either(STR, null, obj(optional=fields), what="an id or an object")
