"""The digest reads in two lanes: two connections on one snapshot, their statements at once
(storage/metrics_read.py `lanes`, bot/report/digest.py `read_report`). The report is the one a
single session reads statement after statement; both lanes see the same database however writers
go on meanwhile; a lane that fails takes the other down and gives every connection back; on
PostgreSQL the digest's statements are planned for their own period each time. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.report.digest import build_report, read_report
from storage import metrics, metrics_read
from storage.engine import Database
from storage.figures import GroupFigures
from storage.metrics_read import PostgresReader, SessionReader, SqliteFileReader, lanes, reader_for
from tests.digest.dataset import at
from tests.digest.test_one_shot import WEEK, _fill

NOW = at(2026, 11, 23, 9)


def _file_of(db: Database) -> Path:
    path = db.engine.url.database
    assert path is not None
    return Path(path)


async def test_two_lanes_read_the_report_one_session_reads_in_turn(db: Database) -> None:
    await _fill(db)
    async with reader_for(db) as reader:
        assert isinstance(reader, SqliteFileReader | PostgresReader)
        async with lanes(reader) as readers:
            assert len(readers) == 2 and readers[0] is not readers[1]
    in_lanes = await build_report(db, WEEK, now=NOW)
    async with db.session() as session:
        in_turn = await read_report(SessionReader(session), WEEK, now=NOW)
    # figures from both lanes are in it: groups, medians, tokens (first); experts, minutes, reasons (second)
    r = in_lanes
    assert r.overall.decided > 0 and r.median_accept_seconds is not None and r.overall.input_tokens > 0
    assert "Ana Lima" in [e.name for e in r.by_expert] and r.reject_reasons["tone"] == 1
    assert r.overall.decided_minutes > 0 and r.opened > 0 and r.orchestrator
    data = in_lanes.to_json()
    assert data == in_turn.to_json()


async def _move(db: Database, *ids: int) -> None:
    async with db.session() as session:
        await session.execute(text(f"UPDATE projects SET category = 'moved' WHERE id IN ({', '.join(map(str, ids))})"))


async def test_both_lanes_see_one_database_while_writers_go_on(db: Database) -> None:
    await _fill(db)
    moved = "SELECT count(*) FROM projects WHERE category = 'moved'"
    async with reader_for(db) as reader:
        assert (await reader.rows(moved))[0][0] == 0  # PostgreSQL's snapshot is taken here
        await _move(db, 1, 2)
        async with lanes(reader) as readers:  # SQLite's lanes take theirs here, all at once
            seen = [(await r.rows(moved))[0][0] for r in readers]
            assert seen == ([0, 0] if db.dialect == "postgresql" else [2, 2])
            await _move(db, 3)  # committed while the lanes read
            assert [(await r.rows(moved))[0][0] for r in readers] == seen
    async with reader_for(db) as reader:
        assert (await reader.rows(moved))[0][0] == 3


async def test_a_lane_that_fails_stops_the_other_and_gives_every_connection_back(db: Database) -> None:
    await _fill(db)

    class Failing:
        """Lanes whose second reader fails its third statement."""

        def __init__(self, inner: Any) -> None:
            self.inner, self.dialect, self.calls = inner, inner.dialect, 0

        async def rows(self, sql: str, params: Any = None) -> list[Any]:
            self.calls += 1
            if self.calls == 3:
                raise RuntimeError("the second lane broke")
            return list(await self.inner.rows(sql, params))

        async def maintain(self, sql: str) -> None:
            await self.inner.maintain(sql)

    async with reader_for(db) as reader:
        real = reader.lanes  # type: ignore[attr-defined]

        def failing_lanes(n: int) -> Any:
            from contextlib import asynccontextmanager

            @asynccontextmanager
            async def wrapped() -> Any:
                async with real(n) as readers:
                    yield [readers[0], Failing(readers[1])]

            return wrapped()

        reader.lanes = failing_lanes  # type: ignore[attr-defined]
        with pytest.raises(RuntimeError, match="the second lane broke"):  # as raised, not in a group
            await read_report(reader, WEEK, now=NOW)
    assert db.engine.sync_engine.pool.checkedout() == 0
    report = await build_report(db, WEEK, now=NOW)  # nothing was left locked or open
    assert report.overall.decided > 0


async def test_sqlite_reads_in_one_lane_when_a_writer_holds_the_file(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's writer lock")
    db = Database(db_url)
    try:
        await _fill(db)
        expected = (await build_report(db, WEEK, now=NOW)).to_json()
        monkeypatch.setattr(metrics_read, "LOCK_WAIT_S", 0.05)
        writer = sqlite3.connect(_file_of(db), isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        try:
            async with reader_for(db) as reader, lanes(reader) as readers:
                assert readers == [reader]
            assert (await build_report(db, WEEK, now=NOW)).to_json() == expected
        finally:
            writer.execute("ROLLBACK")
            writer.close()
    finally:
        await db.dispose()


async def test_postgres_plans_each_digest_statement_for_its_own_period(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL's plan cache")
    async with reader_for(db) as reader, lanes(reader) as readers:
        modes = [(await r.rows("SHOW plan_cache_mode"))[0][0] for r in readers]
        assert modes == ["force_custom_plan", "force_custom_plan"]
    # SET LOCAL: the pooled connections are back to the server's default
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SHOW plan_cache_mode"))).scalar_one() == "auto"


async def test_postgres_reads_in_one_lane_when_no_second_connection_opens(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL's second connection")
    await _fill(db)
    expected = (await build_report(db, WEEK, now=NOW)).to_json()

    @asynccontextmanager
    async def refused() -> AsyncIterator[Any]:
        raise OSError("connection refused")
        yield  # an async generator all the same

    async with reader_for(db) as reader:
        assert isinstance(reader, PostgresReader)
        reader.opener = refused
        async with lanes(reader) as readers:
            assert readers == [reader]
        with caplog.at_level(logging.WARNING, logger="storage.metrics_read"):
            assert (await read_report(reader, WEEK, now=NOW)).to_json() == expected
    assert "one lane: no second connection (OSError)" in caplog.text
    assert db.engine.sync_engine.pool.checkedout() == 0


async def test_a_pooled_connection_that_broke_under_the_digest_is_not_handed_on(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("the engine's pool of asyncpg connections")
    async with db.engine.connect() as conn:  # warm the pool: one connection, returned
        await conn.execute(text("SELECT 1"))
    pool = db.engine.sync_engine.pool
    with pytest.raises(Exception):  # noqa: B017 - asyncpg's own "connection is closed"
        async with reader_for(db) as reader:
            assert isinstance(reader, PostgresReader)
            await reader.connection.close()  # the server or the network dropped it mid-digest
            await reader.rows("SELECT 1")
    assert pool.checkedout() == 0
    async with db.engine.connect() as conn:  # the next unit of work gets a live connection
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1


async def test_sqlite_lanes_close_under_a_statement_still_running_in_its_thread(db_url: str) -> None:
    """A lane whose task is cancelled leaves its statement running in a worker thread; closing the
    connection under it would crash the interpreter. Closing interrupts it and waits for it."""
    if not db_url.startswith("sqlite"):
        pytest.skip("sqlite3 in worker threads")
    db = Database(db_url)
    slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000000) SELECT count(*) FROM c"
    try:
        async with reader_for(db) as reader, lanes(reader) as readers:
            assert len(readers) == 2
            running = asyncio.create_task(readers[1].rows(slow))
            await asyncio.sleep(0.2)  # well inside the statement (tens of seconds uninterrupted)
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            closing = time.monotonic()
        assert time.monotonic() - closing < 2.0  # interrupted, not waited out
        report = await build_report(db, WEEK, now=NOW)  # the file is fine for the next digest
        assert report.overall.decided == 0
    finally:
        await db.dispose()


def test_merge_adds_the_second_lanes_groups_to_the_firsts() -> None:
    first = metrics.empty()
    first["category"]["writing"] = GroupFigures(
        "writing", decided=3, accepted=2, max_version=2, accepted_at={1: 1, 2: 1}
    )
    first["model"]["m"] = GroupFigures("m", decided=3, input_tokens=10, cost_usd=0.5)
    second = metrics.empty()
    second["category"]["writing"] = GroupFigures("writing", stated_minutes=15, estimated_minutes=5, max_version=1)
    second["category"]["data"] = GroupFigures("data", stated_minutes=7)  # feedback on a project not decided
    second["model"]["m"] = GroupFigures("m", decided_minutes=20, accepted_at={2: 4})
    merged = metrics.merge(first, second)
    assert merged is first
    writing = merged["category"]["writing"]
    assert (writing.decided, writing.accepted, writing.stated_minutes, writing.estimated_minutes) == (3, 2, 15, 5)
    assert writing.max_version == 2 and writing.accepted_at == {1: 1, 2: 1} and writing.name == "writing"
    assert merged["category"]["data"].stated_minutes == 7
    m = merged["model"]["m"]
    assert (m.decided, m.input_tokens, m.cost_usd, m.decided_minutes, m.accepted_at) == (3, 10, 0.5, 20, {2: 4})
