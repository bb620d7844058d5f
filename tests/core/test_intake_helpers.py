"""The intake helpers every chat adapter shares (adapters/chat/common, bot/vocabulary.py, bot/recent.py):
one rule each, so a platform cannot read files, minutes or decisions its own way."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from adapters.chat.common import files
from adapters.chat.common.minutes import MAX_MINUTES, NotMinutes, form_minutes
from bot.events import Outcome
from bot.recent import RecentKeys
from bot.stats import parse_minutes
from bot.vocabulary import DECISION_EMOJI, emoji_outcome, word_outcome


@settings(max_examples=50, deadline=None)
@given(minutes=st.integers(min_value=1, max_value=MAX_MINUTES))
def test_a_stated_number_is_read_as_the_core_reads_minutes(minutes: int) -> None:
    """A bare number up to a day is minutes; written with a unit, the core's parse_minutes reads it."""
    assert form_minutes(str(minutes)) == minutes
    hours, rest = divmod(minutes, 60)
    written = f"{hours}h{rest}m" if hours else f"{rest} min"
    assert form_minutes(written) == parse_minutes(written) == minutes


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("", None), ("  ", None), ("0", None), ("1h30m", 90)])
def test_stated_minutes(raw: str | None, expected: int | None) -> None:
    assert form_minutes(raw) == expected


@pytest.mark.parametrize("raw", ["1441", "99999", "soon", "-5", "2.5", "25h"])
def test_unreadable_minutes_are_refused(raw: str) -> None:
    with pytest.raises(NotMinutes):
        form_minutes(raw)


@pytest.mark.parametrize(
    ("name", "mimetype", "filetype", "size", "kind"),
    [
        ("notes.md", "", "", 10, "text"),
        ("data", "application/json", "", 10, "text"),
        ("script", "", "python", 10, "text"),  # Slack's own word for the type
        ("page.HTML", "", "", 10, "text"),
        ("spec.pdf", "", "", files.MAX_PDF_BYTES, "pdf"),
        ("scan", "application/pdf; x=1", "", 10, "pdf"),
        ("spec.pdf", "", "", files.MAX_PDF_BYTES + 1, None),  # too big to read: named only
        ("big.txt", "text/plain", "", files.MAX_TEXT_BYTES + 1, None),
        ("photo.png", "image/png", "png", 10, None),
        ("no-extension", "", "", 10, None),
    ],
)
def test_which_files_are_read(name: str, mimetype: str, filetype: str, size: int, kind: str | None) -> None:
    assert files.readable(name, size, mimetype, filetype) == kind


def test_file_text_is_cut_and_a_broken_pdf_is_not_read() -> None:
    assert files.file_text(b"a" * (files.MAX_FILE_CHARS + 10), "text") == "a" * files.MAX_FILE_CHARS
    assert files.file_text(b"ok \xff", "text") == "ok \ufffd"
    assert files.pdf_text(b"%PDF-1.4 not really") is None


@pytest.mark.parametrize("emoji", ["✅", "✔️", "✔", "☑️", "☑"])
def test_every_accepting_emoji_with_or_without_its_variation_selector(emoji: str) -> None:
    assert emoji_outcome(emoji) == Outcome.ACCEPT
    assert word_outcome(emoji) == Outcome.ACCEPT  # a reply that is only the emoji decides too


def test_decision_words() -> None:
    assert emoji_outcome("❌") == word_outcome("Reject!") == word_outcome("rejected.") == Outcome.REJECT
    assert word_outcome(" Accept. ") == word_outcome("approve") == Outcome.ACCEPT
    assert word_outcome("accept it, but shorter") is None and emoji_outcome("👍") is None
    assert set(DECISION_EMOJI.values()) == {Outcome.ACCEPT, Outcome.REJECT}


@settings(max_examples=50, deadline=None)
@given(keys=st.lists(st.integers(min_value=0, max_value=40), max_size=200), size=st.integers(1, 16))
def test_recent_keys_remember_the_last_ones_and_no_more(keys: list[int], size: int) -> None:
    recent: RecentKeys[int] = RecentKeys(size)
    seen: list[int] = []
    for key in keys:
        assert recent.first_time(key) == (key not in seen[-size:])
        seen = [k for k in seen if k != key] + [key]
    assert len(recent) <= size
    assert all(k in recent for k in seen[-size:])
