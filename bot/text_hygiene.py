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


# Per type: the names of its dataclass fields, () for any other type. Looked up for every value of
# every event (dataclasses.fields builds its tuple anew at each call), and the types are few.
_field_names: dict[type, tuple[str, ...]] = {}


def _fields_of(kind: type) -> tuple[str, ...]:
    try:
        return _field_names[kind]
    except KeyError:
        names = _field_names[kind] = (
            tuple(field.name for field in dataclasses.fields(kind)) if dataclasses.is_dataclass(kind) else ()
        )
        return names


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, tuple):
        items = tuple(_clean(item) for item in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, frozenset):
        members = frozenset(_clean(item) for item in value)
        return value if members == value else members
    if isinstance(value, type):
        return value
    changes = {}
    for name in _fields_of(type(value)):
        current = getattr(value, name)
        new = _clean(current)
        if new is not current:
            changes[name] = new
    return dataclasses.replace(value, **changes) if changes else value
