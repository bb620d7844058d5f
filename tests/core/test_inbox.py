"""The inbox's store before the acknowledgement: deliveries arriving together share one transaction
(group commit), each key is new exactly once, and a store that cannot be made is NotRecorded for
every waiter. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bot.app.runtime import Runtime
from bot.loop.inbox import NotRecorded
from bot.settings import Settings
from storage.engine import Database
from storage.models import InboxEntry
from tests.core.test_event_keys import refusing


async def test_a_burst_is_stored_in_few_transactions_and_each_key_is_new_once(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings], db: Database
) -> None:
    inbox = make_runtime(settings_factory()).workflow.inbox
    begins: list[Any] = []

    def began(conn: Any) -> None:
        begins.append(conn)

    event.listen(db.engine.sync_engine, "begin", began)
    try:
        keys = [f"Ev-{i % 40}" for i in range(120)]  # every key three times (Slack's retries, a second process)
        fresh = await asyncio.gather(*(inbox.store("slack", key, "{}") for key in keys))
    finally:
        event.remove(db.engine.sync_engine, "begin", began)
    assert sum(fresh) == 40
    assert {k for k, f in zip(keys, fresh, strict=True) if f} == {f"Ev-{i}" for i in range(40)}
    assert len(begins) <= 3  # one transaction per batch, not one per delivery (120 before)
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(InboxEntry))).scalar_one() == 40
    assert await inbox.store("slack", "Ev-1", "{}") is False  # stored before: a redelivery


async def test_a_store_that_cannot_be_made_is_not_recorded_for_every_waiter(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings], db: Database
) -> None:
    inbox = make_runtime(settings_factory()).workflow.inbox
    async with refusing(db, "INSERT", "inbox"):
        results = await asyncio.gather(
            *(inbox.store("slack", f"Ev-{i}", "{}") for i in range(5)), return_exceptions=True
        )
    assert all(isinstance(r, NotRecorded) for r in results)
    assert await inbox.store("slack", "Ev-1", "{}") is True  # nothing was stored: the redelivery is new
    with pytest.raises(NotRecorded):
        async with refusing(db, "INSERT", "inbox"):
            await inbox.store("slack", "Ev-9", "{}")


async def test_the_store_is_compiled_once_whatever_the_batch(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings], db: Database
) -> None:
    # Rows written into the statement made a new statement per delivery: SQLAlchemy compiled it
    # every time (no cache key), a cost as large as the rest of the store.
    inbox = make_runtime(settings_factory()).workflow.inbox
    hits: list[str] = []

    def executed(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO inbox"):
            hits.append(str(context.cache_hit))

    await inbox.store("slack", "Ev-warm", "{}")  # compiled for one row, then for several
    await asyncio.gather(*(inbox.store("slack", f"Ev-warm-{i}", "{}") for i in range(3)))
    event.listen(db.engine.sync_engine, "before_cursor_execute", executed)
    try:
        await inbox.store("slack", "Ev-alone", "{}")
        await asyncio.gather(*(inbox.store("slack", f"Ev-{i}", "{}") for i in range(7)))
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", executed)
    assert hits and all(hit.endswith("CACHE_HIT") for hit in hits), hits
