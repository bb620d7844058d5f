"""Holding a project's lease while work on it runs: renewed every third of its length.

A lease that runs out while its holder is still working lets a sweeper take the project over, and
both would post: so the lease is renewed for the whole cycle (the acknowledgement, the model call,
storing the version and showing it, however long a slow chat API makes that), not only while the
model writes. A holder that dies stops renewing, and the lease runs out within its length.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from bot.ports import Clock
from bot.tasks import stop
from storage import locks
from storage.engine import Database

_log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def held(db: Database, clock: Clock, *, project_id: int, token: str, seconds: float) -> AsyncIterator[None]:
    """Renew the lease `token` holds on the project until the block ends."""
    renewer = asyncio.create_task(_renew_forever(db, clock, project_id, token, seconds))
    try:
        yield
    finally:
        await stop(renewer)


async def _renew_forever(db: Database, clock: Clock, project_id: int, token: str, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds / 3)
        try:
            async with db.session() as session:
                until = clock.now() + timedelta(seconds=seconds)
                await locks.renew(session=session, project_id=project_id, owner=token, until=until)
        except Exception as exc:  # noqa: BLE001 - the next renewal may succeed; the lease has time left
            _log.warning("could not renew the lease of project %s: %s", project_id, type(exc).__name__)
