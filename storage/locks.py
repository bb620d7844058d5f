"""Per-project revision leases: one conditional UPDATE, so the rule holds across processes.

A lease is (owner, until). Claiming succeeds when the project has no lease, the lease expired, or
the caller already holds it. Holders renew while an agent call runs; a crashed holder's lease
simply runs out and the next process to look picks the work up.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct, entities
from storage.engine import states_of
from storage.feedback import pending_exists
from storage.models import Project
from storage.statements import rowcount as _rowcount, table

# Built once and run with bind parameters, on every step of the loop: storage/statements.py.
_projects = table(Project)
_held_by_owner = (_projects.c.id == bindparam("project_id")) & (_projects.c.lease_owner == bindparam("owner"))

# Core UPDATE … RETURNING every column, read as a Project (storage/entities.py).
_claim = (
    update(_projects)
    .where(
        _projects.c.id == bindparam("project_id"),
        (_projects.c.lease_owner == None)  # noqa: E711
        | (_projects.c.lease_until < bindparam("now"))
        | (_projects.c.lease_owner == bindparam("owner")),
    )
    .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"))
    .returning(*_projects.c)
)


async def claim(
    *, session: AsyncSession, project_id: int, owner: str, now: datetime, until: datetime
) -> Project | None:
    """Take the lease; the project as it is now when taken, None when another run holds it."""
    params = {"project_id": project_id, "owner": owner, "now": now, "until": until}
    return await entities.one_of(session, Project, _claim, params)


_renew = update(_projects).where(_held_by_owner).values(lease_until=bindparam("until"))


async def renew(*, session: AsyncSession, project_id: int, owner: str, until: datetime) -> bool:
    params = {"project_id": project_id, "owner": owner, "until": until}
    return bool(_rowcount(await direct.execute(session, _renew, params)))


_returning = (_projects.c.state, _projects.c.current_version, pending_exists(bindparam("project_id")))
_release = update(_projects).where(_held_by_owner).values(lease_owner=None, lease_until=None).returning(*_returning)
# The same, for a cycle that showed a version: it is posted, and the progress message is now the draft.
_release_shown = (
    update(_projects)
    .where(_held_by_owner)
    .values(lease_owner=None, lease_until=None, posted_version=bindparam("shown"), progress_message_id=None)
    .returning(*_returning)
)


async def release(*, session: AsyncSession, project_id: int, owner: str, shown: int | None = None) -> bool:
    """Hand the lease back (recording `shown`, the version the cycle posted); True when the project
    has work waiting (a first draft not written, or feedback pending in review), read in the same
    statement so no reply slips between."""
    params: dict[str, object] = {"project_id": project_id, "owner": owner}
    if shown is not None:
        params["shown"] = shown
    row = (await direct.execute(session, _release if shown is None else _release_shown, params)).first()
    if row is None:
        return False
    state, version, pending = row
    states = states_of(session)
    if state == states.drafting and version == 0:
        return True
    return state in (states.revising, states.review) and bool(pending)
