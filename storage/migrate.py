"""Run Alembic from code: `draftloop db upgrade`, and the automatic upgrade on first use.

Several processes may start together on one database (web and worker, or two consoles on one SQLite
file): exactly one migrates, the others wait for it and then find the schema current. PostgreSQL takes
an advisory lock inside the migration's transaction (migrations/env.py). SQLite has no such lock, and
its DDL is not transactional the way Alembic needs, so "read the revision, then upgrade" runs under an
exclusive lock on a file beside the database (`<file>.migrate.lock`, left in place: removing it would
race with a process about to lock it).

draftloop only upgrades: a target older than the database's revision is refused (RevisionError), and a
database a newer draftloop migrated is reported as such (UnknownSchema) instead of Alembic's traceback.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

# SQLAlchemy is imported where it is used: head_revision (a one-shot `draftloop digest` checks the
# SQLite file's schema with it) reads the migration files alone.
if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD_NAMES = ("head", "heads")


class RevisionError(ValueError):
    """A revision draftloop cannot upgrade to: unknown, or older than the database's (no downgrades)."""


class UnknownSchema(RuntimeError):
    """The database is at a revision this draftloop does not know: a newer draftloop migrated it."""


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser treats % as interpolation; URLs may hold %-escaped passwords.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_REVISION = re.compile(r"^revision(?:\s*:\s*str)?\s*=\s*['\"](?P<rev>[\w-]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?:\s*:[^=]+)?\s*=\s*['\"](?P<rev>[\w-]+)['\"]", re.MULTILINE)


def _graph() -> dict[str, str | None]:
    """Each revision and the one it follows, read from the migration files without importing Alembic."""
    graph: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        if (rev := _REVISION.search(source)) is not None:
            down = _DOWN.search(source)
            graph[rev.group("rev")] = down.group("rev") if down is not None else None
    return graph


def head_revision() -> str | None:
    """The newest revision, read from the migration files without importing Alembic.

    Alembic costs ~12 MB and a fraction of a second at every start; it is only imported when a
    migration actually has to run. A test checks this agrees with Alembic's own answer.
    """
    graph = _graph()
    heads = set(graph) - {down for down in graph.values() if down is not None}
    return heads.pop() if len(heads) == 1 else None


def revisions() -> list[str]:
    """Every revision, oldest first (the history is one line: a test holds it to one head)."""
    graph, line = _graph(), []
    cursor = head_revision()
    while cursor is not None and cursor in graph and cursor not in line:
        line.append(cursor)
        cursor = graph[cursor]
    return line[::-1]


def target_revision(revision: str) -> str:
    """The revision `draftloop db upgrade REVISION` means; RevisionError naming the accepted ones."""
    known = revisions()
    if revision in HEAD_NAMES and known:
        return known[-1]
    if revision in known:
        return revision
    raise RevisionError(f"{revision!r} is not a revision of draftloop; use head or one of {', '.join(known)}")


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's revision; None for a new database. A failure to connect is the caller's."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    async with engine.connect() as conn:
        try:
            row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
        except DBAPIError:
            return None  # no alembic_version table yet: a new database
    return None if row is None else str(row[0])


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser()


@asynccontextmanager
async def migration_lock(url: str) -> AsyncIterator[None]:
    """Held while one process reads the revision and migrates a SQLite file; a no-op for PostgreSQL,
    whose migration takes its own advisory lock. Waited for in a thread: the event loop keeps running."""
    path = _sqlite_file(url)
    if path is None:
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.migrate.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _run_upgrade(url: str, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def _position(current: str, known: list[str]) -> int:
    if current not in known:
        raise UnknownSchema(
            f"the database is at revision {current}, which this draftloop does not know "
            "(a newer draftloop migrated it); upgrade draftloop"
        )
    return known.index(current)


async def upgrade(url: str, revision: str = "head") -> str:
    """Upgrade to `revision` (Alembic runs in a worker thread: env.py has its own event loop there) and
    return the revision the database is at. RevisionError for an unknown revision or one older than
    the database's: draftloop never downgrades."""
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    target = target_revision(revision)
    known = revisions()
    async with migration_lock(url):
        engine = create_async_engine(url, poolclass=NullPool, hide_parameters=True)
        try:
            current = await current_revision(engine)
        finally:
            await engine.dispose()
        if current is not None and _position(current, known) > known.index(target):
            raise RevisionError(
                f"the database is at revision {current}, past {target}; draftloop does not downgrade"
                " (restore a backup to go back)"
            )
        if current != target:
            await asyncio.to_thread(_run_upgrade, url, target)
    return target


async def ensure_schema(engine: AsyncEngine, url: str) -> bool:
    """Migrate when the database is behind; True when a migration ran (here, not in another process)."""
    head = head_revision()
    current = await current_revision(engine)
    if current == head:
        return False
    async with migration_lock(url):
        current = await current_revision(engine)  # another process may have migrated meanwhile
        if current == head:
            return False
        if current is not None:
            _position(current, revisions())
        await asyncio.to_thread(_run_upgrade, url, "head")
    return True
