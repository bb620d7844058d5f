"""Read-only aggregate queries behind the digest.

Every figure is a GROUP BY (or an ORDER BY … LIMIT for a median) in the database; Python only folds
the few grouped rows that come back. The projects of a period are grouped once by
(category, model, accepted version, alone flag), and the overall, per-category and per-model
figures are folded from those rows, so the digest runs a handful of queries whatever the size of
the history. The covering indexes that keep these index-only are in migrations 0002 and 0008.

The projects are grouped by their raw columns (category, model, state, accepted version, feedback
count), never by an expression of them, and Python derives "accepted" and "agent alone" from the
few rows: SQLite can then read ix_projects_groups in group order (a skip-scan over category and
model) and stream the aggregate instead of sorting every decided project into a temporary B-tree.
That takes the planner's statistics (sqlite_stat1): `refresh_statistics` keeps them.

Definitions (docs/digest.md): a project is *decided* in [since, until) when its state is one
of `states.decided` (the core's: accepted, rejected, expired or failed) and `decided_at` falls in
the period; *agent alone* is accepted at version 1 with no feedback. Expert minutes of a group
are those given in the period (feedback `created_at` in [since, until)), stated and estimated
kept apart. The figures returned are plain dataclasses (storage/figures.py).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Float, and_, cast, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.figures import Dimension, ExpertFigures, Figures, GroupFigures, Waiting
from storage.models import Feedback, Person, Project, Version
from storage.state_sets import StateSets

_log = logging.getLogger(__name__)


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
    stmt = (
        select(
            col(Project.category),
            col(Project.model),
            col(Project.state),
            col(Project.accepted_version),
            col(Project.feedback_count),
            func.count(),
            func.max(col(Project.current_version)),
            func.count(col(Project.first_draft_at)),
        )
        .where(_decided_in(since, until, states))
        .group_by(
            col(Project.category),
            col(Project.model),
            col(Project.state),
            col(Project.accepted_version),
            col(Project.feedback_count),
        )
    )
    rows = (await session.execute(stmt)).all()
    for category, model, state, accepted_version, feedback_count, count, max_v, drafted in rows:
        n = int(count)
        for g in _slot(out, category, model):
            g.decided += n
            g.drafted += int(drafted)
            g.max_version = max(g.max_version, int(max_v or 0))
            if state == states.accepted:
                version = int(accepted_version or 1)
                g.accepted += n
                g.accepted_at[version] = g.accepted_at.get(version, 0) + n
                if accepted_version == 1 and feedback_count == 0:
                    g.agent_alone += n
    if not out["all"]:
        out["all"]["all"] = GroupFigures("all")
    if usage:
        await _usage(session, since, until, states, out)
    await _decided_minutes(session, since, until, states, out)
    return out


async def _usage(session: AsyncSession, since: datetime, until: datetime, states: StateSets, out: Figures) -> None:
    stmt = (
        select(
            col(Project.category),
            col(Project.model),
            col(Project.state),
            func.coalesce(func.sum(col(Version.input_tokens)), 0),
            func.coalesce(func.sum(col(Version.output_tokens)), 0),
            func.coalesce(func.sum(col(Version.cached_tokens)), 0),
            func.coalesce(func.sum(col(Version.cost_usd)), 0.0),
        )
        .select_from(Project)
        .join(Version, col(Version.project_id) == col(Project.id))
        .where(_decided_in(since, until, states))
        .group_by(col(Project.category), col(Project.model), col(Project.state))
    )
    for category, model, state, tin, tout, tcached, cost in (await session.execute(stmt)).all():
        for g in _slot(out, category, model):
            g.input_tokens += int(tin)
            g.output_tokens += int(tout)
            g.cached_tokens += int(tcached)
            g.cost_usd += float(cost)
            if state == states.accepted:
                g.accepted_tokens += int(tin) + int(tout)
                g.accepted_cost_usd += float(cost)


async def feedback_in_period(
    *, session: AsyncSession, since: datetime, until: datetime, out: Figures
) -> list[ExpertFigures]:
    """Feedback given in [since, until): adds expert minutes to `out` and returns the per-author figures.

    Feedback is first summed per (project, author), from the index alone; those rows are grouped by
    (category, model, platform, author), where a row is one distinct project, so no count(DISTINCT)
    (and on PostgreSQL no sort) is needed; only then are the few groups joined to the people table.
    A project has one category and one model, so the distinct projects of an author add up across
    those groups. An author is named by their latest known name (the people table), else the name
    stored with their feedback, else their id: feedback from an event that carried only an id was
    stored with the id, or no name, as its author's name.
    """
    stored = func.coalesce(
        func.nullif(func.nullif(col(Feedback.author_name), ""), col(Feedback.author_id)), col(Feedback.author_id)
    )
    per_project = (
        select(
            col(Feedback.project_id).label("project_id"),
            col(Feedback.author_id).label("author_id"),
            func.max(stored).label("stored"),
            func.count().label("n"),
            func.sum(col(Feedback.stated_minutes)).label("stated"),
            func.sum(col(Feedback.estimated_minutes)).label("estimated"),
        )
        .where(
            col(Feedback.created_at) >= since,
            col(Feedback.created_at) < until,
            col(Feedback.is_aside) == False,  # noqa: E712
        )
        .group_by(col(Feedback.project_id), col(Feedback.author_id))
        .subquery("f")
    )
    grouped = (
        select(
            col(Project.category).label("category"),
            col(Project.model).label("model"),
            col(Project.platform).label("platform"),
            per_project.c.author_id,
            func.max(per_project.c.stored).label("stored"),
            func.sum(per_project.c.n).label("n"),
            func.count().label("projects"),
            func.sum(per_project.c.stated).label("stated"),
            func.sum(per_project.c.estimated).label("estimated"),
        )
        .select_from(per_project)
        .join(Project, col(Project.id) == per_project.c.project_id)
        .group_by(col(Project.category), col(Project.model), col(Project.platform), per_project.c.author_id)
        .subquery("g")
    )
    known = func.nullif(func.nullif(col(Person.name), ""), grouped.c.author_id)
    stmt = select(
        grouped.c.category,
        grouped.c.model,
        grouped.c.author_id,
        func.coalesce(known, grouped.c.stored),
        grouped.c.n,
        grouped.c.projects,
        grouped.c.stated,
        grouped.c.estimated,
    ).select_from(
        grouped.outerjoin(
            Person, and_(col(Person.platform) == grouped.c.platform, col(Person.user_id) == grouped.c.author_id)
        )
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


def _median_where(since: datetime, until: datetime, states: StateSets, to: Literal["first_draft", "accept"]) -> Any:
    if to == "first_draft":
        return and_(_decided_in(since, until, states), col(Project.first_draft_at).is_not(None))
    return and_(_decided_in(since, until, states), col(Project.state) == states.accepted)


def _median_end(to: Literal["first_draft", "accept"]) -> Any:
    return col(Project.first_draft_at) if to == "first_draft" else col(Project.decided_at)


async def median_seconds(
    *,
    session: AsyncSession,
    since: datetime,
    until: datetime,
    states: StateSets,
    to: Literal["first_draft", "accept"],
    count: int | None = None,
) -> float | None:
    """Median time from request to first draft (decided projects) or to acceptance (accepted ones).

    PostgreSQL computes it with percentile_cont; SQLite, which has no ordered-set aggregate, counts
    (unless given the `count`) and then fetches the middle one or two values with ORDER BY …
    LIMIT/OFFSET. Both give the mean of the two middle values for an even count.
    """
    where = _median_where(since, until, states, to)
    seconds = _seconds_between(session, col(Project.created_at), _median_end(to))
    if session.get_bind().dialect.name == "postgresql":
        value = (
            await session.execute(select(func.percentile_cont(0.5).within_group(cast(seconds, Float))).where(where))
        ).scalar_one()
        return None if value is None else float(value)
    n = count if count is not None else int((await session.execute(select(func.count()).where(where))).scalar_one())
    if n == 0:
        return None
    # Ordered by the label, so the difference is computed once per row, not again for the sort.
    s = seconds.label("s")
    stmt = select(s).where(where).order_by(s).offset((n - 1) // 2).limit(2 - n % 2)
    values = [float(v) for v in (await session.execute(stmt)).scalars().all()]
    return sum(values) / len(values)


async def medians(
    *, session: AsyncSession, since: datetime, until: datetime, states: StateSets, overall: GroupFigures
) -> tuple[float | None, float | None]:
    """`median_seconds` to the first draft and to acceptance, for the period `overall` was counted over
    (`figures(...)["all"]["all"]`): on PostgreSQL one scan for both, on SQLite no counting again."""
    if session.get_bind().dialect.name != "postgresql":
        first = await median_seconds(
            session=session, since=since, until=until, states=states, to="first_draft", count=overall.drafted
        )
        accept = await median_seconds(
            session=session, since=since, until=until, states=states, to="accept", count=overall.accepted
        )
        return first, accept
    start = col(Project.created_at)
    values = []
    for to in ("first_draft", "accept"):
        seconds = cast(_seconds_between(session, start, _median_end(to)), Float)
        cond = (
            col(Project.first_draft_at).is_not(None) if to == "first_draft" else col(Project.state) == states.accepted
        )
        values.append(func.percentile_cont(0.5).within_group(seconds).filter(cond))
    first, accept = (await session.execute(select(*values).where(_decided_in(since, until, states)))).one()
    return (None if first is None else float(first)), (None if accept is None else float(accept))


async def refresh_statistics(*, session: AsyncSession) -> None:
    """SQLite: `PRAGMA optimize` after the digest's queries, so the planner has the statistics it needs
    to read ix_projects_groups in group order. It analyzes only the tables those queries used whose
    statistics are missing or whose size changed tenfold since, so it nearly always does nothing; a
    busy database just leaves it to the next digest. PostgreSQL: nothing (autovacuum analyzes)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    try:
        await session.execute(text("PRAGMA optimize"))
    except OperationalError as exc:
        _log.debug("statistics not refreshed: %s", exc)


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
