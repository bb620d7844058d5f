"""Async engine and sessions from DATABASE_URL, in the forms people paste.

`sqlite:///path.db`, `postgresql://…` and `postgres://…` (as hosting platforms hand it out) are
accepted; the async driver (aiosqlite, asyncpg) is chosen here.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from sqlalchemy import event, exc, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage import direct, hygiene
from storage.state_sets import StateSets

_log = logging.getLogger(__name__)

# What the core annotates a session with, so it need not import SQLAlchemy.
Session: TypeAlias = AsyncSession

_STATES = "draftloop.states"  # the key of a session's StateSets in `session.info`

T = TypeVar("T")

# A unit of work is retried this many times in all when the connection (not the statement) fails;
# the back-off doubles from RETRY_BASE_S, so the last attempt comes about 1.5 s after the first.
ATTEMPTS = 5
RETRY_BASE_S = 0.1

# SQLSTATEs that say "the connection or the transaction's luck", not "this statement is wrong":
# serialization failure, deadlock, admin shutdown / terminated backend, crash, cannot connect now,
# and the connection exceptions (class 08).
_TRANSIENT_STATES = {"40001", "40P01", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006"}
_UNLUCKY = {"40001", "40P01"}
# What asyncpg and aiosqlite say when a connection was lost mid-use, or left unusable by it.
_TRANSIENT_WORDS = (
    "another operation is in progress",
    "connection is closed",
    "connection was closed",
    "connection has been released",
    "terminating connection",
    "server closed the connection",
    "database is locked",
    "connection refused",
)


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the unit of work may succeed: the connection failed, not the statement."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "connection_invalidated", False):
            return True
        if isinstance(current, (ConnectionError, TimeoutError)) or (
            isinstance(current, OSError) and not isinstance(current, FileNotFoundError)
        ):
            return True
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state in _TRANSIENT_STATES:
            return True
        message = str(current).lower()
        if any(words in message for words in _TRANSIENT_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


def _lost_connection(context: ExceptionContext) -> None:
    """A connection left mid-operation by a terminated backend fails every later use with "another
    operation is in progress": count it as a disconnect, so the pool drops it instead of lending it
    out again."""
    original = context.original_exception
    if context.is_disconnect or getattr(original, "sqlstate", None) in _UNLUCKY:
        return  # a serialization failure or deadlock leaves the connection fine
    if is_transient(original):
        context.is_disconnect = True


# A pooled PostgreSQL connection idle longer than this is pinged before it is lent out (the server,
# a proxy or a failover may have dropped it meanwhile); one used more recently is not. SQLAlchemy's
# pool_pre_ping pings at every checkout, which on asyncpg is three round trips (BEGIN, a query,
# ROLLBACK) before each transaction: a third of a short unit of work's time (bench_core). HikariCP
# skips validating a connection used in the last 500 ms for the same reason. While connections
# are being lost (any disconnect in the last TROUBLE_S seconds: a restart, a failover, backends
# terminated), every checkout is pinged, as pool_pre_ping would.
IDLE_PING_S = 1.0
TROUBLE_S = 30.0
_LAST_USED = "draftloop.last_used"


def _mark_used(_dbapi_conn: Any, record: Any) -> None:
    record.info[_LAST_USED] = time.monotonic()


class _Liveness:
    """When to ping a pooled connection at checkout: after it sat idle, or at every checkout
    while connections are being lost."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.dialect = engine.dialect
        self.trouble_until = 0.0

    def lost(self, context: ExceptionContext) -> None:
        """A `handle_error` listener, after `_lost_connection` has said whether it was a disconnect."""
        if context.is_disconnect:
            self.trouble_until = time.monotonic() + TROUBLE_S

    def checkout(self, dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        now = time.monotonic()
        last = record.info.get(_LAST_USED)
        if now >= self.trouble_until and (last is None or now - last < IDLE_PING_S):
            return  # new, or used moments ago, and no connection lost lately
        try:
            self.dialect.do_ping(dbapi_conn)
        except Exception as error:
            # The pool drops this connection and checks out another (or a new one): the
            # documented way for a checkout listener to refuse a connection.
            _log.debug("database: a pooled connection was dead: %s", _first_line(error))
            self.trouble_until = now + TROUBLE_S
            raise exc.DisconnectionError() from error


def async_url(url: str | None, *, data_dir: Path) -> str:
    """Normalise a pasted database URL to its async-driver form; no URL means the embedded SQLite file."""
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(data_dir / 'draftloop.db').resolve()}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+asyncpg")
        # libpq spellings asyncpg does not understand
        query = dict(parsed.query)
        if "sslmode" in query:
            query["ssl"] = query.pop("sslmode")
        parsed = parsed.set(query=query)
    elif backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    else:
        raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The same database through a sync driver, for tools that need one."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    from storage.sqlite_driver import BUSY_TIMEOUT_MS, OneTripConnection

    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # WAL lets readers run beside the one writer. It is a property of the file: the first
    # connection to find the file in another mode switches it. That switch needs a lock SQLite
    # reports busy at once (busy_timeout does not apply) while another connection writes; the
    # connection then works in the file's current mode, and a later one makes the switch.
    cursor.execute("PRAGMA journal_mode")
    mode = str(cursor.fetchone()[0]).lower()
    if mode != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            mode = str(cursor.fetchone()[0]).lower()
        except Exception as exc:
            if "locked" not in str(exc):
                raise
            _log.debug("SQLite file busy; WAL is switched on by a later connection")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    if mode == "wal" and isinstance(dbapi_conn, OneTripConnection):
        # Commits then run on the event loop's thread, and the driver checkpoints in its own.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        dbapi_conn.commit_in_place = True
    cursor.close()


def states_of(session: AsyncSession) -> StateSets:
    """The state names the session's `Database` was given (see storage/state_sets.py)."""
    try:
        states: StateSets = session.info[_STATES]
    except KeyError:
        raise LookupError("this Database was given no state sets: Database(url, states=...)") from None
    return states


class Database:
    """One engine and its session factory. `dialect` is "sqlite" or "postgresql".

    `states` names the project states the queries need (storage/state_sets.py); every session
    carries them. A Database made without them still reads and writes rows, and gets them from
    `use_states` (the Runtime gives the core's) before any query that needs one.
    """

    def __init__(self, url: str, *, echo: bool = False, states: StateSets | None = None) -> None:
        self.url = url
        # A failed statement's message (logged with its traceback) never carries its parameters:
        # they hold people's briefs and replies.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if url.startswith("sqlite"):
            # SQLite has one writer. With several connections in one process, a writer that finds
            # the file locked sleeps in SQLite's busy handler (1 ms, growing to 100 ms) however
            # soon the lock is free; one connection queues its transactions on the event loop
            # instead (bench_slack: burst CPU 2.98x -> 2.20x the reference, ack p99 1.8 -> 0.8 s).
            # Other processes on the same file still meet the busy handler.
            from storage import sqlite_driver  # its aiosqlite is no use to a PostgreSQL process

            kwargs.update(pool_size=1, max_overflow=0, pool_timeout=60, module=sqlite_driver.dbapi())
            # Short statements run on the event loop's thread (storage/sqlite_driver.py): the
            # connection is used from there as well as from aiosqlite's thread, one at a time.
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            # Last in, first out: a light load keeps reusing the connection it just returned, so it
            # is never idle long enough to be pinged (see _Liveness); first in, first out rotated
            # through every connection a burst had opened, and each was idle long enough for a ping.
            kwargs.update(pool_size=10, max_overflow=20, pool_use_lifo=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        sync_engine = self.engine.sync_engine
        hygiene.install(sync_engine)
        # Before any other handle_error listener: it says whether the error was a disconnect.
        event.listen(sync_engine, "handle_error", _lost_connection)
        if url.startswith("sqlite"):
            event.listen(sync_engine, "connect", _sqlite_pragmas)
            event.listen(sync_engine, "before_cursor_execute", sqlite_driver.choose_place)
        else:
            liveness = _Liveness(self.engine)
            event.listen(sync_engine.pool, "checkin", _mark_used)
            event.listen(sync_engine.pool, "checkout", liveness.checkout)
            event.listen(sync_engine, "handle_error", liveness.lost)
        self.states: StateSets | None = None
        # On asyncpg a unit of work may begin with a direct statement, on a connection of its own
        # making (storage/direct.py); elsewhere every unit is the session's.
        self._units = self.engine.dialect.driver == "asyncpg"
        self.sessions = self._sessionmaker({})
        if states is not None:
            self.use_states(states)

    def use_states(self, states: StateSets) -> None:
        """Give every later session these state names; one Database serves one set."""
        if self.states is not None and self.states != states:
            raise ValueError("this Database already has other state sets")
        self.states = states
        self.sessions = self._sessionmaker({_STATES: states})

    def _sessionmaker(self, info: dict[str, Any]) -> async_sessionmaker[AsyncSession]:
        return async_sessionmaker(
            self.engine,
            expire_on_commit=False,
            info=info,
            sync_session_class=direct.UnitSession,
            join_transaction_mode="rollback_only",
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """A session in a transaction: committed on success, rolled back on error.

        On asyncpg the unit's transaction is the session's if the ORM runs first, else the
        connection its first direct statement began, which the session joins if the ORM runs later
        (storage/direct.py). Either way one transaction, committed or rolled back here."""
        session = self.sessions()
        if not self._units:
            try:
                async with session.begin():
                    yield session
            finally:
                await _end(session)
            return
        unit = session.info[direct.UNIT] = direct.Unit()
        try:
            yield session
            if session.in_transaction() or _holds_objects(session):
                await session.commit()  # joined to the unit's connection, it flushes and leaves the COMMIT
            if unit.connection is not None:
                await direct.commit(unit)
        except BaseException:
            # Shielded, as SQLAlchemy's own session exit is: a unit cancelled mid-statement still
            # gives its connection back (or the pool drops it).
            await asyncio.shield(self._abandon(session, unit))
            raise
        finally:
            await _end(session)

    @staticmethod
    async def _abandon(session: AsyncSession, unit: direct.Unit) -> None:
        try:
            if session.in_transaction():
                await session.rollback()  # joined to the unit's connection, this rolls it back too
        finally:
            await direct.discard(unit)

    async def run(self, work: Callable[[Session], Awaitable[T]], *, attempts: int = ATTEMPTS) -> T:
        """`work` in one transaction, run again (in a new transaction) when the connection fails
        under it: a terminated backend, a refused connection, a serialization failure. `work` must
        be safe to repeat: everything it wrote was rolled back with the failed attempt."""
        for attempt in range(1, attempts + 1):
            try:
                async with self.session() as session:
                    return await work(session)
            except Exception as exc:
                if attempt == attempts or not is_transient(exc):
                    raise
                delay = RETRY_BASE_S * 2 ** (attempt - 1) * (0.5 + random.random())
                _log.warning("database: %s; trying again in %.2f s", _first_line(exc), delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def ping(self, timeout: float = 2.0) -> bool:
        """Whether the database answers a trivial query within `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable now"
            _log.debug("database ping failed: %s", _first_line(exc))
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def _holds_objects(session: AsyncSession) -> bool:
    """Whether the session holds ORM objects: an object changed, added or deleted is in its
    identity map or among the new ones."""
    sync = session.sync_session
    return bool(len(sync.identity_map) or sync.new)


async def _end(session: AsyncSession) -> None:
    """Close a unit's session once its transaction has ended.

    The connection is back in the pool by then and closing is bookkeeping with no I/O, so it
    cannot be interrupted halfway. SQLAlchemy's own exit closes in a task of its own under
    asyncio.shield, in case a cancellation lands mid-close: one task and three loop turns per
    transaction (bench_core: 3-4 % of the core's CPU per step on SQLite, 1-2 % on PostgreSQL). That
    is kept for a session that still holds its transaction (a commit or rollback cancelled under
    it). A session that holds no objects has nothing to close (a unit of direct statements)."""
    if session.in_transaction():
        await session.__aexit__(None, None, None)
    elif _holds_objects(session):
        await session.close()


def _first_line(exc: BaseException) -> str:
    """An error's kind and first line: never its parameters (statements hide them anyway)."""
    line = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
