"""Read-only aggregate queries behind the digest.

Every figure is a GROUP BY (or an ORDER BY … LIMIT for a median) in the database; Python only folds
the few grouped rows that come back. The projects of a period are grouped once by
(category, model, accepted version, alone flag), and the overall, per-category and per-model
figures are folded from those rows, so the digest runs a handful of queries whatever the size of
the history. The covering indexes that keep these index-only are in migration 0002.

Definitions (docs/digest.md): a project is *decided* in [since, until) when its state is one
of `states.decided` (the core's: accepted, rejected, expired or failed) and `decided_at` falls in
the period; *agent alone* is accepted at version 1 with no feedback. Expert minutes of a group
are those given in the period (feedback `created_at` in [since, until)), stated and estimated
kept apart. The figures returned are plain dataclasses (storage/figures.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Float, and_, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.figures import Dimension, ExpertFigures, Figures, GroupFigures, Waiting
from storage.models import Feedback, Person, Project, Version
from storage.state_sets import StateSets


def _decided_in(since: datetime, until: datetime, states: StateSets) -> Any:
    return and_(
        col(Project.decided_at) >= since,
        col(Project.decided_at) < until,
        col(Project.state).in_(sorted(states.decided)),
    )


def _keys(category: Any, model: Any) -> tuple[tuple[Dimension, str], ...]:
    return (("all", "all"), ("category", str(category)), ("model", str(model or "")))


def _slot(out: Figures, category: Any, model: Any) -> list[GroupFigures]:
    slots = []
    for dimension, name in _keys(category, model):
        slots.append(out[dimension].setdefault(name, GroupFigures(name)))
    return slots


async def opened(*, session: AsyncSession, since: datetime, until: datetime) -> int:
    stmt = select(func.count()).where(col(Project.created_at) >= since, col(Project.created_at) < until)
    return int((await session.execute(stmt)).scalar_one())


async def figures(
    *, session: AsyncSession, since: datetime, until: datetime, states: StateSets, usage: bool = True
) -> Figures:
    """Overall, per-category and per-model figures for the projects decided in [since, until)."""
    out: Figures = {"all": {}, "category": {}, "model": {}}
    accepted = col(Project.state) == states.accepted
    alone = case(
        (and_(accepted, col(Project.accepted_version) == 1, col(Project.feedback_count) == 0), 1), else_=0
    ).label("alone")
    acc_version = case((accepted, func.coalesce(col(Project.accepted_version), 1)), else_=0).label("acc_version")
    stmt = (
        select(
            col(Project.category),
            col(Project.model),
            acc_version,
            alone,
            func.count(),
            func.max(col(Project.current_version)),
        )
        .where(_decided_in(since, until, states))
        .group_by(col(Project.category), col(Project.model), acc_version, alone)
    )
    for category, model, version, alone_flag, count, max_v in (await session.execute(stmt)).all():
        for g in _slot(out, category, model):
            g.decided += int(count)
            g.max_version = max(g.max_version, int(max_v or 0))
            if int(version):
                g.accepted += int(count)
                g.accepted_at[int(version)] = g.accepted_at.get(int(version), 0) + int(count)
                if int(alone_flag):
                    g.agent_alone += int(count)
    if not out["all"]:
        out["all"]["all"] = GroupFigures("all")
    if usage:
        await _usage(session, since, until, states, out)
    await _decided_minutes(session, since, until, states, out)
    return out


async def _usage(session: AsyncSession, since: datetime, until: datetime, states: StateSets, out: Figures) -> None:
    is_acc = case((col(Project.state) == states.accepted, 1), else_=0).label("is_acc")
    stmt = (
        select(
            col(Project.category),
            col(Project.model),
            is_acc,
            func.coalesce(func.sum(col(Version.input_tokens)), 0),
            func.coalesce(func.sum(col(Version.output_tokens)), 0),
            func.coalesce(func.sum(col(Version.cached_tokens)), 0),
            func.coalesce(func.sum(col(Version.cost_usd)), 0.0),
        )
        .select_from(Project)
        .join(Version, col(Version.project_id) == col(Project.id))
        .where(_decided_in(since, until, states))
        .group_by(col(Project.category), col(Project.model), is_acc)
    )
    for category, model, acc, tin, tout, tcached, cost in (await session.execute(stmt)).all():
        for g in _slot(out, category, model):
            g.input_tokens += int(tin)
            g.output_tokens += int(tout)
            g.cached_tokens += int(tcached)
            g.cost_usd += float(cost)
            if int(acc):
                g.accepted_tokens += int(tin) + int(tout)
                g.accepted_cost_usd += float(cost)


async def feedback_in_period(
    *, session: AsyncSession, since: datetime, until: datetime, out: Figures
) -> list[ExpertFigures]:
    """Feedback given in [since, until): adds expert minutes to `out` and returns the per-author figures.

    One scan grouped by (category, model, author); a project has one category and one model, so the
    distinct projects of an author add up across those groups. An author is named by their latest
    known name (the people table), else the name stored with their feedback, else their id: feedback
    from an event that carried only an id was stored with the id, or no name, as its author's name.
    """
    known = func.nullif(func.nullif(col(Person.name), ""), col(Feedback.author_id))
    stored = func.nullif(func.nullif(col(Feedback.author_name), ""), col(Feedback.author_id))
    name = func.max(func.coalesce(known, stored, col(Feedback.author_id)))
    stmt = (
        select(
            col(Project.category),
            col(Project.model),
            col(Feedback.author_id),
            name,
            func.count(),
            func.count(func.distinct(col(Feedback.project_id))),
            func.coalesce(func.sum(col(Feedback.stated_minutes)), 0),
            func.coalesce(func.sum(col(Feedback.estimated_minutes)), 0),
        )
        .select_from(Feedback)
        .join(Project, col(Project.id) == col(Feedback.project_id))
        .outerjoin(
            Person, and_(col(Person.platform) == col(Project.platform), col(Person.user_id) == col(Feedback.author_id))
        )
        .where(
            col(Feedback.created_at) >= since,
            col(Feedback.created_at) < until,
            col(Feedback.is_aside) == False,  # noqa: E712
        )
        .group_by(col(Project.category), col(Project.model), col(Feedback.author_id))
    )
    authors: dict[str, ExpertFigures] = {}
    for category, model, author, label, count, projects, stated, estimated in (await session.execute(stmt)).all():
        for g in _slot(out, category, model):
            g.stated_minutes += int(stated or 0)
            g.estimated_minutes += int(estimated or 0)
        e = authors.setdefault(str(author), ExpertFigures(str(label), 0, 0, 0, 0))
        e.name = max(e.name, str(label))
        e.feedback += int(count)
        e.projects += int(projects)
        e.stated_minutes += int(stated or 0)
        e.estimated_minutes += int(estimated or 0)
    return [authors[a] for a in sorted(authors, key=lambda a: (-authors[a].feedback, a))]


async def _decided_minutes(
    session: AsyncSession, since: datetime, until: datetime, states: StateSets, out: Figures
) -> None:
    """Minutes (stated + estimated) recorded on the projects decided in the period."""
    minutes = func.coalesce(col(Feedback.stated_minutes), 0) + func.coalesce(col(Feedback.estimated_minutes), 0)
    stmt = (
        select(col(Project.category), col(Project.model), func.coalesce(func.sum(minutes), 0))
        .select_from(Project)
        .join(Feedback, col(Feedback.project_id) == col(Project.id))
        .where(_decided_in(since, until, states), col(Feedback.is_aside) == False)  # noqa: E712
        .group_by(col(Project.category), col(Project.model))
    )
    for category, model, total in (await session.execute(stmt)).all():
        for g in _slot(out, category, model):
            g.decided_minutes += int(total)


async def groups(
    *, session: AsyncSession, since: datetime, until: datetime, states: StateSets, dimension: Dimension
) -> dict[str, GroupFigures]:
    """One dimension of `figures` with expert minutes (for callers that want a single table)."""
    out = await figures(session=session, since=since, until=until, states=states)
    await feedback_in_period(session=session, since=since, until=until, out=out)
    return out[dimension]


async def experts(*, session: AsyncSession, since: datetime, until: datetime) -> list[ExpertFigures]:
    """Feedback given in the period, per author: replies, projects, minutes stated and estimated."""
    scratch: Figures = {"all": {}, "category": {}, "model": {}}
    return await feedback_in_period(session=session, since=since, until=until, out=scratch)


def _seconds_between(session: AsyncSession, start: Any, end: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


async def median_seconds(
    *,
    session: AsyncSession,
    since: datetime,
    until: datetime,
    states: StateSets,
    to: Literal["first_draft", "accept"],
) -> float | None:
    """Median time from request to first draft (decided projects) or to acceptance (accepted ones).

    PostgreSQL computes it with percentile_cont; SQLite, which has no ordered-set aggregate, counts
    and then fetches the middle one or two values with ORDER BY … LIMIT/OFFSET. Both give the mean of
    the two middle values for an even count.
    """
    if to == "first_draft":
        end = col(Project.first_draft_at)
        where = and_(_decided_in(since, until, states), end.is_not(None))
    else:
        end = col(Project.decided_at)
        where = and_(_decided_in(since, until, states), col(Project.state) == states.accepted)
    seconds = _seconds_between(session, col(Project.created_at), end)
    if session.get_bind().dialect.name == "postgresql":
        value = (
            await session.execute(select(func.percentile_cont(0.5).within_group(cast(seconds, Float))).where(where))
        ).scalar_one()
        return None if value is None else float(value)
    n = int((await session.execute(select(func.count()).where(where))).scalar_one())
    if n == 0:
        return None
    stmt = select(seconds.label("s")).where(where).order_by(seconds).offset((n - 1) // 2).limit(2 - n % 2)
    values = [float(v) for v in (await session.execute(stmt)).scalars().all()]
    return sum(values) / len(values)


async def waiting(
    *, session: AsyncSession, states: StateSets, limit: int = 10, before: datetime | None = None
) -> tuple[list[Waiting], int]:
    """Projects waiting for review now, oldest first, and how many there are; with `before`, only
    those already in review then (a past period's digest), so the total is exact too."""
    where = and_(col(Project.state) == states.review, col(Project.review_since).is_not(None))
    if before is not None:
        where = and_(where, col(Project.review_since) <= before)
    total = int((await session.execute(select(func.count()).where(where))).scalar_one())
    stmt = (
        select(
            col(Project.id),
            col(Project.category),
            col(Project.model),
            col(Project.current_version),
            col(Project.review_since),
            col(Project.nudge_count),
        )
        .where(where)
        .order_by(col(Project.review_since), col(Project.id))
        .limit(limit)
    )
    rows = (await session.execute(stmt)).all()
    items = [Waiting(int(i or 0), str(c), str(m or ""), int(v), r, int(nc)) for i, c, m, v, r, nc in rows if r]
    return items, total
