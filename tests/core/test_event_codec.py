"""Events stored as text (bot/event_codec.py) come back equal, whatever their text holds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from bot import event_codec
from bot.events import (
    REJECT_REASONS,
    Actor,
    Attachment,
    CommandInvoked,
    DecisionSignal,
    Event,
    Locator,
    MessageRef,
    Outcome,
    RequestPosted,
    SignalGiven,
    ThreadRef,
    ThreadReply,
)

# Any text a chat can carry, lone surrogates and NULs included (the workflow cleans them later).
text = st.text(st.characters(codec=None), max_size=40)
ids = st.text("0123456789abcdef:.", min_size=1, max_size=20)


def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | values


actors = st.builds(Actor, ids, ids, name=text, roles=st.frozensets(text, max_size=3), is_bot=st.booleans())
threads = st.builds(ThreadRef, ids, ids, ids)
messages = st.builds(MessageRef, ids, ids, ids, thread_id=maybe(ids))
locators = st.builds(Locator, number=maybe(st.integers(1, 2**31)), thread=maybe(threads), message=maybe(messages))
attachments = st.builds(Attachment, text, text=maybe(text), size=st.integers(0, 10**9), mimetype=text)
minutes = maybe(st.integers(0, 10_000))
events: st.SearchStrategy[Event] = st.one_of(
    st.builds(
        RequestPosted,
        messages,
        actors,
        text,
        attachments=st.tuples(attachments, attachments) | st.just(()),
        category=maybe(text),
        deadline=maybe(text),
        stated_minutes=minutes,
        event_key=maybe(ids),
        thread=maybe(threads),
        compare=st.booleans(),
    ),
    st.builds(ThreadReply, locators, actors, text, message_id=ids, stated_minutes=minutes, event_key=maybe(ids)),
    st.builds(
        DecisionSignal,
        locators,
        actors,
        st.sampled_from(Outcome),
        via=text,
        event_key=maybe(ids),
        reply_to=maybe(threads),
        reason=maybe(st.sampled_from(REJECT_REASONS)),
        comment=maybe(text),
    ),
    st.builds(
        CommandInvoked, text, actors, threads, args=st.lists(text, max_size=3).map(tuple), locator=maybe(locators)
    ),
    st.builds(SignalGiven, locators, actors, st.integers(1, 99), st.sampled_from(["up", "down"]), event_key=maybe(ids)),
)


@settings(max_examples=300, deadline=None)
@given(events)
def test_an_event_comes_back_equal_and_its_text_is_ascii(event: Event) -> None:
    stored = event_codec.dumps(event)
    assert stored.isascii()
    back = event_codec.loads(stored)
    assert back == event and type(back) is type(event)
    if isinstance(back, DecisionSignal):
        assert isinstance(back.outcome, Outcome)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "[]",
        '{"kind": "Nope", "event": {}}',
        '{"kind": "ThreadReply"}',
        '{"kind": "ThreadReply", "event": {"locator": {}, "text": "x"}}',  # no actor
        '{"kind": "SignalGiven", "event": {"locator": {}, "actor": {"platform": "d", "user_id": "1"},'
        ' "version": 1, "value": "sideways"}}',
        '{"kind": "DecisionSignal", "event": {"locator": {}, "actor": {"platform": "d", "user_id": "1"},'
        ' "outcome": "maybe"}}',
    ],
)
def test_text_that_is_not_a_stored_event_is_refused_with_a_value_error(stored: str) -> None:
    with pytest.raises(ValueError):
        event_codec.loads(stored)


def test_a_field_added_later_takes_its_default_when_an_older_entry_is_read() -> None:
    old: dict[str, Any] = {"locator": {"number": 3}, "actor": {"platform": "discord", "user_id": "7"}, "text": "ok"}
    back = event_codec.loads(json.dumps({"kind": "ThreadReply", "event": old}))
    assert back == ThreadReply(Locator(number=3), Actor("discord", "7"), "ok")
