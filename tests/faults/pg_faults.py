"""PostgreSQL for the fault suite: a clean slate per test on the session's
private database (tests/conftest.py `pg_url`), and the backend terminator.

The terminator is what an operator's `pg_terminate_backend` (or a failover) does to a running
process: every `every` seconds it ends every backend connected to the test's database but its own,
from a connection to the admin database, so it never cuts itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (the tables SQLModel.metadata lists)
from storage.engine import async_url
from tests.conftest import PG_BASE


def admin_dsn() -> str:
    """The admin database (DRAFTLOOP_TEST_PG) as asyncpg spells it."""
    return async_url(PG_BASE, data_dir=Path(".")).replace("postgresql+asyncpg", "postgresql")


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg", "postgresql")


def database_name(url: str) -> str:
    return str(make_url(url).database)


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """An empty PostgreSQL database of its own (not migrated), dropped afterwards."""
    name = f"draftloop_f_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn())
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield async_url(PG_BASE, data_dir=Path(".")).rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def clean_slate(url: str) -> None:
    """Empty every table of the session's PostgreSQL database (it is shared by the tests in turn)."""
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


async def terminate_backends(dbname: str) -> int:
    """End every backend on `dbname` once; returns how many."""
    conn = await asyncpg.connect(admin_dsn())
    try:
        return len(await conn.fetch(_TERMINATE, dbname))
    finally:
        await conn.close()


_TERMINATE = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"


class BackendTerminator:
    """`async with BackendTerminator(dbname, every=0.15) as killer:` ends the database's backends on
    a beat until the block ends (or `stop()`); `killer.terminated` counts them, `killer.rounds` the beats."""

    def __init__(self, dbname: str, *, every: float = 0.15) -> None:
        self.dbname = dbname
        self.every = every
        self.terminated = 0
        self.rounds = 0
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> Self:
        self._conn = await asyncpg.connect(admin_dsn())
        self._task = asyncio.get_running_loop().create_task(self._beat())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _beat(self) -> None:
        assert self._conn is not None
        while True:
            killed = await self._conn.fetch(_TERMINATE, self.dbname)
            self.terminated += sum(1 for row in killed if row[0])
            self.rounds += 1
            await asyncio.sleep(self.every)
