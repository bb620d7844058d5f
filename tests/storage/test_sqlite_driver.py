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
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        aio = raw.driver_connection
        assert isinstance(raw.dbapi_connection.cursor(), OneTripCursor)
        queue = aio._tx

        class Counting:
            trips = 0

            def put_nowait(self, item: Any) -> None:
                Counting.trips += 1
                queue.put_nowait(item)

        monkeypatch.setattr(aio, "_tx", Counting())
        for n in range(5):
            await conn.execute(text("SELECT :n"), {"n": n})
        # SQLAlchemy's own adapter makes four per SELECT: a cursor, execute, fetchall, close
        assert Counting.trips == 5
