"""Feedback on a project's versions, and decisions on them.

A feedback point is pending until a version takes it up (`consumed_by`); asides are stored and
never revised from. Inserts are Core statements built once (storage/statements.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import direct, entities
from storage.models import Decision, Feedback
from storage.statements import inline, insert_values, table

_feedback = table(Feedback)
_decisions = table(Decision)

_insert_feedback = insert(_feedback)


async def add_feedback(
    *,
    session: AsyncSession,
    project_id: int,
    author_id: str,
    author_name: str = "",
    text: str,
    on_version: int,
    is_aside: bool = False,
    is_expert: bool = False,
    stated_minutes: int | None = None,
    estimated_minutes: int | None = None,
    message_id: str | None = None,
    created_at: datetime,
) -> int:
    """Store a reply as feedback (or an aside); its id."""
    values = {
        "project_id": project_id,
        "author_id": author_id,
        "author_name": author_name,
        "text": text,
        "on_version": on_version,
        "is_aside": is_aside,
        "is_expert": is_expert,
        "stated_minutes": stated_minutes,
        "estimated_minutes": estimated_minutes,
        "message_id": message_id,
        "created_at": created_at,
        "consumed_by": None,
    }
    return await insert_values(session, _insert_feedback, values)


_feedback_points = inline(
    select(_feedback)
    .where(_feedback.c.project_id == bindparam("project_id"), _feedback.c.is_aside == False)  # noqa: E712
    .order_by(_feedback.c.id)
)


async def feedback_points(*, session: AsyncSession, project_id: int) -> list[Feedback]:
    """Every feedback point (asides excluded), oldest first."""
    return await entities.all_of(session, Feedback, _feedback_points, {"project_id": project_id})


async def pending_count(*, session: AsyncSession, project_id: int) -> int:
    stmt = select(func.count()).where(
        col(Feedback.project_id) == project_id,
        col(Feedback.is_aside) == False,  # noqa: E712
        col(Feedback.consumed_by) == None,  # noqa: E711
    )
    return int((await session.execute(stmt)).scalar_one())


def pending_exists(project_id: Any) -> Any:
    """EXISTS (pending feedback of `project_id`), for statements on the projects table.

    On the table, not the ORM class: an ORM attribute would make a Core statement using this
    ORM-enabled, and bring back the per-execution cost the Core statements avoid."""
    return exists().where(
        _feedback.c.project_id == project_id,
        _feedback.c.consumed_by == None,  # noqa: E711
        _feedback.c.is_aside == False,  # noqa: E712
    )


_consume_feedback = (
    update(_feedback)
    .where(
        _feedback.c.project_id == bindparam("project"),
        _feedback.c.is_aside == False,  # noqa: E712
        _feedback.c.consumed_by == None,  # noqa: E711
        _feedback.c.id <= bindparam("upto_id"),
    )
    .values(consumed_by=bindparam("version"))
)


async def consume_feedback(*, session: AsyncSession, project_id: int, upto_id: int, version: int) -> None:
    await direct.execute(session, _consume_feedback, {"project": project_id, "upto_id": upto_id, "version": version})


_insert_decision = insert(_decisions)


async def add_decision(
    *,
    session: AsyncSession,
    project_id: int,
    actor_id: str,
    actor_name: str = "",
    outcome: str,
    version: int,
    via: str = "text",
    created_at: datetime,
) -> int:
    """Store a decision; its id (a reason or comment is added to it later)."""
    values = {
        "project_id": project_id,
        "actor_id": actor_id,
        "actor_name": actor_name,
        "outcome": outcome,
        "version": version,
        "via": via,
        "created_at": created_at,
        "reason": None,
        "comment": None,
    }
    return await insert_values(session, _insert_decision, values)
