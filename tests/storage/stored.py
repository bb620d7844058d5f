"""A project written straight through storage, for tests of storage itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage import Database, projects as store


async def stored_project(db: Database, now: datetime, *, state: str, **values: Any) -> int:
    """A console project in `state`, created at `now`, with `values` written after it; its id."""
    async with db.session() as session:
        project = await store.create_project(
            session=session,
            platform="console",
            channel="C1",
            requester_id="u1",
            brief="a brief",
            category="writing",
            agent="offline",
            state=state,
            created_at=now,
            updated_at=now,
        )
        assert project.id is not None
        if values:
            await store.update_project(session=session, project_id=project.id, **values)
        return project.id


def checked_out(db: Database) -> int:
    """Connections the engine's pool has lent out and not had back."""
    return int(db.engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]
