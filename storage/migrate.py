"""Run Alembic from code: `draftloop db upgrade`, and the automatic upgrade on first use."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser treats % as interpolation; URLs may hold %-escaped passwords.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade in a worker thread: env.py runs its own event loop there."""
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def ensure_schema(engine: AsyncEngine, url: str) -> bool:
    """Migrate when the database is behind; True when a migration ran."""
    if await current_revision(engine) == head_revision():
        return False
    await upgrade(url)
    return True
