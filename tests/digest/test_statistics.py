"""The digest keeps SQLite's planner statistics (storage/metrics.py refresh_statistics): without them
SQLite cannot read the decided projects in group order (ix_projects_groups) and sorts them all."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.report.digest import Period, build_report
from storage.engine import Database
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
