"""aiosqlite for SQLAlchemy with one trip to the connection's thread per statement.

aiosqlite runs each sqlite3 call in the connection's own thread and hands its result back through
a queue and the event loop's self-pipe. SQLAlchemy's adapter makes one such trip for each DBAPI
call: open a cursor, execute, fetch the rows, close the cursor; three or four per statement. A
trip costs more CPU than the statement it carries (a thread wake-up, a GIL hand-over and a loop
wake-up each way), so a reply's 11 statements made about 45 of them. Here a statement is run
whole in the thread (cursor, execute, rows, close) and comes back in one trip, with its
description, rowcount and lastrowid kept for the caller.

Short statements skip the trip altogether and run on the event loop's own thread: an INSERT (of
the rows it names), an UPDATE (of rows found by key or index), and a read marked with the `INLINE`
execution option (storage/statements.py `inline`: a few rows by key). A thread trip costs more
than such a statement: a transaction of two writes took 0.74 ms of CPU in place against 1.0 ms
through the thread, measured side by side. Anything else (a digest's aggregates, a sweep over a
table, a DELETE) still runs in the thread, so none of them holds up the loop. In place, a
statement never waits for another process's write lock: SQLite says "busy" at once and the
statement goes to the thread, which waits as before (`BUSY_TIMEOUT_MS`).

Commits run in place too, on a WAL file: with `synchronous=NORMAL` a commit appends its pages to
the WAL and syncs nothing, and it already holds the write lock, so it never waits. What does write
to disk is the checkpoint (the WAL copied back into the database file, both synced), which SQLite
runs inside whichever commit takes the WAL past 1000 pages. So the connection's own checkpoint is
off (`wal_autocheckpoint=0`, set where the engine connects) and every `CHECKPOINT_EVERY`-th commit
goes to the thread and checkpoints there, PASSIVE (it never waits for readers).

Used by storage/engine.py for every `sqlite+aiosqlite` URL, through create_engine's documented
`module` argument: the dialect, its SQL and its URL stay SQLAlchemy's own.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

from storage.statements import INLINE

# What one statement brings back from the thread: description, rows, rowcount, lastrowid.
_Outcome = tuple[Any, list[Any], int, int | None]

# How long a statement in the thread waits for another connection's write lock.
BUSY_TIMEOUT_MS = 10_000
_SQLITE_BUSY = 5  # the primary result code; extended codes keep it in their low byte
# A reply commits 4 or 5 times, each adding a few pages to the WAL: about SQLite's own 1000 pages.
CHECKPOINT_EVERY = 100


def _commit_and_checkpoint(conn: sqlite3.Connection) -> None:
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").close()


def _run_one(conn: sqlite3.Connection, operation: str, parameters: Any) -> _Outcome:
    cursor = conn.cursor()
    try:
        cursor.execute(operation, () if parameters is None else parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_in_place(conn: sqlite3.Connection, operation: str, parameters: Any) -> _Outcome | None:
    """The statement, run now on this thread without waiting for a lock; None when SQLite said busy
    (another process is writing), having done nothing: the caller sends it to the thread."""
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        return _run_one(conn, operation, parameters)
    except sqlite3.OperationalError as error:
        if getattr(error, "sqlite_errorcode", 0) & 0xFF == _SQLITE_BUSY:
            return None
        raise
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def _run_many(conn: sqlite3.Connection, operation: str, seq_of_parameters: Any) -> _Outcome:
    cursor = conn.cursor()
    try:
        cursor.executemany(operation, seq_of_parameters)
        return cursor.description, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor with no aiosqlite cursor behind it: each execute is one trip to the thread."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "_arraysize", "in_place")

    def __init__(self, adapt_connection: Any) -> None:
        # The base class would open an aiosqlite cursor here (a trip); none is needed.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1
        self.in_place = False  # set per statement by `choose_place`

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return  # the rows are already here and nothing is open in the thread

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        in_place, self.in_place = self.in_place, False
        async with self._adapt_connection._execute_mutex:
            conn = self._connection._conn
            outcome = _run_in_place(conn, operation, parameters) if in_place else None
            if outcome is None:
                outcome = await self._connection._execute(_run_one, conn, operation, parameters)
        self._keep(outcome)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(_run_many, self._connection._conn, operation, seq_of_parameters)
        self._keep(outcome)

    def _keep(self, outcome: _Outcome) -> None:
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    def nextset(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("commit_in_place", "_commits")
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.commit_in_place = False  # set by storage/engine.py once the file is in WAL mode
        self._commits = 0

    # A commit or rollback with no transaction open is a trip that does nothing, and SQLAlchemy
    # makes one for every unit of work: the pool rolls back each connection it takes back, after
    # the commit. A transaction that only read leaves none open either (sqlite3 begins one at the
    # first write). sqlite3 knows whether one is open without a trip: `in_transaction`.

    def _idle(self) -> bool:
        conn = self._connection._connection
        return conn is not None and not conn.in_transaction

    def commit(self) -> None:
        if self._idle():
            return
        if not self.commit_in_place:
            super().commit()
            return
        self._commits += 1
        conn = self._connection._conn
        try:
            if self._commits % CHECKPOINT_EVERY == 0:
                await_(self._connection._execute(_commit_and_checkpoint, conn))
            else:
                conn.commit()
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI module SQLAlchemy builds, handing out one-trip connections."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy does: a forgotten connection never holds up exit
        return OneTripConnection(self, await_(connection))


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)


def choose_place(_conn: Any, cursor: Any, statement: str, _parameters: Any, context: Any, executemany: bool) -> None:
    """A `before_cursor_execute` listener: whether this statement runs in place (see the module's
    docstring). Installed by storage/engine.py on SQLite engines."""
    if not isinstance(cursor, OneTripCursor) or executemany:
        return
    options = context.execution_options if context is not None else {}
    # INSERT … VALUES and UPDATE write the rows they name or an indexed few; a read runs in place
    # only when marked (a DELETE never: pruning may touch many rows).
    cursor.in_place = statement[:6].upper() in ("INSERT", "UPDATE") or bool(options.get(INLINE))
