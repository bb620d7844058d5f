"""The process's database, opened (and migrated) from the settings: what every command that touches
storage needs first. Kept apart from the runtime so `draftloop digest` opens it without importing the
workflow, the agents and the chat platforms (start-up time: see benchmarks/bench_startup.py)."""

from __future__ import annotations

from bot.settings import Settings
from bot.states import STORED
from storage.engine import Database, async_url
from storage.migrate import ensure_schema


async def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """A Database for the settings' URL, with the core's state names; migrated first unless told not."""
    url = async_url(settings.database_url, data_dir=settings.draftloop_data_dir)
    db = Database(url, states=STORED)
    if migrate:
        await ensure_schema(db.engine, url)
    return db
