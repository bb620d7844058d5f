"""`draftloop digest` on a database at the current schema reads it through its bare driver, not the
engine: a SQLite file through the standard library's sqlite3 (storage/metrics_read.py
SqliteFileReader), PostgreSQL through one asyncpg connection (PostgresReader): the same statements,
the same report. Anything else (a new database, one behind, unreadable or unreachable, a URL with
options) goes through the engine as before. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from bot.app import cli
from bot.app.cli import app
from bot.report.digest import Period, build_report, read_report, render_text
from storage.engine import Database
from storage.metrics_read import PostgresReader, SqliteFileReader, positional, sqlite_file
from storage.migrate import head_revision
from storage.models import Decision, Feedback, Nudge, Person, Signal
from storage.routing import Comparison, QualityCheck, Route
from storage.urls import plain_postgres_dsn
from tests.digest.dataset import STUDY, Spec, at, insert_specs

WEEK = Period(date(2026, 11, 16), date(2026, 11, 23), ZoneInfo("UTC"))
ARGS = ["digest", "--since", "2026-11-16", "--until", "2026-11-23"]
DECIDED = at(2026, 11, 18, 10)


async def _fill(db: Database) -> None:
    """The study, two projects waiting for review, and a row in every table the digest reads beyond
    projects, versions and feedback: routes, checks, nudges, timeouts, a compare pick, 👍/👎, a name."""
    ids = await insert_specs(db, STUDY, decided_at=DECIDED)
    await insert_specs(db, (Spec(2, "writing", "gpt-5", "in_review", 1, 0),), decided_at=DECIDED)
    when = at(2026, 11, 18, 9)
    async with db.session() as session:
        for i, pid in enumerate(ids[:12]):
            session.add(
                Route(
                    project_id=pid,
                    category="data-science",
                    agent="good" if i % 3 else "bad",
                    policy=("best", "explore", "fixed")[i % 3],
                    review=("fine", "review", None)[i % 3],
                    created_at=when,
                )
            )
        for i, pid in enumerate(ids[:3]):
            verdict = ("passed", "revised", "flagged")[i]
            gaps = '["length: about 300 words"]' if verdict == "flagged" else "[]"
            session.add(
                QualityCheck(
                    project_id=pid,
                    version=1,
                    verdict=verdict,
                    checker="rules",
                    gaps=gaps,
                    remaining=gaps,
                    created_at=when,
                )
            )
        session.add(
            Feedback(
                project_id=ids[2],
                author_id="ana",
                author_name="",
                text="too long, cut the words",
                on_version=1,
                is_expert=True,
                created_at=when,
            )
        )
        session.add(Person(platform="console", user_id="ana", name="Ana Lima", first_seen=when, last_seen=when))
        session.add(Nudge(project_id=ids[3], kind="escalate", seq=1, created_at=when))
        session.add(Nudge(project_id=ids[4], kind="review", seq=1, created_at=when))
        session.add(
            Decision(project_id=ids[5], actor_id="x", outcome="expire", version=1, via="timeout", created_at=when)
        )
        session.add(
            Decision(project_id=ids[-1], actor_id="x", outcome="reject", version=3, reason="tone", created_at=when)
        )
        session.add(
            Comparison(project_id=ids[6], agent_a="good", agent_b="bad", picked="B", picked_at=when, created_at=when)
        )
        session.add(Signal(project_id=ids[7], version=1, person_id="bob", value="up", created_at=when, updated_at=when))
        session.add(
            Signal(project_id=ids[8], version=1, person_id="bob", value="down", created_at=when, updated_at=when)
        )


def _file_of(db: Database) -> Path:
    path = db.engine.url.database
    assert path is not None
    return Path(path)


def _dsn_of(db: Database) -> str:
    dsn = plain_postgres_dsn(db.engine.url.render_as_string(hide_password=False))
    assert dsn is not None
    return dsn


async def _bare_reader(db: Database) -> SqliteFileReader | PostgresReader | None:
    if db.dialect == "sqlite":
        return SqliteFileReader.open(_file_of(db), revision=head_revision())
    return await PostgresReader.open(_dsn_of(db), revision=head_revision())


async def test_the_bare_reader_reads_what_the_engine_reads(db: Database) -> None:
    await _fill(db)
    now = at(2026, 11, 23, 9)
    engine = await build_report(db, WEEK, now=now)
    reader = await _bare_reader(db)
    assert reader is not None
    try:
        bare = await read_report(reader, WEEK, now=now)
    finally:
        await reader.aclose()
    data = engine.to_json()
    # every section has something in it, so a difference anywhere would show
    section = data["orchestrator"]["data-science"]
    assert section["qc"] == {"passed": 1, "revised": 1, "flagged": 1, "flagged_shown": 1, "gap_reappeared": 1}
    assert (section["escalations"], section["reviews_asked"], section["timeouts"]["expire"]) == (1, 1, 1)
    assert section["picks"] == {"bad": {"compared": 1, "picked": 1}, "good": {"compared": 1, "picked": 0}}
    assert data["signals"] == {"up": 1, "down": 1, "projects": 2} and data["reject_reasons"]["tone"] == 1
    assert data["waiting_total"] == 2 and "Ana Lima" in [e["name"] for e in data["by_expert"]]
    assert bare.to_json() == data
    assert render_text(bare) == render_text(engine)


def _invoke(db: Database, args: list[str]) -> Any:
    env = {"DATABASE_URL": db.engine.url.render_as_string(hide_password=False), "DRAFTLOOP_LOG_LEVEL": "WARNING"}
    return CliRunner().invoke(app, args, env=env)


async def test_the_command_prints_the_engines_report_on_both_databases(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _fill(db)
    monkeypatch.delenv("DRAFTLOOP_CONFIG", raising=False)
    through_engine = cli._report_through_engine
    used: list[bool] = []

    async def watched(*args: Any) -> Any:
        used.append(True)
        return await through_engine(*args)

    monkeypatch.setattr(cli, "_report_through_engine", watched)
    # CliRunner runs the command's own event loop: in a thread, beside this test's
    shown = await asyncio.to_thread(_invoke, db, [*ARGS, "-f", "json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    expected = (await build_report(db, WEEK, now=at(2026, 11, 23, 9))).to_json()
    # ages are measured to the command's own clock; everything else is the engine's report
    for item in (data, expected):
        for w in item["waiting"]:
            w.pop("waiting_hours")
    assert data == expected
    text = await asyncio.to_thread(_invoke, db, ARGS)
    assert text.exit_code == 0 and "Agents finished 40% alone; with expert feedback 62%" in text.stdout
    assert used == []  # both read through the bare driver


def test_a_new_file_is_created_and_migrated_by_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fresh" / "draftloop.db"
    monkeypatch.delenv("DRAFTLOOP_CONFIG", raising=False)
    env = {"DATABASE_URL": f"sqlite:///{path}", "DRAFTLOOP_LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(app, [*ARGS, "-f", "json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["decided"] == 0
    reader = SqliteFileReader.open(path, revision=head_revision())  # at the head now: the next one is bare
    assert reader is not None
    reader.close()


async def test_a_file_the_bare_reader_cannot_use_is_left_to_the_engine(db: Database, tmp_path: Path) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite files only")
    assert SqliteFileReader.open(tmp_path / "missing.db", revision=head_revision()) is None
    assert not (tmp_path / "missing.db").exists()  # never created here
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert SqliteFileReader.open(junk, revision=head_revision()) is None
    assert SqliteFileReader.open(_file_of(db), revision="0001") is None  # behind (or ahead of) this draftloop
    assert SqliteFileReader.open(_file_of(db), revision=None) is None


async def test_a_postgres_database_the_bare_reader_cannot_use_is_left_to_the_engine(pg_url: str) -> None:
    db = Database(pg_url)
    dsn = _dsn_of(db)
    assert await PostgresReader.open(dsn, revision="0001") is None  # behind (or ahead of) this draftloop
    assert await PostgresReader.open(dsn, revision=None) is None
    assert await PostgresReader.open("postgresql://postgres@127.0.0.1:1/test", revision=head_revision()) is None
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE alembic_version RENAME TO alembic_version_away")
    try:
        assert await PostgresReader.open(dsn, revision=head_revision()) is None  # a new database
    finally:
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("ALTER TABLE alembic_version_away RENAME TO alembic_version")
    reader = await PostgresReader.open(dsn, revision=head_revision())
    assert reader is not None
    await reader.aclose()
    await db.dispose()


def test_named_parameters_become_positional_ones_as_sqlalchemy_reads_them() -> None:
    sql = "SELECT x::float FROM t WHERE a >= :since AND b < :until AND c = :since AND d = 'a:b' OR e = \\:no"
    text, names = positional(sql)
    assert names == ("since", "until")
    assert text == "SELECT x::float FROM t WHERE a >= $1 AND b < $2 AND c = $1 AND d = 'a:b' OR e = \\:no"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgres://u:p%40ss@h:5433/db", "postgresql://u:p%40ss@h:5433/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u@h/db?sslmode=require", None),
        ("postgresql://u@h:99999/db", None),
        ("postgresql://u@h:0/db", None),
        ("sqlite:///x.db", None),
        (None, None),
    ],
)
def test_which_urls_the_bare_postgres_reader_takes(url: str | None, expected: str | None) -> None:
    assert plain_postgres_dsn(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, "DATA/draftloop.db"),
        ("sqlite:///data/x.db", "data/x.db"),
        ("sqlite:////var/lib/x.db", "/var/lib/x.db"),
        ("sqlite+aiosqlite:///x.db", "x.db"),
        ("sqlite:///x.db?mode=ro", None),
        ("sqlite:///a%20b.db", None),
        ("sqlite:///:memory:", None),
        ("postgresql://u@h/db", None),
    ],
)
def test_which_urls_name_a_plain_sqlite_file(url: str | None, expected: str | None, tmp_path: Path) -> None:
    found = sqlite_file(url, tmp_path)
    if expected is None:
        assert found is None
    else:
        assert found == (Path(expected.replace("DATA", str(tmp_path))).resolve() if url is None else Path(expected))


def test_the_kinds_and_verdicts_the_digest_counts_are_the_orchestrators() -> None:
    from bot.orchestrator import qc
    from bot.report.orchestrator import VERDICTS
    from storage import metrics, routing

    assert VERDICTS == (qc.PASSED, qc.REVISED, qc.FLAGGED)
    assert (metrics.ESCALATE, metrics.TIMEOUT, metrics.REVIEW_ASKED) == (
        routing.ESCALATE,
        routing.TIMEOUT,
        routing.REVIEW_ASKED,
    )


def _digest_in_a_fresh_process(url: str) -> None:
    """`draftloop digest -f json` in a new interpreter on `url`: it reports decided projects and
    has imported none of SQLAlchemy, SQLModel or Alembic."""
    code = (
        "import sys\n"
        "from bot.app.cli import app\n"
        f"app({[*ARGS, '-f', 'json']!r}, standalone_mode=False)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel', 'alembic'))\n"
        "print('HEAVY', heavy[:5], file=sys.stderr)\n"
    )
    env = {**os.environ, "DATABASE_URL": url, "DRAFTLOOP_LOG_LEVEL": "WARNING"}
    env.pop("DRAFTLOOP_CONFIG", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decided"] > 0
    assert "HEAVY []" in done.stderr, done.stderr


def test_a_one_shot_digest_on_sqlite_imports_no_sqlalchemy(tmp_path: Path) -> None:
    path = tmp_path / "one.db"

    async def fill() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        from storage.migrate import upgrade

        await upgrade(f"sqlite+aiosqlite:///{path}")
        await insert_specs(db, STUDY[:2], decided_at=DECIDED - timedelta(days=1))
        await db.dispose()

    asyncio.run(fill())
    _digest_in_a_fresh_process(f"sqlite:///{path}")


async def test_a_one_shot_digest_on_postgres_imports_no_sqlalchemy(pg_url: str) -> None:
    db = Database(pg_url)
    await insert_specs(db, STUDY[:2], decided_at=DECIDED - timedelta(days=1))
    await db.dispose()
    await asyncio.to_thread(_digest_in_a_fresh_process, db.engine.url.render_as_string(hide_password=False))
