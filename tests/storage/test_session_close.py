"""`Database.session` closes a finished session in place: no task per unit of work, the connection
back in the pool, and a unit cancelled mid-statement still gives its connection back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import inspect, text

from storage.engine import Database
from storage.models import Project
from tests.storage.stored import stored_project


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


def _checked_out(db: Database) -> int:
    return int(db.engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]


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
    assert _checked_out(db) == 0
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
    assert _checked_out(db) == 0
    async with db.session() as session:
        stored = await session.get(Project, project_id)
        assert stored is not None and stored.brief != "changed, then the unit fails"


async def test_a_unit_cancelled_mid_statement_gives_its_connection_back(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        started = asyncio.Event()

        async def slow_unit() -> None:
            async with db.session() as session:
                started.set()
                await session.execute(text("SELECT pg_sleep(10)"))

        task = asyncio.create_task(slow_unit())
        await started.wait()
        await asyncio.sleep(0.2)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        assert done, "the cancelled unit did not finish"
        assert task.cancelled()
        assert _checked_out(db) == 0
        async with db.session() as session:  # the pool still serves
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await db.dispose()
