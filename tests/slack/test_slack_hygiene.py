"""NUL bytes and bytes that are not UTF-8, in a Slack message, a text file and a PDF's text, on
SQLite and PostgreSQL: the request is stored cleaned and drafted, and so is a reply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from storage.engine import Database
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.conftest import REQUESTER, SlackHarness
from tests.slack.test_slack_intake import _pdf_with_text


@pytest.fixture
async def slack_on_db(
    fake_slack: FakeSlackAPI, slack_settings: Any, db_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[SlackHarness]:
    """`draftloop serve`'s Slack app on the test database (`db` empties it on PostgreSQL)."""
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    harness = SlackHarness(fake_slack, slack_settings(fake_slack, database_url=db_url))
    await harness.start()
    try:
        yield harness
    finally:
        await harness.close()


async def test_nul_bytes_and_bad_utf8_from_slack_are_cleaned_stored_and_drafted(slack_on_db: SlackHarness) -> None:
    slack, fake = slack_on_db, slack_on_db.fake
    files = [
        fake.add_file("notes.txt", b"line one\x00 and \xff\xfe bytes"),
        fake.add_file("spec.pdf", _pdf_with_text(r"Budget \000is 5000\001 euros"), mimetype="application/pdf"),
    ]
    msg = await slack.mention("[writing] Write the launch email\u0000 for Friday", files=files)
    await slack.settle()
    project = await slack.project(1)
    assert (project.state, project.current_version) == ("in_review", 1)
    assert "Write the launch email for Friday" in project.brief
    assert "line one and \ufffd\ufffd bytes" in project.brief and "Budget is 5000 euros" in project.brief
    assert not any(ord(ch) < 0x20 and ch not in "\n\t" for ch in project.brief)

    await slack.reply(msg["ts"], "Shorter\u0000, please", user=REQUESTER)
    await slack.settle()
    assert (await slack.project(1)).current_version == 2
    assert "Shorter, please" in slack.drafts()[-1]["text"] or "Shorter, please" in str(slack.drafts()[-1]["blocks"])
