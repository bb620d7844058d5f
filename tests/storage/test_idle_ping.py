"""PostgreSQL's pooled connections: pinged at checkout only after they sat idle, and a dead idle one
is replaced without the unit of work seeing an error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

import storage.engine as engine_module
from storage.engine import Database, is_transient
from tests.faults.pg_faults import dsn


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[Database]:
    database = Database(pg_url)
    yield database
    await database.dispose()


def _count_pings(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    real = db.engine.dialect.do_ping

    def counting(dbapi_conn: Any) -> bool:
        pings.append(1)
        return real(dbapi_conn)

    monkeypatch.setattr(db.engine.dialect, "do_ping", counting)
    return pings


async def _backend_pid(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(pg_url: str, pid: int) -> bool:
    """What a server restart, a failover or an operator does to one backend."""
    admin = await asyncpg.connect(dsn(pg_url))
    try:
        return bool(await admin.fetchval("SELECT pg_terminate_backend($1)", pid))
    finally:
        await admin.close()


async def test_a_connection_used_moments_ago_is_not_pinged(pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    pings = _count_pings(pg_db, monkeypatch)
    first = await _backend_pid(pg_db)
    for _ in range(20):
        assert await _backend_pid(pg_db) == first  # the same pooled connection each time
    assert pings == []


async def test_after_a_burst_a_light_load_reuses_one_connection_and_pings_none(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burst leaves several connections in the pool. Taken first in, first out, a unit of work every
    so often would get each in turn, idle for the whole round, and ping it at every checkout."""
    monkeypatch.setattr(engine_module, "IDLE_PING_S", 0.2)
    pings = _count_pings(pg_db, monkeypatch)

    async def hold() -> int:
        async with pg_db.session() as session:
            pid = int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            await asyncio.sleep(0.05)
            return pid

    burst = set(await asyncio.gather(*(hold() for _ in range(5))))
    assert len(burst) == 5
    used = []
    for _ in range(8):
        await asyncio.sleep(0.06)  # a round of five would take 0.3 s: longer than IDLE_PING_S
        used.append(await _backend_pid(pg_db))
    assert len(set(used)) == 1 and used[0] in burst, used
    assert pings == []


async def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(
    pg_db: Database, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "IDLE_PING_S", 0.05)
    pings = _count_pings(pg_db, monkeypatch)
    first = await _backend_pid(pg_db)
    await asyncio.sleep(0.1)
    assert await _backend_pid(pg_db) == first  # alive: pinged, kept
    assert len(pings) == 1

    # What a server restart, an idle timeout or a proxy does to a connection waiting in the pool.
    assert await _terminate(pg_url, first)
    await asyncio.sleep(0.1)
    replaced = await _backend_pid(pg_db)  # no error reaches the unit of work
    assert replaced != first
    assert len(pings) == 3  # the dead one, and its replacement: connections are being lost


async def test_while_connections_are_being_lost_every_checkout_is_pinged(
    pg_db: Database, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "TROUBLE_S", 0.3)
    pings = _count_pings(pg_db, monkeypatch)
    first = await _backend_pid(pg_db)
    assert await _terminate(pg_url, first)  # killed in use, moments ago
    with pytest.raises(Exception) as lost:
        await _backend_pid(pg_db)  # not pinged (used moments ago): the unit of work sees it once
    # asyncpg words it as the termination or as "another operation is in progress", as it comes
    assert is_transient(lost.value), lost.value
    assert pings == []
    for _ in range(3):
        await _backend_pid(pg_db)
    assert len(pings) == 3  # trouble: pinged at every checkout, as pool_pre_ping would
    await asyncio.sleep(0.35)
    await _backend_pid(pg_db)
    await _backend_pid(pg_db)
    assert len(pings) == 3  # the trouble is over: used moments ago, not pinged
