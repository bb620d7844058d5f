"""`Database.session` closes a finished session in place: no task per unit of work, the connection
back in the pool, and a unit cancelled mid-statement still gives its connection back, whether the
statement went through the session or on PostgreSQL's direct path (storage/direct.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, func, inspect, select, text

from storage import direct, projects as store
from storage.engine import Database
from storage.models import Project
from tests.storage.stored import checked_out, stored_project


async def make_project(db: Database) -> int:
    return await stored_project(db, datetime.now(UTC), state="drafting")


def _count_tasks() -> list[Any]:
    """Every task the running loop creates from now on."""
    loop = asyncio.get_running_loop()
    created: list[Any] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        created.append(getattr(coro, "__qualname__", coro))
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)  # type: ignore[arg-type]
    return created


# Module level: the direct path keeps every statement it compiles.
_SLEEP = select(func.pg_sleep(bindparam("seconds")))


async def test_a_unit_of_work_creates_no_task_and_returns_its_connection(db: Database) -> None:
    project_id = await make_project(db)
    created = _count_tasks()
    try:
        async with db.session() as session:
            project = await session.get(Project, project_id)
            assert project is not None
    finally:
        asyncio.get_running_loop().set_task_factory(None)
    assert created == []  # SQLAlchemy's own exit closes in a task under asyncio.shield
    assert checked_out(db) == 0
    assert inspect(project).detached  # closed: nothing keeps the object in a dead session


async def test_a_failed_unit_rolls_back_and_returns_its_connection(db: Database) -> None:
    project_id = await make_project(db)
    try:
        async with db.session() as session:
            project = await session.get(Project, project_id)
            assert project is not None
            project.brief = "changed, then the unit fails"
            await session.flush()
            raise RuntimeError("the unit fails")
    except RuntimeError:
        pass
    assert checked_out(db) == 0
    async with db.session() as session:
        stored = await session.get(Project, project_id)
        assert stored is not None and stored.brief != "changed, then the unit fails"


async def _sleep_through_the_session(session: Any) -> None:
    await session.execute(text("SELECT pg_sleep(10)"))


async def _sleep_on_the_direct_path(session: Any) -> None:
    await direct.execute(session, _SLEEP, {"seconds": 10})


@pytest.mark.parametrize("sleep", [_sleep_through_the_session, _sleep_on_the_direct_path])
async def test_a_unit_cancelled_mid_statement_gives_its_connection_back(pg_url: str, sleep: Any) -> None:
    db = Database(pg_url)
    try:
        started = asyncio.Event()

        async def slow_unit() -> None:
            async with db.session() as session:
                started.set()
                await sleep(session)

        task = asyncio.create_task(slow_unit())
        await started.wait()
        await asyncio.sleep(0.2)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        assert done, "the cancelled unit did not finish"
        assert task.cancelled()
        assert checked_out(db) == 0
        async with db.session() as session:  # the pool still serves, on both paths
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        async with db.session() as session:
            await store.update_project(session=session, project_id=await make_project(db), brief="served")
    finally:
        await db.dispose()


async def test_a_unit_of_direct_statements_creates_no_task_either(db: Database) -> None:
    project_id = await make_project(db)
    created = _count_tasks()
    try:
        async with db.session() as session:
            await store.update_project(session=session, project_id=project_id, brief="no task")
    finally:
        asyncio.get_running_loop().set_task_factory(None)
    assert created == []
    assert checked_out(db) == 0
