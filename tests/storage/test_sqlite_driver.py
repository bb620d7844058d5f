"""The one-trip aiosqlite adapter (storage/sqlite_driver.py) behaves as SQLAlchemy's own does."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import sqlite_driver
from storage.engine import Database
from storage.sqlite_driver import OneTripCursor
from storage.statements import inline


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"))
    yield database
    await database.engine.dispose()


async def test_rows_rowcount_lastrowid_and_returning(db: Database) -> None:
    async with db.engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        assert inserted.lastrowid == 1
        many = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "b"}, {"n": "c"}])
        assert many.rowcount == 2
        back = await conn.execute(text("INSERT INTO t (name) VALUES ('d') RETURNING id, name"))
        assert back.all() == [(4, "d")]
        updated = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
        assert updated.rowcount == 3
        rows = await conn.execute(text("SELECT id, name FROM t ORDER BY id"))
        assert list(rows.keys()) == ["id", "name"]
        assert rows.all() == [(1, "a"), (2, "b!"), (3, "c!"), (4, "d!")]
        assert (await conn.execute(text("SELECT name FROM t WHERE id = 99"))).first() is None


async def test_errors_are_sqlalchemy_errors_and_roll_back(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('x')"))
            await conn.execute(text("INSERT INTO t (name) VALUES ('x')"))
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_one_trip_to_the_thread_per_statement(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    trips = await _counting_trips(db, monkeypatch)
    async with db.engine.connect() as conn:
        assert isinstance((await conn.get_raw_connection()).dbapi_connection.cursor(), OneTripCursor)
        trips.clear()
        for n in range(5):
            await conn.execute(text("SELECT :n"), {"n": n})
        # SQLAlchemy's own adapter makes four per SELECT: a cursor, execute, fetchall, close
        assert len(trips) == 5


async def test_a_unit_of_work_ends_in_one_trip_or_none(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    trips = await _counting_trips(db, monkeypatch)
    async with db.sessions() as session, session.begin():
        await session.execute(text("INSERT INTO t (name) VALUES ('w')"))
        await session.execute(text("UPDATE t SET name = 'w!'"))
    assert trips == []  # the writes and the commit ran in place; no rollback on the way back to the pool
    trips.clear()
    async with db.sessions() as session, session.begin():
        assert (await session.execute(text("SELECT name FROM t"))).scalar_one() == "w!"
    assert trips == ["_run_one"]  # a read goes to the thread; it only read: nothing to commit
    trips.clear()
    with pytest.raises(IntegrityError):
        async with db.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO t (name) VALUES ('v')"))
            await session.execute(text("INSERT INTO t (name) VALUES ('v')"))
    assert trips == ["rollback"]
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all() == ["w!"]


async def test_writes_and_marked_reads_run_in_place_the_rest_in_the_thread(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = await _counting_trips(db, monkeypatch)
    async with db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        await conn.execute(text("UPDATE t SET name = 'b' WHERE id = 1"))
        assert trips == []
        read = text("SELECT name FROM t WHERE id = 1")
        assert (await conn.execute(inline(read))).scalar_one() == "b"
        assert trips == []
        assert (await conn.execute(read)).scalar_one() == "b"  # unmarked: it might be long
        await conn.execute(text("DELETE FROM t WHERE id = 1"))  # pruning may touch many rows
        many = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "c"}, {"n": "d"}])
        assert many.rowcount == 2
    assert trips == ["_run_one", "_run_one", "_run_many"]  # and the commit in place


async def test_a_write_that_finds_the_file_locked_waits_in_the_thread_not_on_the_loop(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = await _counting_trips(db, monkeypatch)
    other = sqlite3.connect(tmp_path / "one.db", isolation_level=None)  # another process's writer
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t (name) VALUES ('theirs')")
    ticks = 0

    async def loop_runs() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def release_soon() -> None:
        await asyncio.sleep(0.3)
        other.execute("COMMIT")

    ticker = asyncio.create_task(loop_runs())
    releaser = asyncio.create_task(release_soon())
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('ours')"))
    finally:
        ticker.cancel()
        await releaser
        other.close()
    assert trips[0] == "_run_one"  # busy in place: sent to the thread, which waited for the lock
    assert ticks >= 10  # meanwhile the loop went on
    async with db.engine.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
    assert names == ["theirs", "ours"]


async def test_the_wal_is_checkpointed_in_the_thread_every_so_many_commits(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits run in place with SQLite's own checkpoint off (it would sync the file on the loop's
    thread); every CHECKPOINT_EVERY-th commit checkpoints in the thread, so the WAL stays bounded."""
    monkeypatch.setattr(sqlite_driver, "CHECKPOINT_EVERY", 10)
    trips = await _counting_trips(db, monkeypatch)
    async with db.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar_one() == 0
    trips.clear()
    wal = tmp_path / "one.db-wal"
    sizes = []
    for n in range(40):
        async with db.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO t (name) VALUES (:n)"), {"n": f"row {n} " + "x" * 3000})
        sizes.append(wal.stat().st_size)
    assert trips == ["_commit_and_checkpoint"] * 4
    # A checkpointed WAL is written again from its start: the file stops growing at about ten
    # commits' pages (unchecked, forty commits would make it four times that).
    assert sizes[10] == sizes[9] and sizes[-1] < 1.5 * sizes[9], sizes
    other = sqlite3.connect(tmp_path / "one.db")  # another connection sees every commit
    try:
        assert other.execute("SELECT count(*) FROM t").fetchone() == (40,)
    finally:
        other.close()


async def test_without_wal_commits_stay_in_the_thread_and_sqlite_checkpoints_as_usual(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file another process holds locked when we connect stays in its rollback journal (the switch
    to WAL needs the lock). There a commit syncs the file itself: it is not run on the loop's thread."""
    path = tmp_path / "journal.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    other.execute("BEGIN IMMEDIATE")
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with database.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one() == "delete"
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar_one() == 1000
        other.execute("COMMIT")
        trips = await _counting_trips(database, monkeypatch)
        async with database.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO t (name) VALUES ('j')"))
        assert trips == ["commit"]
        assert other.execute("SELECT name FROM t").fetchall() == [("j",)]
    finally:
        other.close()
        await database.engine.dispose()


async def _counting_trips(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each call the pool's connection sends to its thread, from now on."""
    async with db.engine.connect() as conn:
        aio = (await conn.get_raw_connection()).driver_connection
    trips: list[str] = []
    real = type(aio)._execute

    async def counting(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", "?"))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aio, "_execute", counting.__get__(aio))
    return trips
