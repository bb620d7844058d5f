"""Per-project revision leases: one conditional UPDATE, so the rule holds across processes.

A lease is (owner, until). Claiming succeeds when the project has no lease, the lease expired, or
the caller already holds it. Holders renew while an agent call runs; a crashed holder's lease
simply runs out and the next process to look picks the work up.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage._util import rowcount as _rowcount
from storage.models import Project


async def claim(*, session: AsyncSession, project_id: int, owner: str, now: datetime, until: datetime) -> bool:
    stmt = (
        update(Project)
        .where(
            col(Project.id) == project_id,
            (col(Project.lease_owner) == None)  # noqa: E711
            | (col(Project.lease_until) < now)
            | (col(Project.lease_owner) == owner),
        )
        .values(lease_owner=owner, lease_until=until)
    )
    return bool(_rowcount(await session.execute(stmt)))


async def renew(*, session: AsyncSession, project_id: int, owner: str, until: datetime) -> bool:
    stmt = (
        update(Project)
        .where(col(Project.id) == project_id, col(Project.lease_owner) == owner)
        .values(lease_until=until)
    )
    return bool(_rowcount(await session.execute(stmt)))


async def release(*, session: AsyncSession, project_id: int, owner: str) -> None:
    await session.execute(
        update(Project)
        .where(col(Project.id) == project_id, col(Project.lease_owner) == owner)
        .values(lease_owner=None, lease_until=None)
    )
