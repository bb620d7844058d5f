"""Async engine and sessions from DATABASE_URL, in the forms people paste.

`sqlite:///path.db`, `postgresql://…` and `postgres://…` (as hosting platforms hand it out) are
accepted; the async driver (aiosqlite, asyncpg) is chosen here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage import hygiene
from storage.state_sets import StateSets

_log = logging.getLogger(__name__)

# What the core annotates a session with, so it need not import SQLAlchemy.
Session: TypeAlias = AsyncSession

_STATES = "draftloop.states"  # the key of a session's StateSets in `session.info`


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
    cursor.execute("PRAGMA busy_timeout=10000")
    # WAL lets readers run beside the one writer. It is a property of the file: the first
    # connection to find the file in another mode switches it. That switch needs a lock SQLite
    # reports busy at once (busy_timeout does not apply) while another connection writes; the
    # connection then works in the file's current mode, and a later one makes the switch.
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except Exception as exc:
            if "locked" not in str(exc):
                raise
            _log.debug("SQLite file busy; WAL is switched on by a later connection")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
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
            # SQLite has one writer: more connections only add threads (and their memory) that
            # wait on each other's locks. A short queue for a connection is cheaper.
            kwargs.update(pool_size=4, max_overflow=0, pool_timeout=60)
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        hygiene.install(self.engine.sync_engine)
        self.states: StateSets | None = None
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        if states is not None:
            self.use_states(states)

    def use_states(self, states: StateSets) -> None:
        """Give every later session these state names; one Database serves one set."""
        if self.states is not None and self.states != states:
            raise ValueError("this Database already has other state sets")
        self.states = states
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, info={_STATES: states})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
