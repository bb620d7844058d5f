"""Writes and reads of projects, versions, feedback, decisions and links.

Plain async functions with a keyword-only `session`; the caller owns the transaction
(`Database.session()`), so a step that touches several tables commits or fails as one.

The writes run on every step of the bot's loop, so they are Core statements on the tables,
built once and executed with bind parameters (storage/statements.py says why and how). Inserted
objects come back with their id but are not added to the session; projects read back from an
UPDATE … RETURNING are loaded into it, as an ORM query would. Unlike ORM-enabled DML, these
writes neither flush the session first nor update objects it already holds: change rows through
these functions rather than through loaded objects, and load after writing (as bot/ does).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Insert, Update, bindparam, case, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import SQLModel, col

from storage._util import rowcount as _rowcount
from storage.models import Decision, Feedback, InboundEvent, MessageLink, Person, Project, Version
from storage.statements import per_dialect, table, upsert
from storage.types import UTCDateTime

_projects = table(Project)
_versions = table(Version)
_feedback = table(Feedback)
_decisions = table(Decision)
_people = table(Person)
_links = table(MessageLink)
_events = table(InboundEvent)

_Row = TypeVar("_Row", bound=SQLModel)


async def _add(session: AsyncSession, stmt: Insert, row: _Row) -> _Row:
    """Run `stmt` (a plain INSERT into the row's table) with every column value the object holds,
    its Python defaults applied, and give the object its new id. Cheaper than session.add() and a
    flush, whose unit of work costs more than the INSERT itself."""
    values = {key: getattr(row, key) for key in stmt.table.c.keys()}
    if values["id"] is None:
        del values["id"]
    result = await session.execute(stmt, values)
    # SQLite reports the id as lastrowid, PostgreSQL through an implicit RETURNING. Set as a flush
    # sets it: plain assignment would also count `id` among the fields the caller gave.
    set_committed_value(row, "id", result.inserted_primary_key[0])  # type: ignore[attr-defined]
    return row


@per_dialect
def _seen_event(dialect: str) -> Insert:
    return upsert(dialect, _events).on_conflict_do_nothing(index_elements=["platform", "key"])


async def seen_event(*, session: AsyncSession, platform: str, key: str, now: datetime) -> bool:
    """Record an inbound event key; True when it was recorded before (a redelivery)."""
    params = {"platform": platform, "key": key[:255], "created_at": now}
    return _rowcount(await session.execute(_seen_event(session), params)) == 0


_insert_project = insert(_projects)


async def create_project(*, session: AsyncSession, **fields: Any) -> Project:
    return await _add(session, _insert_project, Project(**fields))


# The reads a reply, a reaction or a cycle makes stay ORM queries, built once all the same.
_get_project = select(Project).where(col(Project.id) == bindparam("project_id"))
_get_project_for_update = _get_project.with_for_update()


async def get_project(*, session: AsyncSession, project_id: int, for_update: bool = False) -> Project | None:
    stmt = _get_project_for_update if for_update else _get_project
    return (await session.execute(stmt, {"project_id": project_id})).scalar_one_or_none()


_find_by_thread = select(Project).where(
    col(Project.platform) == bindparam("platform"),
    col(Project.channel) == bindparam("channel"),
    col(Project.thread_id) == bindparam("thread_id"),
)


async def find_by_thread(*, session: AsyncSession, platform: str, channel: str, thread_id: str) -> Project | None:
    params = {"platform": platform, "channel": channel, "thread_id": thread_id}
    return (await session.execute(_find_by_thread, params)).scalar_one_or_none()


_find_by_message = (
    select(Project)
    .join(MessageLink, col(MessageLink.project_id) == col(Project.id))
    .where(
        col(MessageLink.platform) == bindparam("platform"),
        col(MessageLink.channel) == bindparam("channel"),
        col(MessageLink.message_id) == bindparam("message_id"),
    )
)


async def find_by_message(*, session: AsyncSession, platform: str, channel: str, message_id: str) -> Project | None:
    params = {"platform": platform, "channel": channel, "message_id": message_id}
    return (await session.execute(_find_by_message, params)).scalar_one_or_none()


@per_dialect
def _link_message(dialect: str) -> Insert:
    return upsert(dialect, _links).on_conflict_do_nothing(index_elements=["platform", "channel", "message_id"])


async def link_message(
    *, session: AsyncSession, platform: str, channel: str, message_id: str, project_id: int, kind: str, version: int = 0
) -> None:
    """Remember which project a message belongs to; an edited message keeps its first link."""
    params = {
        "platform": platform,
        "channel": channel,
        "message_id": message_id,
        "project_id": project_id,
        "kind": kind,
        "version": version,
    }
    await session.execute(_link_message(session), params)


def _set(columns: Sequence[str]) -> dict[str, Any]:
    """SET clauses for `columns`, each from the bind parameter of the column's name."""
    return {name: bindparam(name) for name in columns}


# One statement per set of columns written; callers write a handful of different sets.
@functools.lru_cache(maxsize=64)
def _update_project(columns: tuple[str, ...]) -> Update:
    return update(_projects).where(_projects.c.id == bindparam("project_id")).values(_set(columns))


async def update_project(*, session: AsyncSession, project_id: int, **values: Any) -> None:
    await session.execute(_update_project(tuple(sorted(values))), {"project_id": project_id, **values})


@functools.lru_cache(maxsize=64)
def _move_state(columns: tuple[str, ...]) -> Update:
    return (
        update(_projects)
        .where(_projects.c.id == bindparam("project_id"), _projects.c.state.in_(bindparam("expected", expanding=True)))
        .values(state=bindparam("target"), **_set(columns))
    )


async def move_state(
    *, session: AsyncSession, project_id: int, expected: Sequence[str], target: str, **values: Any
) -> bool:
    """Compare-and-set the state: False when another process moved it first."""
    params = {"project_id": project_id, "expected": list(expected), "target": target, **values}
    result = await session.execute(_move_state(tuple(sorted(values))), params)
    return bool(_rowcount(result))


_insert_version = insert(_versions)


async def add_version(*, session: AsyncSession, **fields: Any) -> Version:
    return await _add(session, _insert_version, Version(**fields))


_latest_version = (
    select(Version)
    .where(col(Version.project_id) == bindparam("project_id"))
    .order_by(col(Version.number).desc())
    .limit(1)
)


async def latest_version(*, session: AsyncSession, project_id: int) -> Version | None:
    return (await session.execute(_latest_version, {"project_id": project_id})).scalar_one_or_none()


_insert_feedback = insert(_feedback)


async def add_feedback(*, session: AsyncSession, **fields: Any) -> Feedback:
    return await _add(session, _insert_feedback, Feedback(**fields))


_feedback_points = (
    select(Feedback)
    .where(col(Feedback.project_id) == bindparam("project_id"), col(Feedback.is_aside) == False)  # noqa: E712
    .order_by(col(Feedback.id))
)


async def feedback_points(*, session: AsyncSession, project_id: int) -> list[Feedback]:
    """Every feedback point (asides excluded), oldest first."""
    return list((await session.execute(_feedback_points, {"project_id": project_id})).scalars())


async def pending_count(*, session: AsyncSession, project_id: int) -> int:
    stmt = select(func.count()).where(
        col(Feedback.project_id) == project_id,
        col(Feedback.is_aside) == False,  # noqa: E712
        col(Feedback.consumed_by) == None,  # noqa: E711
    )
    return int((await session.execute(stmt)).scalar_one())


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
    await session.execute(_consume_feedback, {"project": project_id, "upto_id": upto_id, "version": version})


_insert_decision = insert(_decisions)


async def add_decision(*, session: AsyncSession, **fields: Any) -> Decision:
    return await _add(session, _insert_decision, Decision(**fields))


@per_dialect
def _touch_person(dialect: str) -> Insert:
    stmt = upsert(dialect, _people)
    return stmt.on_conflict_do_update(
        index_elements=["platform", "user_id"],
        set_={
            "last_seen": stmt.excluded.last_seen,
            "name": stmt.excluded.name,
            "is_expert": _people.c.is_expert | stmt.excluded.is_expert,
        },
    )


async def touch_person(
    *, session: AsyncSession, platform: str, user_id: str, name: str, is_expert: bool, now: datetime
) -> None:
    params = {
        "platform": platform,
        "user_id": user_id,
        "name": name,
        "is_expert": is_expert,
        "first_seen": now,
        "last_seen": now,
    }
    await session.execute(_touch_person(session), params)


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
    # On the table, not the ORM class: an ORM attribute would make a Core statement using this
    # ORM-enabled, and bring back the per-execution cost the Core statements avoid.
    return exists().where(
        _feedback.c.project_id == project_id,
        _feedback.c.consumed_by == None,  # noqa: E711
        _feedback.c.is_aside == False,  # noqa: E712
    )


# Core UPDATE … RETURNING every column, loaded as a Project by the ORM (as `.returning(Project)`
# on an ORM UPDATE would, without the ORM's per-execution DML setup).
_finish_version = select(Project).from_statement(
    update(_projects)
    .where(_projects.c.id == bindparam("project_id"), _projects.c.state.in_(bindparam("working", expanding=True)))
    .values(
        current_version=bindparam("number"),
        state=case((pending_exists(bindparam("project_id")), "revising"), else_="in_review"),
        model=bindparam("model"),
        last_error="",
        updated_at=bindparam("now"),
        review_since=bindparam("now"),
        # typed by hand: inside coalesce() the bind takes no type from the column
        first_draft_at=func.coalesce(_projects.c.first_draft_at, bindparam("now", type_=UTCDateTime())),
    )
    .returning(*_projects.c)
)


async def finish_version(
    *, session: AsyncSession, project_id: int, number: int, model: str, working: Sequence[str], now: datetime
) -> Project | None:
    """Make `number` the current version and put the project in review, or back into revision when
    feedback is still pending; one conditional UPDATE. None when the project left `working`."""
    params = {"project_id": project_id, "working": list(working), "number": number, "model": model, "now": now}
    return (await session.execute(_finish_version, params)).scalar_one_or_none()
