"""Statements built once and executed with bind parameters.

The bot runs the same few writes on every step, and on a local database building a statement
(and the ORM's per-execution setup for ORM-enabled DML) costs more CPU than running it. So the
storage modules build each statement once, as Core on the tables, and hand it its values at
execution: `await session.execute(stmt, {"name": value, ...})`. SQLAlchemy compiles it once
per dialect and reuses that. Only INSERT … ON CONFLICT is spelled per dialect; `per_dialect`
builds such a statement on first use for the session's dialect.

Two rules of Core statements to keep in mind when adding one:
- a bind parameter named after a column of the table an INSERT or UPDATE writes is taken as a
  value for that column, so name the others differently (`project` for `feedback.project_id`);
- they do not autoflush the session: a change made to an object the ORM loaded is written at
  commit or by the next ORM query, after them (the loop's reads return detached objects,
  storage/entities.py, whose changes are never written).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import Executable, Insert, Table
from sqlalchemy.dialects.postgresql import Insert as PgInsert, insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert, insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct

S = TypeVar("S")
E = TypeVar("E", bound=Executable)

# The execution option that lets a read run on the event loop's thread on SQLite
# (storage/sqlite_driver.py); INSERTs and UPDATEs do without it. PostgreSQL ignores it.
INLINE = "draftloop_inline"


def inline(stmt: E) -> E:
    """`stmt` marked short enough to run in place on SQLite: a read of a few rows by key."""
    return stmt.execution_options(**{INLINE: True})


def table(model: type[Any]) -> Table:
    """The table of a SQLModel class (SQLModel declares no `__table__` for the type checker)."""
    return cast(Table, model.__table__)


def upsert(dialect: str, target: Table) -> PgInsert | SqliteInsert:
    """INSERT with ON CONFLICT clauses for `dialect` (SQLite and PostgreSQL share the syntax)."""
    return pg_insert(target) if dialect == "postgresql" else sqlite_insert(target)


def per_dialect(build: Callable[[str], S]) -> Callable[[AsyncSession], S]:
    """`build(dialect_name)` made into a lookup by session, run once per dialect."""
    built: dict[str, S] = {}

    @functools.wraps(build)
    def for_session(session: AsyncSession) -> S:
        dialect = direct.dialect_of(session).name
        try:
            return built[dialect]
        except KeyError:
            stmt = built[dialect] = build(dialect)
            return stmt

    return for_session


async def insert_values(session: AsyncSession, stmt: Insert, values: dict[str, Any]) -> int:
    """Run `stmt` (a plain INSERT) with `values`, which name every column but the id; the new id.

    For a row the caller does not read back: building the SQLModel object only to insert it cost
    more CPU than the INSERT (bench_core's profile: 8 % of the core's CPU for versions, feedback
    and decisions)."""
    result = await direct.execute(session, stmt, values)
    # SQLite reports the id as lastrowid, PostgreSQL through an implicit RETURNING.
    return int(result.inserted_primary_key[0])


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE; SQLAlchemy's typing leaves `rowcount` off the generic Result."""
    return int(result.rowcount)
