"""Read-only aggregate queries behind the digest. Every figure is a GROUP BY in the database;
Python only folds the few grouped rows that come back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Integer, and_, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.models import Feedback, Project, Version

DECIDED_STATES = ("accepted", "rejected", "expired", "failed")
Dimension = Literal["all", "category", "model"]


@dataclass
class GroupFigures:
    name: str
    decided: int = 0
    accepted: int = 0
    agent_alone: int = 0
    max_version: int = 0
    accepted_at: dict[int, int] = field(default_factory=dict)  # accepted version → projects
    stated_minutes: int = 0
    estimated_minutes: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class ExpertFigures:
    name: str
    feedback: int
    projects: int
    stated_minutes: int
    estimated_minutes: int


def _dim(dimension: Dimension) -> Any:
    if dimension == "category":
        return col(Project.category)
    if dimension == "model":
        return col(Project.model)
    return literal("all")


def _decided_in(since: datetime, until: datetime) -> Any:
    return and_(
        col(Project.state).in_(DECIDED_STATES),
        col(Project.decided_at) >= since,
        col(Project.decided_at) < until,
    )


async def opened(*, session: AsyncSession, since: datetime, until: datetime) -> int:
    stmt = select(func.count()).where(col(Project.created_at) >= since, col(Project.created_at) < until)
    return int((await session.execute(stmt)).scalar_one())


async def groups(
    *, session: AsyncSession, since: datetime, until: datetime, dimension: Dimension
) -> dict[str, GroupFigures]:
    dim = _dim(dimension).label("dim")
    accepted = col(Project.state) == "accepted"
    alone = and_(accepted, col(Project.accepted_version) == 1, col(Project.feedback_count) == 0)
    stmt = (
        select(
            dim,
            func.count(),
            func.sum(case((accepted, 1), else_=0)),
            func.sum(case((alone, 1), else_=0)),
            func.max(col(Project.current_version)),
        )
        .where(_decided_in(since, until))
        .group_by(dim)
    )
    out: dict[str, GroupFigures] = {}
    for name, decided, acc, alone_k, max_v in (await session.execute(stmt)).all():
        out[str(name)] = GroupFigures(str(name), int(decided), int(acc or 0), int(alone_k or 0), int(max_v or 0))

    hist = (
        select(dim, col(Project.accepted_version), func.count())
        .where(_decided_in(since, until), accepted)
        .group_by(dim, col(Project.accepted_version))
    )
    for name, version, count in (await session.execute(hist)).all():
        out[str(name)].accepted_at[int(version or 1)] = int(count)

    usage = (
        select(
            dim,
            func.coalesce(func.sum(col(Version.input_tokens)), 0),
            func.coalesce(func.sum(col(Version.output_tokens)), 0),
            func.coalesce(func.sum(col(Version.cached_tokens)), 0),
            func.coalesce(func.sum(col(Version.cost_usd)), 0.0),
        )
        .select_from(Project)
        .join(Version, col(Version.project_id) == col(Project.id))
        .where(_decided_in(since, until))
        .group_by(dim)
    )
    for name, tin, tout, tcached, cost in (await session.execute(usage)).all():
        g = out[str(name)]
        g.input_tokens, g.output_tokens, g.cached_tokens, g.cost_usd = int(tin), int(tout), int(tcached), float(cost)

    minutes = (
        select(
            dim,
            func.coalesce(func.sum(col(Feedback.stated_minutes)), 0),
            func.coalesce(func.sum(col(Feedback.estimated_minutes)), 0),
        )
        .select_from(Feedback)
        .join(Project, col(Project.id) == col(Feedback.project_id))
        .where(
            col(Feedback.is_aside) == False,  # noqa: E712
            col(Feedback.created_at) >= since,
            col(Feedback.created_at) < until,
        )
        .group_by(dim)
    )
    for name, stated, estimated in (await session.execute(minutes)).all():
        g = out.setdefault(str(name), GroupFigures(str(name)))
        g.stated_minutes, g.estimated_minutes = int(stated), int(estimated)
    return out


async def experts(*, session: AsyncSession, since: datetime, until: datetime) -> list[ExpertFigures]:
    name = func.max(func.coalesce(func.nullif(col(Feedback.author_name), ""), col(Feedback.author_id)))
    stmt = (
        select(
            name,
            func.count(),
            func.count(func.distinct(col(Feedback.project_id))),
            func.coalesce(func.sum(col(Feedback.stated_minutes)), 0),
            func.coalesce(func.sum(cast(col(Feedback.estimated_minutes), Integer)), 0),
        )
        .where(
            col(Feedback.is_aside) == False,  # noqa: E712
            col(Feedback.created_at) >= since,
            col(Feedback.created_at) < until,
        )
        .group_by(col(Feedback.author_id))
        .order_by(func.count().desc())
    )
    return [
        ExpertFigures(str(n), int(f), int(p), int(s), int(e)) for n, f, p, s, e in (await session.execute(stmt)).all()
    ]
