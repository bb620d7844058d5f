"""Counts in words that agree with them, and people named by name in what draftloop says."""

from __future__ import annotations

from bot import texts
from bot.events import Actor, DecisionSignal, Locator, MessageRef, Outcome, RequestPosted
from storage.models import Project


def test_plural_agrees_with_the_count() -> None:
    assert texts.plural(1, "project") == "1 project"
    assert texts.plural(0, "project") == "0 projects"
    assert texts.plural(2, "feedback point") == "2 feedback points"
    assert texts.plural(1, "person", "people") == "1 person"
    assert texts.plural(3, "person", "people") == "3 people"
    assert texts.plural(1200, "character") == "1,200 characters"
    assert texts.plural(1.0, "day") == "1 day"
    assert texts.plural(1.5, "day") == "1.5 days"
    assert texts.plural(14.0, "day") == "14 days"


def test_sizes_say_character_for_one() -> None:
    assert texts.too_long("reply", 1, 0).startswith("That reply is 1 character; the limit is 0.")
    assert texts.too_long("request", 5000, 4000).startswith("That request is 5,000 characters; the limit is 4,000.")
    project = Project(id=3, platform="console", channel="c", requester_id="u", brief="b", current_version=2)
    assert texts.file_summary(project, "x").startswith("v2 is 1 character, attached")


def _project(**kw: object) -> Project:
    fields: dict = {"id": 1, "platform": "slack", "channel": "C", "requester_id": "U0REQ", "brief": "b"}
    return Project(**{**fields, "current_version": 2, **kw})


def test_a_decider_is_named_by_name_and_never_by_an_id_when_one_is_known() -> None:
    project = _project(requester_name="alice")
    # a Slack message or reaction carries no name: the requester's stored name stands in
    assert texts.decided(project, Actor("slack", "U0REQ"), Outcome.ACCEPT) == "✅ #1 accepted at v2 by alice."
    assert texts.decided(project, Actor("slack", "U0REQ", "Alice B."), Outcome.REJECT) == (
        "❌ #1 rejected at v2 by Alice B."
    )
    # someone else with no name given: nothing better than the id is known here
    assert texts.person(Actor("slack", "U0ADMIN"), project) == "U0ADMIN"
    assert texts.person(Actor("slack", "U0REQ"), _project(requester_name="")) == "U0REQ"


async def test_a_nameless_decision_by_the_requester_names_them(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    origin = MessageRef("console", "C1", "r1")
    await rt.workflow.handle(RequestPosted(origin, Actor("console", "u1", "Alice"), "[writing] a memo"))
    await rt.workflow.handle(DecisionSignal(Locator(number=1), Actor("console", "u1"), Outcome.ACCEPT, via="reaction"))
    assert rt.chat.sent[-1].reply.text == "✅ #1 accepted at v1 by Alice."
