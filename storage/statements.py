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
- they do not autoflush the session: a change made to a loaded object is written at commit or
  by the next ORM query, after them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import Insert as PgInsert, insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert, insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

S = TypeVar("S")


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
        dialect = session.get_bind().dialect.name
        try:
            return built[dialect]
        except KeyError:
            stmt = built[dialect] = build(dialect)
            return stmt

    return for_session
