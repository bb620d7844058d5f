"""Throw-away databases for benchmarks: a temp SQLite file, or a private PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from storage.engine import async_url
from storage.migrate import upgrade

PG_BASE = os.environ.get("DRAFTLOOP_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_BASE)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def scratch_database(kind: str) -> AsyncIterator[str]:
    """Yield a migrated async URL; drop the database afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = async_url(f"sqlite:///{Path(tmp) / 'bench.db'}", data_dir=Path(tmp))
            await upgrade(url)
            yield url
        return
    name = f"draftloop_bench_{uuid.uuid4().hex[:8]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        url = async_url(PG_BASE, data_dir=Path(".")).rsplit("/", 1)[0] + f"/{name}"
        await upgrade(url)
        yield url
    finally:
        await asyncio.sleep(0)
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
