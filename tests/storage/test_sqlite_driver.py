"""The one-trip aiosqlite adapter (storage/sqlite_driver.py) behaves as SQLAlchemy's own does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage.engine import Database
from storage.sqlite_driver import OneTripCursor


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
    assert trips == ["_run_one", "_run_one", "commit"]  # no rollback on the way back to the pool
    trips.clear()
    async with db.sessions() as session, session.begin():
        assert (await session.execute(text("SELECT name FROM t"))).scalar_one() == "w!"
    assert trips == ["_run_one"]  # it only read: nothing to commit
    trips.clear()
    with pytest.raises(IntegrityError):
        async with db.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO t (name) VALUES ('v')"))
            await session.execute(text("INSERT INTO t (name) VALUES ('v')"))
    assert trips == ["_run_one", "_run_one", "rollback"]
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all() == ["w!"]


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
