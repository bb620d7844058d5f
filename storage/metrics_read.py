"""Where the digest's SQL (storage/metrics.py) runs: a session of the running process, or a bare
connection (SQLite's or asyncpg's) for a one-shot `draftloop digest`.

The digest's statements are plain SQL text with named parameters, so they run unchanged through
either. A process that already has the engine (the scheduler, the chat commands, Slack's App Home)
reads through its SQLAlchemy session (`SessionReader`). The `draftloop digest` command on a SQLite
file reads through the standard library's sqlite3 (`SqliteFileReader`): importing SQLAlchemy, its
ORM and the async engine takes several times longer than the digest itself, and a one-shot read
needs none of them (benchmarks/bench_startup.py). On PostgreSQL the same command reads through one
asyncpg connection (`PostgresReader`) for the same reason. This module imports neither SQLAlchemy
nor any table definition.

Values cross in the form the tables store them (storage/types.py UTCDateTime): on SQLite a UTC
timestamp is text, `YYYY-MM-DD HH:MM:SS.ffffff`, and compares as text; on PostgreSQL it is a
`timestamptz`. Parameters are converted here; `moment` turns a stored timestamp back into an
aware datetime.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import quote

from storage.urls import plain_sqlite_path

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

_log = logging.getLogger(__name__)

Row = tuple[Any, ...]


class Reader(Protocol):
    """Runs the digest's read-only statements; `dialect` is "sqlite" or "postgresql"."""

    dialect: str

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """All rows of `sql`, its `:name` parameters bound from `params`."""
        ...

    async def maintain(self, sql: str) -> None:
        """Run a maintenance statement (PRAGMA optimize) that may be skipped when the database is busy."""
        ...


def stored(value: Any, dialect: str) -> Any:
    """`value` as the tables hold it: an aware datetime as UTC text on SQLite (SQLAlchemy's DATETIME
    format, so text comparison is time order), as UTC on PostgreSQL; anything else as it is."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    value = value.astimezone(UTC)
    if dialect != "sqlite":
        return value
    # Not strftime: it does not zero-pad years before 1000 on every platform.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def moment(value: Any) -> datetime | None:
    """A stored timestamp (SQLite's text, PostgreSQL's datetime) as an aware UTC datetime."""
    if value is None:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(when, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _bound(params: Mapping[str, Any] | None, dialect: str) -> dict[str, Any]:
    return {name: stored(value, dialect) for name, value in (params or {}).items()}


class SessionReader:
    """The digest's statements through a SQLAlchemy session (the process's engine, its transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect: str = session.get_bind().dialect.name

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        from sqlalchemy import text

        result = await self.session.execute(text(sql), _bound(params, self.dialect))
        return [tuple(row) for row in result.all()]

    async def maintain(self, sql: str) -> None:
        from sqlalchemy import text
        from sqlalchemy.exc import OperationalError

        try:
            await self.session.execute(text(sql))
        except OperationalError as exc:
            _log.debug("%s skipped: %s", sql, exc)


def reader_of(source: Reader | AsyncSession) -> Reader:
    """A Reader as it is, a SQLAlchemy session wrapped in one."""
    if isinstance(source, SessionReader | SqliteFileReader | PostgresReader):
        return source
    if hasattr(source, "rows") and hasattr(source, "maintain"):
        return cast(Reader, source)  # another Reader (tests)
    return SessionReader(source)


# ------------------------------------------------------------------ a bare SQLite file, for one shot


def sqlite_file(url: str | None, data_dir: Path) -> Path | None:
    """The SQLite file `url` names (None: the default file in `data_dir`), or None when `url` is not a
    plain SQLite file URL (PostgreSQL, query options, %-escapes): those go through the engine."""
    if not url:
        return (data_dir / "draftloop.db").resolve()
    path = plain_sqlite_path(url)
    return None if path is None else Path(path).expanduser()


class SqliteFileReader:
    """The standard library's sqlite3 on an existing file: one snapshot (a read transaction) for all
    the statements, closed by `close`. Waits for a writer as the engine does (busy_timeout 10 s)."""

    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.connection.execute("BEGIN")  # deferred: the snapshot starts at the first read

    @classmethod
    def open(cls, path: Path, *, revision: str | None) -> SqliteFileReader | None:
        """A reader on `path` when it is a SQLite file at schema `revision`; None otherwise: a file that
        does not exist (yet), is behind or ahead, or cannot be read (not a database, no permission) is
        left to the engine, which creates, migrates or explains it as for any other command."""
        if revision is None or not path.is_file():
            return None
        # mode=rw: never creates the file; a new database is the engine's to create and migrate.
        uri = f"file:{quote(str(path.resolve()))}?mode=rw"
        try:
            connection = sqlite3.connect(uri, uri=True, timeout=10.0, isolation_level=None)
        except sqlite3.Error:
            return None
        try:
            reader = cls(connection)
            if reader.revision() == revision:
                return reader
        except sqlite3.Error as exc:
            _log.debug("%s is left to the engine: %s", path, exc)
        connection.close()
        return None

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        # Synchronous on purpose: the one-shot command has nothing else to run meanwhile.
        return list(self.connection.execute(sql, _bound(params, self.dialect)).fetchall())

    def revision(self) -> str | None:
        """The schema's Alembic revision; None when the file has none (new, or not draftloop's)."""
        try:
            row = self.connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else str(row[0])

    async def maintain(self, sql: str) -> None:
        # After the snapshot: maintenance may write (ANALYZE), which a read transaction that another
        # connection has written past could not.
        if self.connection.in_transaction:
            self.connection.execute("COMMIT")
        try:
            self.connection.execute(sql)
        except sqlite3.OperationalError as exc:
            _log.debug("%s skipped: %s", sql, exc)

    def close(self) -> None:
        """End the read transaction and close the file."""
        try:
            if self.connection.in_transaction:
                self.connection.execute("COMMIT")
        finally:
            self.connection.close()

    async def aclose(self) -> None:
        self.close()


# ------------------------------------------------------------------ a bare PostgreSQL connection, for one shot

# SQLAlchemy's rule for a `:name` parameter in text(): not after another colon (`::int` casts), a
# word character or a backslash, and not followed by a colon.
_NAMED = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with each `:name` made `$n` (one number per name, as asyncpg takes them), and the names in order."""
    names: list[str] = []

    def number(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED.sub(number, sql), tuple(names)


class PostgresReader:
    """One asyncpg connection in a read-only REPEATABLE READ transaction: one snapshot for all the
    statements, as the SQLite reader has. Closed by `aclose`."""

    dialect = "postgresql"

    def __init__(self, connection: Any) -> None:
        self.connection = connection  # asyncpg's (it ships no type information)
        self._texts: dict[str, tuple[str, tuple[str, ...]]] = {}

    @classmethod
    async def open(cls, dsn: str, *, revision: str | None) -> PostgresReader | None:
        """A reader on `dsn` when the database is at schema `revision`; None otherwise. A database
        that does not answer, is new, behind or ahead is left to the engine, which migrates it or
        explains the failure as for any other command."""
        if revision is None:
            return None
        import asyncpg  # type: ignore[import-untyped]

        try:
            connection = await asyncpg.connect(dsn, timeout=10)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            _log.debug("the database is left to the engine: %s", type(exc).__name__)
            return None
        try:
            await connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            row = await connection.fetchrow("SELECT version_num FROM alembic_version")
            if row is not None and str(row[0]) == revision:
                return cls(connection)
        except asyncpg.PostgresError as exc:  # no alembic_version: a new database
            _log.debug("the database is left to the engine: %s", type(exc).__name__)
        await connection.close()
        return None

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        try:
            text, names = self._texts[sql]
        except KeyError:
            text, names = self._texts[sql] = positional(sql)
        bound = _bound(params, self.dialect)
        return [tuple(row) for row in await self.connection.fetch(text, *(bound[name] for name in names))]

    async def maintain(self, sql: str) -> None:
        _log.debug("%s skipped: the one-shot reader is read-only", sql)

    async def aclose(self) -> None:
        """End the read transaction and close the connection."""
        try:
            await self.connection.execute("ROLLBACK")
        finally:
            await self.connection.close()
