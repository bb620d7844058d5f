"""Writes and reads of projects, versions, feedback, decisions and links.

Plain async functions with a keyword-only `session`; the caller owns the transaction
(`Database.session()`), so a step that touches several tables commits or fails as one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage._util import rowcount as _rowcount
from storage.models import Decision, Feedback, InboundEvent, MessageLink, Person, Project, Version
from storage.types import UTCDateTime


def _insert(session: AsyncSession, model: type[Any]) -> Any:
    """INSERT with ON CONFLICT support for the session's dialect (SQLite and PostgreSQL share it)."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(model)
    return sqlite_insert(model)


async def seen_event(*, session: AsyncSession, platform: str, key: str, now: datetime) -> bool:
    """Record an inbound event key; True when it was recorded before (a redelivery)."""
    stmt = (
        _insert(session, InboundEvent)
        .values(platform=platform, key=key[:255], created_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "key"])
    )
    return _rowcount(await session.execute(stmt)) == 0


async def create_project(*, session: AsyncSession, **fields: Any) -> Project:
    project = Project(**fields)
    session.add(project)
    await session.flush()
    return project


async def get_project(*, session: AsyncSession, project_id: int, for_update: bool = False) -> Project | None:
    stmt = select(Project).where(col(Project.id) == project_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_by_thread(*, session: AsyncSession, platform: str, channel: str, thread_id: str) -> Project | None:
    stmt = select(Project).where(
        col(Project.platform) == platform,
        col(Project.channel) == channel,
        col(Project.thread_id) == thread_id,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_by_message(*, session: AsyncSession, platform: str, channel: str, message_id: str) -> Project | None:
    stmt = (
        select(Project)
        .join(MessageLink, col(MessageLink.project_id) == col(Project.id))
        .where(
            col(MessageLink.platform) == platform,
            col(MessageLink.channel) == channel,
            col(MessageLink.message_id) == message_id,
        )
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def link_message(
    *, session: AsyncSession, platform: str, channel: str, message_id: str, project_id: int, kind: str, version: int = 0
) -> None:
    """Remember which project a message belongs to; an edited message keeps its first link."""
    stmt = (
        _insert(session, MessageLink)
        .values(
            platform=platform, channel=channel, message_id=message_id, project_id=project_id, kind=kind, version=version
        )
        .on_conflict_do_nothing(index_elements=["platform", "channel", "message_id"])
    )
    await session.execute(stmt)


async def update_project(*, session: AsyncSession, project_id: int, **values: Any) -> None:
    await session.execute(update(Project).where(col(Project.id) == project_id).values(**values))


async def move_state(
    *, session: AsyncSession, project_id: int, expected: Sequence[str], target: str, **values: Any
) -> bool:
    """Compare-and-set the state: False when another process moved it first."""
    stmt = (
        update(Project)
        .where(col(Project.id) == project_id, col(Project.state).in_(list(expected)))
        .values(state=target, **values)
    )
    result = await session.execute(stmt)
    return bool(_rowcount(result))


async def add_version(*, session: AsyncSession, **fields: Any) -> Version:
    version = Version(**fields)
    session.add(version)
    await session.flush()
    return version


async def latest_version(*, session: AsyncSession, project_id: int) -> Version | None:
    stmt = select(Version).where(col(Version.project_id) == project_id).order_by(col(Version.number).desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def add_feedback(*, session: AsyncSession, **fields: Any) -> Feedback:
    feedback = Feedback(**fields)
    session.add(feedback)
    await session.flush()
    return feedback


async def feedback_points(*, session: AsyncSession, project_id: int) -> list[Feedback]:
    """Every feedback point (asides excluded), oldest first."""
    stmt = (
        select(Feedback)
        .where(col(Feedback.project_id) == project_id, col(Feedback.is_aside) == False)  # noqa: E712
        .order_by(col(Feedback.id))
    )
    return list((await session.execute(stmt)).scalars())


async def pending_count(*, session: AsyncSession, project_id: int) -> int:
    stmt = select(func.count()).where(
        col(Feedback.project_id) == project_id,
        col(Feedback.is_aside) == False,  # noqa: E712
        col(Feedback.consumed_by) == None,  # noqa: E711
    )
    return int((await session.execute(stmt)).scalar_one())


async def consume_feedback(*, session: AsyncSession, project_id: int, upto_id: int, version: int) -> None:
    await session.execute(
        update(Feedback)
        .where(
            col(Feedback.project_id) == project_id,
            col(Feedback.is_aside) == False,  # noqa: E712
            col(Feedback.consumed_by) == None,  # noqa: E711
            col(Feedback.id) <= upto_id,
        )
        .values(consumed_by=version)
    )


async def add_decision(*, session: AsyncSession, **fields: Any) -> Decision:
    decision = Decision(**fields)
    session.add(decision)
    await session.flush()
    return decision


async def touch_person(
    *, session: AsyncSession, platform: str, user_id: str, name: str, is_expert: bool, now: datetime
) -> None:
    stmt = _insert(session, Person).values(
        platform=platform, user_id=user_id, name=name, is_expert=is_expert, first_seen=now, last_seen=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["platform", "user_id"],
        set_={
            "last_seen": stmt.excluded.last_seen,
            "name": stmt.excluded.name,
            "is_expert": col(Person.is_expert) | stmt.excluded.is_expert,
        },
    )
    await session.execute(stmt)


async def projects_needing_work(*, session: AsyncSession, now: datetime, limit: int = 500) -> list[int]:
    """Projects a crash or restart left mid-cycle, whose lease is free or expired."""
    pending = (
        select(col(Feedback.project_id))
        .where(col(Feedback.consumed_by) == None, col(Feedback.is_aside) == False)  # noqa: E711, E712
        .distinct()
    )
    stmt = (
        select(col(Project.id))
        .where(
            (col(Project.state).in_(["drafting", "revising"]))
            | ((col(Project.state) == "in_review") & col(Project.id).in_(pending)),
            (col(Project.lease_until) == None) | (col(Project.lease_until) < now),  # noqa: E711
        )
        .order_by(col(Project.id))
        .limit(limit)
    )
    return [int(pid) for pid in (await session.execute(stmt)).scalars() if pid is not None]


async def open_projects(*, session: AsyncSession, platform: str, channel: str | None, limit: int = 20) -> list[Project]:
    stmt = select(Project).where(
        col(Project.platform) == platform,
        col(Project.state).in_(["drafting", "in_review", "revising", "failed"]),
    )
    if channel is not None:
        stmt = stmt.where(col(Project.channel) == channel)
    stmt = stmt.order_by(col(Project.id)).limit(limit)
    return list((await session.execute(stmt)).scalars())


def pending_exists(project_id: Any) -> Any:
    return exists().where(
        col(Feedback.project_id) == project_id,
        col(Feedback.consumed_by) == None,  # noqa: E711
        col(Feedback.is_aside) == False,  # noqa: E712
    )


async def finish_version(
    *, session: AsyncSession, project_id: int, number: int, model: str, working: Sequence[str], now: datetime
) -> Project | None:
    """Make `number` the current version and put the project in review, or back into revision when
    feedback is still pending; one conditional UPDATE. None when the project left `working`."""
    stmt = (
        update(Project)
        .where(col(Project.id) == project_id, col(Project.state).in_(list(working)))
        .values(
            current_version=number,
            state=case((pending_exists(project_id), "revising"), else_="in_review"),
            model=model,
            last_error="",
            updated_at=now,
            review_since=now,
            first_draft_at=func.coalesce(col(Project.first_draft_at), literal(now, UTCDateTime())),
        )
        .returning(Project)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
