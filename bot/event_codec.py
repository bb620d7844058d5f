"""Events as JSON text and back: what the inbox stores for a platform whose deliveries are events the
adapter built itself (Discord's gateway sends a message once; the adapter reads its attachments and
the author's roles into a `RequestPosted` before anything is stored).

Every event and reference in bot/events.py is a frozen dataclass of strings, numbers, enums, tuples
and frozensets, so the encoding follows their fields and type hints: no per-class code to keep in
step when a field is added. The text is ASCII (`json.dumps`' default): a lone surrogate or a NUL
in a message survives the round trip as an escape, and the workflow cleans it as it does any event.
"""

from __future__ import annotations

import json
import types
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from bot.events import CommandInvoked, DecisionSignal, Event, RequestPosted, SignalGiven, ThreadReply

_EVENTS: dict[str, type[Any]] = {
    kind.__name__: kind for kind in (RequestPosted, ThreadReply, DecisionSignal, CommandInvoked, SignalGiven)
}


def dumps(event: Event) -> str:
    """`event` as JSON text: its kind and its fields."""
    return json.dumps({"kind": type(event).__name__, "event": _plain(event)}, separators=(",", ":"))


def loads(text: str) -> Event:
    """The event `dumps` wrote; ValueError for text that is not one."""
    try:
        data = json.loads(text)
        kind = _EVENTS[data["kind"]]
        event: Event = _build(kind, data["event"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a stored event: {type(exc).__name__}: {exc}") from exc
    return event


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return sorted(_plain(item) for item in value)
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


_hints: dict[type[Any], dict[str, Any]] = {}


def _build(kind: type[Any], data: dict[str, Any]) -> Any:
    hints = _hints.get(kind)
    if hints is None:
        hints = _hints[kind] = get_type_hints(kind)
    return kind(**{f.name: _value(hints[f.name], data[f.name]) for f in fields(kind) if f.name in data})


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(hint)
    if origin is Union or origin is types.UnionType:
        (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
        return _value(inner, value)
    if origin is tuple:
        return tuple(_value(get_args(hint)[0], item) for item in value)
    if origin is frozenset:
        return frozenset(_value(get_args(hint)[0], item) for item in value)
    if origin is Literal:
        if value not in get_args(hint):
            raise ValueError(f"{value!r} is not one of {get_args(hint)}")
        return value
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if isinstance(hint, type) and is_dataclass(hint):
        return _build(hint, value)
    return value
