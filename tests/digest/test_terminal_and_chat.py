"""The digest in a terminal is plain text; in a chat it is Markdown. Both name the period by the days
it includes, and count in words that agree with the numbers."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from adapters.chat.console.service import ConsoleService
from bot.app.cli import app
from bot.app.jobs import digest_reply
from bot.report.chart import chart_title
from bot.report.digest import Period, build_report
from bot.report.lines import days_shown, expert_lines, text_table
from bot.report.render import render_chat, render_discord, render_slack, render_text
from bot.stats import rate
from storage.engine import Database
from tests.digest.dataset import NOISE, STUDY, at, insert_specs

WEEK = Period(date(2026, 11, 16), date(2026, 11, 23), ZoneInfo("UTC"))
MARKUP = re.compile(r"\*\*|```|^_|_$|^- |<[@#!]|\*[A-Za-z]", re.MULTILINE)

ONE = {
    "period": {"since": "2026-11-20", "until": "2026-11-27", "tz": "UTC"},
    "opened": 1,
    "decided": 1,
    "accepted": 1,
    "agent_alone": rate(0, 1),
    "with_feedback": rate(1, 1),
    "by_cycle": [{"cycles": 0, **rate(0, 1)}, {"cycles": 1, **rate(1, 1)}],
    "by_category": [{"name": "writing", "decided": 1, "agent_alone": rate(0, 1), "with_feedback": rate(1, 1)}],
    "by_expert": [{"name": "alice", "feedback": 1, "projects": 1, "expert_minutes": {"stated": 1, "estimated": 0}}],
    "waiting": [{"number": 2, "category": "writing", "version": 1, "waiting_hours": 0.0}],
    "waiting_total": 1,
}


@pytest.fixture
async def study(db: Database) -> dict:
    await insert_specs(db, STUDY, decided_at=at(2026, 11, 18, 10))
    await insert_specs(db, NOISE, decided_at=at(2026, 11, 18, 10))
    return (await build_report(db, WEEK, now=at(2026, 11, 23, 9))).to_json()


# ---------------------------------------------------------------- the period's days


def test_the_header_shows_the_last_included_day_everywhere() -> None:
    shown = "2026-11-20 → 2026-11-26 (UTC)"
    assert render_text(ONE).splitlines()[0] == f"draftloop digest {shown}"
    assert render_chat(ONE).splitlines()[0] == f"**draftloop digest {shown}**"
    assert render_slack(ONE)[0]["text"]["text"] == f"draftloop digest {shown}"
    assert render_discord(ONE)["title"] == f"draftloop digest {shown}"
    assert chart_title(ONE) == "draftloop digest 2026-11-20 to 2026-11-26 (UTC)"


def test_a_one_day_period_shows_its_day_once_and_odd_periods_as_given() -> None:
    assert days_shown({"period": {"since": "2026-11-20", "until": "2026-11-21", "tz": "UTC"}}) == "2026-11-20 (UTC)"
    assert days_shown({"period": {"since": "a", "until": "b", "tz": "UTC"}}) == "a → b (UTC)"
    assert days_shown({}) == "? → ? (UTC)"


async def test_the_json_period_keeps_its_documented_meaning(study: dict) -> None:
    assert study["period"] == {"since": "2026-11-16", "until": "2026-11-23", "tz": "UTC"}  # until: exclusive


# ---------------------------------------------------------------- plain text for a terminal


async def test_the_terminal_text_has_no_markup_and_aligned_tables(study: dict) -> None:
    text = render_text(study)
    assert not MARKUP.search(text), MARKUP.search(text)
    lines = text.splitlines()
    start = lines.index("By category") + 1
    table = lines[start : lines.index("", start)]
    assert len(table) == 5 and all(line.startswith("  ") for line in table)
    # every figure of a column ends where its heading ends; a thin mark (`25%*`) hangs after it
    ends = [[m.end() for m in re.finditer(r"[^ *]+", line)][1:] for line in table]
    assert all(row == ends[0] for row in ends), table


def test_thin_marks_hang_past_the_figures() -> None:
    table = text_table([["g", "alone"], ["a", "64%"], ["b", "25%*"]]).splitlines()
    assert table == ["g  alone", "a    64%", "b    25%*"]


def test_counts_agree_with_their_words() -> None:
    assert expert_lines(ONE) == ["alice: 1 feedback point on 1 project, 1 min stated + 0 min estimated"]
    two = {**ONE, "by_expert": [{**ONE["by_expert"][0], "feedback": 2, "projects": 2}]}
    assert expert_lines(two)[0].startswith("alice: 2 feedback points on 2 projects")
    for render in (render_text, render_chat):
        out = render(ONE)
        assert "1 feedback point on 1 project," in out and "1 projects" not in out
        assert "#2 writing v1, waiting under a minute" in out


async def test_the_console_digest_is_plain_text_with_plurals(make_runtime, settings_factory) -> None:
    rt = make_runtime(settings_factory())
    script = "[writing] a short memo\n#1 Open with the first week. 20m\n#1 accept\n/digest\n"
    out = io.StringIO()
    console = ConsoleService(rt, stdin=io.StringIO(script), out=out)
    console.speaker = "alice"
    await console.run()
    text = out.getvalue()
    digest = text[text.index("draftloop digest") :]
    assert not MARKUP.search(digest), digest
    assert "alice: 1 feedback point on 1 project, 20 min stated + 0 min estimated" in digest


def test_the_cli_prints_plain_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("DRAFTLOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DRAFTLOOP_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["digest", "--since", "2026-11-20", "--until", "2026-11-27"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "draftloop digest 2026-11-20 → 2026-11-26 (UTC)"
    assert not MARKUP.search(result.stdout), result.stdout


# ---------------------------------------------------------------- Markdown for a chat


async def test_the_chat_digest_keeps_its_markup(db: Database, study: dict) -> None:
    reply = digest_reply(await build_report(db, WEEK, now=at(2026, 11, 23, 9)), chart=False)
    assert reply.text == render_chat(study)
    assert reply.text.startswith("**draftloop digest 2026-11-16 → 2026-11-22 (UTC)**\n")
    assert "```" in reply.text and "- ben: 78 feedback points on 74 projects" in reply.text
