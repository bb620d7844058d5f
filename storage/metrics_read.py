"""Where the digest's SQL (storage/metrics.py) runs: the database's bare driver (sqlite3, asyncpg),
in two lanes on one snapshot where it can, else a SQLAlchemy session.

The digest's statements are plain SQL text with named parameters, so they run unchanged through
any `Reader`. The `draftloop digest` command on a SQLite file reads through the standard library's
sqlite3 (`SqliteFileReader`): importing SQLAlchemy, its ORM and the async engine takes several
times longer than the digest itself, and a one-shot read needs none of them
(benchmarks/bench_startup.py); on PostgreSQL it reads through asyncpg (`PostgresReader`) for the
same reason. A process that already has the engine (the scheduler, the chat commands, Slack's App
Home) reads through `reader_for(db)`: asyncpg on connections lent by the engine's pool, or sqlite3
on the engine's file beside the engine, so a long digest never holds the one connection the bot's
writes wait for; a session only for what neither can open (an in-memory database, a URL with
options).

`lanes(reader)` gives a second connection on the same snapshot (PostgreSQL: pg_export_snapshot;
SQLite: both read transactions begun while a writer's lock is held), so the digest's two halves run
at once: a year's digest over 100,000 projects took half the time on two cores
(benchmarks/bench_digest.py, "speed-up from two lanes"). This module imports neither SQLAlchemy nor
any table definition at import time.

Values cross in the form the tables store them (storage/types.py UTCDateTime): on SQLite a UTC
timestamp is text, `YYYY-MM-DD HH:MM:SS.ffffff`, and compares as text; on PostgreSQL it is a
`timestamptz`. Parameters are converted here; `moment` turns a stored timestamp back into an
aware datetime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import quote

from storage.urls import plain_sqlite_path

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from storage.engine import Database

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


# How long the lanes wait for a writer to finish (SQLite) or for a second connection (PostgreSQL: a
# full pool, a server at max_connections) before reading in one lane instead.
LOCK_WAIT_S = 1.0
LANE_WAIT_S = 2.0


def _sqlite_connect(uri: str, timeout: float = 10.0) -> sqlite3.Connection:
    # check_same_thread=False: a lane's statements run in a worker thread, one at a time.
    return sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False)


class SqliteFileReader:
    """The standard library's sqlite3 on an existing file: one snapshot (a read transaction) for all
    the statements, closed by `close`. Waits for a writer as the engine does (busy_timeout 10 s).

    Alone, its statements run on the caller's thread. In `lanes`, each lane has a connection of its
    own and runs its statements in a worker thread: sqlite3 lets go of the GIL while SQLite works,
    so two lanes use two cores."""

    dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection, uri: str = "") -> None:
        self.connection = connection
        self.uri = uri
        # Held while a statement runs on the connection, from whichever thread: a lane cancelled
        # mid-statement leaves its thread running, and closing a connection under a running statement
        # crashes the interpreter (sqlite3 allows it with check_same_thread=False).
        self._busy = threading.Lock()
        self._lanes: list[SqliteFileReader] = []  # while in `lanes`: every lane, this one too
        self.connection.execute("BEGIN")  # deferred: the snapshot starts at the first read

    @property
    def threaded(self) -> bool:
        """Whether its statements go to a worker thread: in lanes, with another lane beside it."""
        return len(self._lanes) > 1

    @classmethod
    def connect(cls, path: Path) -> SqliteFileReader | None:
        """A reader on the existing file `path`, its schema unchecked (the caller's engine migrated it);
        None when it cannot be opened."""
        if not path.is_file():
            return None
        # mode=rw: never creates the file; a new database is the engine's to create and migrate.
        uri = f"file:{quote(str(path.resolve()))}?mode=rw"
        try:
            return cls(_sqlite_connect(uri), uri)
        except sqlite3.Error as exc:
            _log.debug("%s is left to the engine: %s", path, exc)
            return None

    @classmethod
    def open(cls, path: Path, *, revision: str | None) -> SqliteFileReader | None:
        """A reader on `path` when it is a SQLite file at schema `revision`; None otherwise: a file that
        does not exist (yet), is behind or ahead, or cannot be read (not a database, no permission) is
        left to the engine, which creates, migrates or explains it as for any other command."""
        if revision is None:
            return None
        reader = cls.connect(path)
        if reader is None:
            return None
        try:
            if reader.revision() == revision:
                return reader
        except sqlite3.Error as exc:
            _log.debug("%s is left to the engine: %s", path, exc)
        reader.connection.close()
        return None

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        bound = _bound(params, self.dialect)
        if self.threaded:
            return await asyncio.to_thread(self._rows, sql, bound)
        # Alone, synchronous on purpose: a thread's round trip costs more than a short statement.
        return self._rows(sql, bound)

    def _rows(self, sql: str, bound: dict[str, Any]) -> list[Row]:
        with self._busy:
            return list(self.connection.execute(sql, bound).fetchall())

    @asynccontextmanager
    async def lanes(self, n: int) -> AsyncIterator[list[Reader]]:
        """This reader and up to n - 1 more on the same file, all on one snapshot, each in its own thread.

        SQLite cannot hand a snapshot to another connection, so the lanes' read transactions all
        start while a writer's lock is held (BEGIN IMMEDIATE on a connection of its own): no write
        can commit in between, so each sees the same database. A writer that holds the lock past a
        second, or a file that cannot be locked (read-only), leaves the reader alone, one lane."""
        extra = await asyncio.to_thread(self._open_lanes, n - 1) if n > 1 and self.uri else []
        readers: list[SqliteFileReader] = [self, *extra]
        for reader in readers:
            reader._lanes = readers
        try:
            yield list(readers)
        finally:
            self._lanes = []
            for reader in extra:
                reader.close()

    def _open_lanes(self, count: int) -> list[SqliteFileReader]:
        try:
            locker = _sqlite_connect(self.uri, timeout=LOCK_WAIT_S)
        except sqlite3.Error:
            return []
        opened: list[SqliteFileReader] = []
        try:
            locker.execute("BEGIN IMMEDIATE")
            # Every lane's snapshot starts here, this one's again, at the first read of each.
            for reader in (self, *(SqliteFileReader(_sqlite_connect(self.uri), self.uri) for _ in range(count))):
                if reader is not self:
                    opened.append(reader)
                with reader._busy:
                    if reader is self:
                        if reader.connection.in_transaction:
                            reader.connection.execute("COMMIT")
                        reader.connection.execute("BEGIN")
                    reader.connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
            return opened
        except sqlite3.Error as exc:
            _log.debug("the digest reads in one lane: %s", exc)
            for reader in opened:
                reader.close()
            with self._busy:
                if not self.connection.in_transaction:
                    self.connection.execute("BEGIN")
            return []
        finally:
            locker.close()  # ends BEGIN IMMEDIATE: writers go on

    def revision(self) -> str | None:
        """The schema's Alembic revision; None when the file has none (new, or not draftloop's)."""
        try:
            row = self.connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else str(row[0])

    async def maintain(self, sql: str) -> None:
        # After the snapshot: maintenance may write (ANALYZE), which a read transaction that another
        # connection has written past could not; and on a file not in WAL mode a write waits for every
        # reader, the other lanes too (they are done when the digest maintains).
        for reader in self._lanes or [self]:
            with reader._busy:
                if reader.connection.in_transaction:
                    reader.connection.execute("COMMIT")
        with self._busy:
            try:
                self.connection.execute(sql)
            except sqlite3.OperationalError as exc:
                _log.debug("%s skipped: %s", sql, exc)

    def close(self) -> None:
        """End the read transaction and close the file; a statement still running in a lane's thread
        (its task cancelled) is interrupted and waited for first."""
        self.connection.interrupt()  # a no-op when nothing runs
        with self._busy:
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


# Opens an asyncpg connection and gives it back (closes it, or returns it to the engine's pool).
Opener = Callable[[], AbstractAsyncContextManager[Any]]
_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f-]+$")
_READ_ONLY = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
# A statement prepared on a pooled connection is planned for its parameters five times, then the
# server may keep one generic plan for any period, planned blind to how many rows a period spans;
# the year's digest took 1.5 to 2 times as long on it. For this transaction only (SET LOCAL).
_CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"


class PostgresReader:
    """One asyncpg connection in a read-only REPEATABLE READ transaction: one snapshot for all the
    statements, as the SQLite reader has. Closed by `aclose` (a one-shot connection) or at the end
    of `borrowed` (the engine's). `lanes` adds connections on the same snapshot."""

    dialect = "postgresql"

    def __init__(self, connection: Any, opener: Opener | None = None) -> None:
        self.connection = connection  # asyncpg's (it ships no type information)
        self.opener = opener
        self._texts: dict[str, tuple[str, tuple[str, ...]]] = {}

    @classmethod
    @asynccontextmanager
    async def borrowed(cls, opener: Opener) -> AsyncIterator[PostgresReader]:
        """A reader on a connection `opener` lends (the engine's pool), in its own read-only transaction."""
        async with opener() as connection:
            await connection.execute(_READ_ONLY)
            try:
                await connection.execute(_CUSTOM_PLANS)
                yield cls(connection, opener)
            finally:
                await connection.execute("ROLLBACK")

    @asynccontextmanager
    async def lanes(self, n: int) -> AsyncIterator[list[Reader]]:
        """This reader and n - 1 more on connections of their own, on this reader's snapshot
        (pg_export_snapshot, SET TRANSACTION SNAPSHOT), so the server runs their statements at once.
        Without a second connection within `LANE_WAIT_S` (refused, a full pool) this reader alone."""
        if n <= 1 or self.opener is None:
            yield [self]
            return
        (snapshot,) = await self.connection.fetchrow("SELECT pg_export_snapshot()")
        if not _SNAPSHOT_ID.match(str(snapshot)):
            raise ValueError("the server's snapshot id is not one")
        async with AsyncExitStack() as stack:
            readers: list[Reader] = [self]
            try:
                async with asyncio.timeout(LANE_WAIT_S):
                    for _ in range(n - 1):
                        readers.append(await self._lane(stack, self.opener, str(snapshot)))
            except Exception as exc:  # noqa: BLE001 - a second lane only speeds the digest up
                _log.warning("the digest reads in one lane: no second connection (%s)", type(exc).__name__)
                with contextlib.suppress(Exception):  # what was opened, given back; a broken one dropped
                    await stack.aclose()
                readers = [self]
            yield readers

    @staticmethod
    async def _lane(stack: AsyncExitStack, opener: Opener, snapshot: str) -> PostgresReader:
        connection = await stack.enter_async_context(opener())
        await connection.execute(_READ_ONLY)
        stack.push_async_callback(connection.execute, "ROLLBACK")
        await connection.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        await connection.execute(_CUSTOM_PLANS)
        return PostgresReader(connection)

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

        @asynccontextmanager
        async def another() -> AsyncIterator[Any]:
            more = await asyncpg.connect(dsn, timeout=10)
            try:
                yield more
            finally:
                await more.close()

        try:
            await connection.execute(_READ_ONLY)
            await connection.execute(_CUSTOM_PLANS)
            row = await connection.fetchrow("SELECT version_num FROM alembic_version")
            if row is not None and str(row[0]) == revision:
                return cls(connection, another)
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


# ------------------------------------------------------------------ lanes: statements at once, one snapshot

LANES = 2  # the digest's statements fall in two lanes of about equal time (bot/report/digest.py)


@asynccontextmanager
async def lanes(reader: Reader, n: int = LANES) -> AsyncIterator[list[Reader]]:
    """Up to `n` readers on `reader`'s snapshot that may run statements at the same time; `[reader]`
    alone for a reader that cannot have more (a session, a test's), whose statements then run in turn."""
    more = getattr(reader, "lanes", None)
    if more is None:
        yield [reader]
        return
    async with more(n) as readers:
        yield readers


@asynccontextmanager
async def reader_for(db: Database) -> AsyncIterator[Reader]:
    """A reader for a running process's digest: PostgreSQL through connections of the engine's pool,
    lent to asyncpg directly; a SQLite file through sqlite3 beside the engine (its reads then never
    hold the engine's one connection, which the bot's writes wait for); anything else (an in-memory
    database, a URL with options) through a session."""
    engine = db.engine
    if engine.dialect.driver == "asyncpg":
        async with PostgresReader.borrowed(lambda: _pooled(engine)) as reader:
            yield reader
        return
    path = plain_sqlite_path(engine.url.render_as_string(hide_password=False)) if db.dialect == "sqlite" else None
    bare = None if path is None else SqliteFileReader.connect(Path(path))
    if bare is not None:
        try:
            yield bare
        finally:
            bare.close()
        return
    async with db.session() as session:
        yield SessionReader(session)


@asynccontextmanager
async def _pooled(engine: AsyncEngine) -> AsyncIterator[Any]:
    """One of the pool's connections as asyncpg's own; the pool's reset on return ends nothing the
    reader left (it rolls back its own transaction). SQLAlchemy does not see what fails on it, so a
    connection that broke under the reader is invalidated here, not handed to the next unit of work."""
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection  # asyncpg's (it ships no type information)
        try:
            yield driver
        except BaseException:
            if driver.is_closed():
                await connection.invalidate()
            raise
