"""Digest speed over a large history, on SQLite and PostgreSQL.

Generates 100,000 projects with about 300,000 versions and feedback rows (bulk inserts; COPY on
PostgreSQL), then times the digest report (all its aggregate queries) for the last week, which is
what `draftloop digest` shows by default, and for the whole year of history (in two lanes, as the
digest reads, and in one, its statements in turn, for the ratio), with the digest
indexes (migration 0002 and later) and without them (dropped for the run), and the `draftloop digest`
command end to end (a fresh process: start-up, settings, engine, queries, rendering).

    .venv/bin/python -m benchmarks.bench_digest            # full size, both databases
    .venv/bin/python -m benchmarks.bench_digest --tiny     # a seconds-long smoke run
    .venv/bin/python -m benchmarks.bench_digest --no-pg    # SQLite only
    .venv/bin/python -m benchmarks.bench_digest --queries  # and each statement of a year's report, timed

PostgreSQL: a private database is created next to DRAFTLOOP_TEST_PG (default
postgresql://postgres@127.0.0.1:5432/test) and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks.digest_data import generate
from bot.report.digest import Period, build_report, read_report
from storage.engine import Database, async_url
from storage.metrics_read import Reader, reader_for
from storage.migrate import alembic_config

END = datetime(2026, 11, 23, tzinfo=UTC)
TZ = ZoneInfo("Europe/Berlin")
WEEK = Period(date(2026, 11, 16), date(2026, 11, 23), TZ)
YEAR = Period(date(2025, 11, 23), date(2026, 11, 23), TZ)
# The indexes made for the digest (migration 0002 and later); the benchmark times it without them too.
DIGEST_INDEXES = (
    "ix_projects_digest",
    "ix_projects_groups",
    "ix_versions_usage",
    "ix_feedback_period",
    "ix_feedback_minutes",
)
PG_BASE = os.environ.get("DRAFTLOOP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _alembic(url: str, command: str, revision: str) -> None:
    from alembic import command as cmd

    getattr(cmd, command)(alembic_config(url), revision)


async def _time_report(db: Database, period: Period, repeats: int) -> tuple[float, float, int]:
    times = []
    decided = 0
    for _ in range(repeats):
        start = time.perf_counter()
        report = await build_report(db, period, now=END)
        times.append(time.perf_counter() - start)
        decided = report.overall.decided
    return statistics.median(times), min(times), decided


def _time_cli(sync_url: str, repeats: int) -> float:
    env = dict(os.environ, DATABASE_URL=sync_url, DRAFTLOOP_LOG_LEVEL="WARNING")
    env.pop("DRAFTLOOP_CONFIG", None)
    args = [sys.executable, "-m", "bot", "digest", "--since", "2026-11-16", "--until", "2026-11-23"]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(args, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _time_import(repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import bot.app.cli"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class _InTurn:
    """A reader without lanes: the digest's statements one after another on one connection, as
    before lanes (the row "one lane"), each timed when `times` is given."""

    def __init__(self, reader: Reader, times: list[tuple[float, str]] | None = None) -> None:
        self.reader, self.dialect, self.times = reader, reader.dialect, times

    async def rows(self, sql: str, params: Any = None) -> list[Any]:
        start = time.perf_counter()
        out = await self.reader.rows(sql, params)
        if self.times is not None:
            self.times.append((time.perf_counter() - start, " ".join(sql.split())))
        return out

    async def maintain(self, sql: str) -> None:
        await self.reader.maintain(sql)


async def _time_in_turn(db: Database, period: Period, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        async with reader_for(db) as reader:
            await read_report(_InTurn(reader), period, now=END)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def _statement_times(name: str, db: Database, period: Period) -> None:
    """One report over `period` in one lane, each SQL statement timed (sent to its rows read)."""
    times: list[tuple[float, str]] = []
    start = time.perf_counter()
    async with reader_for(db) as reader:
        await read_report(_InTurn(reader, times), period, now=END)
    total = time.perf_counter() - start
    print(f"  {name}: {len(times)} statements, {sum(t for t, _ in times):.3f} s of {total:.3f} s, slowest first:")
    for seconds, statement in sorted(times, reverse=True)[:8]:
        print(f"    {seconds:7.3f}  {statement[:150]}")


async def _pg_admin(sql: str) -> None:
    import asyncpg

    base = async_url(PG_BASE, data_dir=Path(".")).replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run_backend(
    name: str, url: str, cli_url: str, *, projects: int, rows: int, repeats: int, queries: bool = False
) -> dict[str, float]:
    await asyncio.to_thread(_alembic, url, "upgrade", "head")
    db = Database(url)
    out: dict[str, float] = {}
    try:
        start = time.perf_counter()
        gen = await generate(db.engine, projects=projects, rows=rows, end=END)
        out["generate_s"] = time.perf_counter() - start
        out["projects"], out["versions"], out["feedback"] = gen.projects, gen.versions, gen.feedback
        await _time_report(db, WEEK, 1)  # warm the cache
        out["week_s"], out["week_min_s"], out["week_decided"] = await _time_report(db, WEEK, repeats)
        out["year_s"], out["year_min_s"], out["year_decided"] = await _time_report(db, YEAR, repeats)
        out["year_in_turn_s"] = await _time_in_turn(db, YEAR, repeats)
        if queries:
            await _statement_times(name, db, YEAR)
        out["cli_week_s"] = await asyncio.to_thread(_time_cli, cli_url, max(1, repeats // 2))
        # the same queries without the digest's indexes (dropped, then made again as they were)
        saved = await _drop_indexes(db, DIGEST_INDEXES)
        await _analyze(db)
        out["week_noidx_s"] = (await _time_report(db, WEEK, repeats))[0]
        out["year_noidx_s"] = (await _time_report(db, YEAR, repeats))[0]
        await _create_indexes(db, saved)
        await _analyze(db)
    finally:
        await db.dispose()
    print(
        f"  {name}: generated {gen.projects:,} projects, {gen.versions:,} versions, {gen.feedback:,} feedback "
        f"in {out['generate_s']:.1f} s"
    )
    return out


async def _drop_indexes(db: Database, names: tuple[str, ...]) -> list[str]:
    """Drop the named indexes that exist; return their CREATE statements, to make them again.

    (Downgrading the migrations instead would drop the tables added after them as well.)"""
    from sqlalchemy import text

    async with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            query = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
        else:
            query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
        saved = []
        for name in names:
            ddl = (await conn.execute(text(query), {"name": name})).scalar_one_or_none()
            if ddl:
                saved.append(str(ddl))
                await conn.execute(text(f"DROP INDEX {name}"))
    return saved


async def _create_indexes(db: Database, statements: list[str]) -> None:
    from sqlalchemy import text

    async with db.engine.begin() as conn:
        for ddl in statements:
            await conn.execute(text(ddl))


async def _analyze(db: Database) -> None:
    from sqlalchemy import text

    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="2,000 projects, one repeat: a smoke run")
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=300_000, help="versions + feedback rows (about)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--queries", action="store_true", help="time each statement of a year's report")
    args = parser.parse_args()
    if args.tiny:
        args.projects, args.rows, args.repeats = 2_000, 6_000, 1

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        print(f"digest benchmark: {args.projects:,} projects, ~{args.rows:,} versions + feedback")
        results["sqlite"] = await run_backend(
            "sqlite",
            f"sqlite+aiosqlite:///{path}",
            f"sqlite:///{path}",
            projects=args.projects,
            rows=args.rows,
            repeats=args.repeats,
            queries=args.queries,
        )
    if not args.no_pg:
        name = f"draftloop_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        try:
            await _pg_admin(f'CREATE DATABASE "{name}"')
        except (OSError, Exception) as exc:  # noqa: BLE001 - no server: report and go on
            print(f"  postgresql: skipped ({type(exc).__name__}: {exc})")
        else:
            try:
                url = async_url(PG_BASE, data_dir=Path(".")).rsplit("/", 1)[0] + f"/{name}"
                cli_url = url.replace("postgresql+asyncpg", "postgresql")
                results["postgresql"] = await run_backend(
                    "postgresql",
                    url,
                    cli_url,
                    projects=args.projects,
                    rows=args.rows,
                    repeats=args.repeats,
                    queries=args.queries,
                )
            finally:
                await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    import_s = _time_import(max(1, args.repeats // 2))
    print()
    print(f"{'seconds (median of ' + str(args.repeats) + ')':<44}" + "".join(f"{k:>12}" for k in results))
    rows = [
        ("digest, last week, report (queries)", "week_s"),
        ("digest, whole year, report (queries)", "year_s"),
        ("  same in one lane (statements in turn): year", "year_in_turn_s"),
        ("  same without the digest indexes: week", "week_noidx_s"),
        ("  same without the digest indexes: year", "year_noidx_s"),
        ("`draftloop digest` CLI, last week, end to end", "cli_week_s"),
    ]
    for label, key in rows:
        print(f"{label:<44}" + "".join(f"{r[key]:>12.3f}" for r in results.values()))
    print(
        f"{'decided in the week / in the year':<44}"
        + "".join(f"{int(r['week_decided']):>6}/{int(r['year_decided']):<5}" for r in results.values())
    )
    lanes = "".join(f"{r['year_in_turn_s'] / r['year_s']:>11.1f}x" for r in results.values())
    print(f"{'speed-up from two lanes, year':<44}" + lanes)
    print("target: the whole year under 1 s on each database")
    for name, r in results.items():
        print(f"  [{'PASS' if r['year_s'] < 1.0 else 'MISS'}] {name}: {r['year_s']:.3f} s")
    for key, label in (("week", "week"), ("year", "year")):
        ratios = "".join(f"{r[key + '_noidx_s'] / r[key + '_s']:>11.1f}x" for r in results.values())
        print(f"{'speed-up from the indexes, ' + label:<44}" + ratios)
    print(f"(python start-up + `import bot.app.cli` alone: {import_s:.3f} s, included in the CLI figure)")


if __name__ == "__main__":
    asyncio.run(main())
