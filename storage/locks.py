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
from storage.projects import pending_exists


async def claim(
    *, session: AsyncSession, project_id: int, owner: str, now: datetime, until: datetime
) -> Project | None:
    """Take the lease; the project as it is now when taken, None when another run holds it."""
    stmt = (
        update(Project)
        .where(
            col(Project.id) == project_id,
            (col(Project.lease_owner) == None)  # noqa: E711
            | (col(Project.lease_until) < now)
            | (col(Project.lease_owner) == owner),
        )
        .values(lease_owner=owner, lease_until=until)
        .returning(Project)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def renew(*, session: AsyncSession, project_id: int, owner: str, until: datetime) -> bool:
    stmt = (
        update(Project)
        .where(col(Project.id) == project_id, col(Project.lease_owner) == owner)
        .values(lease_until=until)
    )
    return bool(_rowcount(await session.execute(stmt)))


async def release(*, session: AsyncSession, project_id: int, owner: str) -> bool:
    """Hand the lease back; True when the project has work waiting (a first draft not written,
    or feedback pending in review), read in the same statement so no reply slips between."""
    stmt = (
        update(Project)
        .where(col(Project.id) == project_id, col(Project.lease_owner) == owner)
        .values(lease_owner=None, lease_until=None)
        .returning(col(Project.state), col(Project.current_version), pending_exists(project_id))
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return False
    state, version, pending = row
    if state == "drafting" and version == 0:
        return True
    return state in ("revising", "in_review") and bool(pending)
