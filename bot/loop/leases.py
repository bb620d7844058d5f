"""Holding a project's lease while work on it runs: renewed every third of its length.

A lease that runs out while its holder is still working lets a sweeper take the project over, and
both would post: so the lease is renewed for the whole cycle (the acknowledgement, the model call,
storing the version and showing it, however long a slow chat API makes that), not only while the
model writes. A holder that dies stops renewing, and the lease runs out within its length.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import timedelta

from bot.ports import Clock
from bot.tasks import renewing
from storage import locks
from storage.engine import Database


def held(
    db: Database, clock: Clock, *, project_id: int, token: str, seconds: float
) -> AbstractAsyncContextManager[None]:
    """Renew the lease `token` holds on the project until the block ends."""

    async def renew() -> None:
        async with db.session() as session:
            until = clock.now() + timedelta(seconds=seconds)
            await locks.renew(session=session, project_id=project_id, owner=token, until=until)

    return renewing(seconds / 3, renew, f"the lease of project {project_id}")
