"""The digest keeps SQLite's planner statistics (storage/metrics.py refresh_statistics): without them
SQLite cannot read the decided projects in group order (ix_projects_groups) and sorts them all."""

from __future__ import annotations

import sqlite3
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.report.digest import Period, build_report
from storage.engine import Database
from storage.metrics_read import lanes, reader_for
from tests.digest.dataset import NOISE, STUDY, at, insert_specs

WEEK = Period(date(2026, 11, 16), date(2026, 11, 23), ZoneInfo("UTC"))


async def _analyzed(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        exists = (
            await conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"))
        ).scalar_one()
        if not exists:
            return set()
        rows = await conn.execute(text("SELECT DISTINCT tbl FROM sqlite_stat1 WHERE stat IS NOT NULL"))
        return {str(r[0]) for r in rows}


async def test_a_digest_on_sqlite_leaves_statistics_for_the_tables_it_read(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite only: PostgreSQL's autovacuum analyzes, the digest leaves it alone")
    await insert_specs(db, STUDY + NOISE, decided_at=at(2026, 11, 18, 10))
    assert "projects" not in await _analyzed(db)  # filled after the migration's ANALYZE: not yet known
    report = await build_report(db, WEEK, now=at(2026, 11, 23, 9))
    assert report.overall.decided > 0
    assert {"projects", "feedback", "versions"} <= await _analyzed(db)


async def test_statistics_are_kept_on_a_file_not_in_wal_mode_read_in_two_lanes(db: Database) -> None:
    """On a rollback-journal file a write (ANALYZE) waits for every reader: the digest ends both lanes'
    read transactions before it keeps the statistics, so neither waits out the other's."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite's journal modes")
    await insert_specs(db, STUDY + NOISE, decided_at=at(2026, 11, 18, 10))
    path = db.engine.url.database
    assert path is not None
    await db.dispose()
    plain = sqlite3.connect(path, isolation_level=None)
    assert plain.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    plain.close()
    async with reader_for(db) as reader, lanes(reader) as readers:
        assert len(readers) == 2  # the digest below reads in two lanes too
    report = await build_report(db, WEEK, now=at(2026, 11, 23, 9))
    assert report.overall.decided > 0
    plain = sqlite3.connect(path, isolation_level=None)
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # the engine never opened it
        tables = {row[0] for row in plain.execute("SELECT DISTINCT tbl FROM sqlite_stat1 WHERE stat IS NOT NULL")}
    finally:
        plain.close()
    assert {"projects", "feedback", "versions"} <= tables
