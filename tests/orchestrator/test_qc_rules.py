"""The deterministic QC rules: each requirement a brief states, caught when the draft misses it."""

from __future__ import annotations

import pytest

from bot.orchestrator.qc import language_of, rule_gaps, sections_asked

FILLER = "word " * 600


def test_stated_word_count_and_named_section_are_caught() -> None:
    brief = "Write a 600-word post on remote onboarding with a Pricing section."
    # the title quotes the brief, section and all: it is not the section
    draft = "# A 600-word post with a Pricing section\n\n## Opening\n\nA short text about the first week.\n"
    gaps = rule_gaps(brief, draft)
    assert any(g.startswith("length: about 600 words asked, the draft has") for g in gaps), gaps
    assert "section: no section named “Pricing”" in gaps


def test_a_draft_that_meets_the_brief_passes() -> None:
    brief = "Write a 600-word post on remote onboarding with a Pricing section."
    draft = "# Remote onboarding\n\n## Pricing\n\n" + "plan " * 590
    assert rule_gaps(brief, draft) == []


@pytest.mark.parametrize(
    ("brief", "draft", "gap"),
    [
        ("At most 100 words, please: a bio.", FILLER, "length: at most 100 words asked"),
        ("Give me 5 blog post ideas about tea.", "- one\n- two\n", "items: 5 ideas asked, the draft lists 2"),
        ("Compare the plans in a table.", "Plan A is cheaper.", "format: a table was asked for"),
        ("Add a code snippet for the login.", "Use the login form.", "format: code was asked for"),
        ('The post must use the phrase "zero downtime".', "No downtime at all.", "named item: “zero downtime”"),
        ("Sections on Risks, Costs and Timeline.", "## Risks\n## Costs\n", "section: no section named “Timeline”"),
        (
            "Translate this into German: the cat is on the table and it is big.",
            "The cat is on the table and it is big, and the dog is in the garden with the kids.",
            "language: German expected, the draft is in English",
        ),
    ],
)
def test_each_rule(brief: str, draft: str, gap: str) -> None:
    assert any(g.startswith(gap) for g in rule_gaps(brief, draft)), rule_gaps(brief, draft)


def test_ranges_tolerance_and_no_requirements() -> None:
    assert rule_gaps("Write 500 to 700 words on tea.", "tea " * 600) == []
    assert rule_gaps("Write about 600 words on tea.", "tea " * 520) == []  # within 20%
    assert rule_gaps("Write a friendly note to the team.", "Hello team, thanks for the week.") == []


def test_sections_and_language_helpers() -> None:
    assert sections_asked("Include a 'Next steps' section and a Summary section.") == ["Next steps", "Summary"]
    assert language_of("Der Hund ist nicht mit der Katze und die Kinder sind auf dem Hof") == "German"
    assert language_of("ok") is None
