"""What the reminder and expiry jobs read and record.

Each record is a compare-and-set on the project plus a `nudges` row under a unique key, in the
caller's transaction: a job run twice, or by two workers, records (and so posts) a reminder or an
expiry once. The states are the core's, passed in: `waiting` is the state drafts wait for review
in, `target` the state an idle project moves to (checked against the core's state table first).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Insert, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Nudge, Project
from storage.statements import per_dialect, rowcount, table, upsert

NUDGE, EXPIRE = "nudge", "expire"

_nudges = table(Nudge)


class AlreadyRecorded(Exception):
    """The reminder or expiry was recorded by another run: roll the transaction back, post nothing."""


@per_dialect
def _insert_nudge(dialect: str) -> Insert:
    return upsert(dialect, _nudges).on_conflict_do_nothing(index_elements=["project_id", "kind", "seq"])


async def _record(session: AsyncSession, *, project_id: int, kind: str, seq: int, now: datetime) -> None:
    values = {"project_id": project_id, "kind": kind, "seq": seq, "created_at": now}
    if rowcount(await session.execute(_insert_nudge(session), values)) != 1:
        raise AlreadyRecorded(f"{kind} {seq} of project {project_id}")


def _due(waiting: str, cutoff: datetime) -> Any:
    """In review since `cutoff` or longer, and not reminded since then."""
    return and_(
        col(Project.state) == waiting,
        col(Project.review_since) <= cutoff,
        or_(col(Project.last_nudged_at).is_(None), col(Project.last_nudged_at) <= cutoff),
    )


async def due_for_reminder(*, session: AsyncSession, waiting: str, cutoff: datetime, limit: int) -> list[Project]:
    """Projects waiting for review since `cutoff` and not reminded since, longest waiting first."""
    stmt = select(Project).where(_due(waiting, cutoff)).order_by(col(Project.review_since)).limit(limit)
    return list((await session.execute(stmt)).scalars().all())


async def record_reminder(
    *, session: AsyncSession, project_id: int, seen_count: int, waiting: str, cutoff: datetime, now: datetime
) -> bool:
    """Count reminder `seen_count + 1` of the project; False when it is no longer due or another run
    counted it first. Raises AlreadyRecorded when its `nudges` row exists already."""
    won = await session.execute(
        update(Project)
        .where(col(Project.id) == project_id, col(Project.nudge_count) == seen_count, _due(waiting, cutoff))
        .values(nudge_count=seen_count + 1, last_nudged_at=now)
    )
    if rowcount(won) != 1:
        return False
    await _record(session, project_id=project_id, kind=NUDGE, seq=seen_count + 1, now=now)
    return True


def _idle(waiting: str, cutoff: datetime) -> Any:
    return and_(col(Project.state) == waiting, col(Project.updated_at) <= cutoff)


async def idle_in_review(*, session: AsyncSession, waiting: str, cutoff: datetime, limit: int) -> list[Project]:
    """Projects waiting for review with no activity since `cutoff`, idle longest first."""
    stmt = select(Project).where(_idle(waiting, cutoff)).order_by(col(Project.updated_at)).limit(limit)
    return list((await session.execute(stmt)).scalars().all())


async def record_expiry(
    *, session: AsyncSession, project_id: int, waiting: str, target: str, cutoff: datetime, now: datetime
) -> bool:
    """Move an idle project to `target` (decided now, lease dropped); False when it saw activity or
    moved meanwhile. Raises AlreadyRecorded when its expiry was recorded already."""
    won = await session.execute(
        update(Project)
        .where(col(Project.id) == project_id, _idle(waiting, cutoff))
        .values(state=target, decided_at=now, updated_at=now, lease_owner=None)
    )
    if rowcount(won) != 1:
        return False
    await _record(session, project_id=project_id, kind=EXPIRE, seq=0, now=now)
    return True
