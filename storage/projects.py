"""Writes and reads of projects; the other tables' functions are re-exported for `store.*` callers.

Plain async functions with a keyword-only `session`; the caller owns the transaction
(`Database.session()`), so a step that touches several tables commits or fails as one.

The writes run on every step of the bot's loop, so they are Core statements on the tables,
built once and executed with bind parameters (storage/statements.py says why and how). Inserted
objects come back with their id but are not added to the session; the loop's reads by key (and
projects read back from an UPDATE … RETURNING) come back as detached objects (storage/entities.py).
Unlike ORM-enabled DML, these writes neither flush the session first nor update objects already
read: change rows through these functions rather than through loaded objects, and read after
writing (as bot/ does).

Module map: events.py (inbound keys), links.py (messages → projects), people.py,
versions.py (versions, and making one current), feedback.py (feedback and decisions),
locks.py (revision leases), metrics.py (the digest's reads), reminders.py and digest_runs.py
(the scheduled jobs' records). State names come from the core (storage/state_sets.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Update, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import direct, entities
from storage.engine import states_of
from storage.events import seen_event
from storage.feedback import (
    add_decision,
    add_feedback,
    consume_feedback,
    feedback_points,
    pending_count,
    pending_exists,
)
from storage.links import find_by_message, link_message, project_of_message
from storage.models import Feedback, Project
from storage.people import touch_person
from storage.statements import inline, rowcount, table
from storage.versions import add_version, finish_version, latest_version

__all__ = [
    "EXTERNAL_AGENTS",
    "add_decision",
    "add_feedback",
    "add_version",
    "consume_feedback",
    "create_project",
    "feedback_points",
    "find_by_message",
    "project_of_message",
    "find_by_thread",
    "finish_version",
    "get_project",
    "latest_version",
    "link_message",
    "move_state",
    "open_projects",
    "pending_count",
    "pending_exists",
    "projects_needing_work",
    "seen_event",
    "touch_person",
    "update_project",
]

# The agent name of a project whose versions an outside agent sends (an MCP client, a script:
# bot/loop/external.py), as `external:<client>`: no model drafts it, so nothing resumes its feedback.
EXTERNAL_AGENTS = "external:"

# What update_project and move_state may write besides the state: a column's value.
Value = str | int | float | datetime | None

_projects = table(Project)
_insert_project = insert(_projects)


async def create_project(
    *,
    session: AsyncSession,
    platform: str,
    channel: str,
    thread_id: str | None = None,
    request_message_id: str = "",
    requester_id: str,
    requester_name: str = "",
    brief: str,
    category: str,
    category_reason: str = "",
    agent: str,
    model: str = "",
    state: str,
    deadline: str | None = None,
    created_at: datetime,
    updated_at: datetime,
    lease_owner: str | None = None,
    lease_until: datetime | None = None,
) -> Project:
    values = {
        "platform": platform,
        "channel": channel,
        "thread_id": thread_id,
        "request_message_id": request_message_id,
        "requester_id": requester_id,
        "requester_name": requester_name,
        "brief": brief,
        "category": category,
        "category_reason": category_reason,
        "agent": agent,
        "model": model,
        "state": state,
        "deadline": deadline,
        "created_at": created_at,
        "updated_at": updated_at,
        "lease_owner": lease_owner,
        "lease_until": lease_until,
    }
    return await entities.inserted(session, Project, _insert_project, values)


# The reads a reply, a reaction or a cycle makes: Core, built once, rows made objects by entities.
_get_project = inline(select(_projects).where(_projects.c.id == bindparam("project_id")))
_get_project_for_update = _get_project.with_for_update()


async def get_project(*, session: AsyncSession, project_id: int, for_update: bool = False) -> Project | None:
    stmt = _get_project_for_update if for_update else _get_project
    return await entities.one_of(session, Project, stmt, {"project_id": project_id})


_find_by_thread = inline(
    select(_projects).where(
        _projects.c.platform == bindparam("platform"),
        _projects.c.channel == bindparam("channel"),
        _projects.c.thread_id == bindparam("thread_id"),
    )
)


async def find_by_thread(*, session: AsyncSession, platform: str, channel: str, thread_id: str) -> Project | None:
    params = {"platform": platform, "channel": channel, "thread_id": thread_id}
    return await entities.one_of(session, Project, _find_by_thread, params)


def _set(columns: Sequence[str]) -> dict[str, Any]:
    """SET clauses for `columns`, each from the bind parameter of the column's name."""
    return {name: bindparam(name) for name in columns}


# One statement per set of columns written; callers write a handful of different sets.
@functools.lru_cache(maxsize=64)
def _update_project(columns: tuple[str, ...]) -> Update:
    return update(_projects).where(_projects.c.id == bindparam("project_id")).values(_set(columns))


async def update_project(*, session: AsyncSession, project_id: int, **values: Value) -> None:
    await direct.execute(session, _update_project(tuple(sorted(values))), {"project_id": project_id, **values})


@functools.lru_cache(maxsize=64)
def _move_state(columns: tuple[str, ...]) -> Update:
    return (
        update(_projects)
        .where(_projects.c.id == bindparam("project_id"), _projects.c.state.in_(bindparam("expected", expanding=True)))
        .values(state=bindparam("target"), **_set(columns))
    )


async def move_state(
    *, session: AsyncSession, project_id: int, expected: Sequence[str], target: str, **values: Value
) -> bool:
    """Compare-and-set the state: False when another process moved it first. Whether `target` may
    follow each of `expected` is the core's state table's to say (bot/states.py)."""
    params = {"project_id": project_id, "expected": list(expected), "target": target, **values}
    result = await direct.execute(session, _move_state(tuple(sorted(values))), params)
    return bool(rowcount(result))


async def projects_needing_work(*, session: AsyncSession, now: datetime, limit: int = 500) -> list[int]:
    """Projects left owing work whose lease is free or expired: a first draft or its acknowledgement,
    a revision with pending feedback, a stored version whose post failed. Rows another process is
    looking at right now are skipped on PostgreSQL (`SKIP LOCKED`); the caller claims each one's
    lease before working on it, so this is a list of candidates, not a claim.

    An outside agent's project (EXTERNAL_AGENTS) owes only a version whose post failed: its revisions
    come from that agent, so its pending feedback is nobody's work here (and must not fill the batch)."""
    states = states_of(session)
    pending = (
        select(col(Feedback.project_id))
        .where(col(Feedback.consumed_by) == None, col(Feedback.is_aside) == False)  # noqa: E711, E712
        .distinct()
    )
    in_review = col(Project.state) == states.review
    ours = ~col(Project.agent).startswith(EXTERNAL_AGENTS)
    stmt = (
        select(col(Project.id))
        .where(
            (ours & (col(Project.state).in_(states.working) | (in_review & col(Project.id).in_(pending))))
            | (in_review & (col(Project.posted_version) < col(Project.current_version))),
            (col(Project.lease_until) == None) | (col(Project.lease_until) < now),  # noqa: E711
        )
        .order_by(col(Project.id))
        .limit(limit)
    )
    if direct.dialect_of(session).name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return [int(pid) for pid in (await session.execute(stmt)).scalars() if pid is not None]


async def open_projects(*, session: AsyncSession, platform: str, channel: str | None, limit: int = 20) -> list[Project]:
    stmt = select(Project).where(
        col(Project.platform) == platform,
        col(Project.state).in_(sorted(states_of(session).open)),
    )
    if channel is not None:
        stmt = stmt.where(col(Project.channel) == channel)
    stmt = stmt.order_by(col(Project.id)).limit(limit)
    return list((await session.execute(stmt)).scalars())
