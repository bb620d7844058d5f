"""On PostgreSQL a unit of work whose first statement is a direct one runs on a connection checked
out and begun outside the session (storage/direct.py). It is still one transaction with whatever
the ORM does later in the unit, committed or rolled back as one, and its connection goes back to
the pool (or is dropped) however the unit ends (cancelled units: tests/storage/test_session_close.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, exc, func, select, text

from storage import direct, projects as store
from storage.engine import Database
from storage.models import Project
from tests.faults.pg_faults import dsn
from tests.storage.stored import checked_out, stored_project

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

# Module level: the direct path keeps every statement it compiles.
_whoami = select(func.pg_backend_pid(), func.txid_current())
_WHOAMI = text("SELECT pg_backend_pid(), txid_current()")


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[Database]:
    database = Database(pg_url)
    yield database
    await database.dispose()


async def _stored(db: Database, project_id: int) -> tuple[str, str]:
    async with db.session() as session:
        project = await store.get_project(session=session, project_id=project_id)
        assert project is not None
        return project.brief, project.category


async def test_a_unit_of_direct_statements_never_begins_the_sessions_transaction(pg: Database) -> None:
    project_id = await stored_project(pg, NOW, state="drafting")
    ends: list[str] = []
    for name in ("begin", "commit", "rollback"):
        event.listen(pg.engine.sync_engine, name, lambda _conn, name=name: ends.append(name))
    async with pg.session() as session:
        await store.update_project(session=session, project_id=project_id, brief="direct only")
        assert not session.in_transaction()
        assert session.info[direct.UNIT].connection is not None
    # The engine's listeners still see the transaction begin and commit, once.
    assert ends == ["begin", "commit"]
    assert checked_out(pg) == 0
    assert await _stored(pg, project_id) == ("direct only", "writing")


async def test_the_orm_after_a_direct_statement_joins_its_transaction(pg: Database) -> None:
    project_id = await stored_project(pg, NOW, state="drafting")
    async with pg.session() as session:
        await store.update_project(session=session, project_id=project_id, brief="written directly")
        direct_side = (await direct.execute(session, _whoami, {})).first()
        orm_side = (await session.execute(_WHOAMI)).first()
        assert orm_side is not None and tuple(orm_side) == tuple(direct_side)  # one backend, one transaction
        project = await session.get(Project, project_id)
        assert project is not None and project.brief == "written directly"
        project.category = "code"  # flushed by the unit's commit, into the same transaction
        # Direct again, now that the session has joined: still the same transaction.
        await store.update_project(session=session, project_id=project_id, brief="and again")
        again = (await direct.execute(session, _whoami, {})).first()
        assert tuple(again) == tuple(direct_side)
    assert checked_out(pg) == 0
    assert await _stored(pg, project_id) == ("and again", "code")


async def test_a_direct_statement_after_the_orm_runs_in_the_sessions_transaction(pg: Database) -> None:
    async with pg.session() as session:
        orm_side = (await session.execute(_WHOAMI)).first()
        direct_side = (await direct.execute(session, _whoami, {})).first()
        assert orm_side is not None and tuple(orm_side) == tuple(direct_side)
        assert session.info[direct.UNIT].connection is None  # the session's own connection served both
    assert checked_out(pg) == 0


async def test_a_failed_unit_rolls_back_its_direct_and_orm_writes_together(pg: Database) -> None:
    project_id = await stored_project(pg, NOW, state="drafting")
    with pytest.raises(RuntimeError, match="the unit fails"):
        async with pg.session() as session:
            await store.update_project(session=session, project_id=project_id, brief="never kept")
            project = await session.get(Project, project_id)
            assert project is not None
            project.category = "never kept either"
            await session.flush()
            raise RuntimeError("the unit fails")
    assert checked_out(pg) == 0
    assert await _stored(pg, project_id) == ("a brief", "writing")


async def test_a_commit_the_server_refuses_raises_sqlalchemys_error_and_keeps_nothing(pg: Database) -> None:
    project_id = await stored_project(pg, NOW, state="drafting")
    handled: list[str] = []
    event.listen(pg.engine.sync_engine, "handle_error", lambda context: handled.append(context.statement or ""))
    with pytest.raises(exc.IntegrityError):
        async with pg.session() as session:
            await store.update_project(session=session, project_id=project_id, brief="not kept")
            # A deferred constraint is checked at COMMIT: the unit's own COMMIT is what fails.
            await session.execute(
                text("CREATE TEMP TABLE once_only (id int UNIQUE DEFERRABLE INITIALLY DEFERRED) ON COMMIT DROP")
            )
            await session.execute(text("INSERT INTO once_only VALUES (1), (1)"))
    assert handled == ["COMMIT"]
    assert checked_out(pg) == 0
    assert await _stored(pg, project_id) == ("a brief", "writing")  # the pool still serves


async def test_a_backend_lost_before_the_commit_fails_the_unit_and_it_runs_again(pg: Database, pg_url: str) -> None:
    project_id = await stored_project(pg, NOW, state="drafting")
    attempts: list[int] = []

    async def work(session: Any) -> None:
        attempts.append(1)
        await store.update_project(session=session, project_id=project_id, brief=f"attempt {len(attempts)}")
        if len(attempts) == 1:
            backend = (await direct.execute(session, _whoami, {})).first()[0]
            admin = await asyncpg.connect(dsn(pg_url))
            try:
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", backend)
                async with asyncio.timeout(5):
                    while await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", backend):
                        await asyncio.sleep(0.02)
            finally:
                await admin.close()

    await pg.run(work)
    assert len(attempts) == 2
    assert checked_out(pg) == 0
    assert await _stored(pg, project_id) == ("attempt 2", "writing")
