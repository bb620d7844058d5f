"""Reading the triage agent's answer."""

from __future__ import annotations

import pytest

from bot.triage import parse_classification


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("data-science: cleaning a CSV file", ("data-science", "cleaning a CSV file")),
        ("**Web-Dev**: a landing page\nmore text", ("web-dev", "a landing page")),
        ("Sales & Marketing: ad copy", ("sales-marketing", "ad copy")),
        ("I would say translation fits best.", ("translation", "")),
        ("", None),
        ("no idea", None),
    ],
)
def test_parse_classification(answer: str, expected: tuple[str, str] | None) -> None:
    assert parse_classification(answer) == expected
