"""The command line says what is true, once: `db upgrade` names the revision the database is at and
never pretends to downgrade; `digest` takes --until alone, any case of --format, any dates without
overflowing, posts to the console without printing twice and says where the chart went; usage
errors are one line; `--help` lists the environment; a worker without a platform says it runs only
the scheduler. And a property: no argument list gives a traceback or an exit code outside 0/1/2."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from bot.app.cli import app
from storage.engine import Database
from storage.migrate import current_revision, head_revision, revisions
from tests.core.worker_process import worker_until

EXE = str(Path(sys.executable).parent / "draftloop")
_CLEARED = ("DATABASE_URL", "DRAFTLOOP_AGENT", "DRAFTLOOP_CONFIG", "DRAFTLOOP_LOG_LEVEL", "PORT")


@pytest.fixture
def database(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated SQLite file as DATABASE_URL, nothing else configured."""
    for name in (*_CLEARED, "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("DRAFTLOOP_DATA_DIR", str(tmp_path / "data"))
    return path


def _invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), input="")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def _revision(path: Path) -> str | None:
    async def read() -> str | None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            return await current_revision(db.engine)
        finally:
            await db.dispose()

    return asyncio.run(read())


# -- db upgrade ----------------------------------------------------------------------------------


def test_db_upgrade_names_the_revision_the_database_is_at(database: Path) -> None:
    head = head_revision()
    assert head is not None and _revision(database) == head
    # Before: "database at 0001", exit 0, while the database stayed at the head.
    older = _invoke("db", "upgrade", revisions()[0])
    assert older.exit_code == 2
    assert f"the database is at revision {head}, past {revisions()[0]}; draftloop does not downgrade" in older.stderr
    assert older.stdout == "" and _revision(database) == head
    again = _invoke("db", "upgrade")
    assert again.exit_code == 0 and again.stdout == f"database at {head}\n"


def test_db_upgrade_to_a_revision_then_to_the_head(tmp_path: Path, database: Path) -> None:
    fresh = tmp_path / "fresh.db"
    os.environ["DATABASE_URL"] = f"sqlite:///{fresh}"  # monkeypatched by `database`: restored after the test
    second = revisions()[1]
    step = _invoke("db", "upgrade", second)
    assert step.exit_code == 0 and step.stdout == f"database at {second}\n" and _revision(fresh) == second
    head = _invoke("db", "upgrade", "head")
    assert head.exit_code == 0 and head.stdout == f"database at {head_revision()}\n"


@pytest.mark.parametrize("revision", ["bogusrev", "+1", "base", ""])
def test_db_upgrade_to_an_unknown_revision_is_a_usage_error_before_connecting(
    tmp_path: Path, database: Path, revision: str
) -> None:
    # Before: 142 lines ending in alembic's CommandError, exit 1.
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp_path / 'never.db'}"
    result = _invoke("db", "upgrade", revision)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert f"{revision!r} is not a revision of draftloop; use head or one of {', '.join(revisions())}" in result.stderr
    assert not (tmp_path / "never.db").exists()


# -- digest --------------------------------------------------------------------------------------


def test_until_alone_takes_the_seven_days_before_it(database: Path) -> None:
    # Before: "--until must be after --since", exit 2.
    result = _invoke("digest", "--until", "2026-11-01", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["period"] == {"since": "2026-10-25", "until": "2026-11-01", "tz": "UTC"}
    since = _invoke("digest", "--since", "2026-10-01", "--format", "json")
    assert since.exit_code == 0 and json.loads(since.stdout)["period"]["since"] == "2026-10-01"


def test_dates_far_out_are_taken_as_the_widest_period(database: Path) -> None:
    # Before: OverflowError, 58 lines, exit 1.
    result = _invoke("digest", "--since", "1900-01-01", "--until", "9999-12-31", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["period"] == {"since": "1970-01-01", "until": "2200-01-01", "tz": "UTC"}
    assert "--since 1900-01-01 is outside 1970-01-01 … 2200-01-01; taken as 1970-01-01" in result.stderr
    assert "--until 9999-12-31 is outside" in result.stderr


@pytest.mark.parametrize("shape", ["JSON", "Json", " json "])
def test_format_in_any_case(database: Path, shape: str) -> None:
    # Before: "Invalid value for --format: use text or json" in a box, exit 2.
    result = _invoke("digest", "--format", shape)
    assert result.exit_code == 0 and json.loads(result.stdout)["period"]["tz"] == "UTC"


def test_posting_to_the_console_prints_the_digest_once(database: Path) -> None:
    args = ("digest", "--since", "2026-11-16", "--until", "2026-11-23")
    title = _invoke(*args).stdout.strip().splitlines()[0]
    assert "2026-11-16" in title
    # Before: printed by the command and again by the console it was posted to.
    posted = _invoke(*args, "--post", "console:-")
    assert posted.exit_code == 0 and posted.stdout.count(title) == 1, posted.stdout


def test_the_chart_says_where_it_went(tmp_path: Path, database: Path) -> None:
    chart = tmp_path / "charts" / "week.png"
    chart.parent.mkdir()
    # Before: the file was written without a word.
    result = _invoke("digest", "--chart", str(chart))
    assert result.exit_code == 0 and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.stderr == f"draftloop: chart written to {chart.resolve()}\n"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--chart", "/nonexistent/x.png"], "invalid value for --chart: the directory /nonexistent does not exist"),
        (["--chart", "{tmp}"], "invalid value for --chart: {tmp} is a directory; name a file, like {tmp}/digest.png"),
        (["--format", "xml"], "invalid value for --format: 'xml' is not a format; use text or json"),
        (["--since", "yesterday"], "invalid value for --since: 'yesterday' is not a date like 2026-11-16"),
        (["--since", "2026-11-10", "--until", "2026-11-01"], "2026-11-01 is not after --since 2026-11-10"),
        (["--post", "teams:C1"], "invalid value for --post: 'teams' is not an installed platform; use one of"),
        (["--bogus"], "no such option: --bogus"),
    ],
)
def test_digest_usage_errors_are_one_line_before_any_work(
    tmp_path: Path, database: Path, args: list[str], said: str
) -> None:
    # Before: --chart failed after the report was built (FileNotFoundError / IsADirectoryError
    # tracebacks, exit 1); the others were click's five-line boxed usage message.
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp_path / 'never.db'}"
    result = _invoke("digest", *(a.format(tmp=tmp_path) for a in args))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("draftloop digest: ") and result.stderr.count("\n") == 1, result.stderr
    assert said.format(tmp=tmp_path) in result.stderr and "(see draftloop digest --help)" in result.stderr
    assert not (tmp_path / "never.db").exists()


def test_an_unknown_command_is_one_line() -> None:
    result = _invoke("digset")
    expected = "draftloop: no such command 'digset'. Did you mean 'digest'? (see draftloop --help)\n"
    assert result.exit_code == 2 and result.stderr == expected


def test_help_lists_the_environment_and_the_exit_codes() -> None:
    shown = _invoke("--help")
    assert shown.exit_code == 0
    for name in (
        "DATABASE_URL",
        "DRAFTLOOP_AGENT",
        "DRAFTLOOP_CONFIG",
        "DRAFTLOOP_DATA_DIR",
        "DRAFTLOOP_LOG_LEVEL",
        "DRAFTLOOP_EVENT_LOOP",
        "PORT",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "DISCORD_TOKEN",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
    ):
        assert name in shown.stdout, name
    assert "Exit codes: 0 success, 1 a runtime failure, 2 a usage or configuration error." in shown.stdout


def test_a_worker_without_a_platform_says_it_runs_only_the_scheduler(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED and not k.startswith(("SLACK_", "DISCORD_"))}
    env.update(DRAFTLOOP_DATA_DIR=str(tmp_path), DRAFTLOOP_LOG_LEVEL="WARNING")
    said, returncode = worker_until(env, "only the scheduler runs")
    # Before: nothing said so (only APScheduler's INFO lines at INFO, silence at WARNING).
    assert returncode == 0 and "Traceback" not in said
    assert said.count("only the scheduler runs") == 1
    assert "no chat platform to connect (set SLACK_BOT_TOKEN and SLACK_APP_TOKEN, or DISCORD_TOKEN)" in said


# -- the property --------------------------------------------------------------------------------

_ODD = st.sampled_from(["", "-", "--", "x" * 300, "é", "\t", "0", "-1", "--help", "--version", "\x1b[2J", "%s"])
_DATES = st.sampled_from(
    ["2026-11-01", "2026-02-30", "1900-01-01", "9999-12-31", "0001-01-01", "yesterday", "", " 2026-11-01 ", "2026-1-1"]
)
_FORMATS = st.sampled_from(["text", "json", "JSON", "Text", "xml", ""])
_POSTS = st.sampled_from(["console:-", "slack:C1", "discord:", "teams:x", ":", "console"])
_REVISIONS = st.sampled_from(["head", "heads", "0001", "0002", "bogus", "", "+1", "base"])


def _charts(tmp: Path) -> st.SearchStrategy[str]:
    return st.sampled_from([str(tmp / "c.png"), "/nonexistent/x.png", str(tmp), "", str(tmp / "no" / "c.png")])


def _digest_options(tmp: Path) -> st.SearchStrategy[list[str]]:
    option = st.one_of(
        st.tuples(st.just("--since"), _DATES),
        st.tuples(st.just("--until"), _DATES),
        st.tuples(st.sampled_from(["--format", "-f"]), _FORMATS),
        st.tuples(st.just("--chart"), _charts(tmp)),
        st.tuples(st.just("--post"), _POSTS),
        st.tuples(_ODD),
    )
    return st.lists(option, max_size=3).map(lambda parts: [arg for part in parts for arg in part])


def _arguments(tmp: Path) -> st.SearchStrategy[list[str]]:
    return st.one_of(
        _digest_options(tmp).map(lambda rest: ["digest", *rest]),
        st.lists(st.one_of(st.sampled_from(["--no-check", "--check"]), _ODD), max_size=2).map(lambda r: ["agents", *r]),
        _REVISIONS.map(lambda rev: ["db", "upgrade", rev]),
        _ODD.map(lambda odd: ["db", odd]),
        # chat reads the (empty) input and ends; serve without Slack says so; a worker would run on:
        # it only gets arguments it must refuse
        st.lists(_ODD, max_size=1).map(lambda rest: ["chat", *rest]),
        st.lists(_ODD, max_size=1).map(lambda rest: ["serve", *rest]),
        _ODD.filter(lambda odd: odd not in ("", "-", "--", "--version") and not odd.startswith("--help")).map(
            lambda odd: ["worker", odd]
        ),
        st.lists(_ODD, max_size=2),
    )


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_arguments_give_a_traceback_or_an_unknown_exit_code(tmp_path: Path, database: Path, data: Any) -> None:
    args = data.draw(_arguments(tmp_path))
    result = CliRunner().invoke(app, args, input="")
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert result.exit_code in (0, 1, 2), (args, result.output)
    assert "Traceback" not in result.output, args
    if result.exit_code != 0:  # the last word on stderr is draftloop's one line (or the help, for no command)
        last = [line for line in result.stderr.splitlines() if line.strip()]
        assert (last and last[-1].startswith("draftloop")) or "Usage: draftloop" in result.output, (args, result.output)
