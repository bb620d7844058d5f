"""Versions of a project's draft, and the one statement that makes a new version current."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, bindparam, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import entities
from storage.engine import states_of
from storage.feedback import pending_exists
from storage.models import Project, Version
from storage.statements import inline, insert_values, table
from storage.types import UTCDateTime

_projects = table(Project)
_versions = table(Version)

_insert_version = insert(_versions)


async def add_version(
    *,
    session: AsyncSession,
    project_id: int,
    number: int,
    text: str,
    agent: str,
    model: str = "",
    input_tokens: int = 0,
    output_tokens: int = 0,
    cached_tokens: int = 0,
    cost_usd: float = 0.0,
    latency_ms: int = 0,
    finish_reason: str = "",
    feedback_upto: int = 0,
    created_at: datetime,
) -> int:
    """Store a version; its id."""
    values = {
        "project_id": project_id,
        "number": number,
        "text": text,
        "agent": agent,
        "model": model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_tokens": cached_tokens,
        "cost_usd": cost_usd,
        "latency_ms": latency_ms,
        "finish_reason": finish_reason,
        "feedback_upto": feedback_upto,
        "created_at": created_at,
    }
    return await insert_values(session, _insert_version, values)


_latest_version = inline(
    select(_versions)
    .where(_versions.c.project_id == bindparam("project_id"))
    .order_by(_versions.c.number.desc())
    .limit(1)
)


async def latest_version(*, session: AsyncSession, project_id: int) -> Version | None:
    return await entities.one_of(session, Version, _latest_version, {"project_id": project_id})


# Core UPDATE … RETURNING every column, read as a Project (storage/entities.py). The states it
# moves to are bind parameters: the core names them (storage/state_sets.py).
_finish_version = (
    update(_projects)
    .where(
        _projects.c.id == bindparam("project_id"),
        _projects.c.state.in_(bindparam("working", expanding=True)),
        # Fenced: a writer whose lease was taken over (its process stalled past the lease, and
        # another resumed the project) stores nothing, so only one of them shows a version.
        _projects.c.lease_owner == bindparam("lease"),
    )
    .values(
        current_version=bindparam("number"),
        state=case(
            (pending_exists(bindparam("project_id")), bindparam("revising_state", type_=String())),
            else_=bindparam("review_state", type_=String()),
        ),
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
    *,
    session: AsyncSession,
    project_id: int,
    number: int,
    model: str,
    working: Sequence[str],
    lease: str,
    now: datetime,
) -> Project | None:
    """Make `number` the current version and put the project in review, or back into revision when
    feedback is still pending; one conditional UPDATE. None when the project left `working` or
    `lease` no longer holds it."""
    states = states_of(session)
    params = {
        "project_id": project_id,
        "lease": lease,
        "working": list(working),
        "number": number,
        "model": model,
        "now": now,
        "revising_state": states.revising,
        "review_state": states.review,
    }
    return await entities.one_of(session, Project, _finish_version, params)
