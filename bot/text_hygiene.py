"""Inbound events with clean text: the core's one entry (`Workflow.handle`) cleans each event first.

Every string an event carries (message text, attachment text and file name, the actor's name,
command arguments, ids) goes through `storage.hygiene.clean_text`: NUL and other control bytes
removed, lone surrogates (undecodable bytes) replaced. A request with such bytes is then stored
and drafted like any other, on every database, whichever platform it came from.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from bot.events import Actor, Event
from storage.hygiene import clean_text

E = TypeVar("E", bound=Event)


# Who acted is stored in columns this wide (people, projects, feedback): a longer name from any
# platform is cut here rather than failing the event's statement.
ACTOR_CHARS = 128


def clean_event(event: E) -> E:
    """`event` with every string in it cleaned and its actor's id and name cut to what is stored;
    the same object when nothing needed it."""
    cleaned: E = _clean(event)
    actor = getattr(cleaned, "actor", None)
    if isinstance(actor, Actor) and (len(actor.name) > ACTOR_CHARS or len(actor.user_id) > ACTOR_CHARS):
        short = dataclasses.replace(actor, user_id=actor.user_id[:ACTOR_CHARS], name=actor.name[:ACTOR_CHARS])
        cleaned = dataclasses.replace(cleaned, actor=short)
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
