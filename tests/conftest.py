"""Shared fixtures.

`db` is parametrized over SQLite and PostgreSQL. PostgreSQL gets a private database per test
session (created from DRAFTLOOP_TEST_PG, default postgresql://postgres@127.0.0.1:5432/test), so
parallel runs never collide; each test starts from empty tables. SQLite copies a migrated template
file per test.

When tests that need PostgreSQL are selected, the server is tried once before any runs: if it does
not answer, the run stops with one message (which URL, how to point elsewhere) instead of each of
those tests failing on its own. DRAFTLOOP_TEST_PG=off deselects them and runs the rest on SQLite.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlmodel import SQLModel

from bot.app.runtime import Runtime
from bot.events import Actor, Locator, MessageRef, RequestPosted, ThreadReply
from bot.settings import Settings
from storage.engine import Database, async_url
from storage.migrate import alembic_config
from tests.fakes.recording_chat import RecordingChat

# Property tests explore the same examples on every run, so CI never fails on a new random draw;
# `pytest --hypothesis-profile=explore` searches afresh when you are hunting.
hypothesis_settings.register_profile("default", derandomize=True, database=None, deadline=None)
hypothesis_settings.register_profile("explore", deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

PG_BASE = os.environ.get("DRAFTLOOP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_OFF = PG_BASE.strip().lower() in ("off", "no", "none", "0", "false", "")
PG_CONNECT_TIMEOUT = 5.0


def _needs_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("db_url") == "postgres":
        return True
    return "pg_url" in getattr(item, "fixturenames", ())


async def _postgres_problem() -> str | None:
    """Why the server at DRAFTLOOP_TEST_PG cannot be used, or None when it answers."""
    import asyncpg

    try:
        base = async_url(PG_BASE, data_dir=Path(".")).replace("postgresql+asyncpg", "postgresql")
        conn = await asyncpg.connect(base, timeout=PG_CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError, asyncpg.PostgresError) as exc:
        return str(exc) or type(exc).__name__
    await conn.close()
    return None


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected what they do
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needing = [item for item in items if _needs_postgres(item)]
    if not needing:
        return
    if PG_OFF:
        config.hook.pytest_deselected(items=needing)
        items[:] = [item for item in items if not _needs_postgres(item)]
        return
    problem = asyncio.run(_postgres_problem())
    if problem is not None:
        shown = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", PG_BASE)
        raise pytest.UsageError(
            f"PostgreSQL at {shown} (DRAFTLOOP_TEST_PG) does not answer: {problem}. "
            f"{len(needing)} of the selected tests run on PostgreSQL too. Start it there (trust auth, a database "
            "`test`), point DRAFTLOOP_TEST_PG at another server (postgresql://USER@HOST:PORT/DB), "
            "or run on SQLite only with DRAFTLOOP_TEST_PG=off."
        )


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that sets up the process' logging must not leave a handler on a stream pytest has closed."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _migrate(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    return path


async def _pg_admin(sql: str) -> None:
    import asyncpg

    base = async_url(PG_BASE, data_dir=Path(".")).replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A private, migrated PostgreSQL database for this test session."""
    name = f"draftloop_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    url = async_url(PG_BASE, data_dir=Path(".")).rsplit("/", 1)[0] + f"/{name}"
    try:
        _migrate(url)
        yield url
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "draftloop.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    if database.dialect == "postgresql":
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield database
    await database.dispose()


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 18, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> datetime:
        self.current += timedelta(**kwargs)
        return self.current


@pytest.fixture
def ctrl_c_reaches_children() -> Iterator[None]:
    """Children started in the test take SIGINT as from a terminal. A test run started in the
    background by a shell without job control (`(cmd &)`) inherits SIGINT ignored, and an ignored
    signal stays ignored across exec: a child Python then never turns Ctrl-C into KeyboardInterrupt.
    A handler does not survive exec, so the parent holding one gives the child the default."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    """Settings(**fields) with an optional `toml=` config text written to a file."""

    def make(toml: str | None = None, **fields: Any) -> Settings:
        if toml is not None:
            cfg = tmp_path / f"config-{uuid.uuid4().hex[:6]}.toml"
            cfg.write_text(toml, encoding="utf-8")
            fields["draftloop_config"] = cfg
        fields.setdefault("draftloop_data_dir", tmp_path / "data")
        fields.setdefault("draftloop_agent", "offline")
        return Settings(**fields)

    return make


@pytest.fixture
def make_runtime(db: Database, clock: FakeClock) -> Callable[..., Runtime]:
    """A Runtime over the test database with a RecordingChat registered as `runtime.chat`."""

    def make(settings: Settings, *, chat: RecordingChat | None = None, clock_: Any = None) -> Runtime:
        runtime = Runtime(settings, db=db, clock=clock_ or clock)
        platform = chat or RecordingChat()
        runtime.register_platform(platform)
        runtime.chat = platform  # type: ignore[attr-defined]
        return runtime

    return make


def console_actor(name: str) -> Actor:
    return Actor("console", name, name)


def request_event(text: str, who: str = "alice", message_id: str = "r1", platform: str = "console") -> RequestPosted:
    return RequestPosted(MessageRef(platform, "C1", message_id), Actor(platform, who, who), text)


def reply_event(number: int, text: str, who: str = "alice", **kw: Any) -> ThreadReply:
    return ThreadReply(Locator(number=number), Actor("console", who, who), text, **kw)
