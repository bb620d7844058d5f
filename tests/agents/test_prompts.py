"""Prompts: per-category system prompts, the revision prompt, the token budget, the cache prefix."""

from __future__ import annotations

from bot.config import CATEGORIES
from bot.ports import FeedbackPoint
from bot.prompts import CATEGORY_GUIDANCE, build_request, estimate_tokens, fit_drafts, system_prompt

BRIEF = "Write a 600-word post on tidy data for analysts who live in spreadsheets."
FEEDBACK = (
    FeedbackPoint("Use a friendlier tone.", "bea", 1, False),
    FeedbackPoint("Add a before/after table.", "carl", 2, True),
    FeedbackPoint("Cut the history section.", "bea", 2, True),
)


def revision(previous: str, *, version: int = 3, context_tokens: int | None = None, earlier=()):  # type: ignore[no-untyped-def]
    return build_request(
        project_number=7,
        version=version,
        category="writing",
        brief=BRIEF,
        previous_draft=previous,
        feedback=FEEDBACK,
        max_output_tokens=1000,
        context_tokens=context_tokens,
        earlier_drafts=earlier,
    )


def test_every_category_has_its_own_system_prompt_aimed_at_a_deliverable() -> None:
    prompts = {c: system_prompt(c) for c in CATEGORIES}
    assert len(set(prompts.values())) == len(CATEGORIES)
    for category, prompt in prompts.items():
        assert "deliverable" in prompt and CATEGORY_GUIDANCE[category] in prompt
    assert system_prompt("unknown-thing").endswith(CATEGORY_GUIDANCE["other"])


def test_revision_prompt_holds_brief_latest_draft_and_every_point_with_new_marked() -> None:
    req = revision("The v2 draft text.")
    (role, user), *rest = req.messages
    assert role == "user" and rest == []
    assert BRIEF in user and "The v2 draft text." in user and "Latest draft (v2)" in user
    for point in FEEDBACK:
        line = next(ln for ln in user.splitlines() if point.text in ln)
        assert ("[NEW]" in line) == point.new
    assert "## Changes in v3" in user  # the model is asked to say what it changed
    assert req.previous_draft == "The v2 draft text." and req.feedback == FEEDBACK


def test_stable_prefix_is_the_brief_and_does_not_change_between_cycles() -> None:
    v2 = revision("draft one", version=2)
    v3 = revision("draft two, longer", version=3)
    first_v2, first_v3 = v2.messages[0][1], v3.messages[0][1]
    assert v2.cache_prefix_chars == v3.cache_prefix_chars > len(BRIEF)
    assert first_v2[: v2.cache_prefix_chars] == first_v3[: v3.cache_prefix_chars]
    assert BRIEF in first_v2[: v2.cache_prefix_chars]
    assert v2.system == v3.system


def test_budget_shortens_the_latest_draft_but_never_the_brief_or_feedback() -> None:
    huge = "Paragraph of the previous draft. " * 4000  # ~130k characters
    context = 6000
    req = revision(huge, context_tokens=context)
    user = req.messages[0][1]
    assert estimate_tokens(req.system) + estimate_tokens(user) <= context - req.max_output_tokens
    assert BRIEF in user
    for point in FEEDBACK:
        assert point.text in user
    assert "characters of this draft left out" in user
    assert user.count("Paragraph of the previous draft.") > 10  # head and tail are kept
    unlimited = revision(huge).messages[0][1]
    assert huge.strip() in unlimited


def test_older_drafts_are_dropped_first_oldest_before_newer() -> None:
    v1, v2, latest = "A" * 3000, "B" * 3000, "C" * 3000
    fixed = 1000
    everything, kept = fit_drafts(fixed_chars=fixed, latest=(3, latest), earlier=((1, v1), (2, v2)), budget_tokens=None)
    assert kept == (1, 2) and v1 in everything
    # Room for the latest and one earlier draft: v1 goes, v2 stays, the latest is whole.
    room_tokens = (fixed + 6600) // 3
    text, kept = fit_drafts(
        fixed_chars=fixed, latest=(3, latest), earlier=((1, v1), (2, v2)), budget_tokens=room_tokens
    )
    assert kept == (2,) and v2 in text and latest in text and v1 not in text
    # Room for less than the latest alone: every earlier draft goes, then the latest is shortened.
    text, kept = fit_drafts(fixed_chars=fixed, latest=(3, latest), earlier=((1, v1), (2, v2)), budget_tokens=1000)
    assert kept == () and "B" not in text and "left out" in text and len(text) <= 1000 * 3 - fixed


def test_brief_and_feedback_stay_even_when_they_alone_exceed_the_budget() -> None:
    req = revision("some draft", context_tokens=1500)
    user = req.messages[0][1]
    assert BRIEF in user and all(p.text in user for p in FEEDBACK)


def test_first_draft_prompt_asks_for_the_deliverable() -> None:
    req = build_request(
        project_number=1,
        version=1,
        category="data-science",
        brief="Clean this CSV.",
        previous_draft=None,
        feedback=(),
        max_output_tokens=500,
        context_tokens=8000,
    )
    user = req.messages[0][1]
    assert "Clean this CSV." in user and "Write the deliverable now." in user
    assert req.cache_prefix_chars == user.index("Clean this CSV.") + len("Clean this CSV.") + 1
