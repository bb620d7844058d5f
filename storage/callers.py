"""Who asked for a project from outside the chat (an MCP client, a script), and the reads the outside
front doors need: a caller's projects, what changed, a project's whole history.

A caller is remembered as a message link of the pseudo-platform CALLERS (channel: the caller's agent
name, message id: the project's number), so finding a caller's projects uses the links' unique index
and needs no column of its own.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.links import link_message
from storage.models import Decision, Feedback, MessageLink, Project, Version

CALLERS = "external"  # the links' platform for "this caller opened this project"; no chat is named so


async def link_caller(*, session: AsyncSession, caller: str, project_id: int) -> None:
    await link_message(
        session=session,
        platform=CALLERS,
        channel=caller,
        message_id=str(project_id),
        project_id=project_id,
        kind="caller",
    )


_caller_of = select(col(MessageLink.channel)).where(
    col(MessageLink.project_id) == bindparam("project_id"), col(MessageLink.platform) == CALLERS
)


async def caller_of(*, session: AsyncSession, project_id: int) -> str | None:
    """The caller that opened the project; None for a project opened in a chat."""
    return (await session.execute(_caller_of, {"project_id": project_id})).scalars().first()


async def caller_projects(
    *, session: AsyncSession, caller: str | None, states: Collection[str] | None, limit: int = 100
) -> list[Project]:
    """Projects opened by `caller` (None: by any caller), in `states` (None: any), newest first."""
    stmt = (
        select(Project)
        .join(MessageLink, col(MessageLink.project_id) == col(Project.id))
        .where(col(MessageLink.platform) == CALLERS)
    )
    if caller is not None:
        stmt = stmt.where(col(MessageLink.channel) == caller)
    if states is not None:
        stmt = stmt.where(col(Project.state).in_(sorted(states)))
    stmt = stmt.order_by(col(Project.id).desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class Mark:
    """What a waiting caller compares: any step on a project (a reply, a version, a decision) moves one."""

    state: str
    version: int
    feedback: int
    updated_at: datetime | None


_marks = select(
    col(Project.id),
    col(Project.state),
    col(Project.current_version),
    col(Project.feedback_count),
    col(Project.updated_at),
).where(col(Project.id).in_(bindparam("ids", expanding=True)))


async def marks(*, session: AsyncSession, ids: Collection[int]) -> dict[int, Mark]:
    """The marks of the projects `ids`, in one query (waiters poll many projects at once)."""
    if not ids:
        return {}
    rows = (await session.execute(_marks, {"ids": list(ids)})).all()
    return {int(pid or 0): Mark(str(state), int(version), int(count), at) for pid, state, version, count, at in rows}


def mark_of(project: Project) -> Mark:
    return Mark(project.state, project.current_version, project.feedback_count, project.updated_at)


_decision_of = (
    select(Decision)
    .where(col(Decision.project_id) == bindparam("project_id"))
    .order_by(col(Decision.id).desc())
    .limit(1)
)


async def decision_of(*, session: AsyncSession, project_id: int) -> Decision | None:
    """The project's latest decision, if one was made."""
    return (await session.execute(_decision_of, {"project_id": project_id})).scalar_one_or_none()


async def versions_of(*, session: AsyncSession, project_id: int) -> list[Version]:
    stmt = select(Version).where(col(Version.project_id) == project_id).order_by(col(Version.number))
    return list((await session.execute(stmt)).scalars())


async def remarks_of(*, session: AsyncSession, project_id: int) -> list[Feedback]:
    """Every reply kept on the project, feedback and asides, oldest first."""
    stmt = select(Feedback).where(col(Feedback.project_id) == project_id).order_by(col(Feedback.id))
    return list((await session.execute(stmt)).scalars())
