"""Inbound events with clean text: the core's one entry (`Workflow.handle`) cleans each event first.

Every string an event carries (message text, attachment text and file name, the actor's name,
command arguments, ids) goes through `storage.hygiene.clean_text`: NUL and other control bytes
removed, lone surrogates (undecodable bytes) replaced. A request with such bytes is then stored
and drafted like any other, on every database, whichever platform it came from.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from bot.events import Event
from storage.hygiene import clean_text

E = TypeVar("E", bound=Event)


def clean_event(event: E) -> E:
    """`event` with every string in it cleaned; the same object when nothing needed it."""
    cleaned: E = _clean(event)
    return cleaned


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, tuple):
        items = tuple(_clean(item) for item in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, frozenset):
        members = frozenset(_clean(item) for item in value)
        return value if members == value else members
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for field in dataclasses.fields(value):
            current = getattr(value, field.name)
            new = _clean(current)
            if new is not current:
                changes[field.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value
