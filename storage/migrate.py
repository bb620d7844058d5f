"""Run Alembic from code: `draftloop db upgrade`, and the automatic upgrade on first use."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser treats % as interpolation; URLs may hold %-escaped passwords.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


_REVISION = re.compile(r"^revision(?:\s*:\s*str)?\s*=\s*['\"](?P<rev>[\w-]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?:\s*:[^=]+)?\s*=\s*['\"](?P<rev>[\w-]+)['\"]", re.MULTILINE)


def head_revision() -> str | None:
    """The newest revision, read from the migration files without importing Alembic.

    Alembic costs ~12 MB and a fraction of a second at every start; it is only imported when a
    migration actually has to run. A test checks this agrees with Alembic's own answer.
    """
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        if (rev := _REVISION.search(source)) is not None:
            revisions.add(rev.group("rev"))
        if (down := _DOWN.search(source)) is not None:
            parents.add(down.group("rev"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def current_revision(engine: AsyncEngine) -> str | None:
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
    except DBAPIError:
        return None  # no alembic_version table yet: a new database
    return None if row is None else str(row[0])


async def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade in a worker thread: env.py runs its own event loop there."""
    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def ensure_schema(engine: AsyncEngine, url: str) -> bool:
    """Migrate when the database is behind; True when a migration ran."""
    if await current_revision(engine) == head_revision():
        return False
    await upgrade(url)
    return True
