"""Pure units: states, permissions, prompts, the expert-minute parser, the Wilson interval."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import InvalidTransition
from bot.events import Actor
from bot.ports import FeedbackPoint
from bot.prompts import build_request
from bot.states import DECIDED, FINAL, TRANSITIONS, State, can_move, check_move
from bot.stats import estimate_minutes, median, parse_minutes, rate, wilson
from bot.triage import classify_keywords, resolve_spec, split_explicit


def test_every_state_has_a_row_and_final_states_are_dead_ends() -> None:
    assert set(TRANSITIONS) == set(State)
    for state in FINAL:
        assert TRANSITIONS[state] == frozenset()
    assert State.CANCELLED not in DECIDED and State.FAILED in DECIDED


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        (State.DRAFTING, State.IN_REVIEW, True),
        (State.IN_REVIEW, State.REVISING, True),
        (State.REVISING, State.IN_REVIEW, True),
        (State.IN_REVIEW, State.ACCEPTED, True),
        (State.FAILED, State.REVISING, True),
        (State.ACCEPTED, State.REVISING, False),
        (State.REJECTED, State.ACCEPTED, False),
        (State.IN_REVIEW, State.DRAFTING, False),
        (State.EXPIRED, State.IN_REVIEW, False),
    ],
)
def test_transition_table(current: State, target: State, ok: bool) -> None:
    assert can_move(current, target) is ok


def test_illegal_move_raises_a_sentence_for_the_chat() -> None:
    with pytest.raises(InvalidTransition) as err:
        check_move(State.ACCEPTED, State.REJECTED, number=4)
    assert err.value.user_message == "#4 is already accepted; start a new request to continue."


def _settings(settings_factory, toml: str):  # type: ignore[no-untyped-def]
    return settings_factory(toml=toml)


def test_permissions(settings_factory) -> None:  # type: ignore[no-untyped-def]
    from bot.permissions import may_decide, may_give_feedback

    s = settings_factory(
        toml='admins = ["root"]\n[categories.writing]\nexperts = ["U_EXP"]\nexpert_roles = ["Writers"]\n'
        '[discord]\nadmin_roles = ["Mods"]\n'
    )
    req = {"requester_id": "U_REQ", "category": "writing", "settings": s}
    assert may_decide(Actor("slack", "U_REQ"), **req)
    assert may_decide(Actor("slack", "U_EXP"), **req)
    assert may_decide(Actor("console", "root", "root"), **req)
    assert may_decide(Actor("discord", "42", "x", roles=frozenset({"Writers"})), **req)
    assert may_decide(Actor("discord", "43", "y", roles=frozenset({"mods"})), **req)
    assert not may_decide(Actor("slack", "U_OTHER"), **req)
    assert not may_decide(Actor("slack", "U_REQ", is_bot=True), **req)
    # experts configured: a bystander's reply is a comment, not feedback
    assert not may_give_feedback(Actor("slack", "U_OTHER"), **req)
    # no experts for the category: anyone in the thread gives feedback
    assert may_give_feedback(Actor("slack", "U_OTHER"), requester_id="U_REQ", category="design", settings=s)


def test_revision_prompt_holds_brief_latest_draft_and_every_point() -> None:
    points = (
        FeedbackPoint("shorter intro", "bob", 1, new=False),
        FeedbackPoint("add a checklist", "carol", 2, new=True),
    )
    req = build_request(
        project_number=3,
        version=3,
        category="writing",
        brief="A post on onboarding",
        previous_draft="Draft two text",
        feedback=points,
        max_output_tokens=1000,
    )
    ((role, body),) = req.messages
    assert role == "user"
    assert body.startswith("# Brief\n\nA post on onboarding")
    assert "# Latest draft (v2)\n\nDraft two text" in body
    assert "1. [on v1, already addressed] bob: shorter intro" in body
    assert "2. [NEW] carol: add a checklist" in body
    assert "## Changes in v3" in body
    assert body[: req.cache_prefix_chars] == "# Brief\n\nA post on onboarding\n"
    assert "finished" in req.system and "writing" in req.system


def test_first_draft_prompt_has_no_previous_draft() -> None:
    req = build_request(
        project_number=1, version=1, category="other", brief="b", previous_draft=None, feedback=(), max_output_tokens=10
    )
    assert "Latest draft" not in req.messages[0][1]


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("spent 20m on this", 20),
        ("1h", 60),
        ("took 1h30m", 90),
        ("1h 15min", 75),
        ("45 min review", 45),
        ("2 hours", 120),
        ("no time given", None),
        ("item 3 of the list", None),
        ("v2m is a model", None),
    ],
)
def test_parse_minutes(text: str, minutes: int | None) -> None:
    assert parse_minutes(text) == minutes


def test_estimate_is_capped_and_at_least_one_minute() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert estimate_minutes(t0, t0 + timedelta(minutes=12, seconds=5), 60) == 13
    assert estimate_minutes(t0, t0 + timedelta(hours=5), 60) == 60
    assert estimate_minutes(t0, t0 + timedelta(seconds=1), 60) == 1
    assert estimate_minutes(None, t0, 60) is None


def test_wilson_against_known_values() -> None:
    # Reference values: Wilson score interval, z = 1.96 (e.g. statsmodels proportion_confint method="wilson").
    low, high = wilson(8, 10)
    assert low is not None and high is not None
    assert math.isclose(low, 0.4901625, abs_tol=1e-6) and math.isclose(high, 0.9433178, abs_tol=1e-6)
    low, high = wilson(0, 5)
    assert low == 0.0 and math.isclose(high or 0, 0.4344825, abs_tol=1e-6)
    assert wilson(0, 0) == (None, None)


def test_rate_object() -> None:
    r = rate(2, 3)
    assert r["rate"] == 2 / 3 and r["k"] == 2 and r["n"] == 3 and r["thin"] is True
    assert rate(0, 0)["rate"] is None
    assert rate(5, 5)["thin"] is False


def test_median() -> None:
    assert median([]) is None
    assert median([3, 1, 2]) == 2.0
    assert median([1, 2, 3, 4]) == 2.5


def test_explicit_category_and_classifier(settings_factory) -> None:  # type: ignore[no-untyped-def]
    assert split_explicit("[data-science] clean this CSV") == ("data-science", "clean this CSV")
    assert split_explicit("[Data Science] x") == ("data-science", "x")
    assert split_explicit("[nonsense] x") == (None, "[nonsense] x")
    assert classify_keywords("Translate this letter into German")[0] == "translation"
    assert classify_keywords("hello there")[0] == "other"
    s = settings_factory()
    assert resolve_spec("openai:gpt-x", s).provider == "openai"
    assert resolve_spec("offline", s).model == "offline-v1"
    with pytest.raises(Exception, match="unknown agent"):
        resolve_spec("nope", s)


def test_head_revision_agrees_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    from storage.migrate import alembic_config, head_revision

    assert head_revision() == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_a_provider_is_any_installed_agent_entry_point(settings_factory) -> None:  # type: ignore[no-untyped-def]
    from bot.agent_spec import installed_providers

    assert {"offline", "openai", "openai-compatible", "anthropic"} <= installed_providers()
    assert resolve_spec("anthropic:claude-x", settings_factory()).provider == "anthropic"
    with pytest.raises(Exception, match="unknown provider 'nope'"):
        settings_factory(toml='[agents.x]\nprovider = "nope"\nmodel = "m"\n').file  # noqa: B018
