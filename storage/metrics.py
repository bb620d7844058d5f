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

The statements are SQL text (the same on both databases but for the few fragments in `_SQL`), run
through a `Reader` (storage/metrics_read.py): the database's bare driver (sqlite3, asyncpg), so a
one-shot `draftloop digest` imports no SQLAlchemy, or a SQLAlchemy session. They are the
statements SQLAlchemy compiled from the table definitions before (same joins, filters and
groupings: the plans the indexes were made for); every function still takes a session too.

Definitions (docs/digest.md): a project is *decided* in [since, until) when its state is one
of `states.decided` (the core's: accepted, rejected, expired or failed) and `decided_at` falls in
the period; *agent alone* is accepted at version 1 with no feedback. Expert minutes of a group
are those given in the period (feedback `created_at` in [since, until)), stated and estimated
kept apart. The figures returned are plain dataclasses (storage/figures.py).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from storage.figures import CategoryFigures, Dimension, ExpertFigures, Figures, GroupFigures, Waiting
from storage.metrics_read import Reader, moment, reader_of
from storage.state_sets import StateSets

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    Source = Reader | AsyncSession
else:
    Source = Any

# What differs between the two databases: a boolean literal, and seconds between two timestamps.
_SQL = {
    "sqlite": {
        "false": "0",
        "is_false": "IS 0",
        "first_draft_s": "(julianday(projects.first_draft_at) - julianday(projects.created_at)) * 86400.0",
        "accept_s": "(julianday(projects.decided_at) - julianday(projects.created_at)) * 86400.0",
    },
    "postgresql": {
        "false": "false",
        "is_false": "IS false",
        "first_draft_s": "CAST(EXTRACT(epoch FROM projects.first_draft_at - projects.created_at) AS FLOAT)",
        "accept_s": "CAST(EXTRACT(epoch FROM projects.decided_at - projects.created_at) AS FLOAT)",
    },
}
# Orchestrator tables' kinds (storage/routing.py: ESCALATE, TIMEOUT, REVIEW_ASKED; a test holds them equal).
ESCALATE, TIMEOUT, REVIEW_ASKED = "escalate", "timeout", "review"


def _sql(reader: Reader, template: str) -> str:
    return template.format(**_SQL[reader.dialect])


def _in(name: str, values: Collection[str]) -> tuple[str, dict[str, str]]:
    """`:name_0, :name_1, …` and their values, sorted (one statement text per set of states)."""
    params = {f"{name}_{i}": value for i, value in enumerate(sorted(values))}
    return ", ".join(f":{key}" for key in params), params


def _decided_in(since: datetime, until: datetime, states: StateSets) -> tuple[str, dict[str, Any]]:
    marks, params = _in("decided", states.decided)
    where = f"projects.decided_at >= :since AND projects.decided_at < :until AND projects.state IN ({marks})"
    return where, {"since": since, "until": until, **params}


def _keys(category: Any, model: Any) -> tuple[tuple[Dimension, str], ...]:
    return (("all", "all"), ("category", str(category)), ("model", str(model or "")))


def _slot(out: Figures, category: Any, model: Any) -> list[GroupFigures]:
    slots = []
    for dimension, name in _keys(category, model):
        slots.append(out[dimension].setdefault(name, GroupFigures(name)))
    return slots


async def opened(*, session: Source, since: datetime, until: datetime) -> int:
    reader = reader_of(session)
    sql = "SELECT count(*) FROM projects WHERE projects.created_at >= :since AND projects.created_at < :until"
    rows = await reader.rows(sql, {"since": since, "until": until})
    return int(rows[0][0])


def empty() -> Figures:
    return {"all": {}, "category": {}, "model": {}}


def merge(into: Figures, other: Figures) -> Figures:
    """`other`'s figures added to `into`'s, group by group (a group only `other` has is added as it is):
    what two lanes of the digest counted apart (bot/report/digest.py)."""
    for dimension, groups in other.items():
        for name, g in groups.items():
            mine = into[dimension].get(name)
            if mine is None:
                into[dimension][name] = g
                continue
            for f in fields(GroupFigures):
                if f.name == "name":
                    continue
                value = getattr(g, f.name)
                if f.name == "max_version":
                    mine.max_version = max(mine.max_version, value)
                elif f.name == "accepted_at":
                    for version, n in value.items():
                        mine.accepted_at[version] = mine.accepted_at.get(version, 0) + n
                else:
                    setattr(mine, f.name, getattr(mine, f.name) + value)
    return into


async def figures(
    *,
    session: Source,
    since: datetime,
    until: datetime,
    states: StateSets,
    usage: bool = True,
    minutes: bool = True,
) -> Figures:
    """Overall, per-category and per-model figures for the projects decided in [since, until); without
    `usage` no tokens and cost, without `minutes` no minutes recorded on them (`decided_minutes`)."""
    reader = reader_of(session)
    out = empty()
    where, params = _decided_in(since, until, states)
    sql = (
        "SELECT projects.category, projects.model, projects.state, projects.accepted_version, "
        "projects.feedback_count, count(*), max(projects.current_version), count(projects.first_draft_at) "
        f"FROM projects WHERE {where} GROUP BY projects.category, projects.model, projects.state, "
        "projects.accepted_version, projects.feedback_count"
    )
    for category, model, state, accepted_version, feedback_count, count, max_v, drafted in await reader.rows(
        sql, params
    ):
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
        await spending(session=reader, since=since, until=until, states=states, out=out)
    if minutes:
        await decided_minutes(session=reader, since=since, until=until, states=states, out=out)
    return out


async def spending(*, session: Source, since: datetime, until: datetime, states: StateSets, out: Figures) -> None:
    """Tokens and cost of the projects decided in [since, until), added to `out`."""
    reader = reader_of(session)
    where, params = _decided_in(since, until, states)
    sql = (
        "SELECT projects.category, projects.model, projects.state, coalesce(sum(versions.input_tokens), 0), "
        "coalesce(sum(versions.output_tokens), 0), coalesce(sum(versions.cached_tokens), 0), "
        "coalesce(sum(versions.cost_usd), 0.0) "
        f"FROM projects JOIN versions ON versions.project_id = projects.id WHERE {where} "
        "GROUP BY projects.category, projects.model, projects.state"
    )
    for category, model, state, tin, tout, tcached, cost in await reader.rows(sql, params):
        for g in _slot(out, category, model):
            g.input_tokens += int(tin)
            g.output_tokens += int(tout)
            g.cached_tokens += int(tcached)
            g.cost_usd += float(cost)
            if state == states.accepted:
                g.accepted_tokens += int(tin) + int(tout)
                g.accepted_cost_usd += float(cost)


# Feedback summed per (project, author) from the index alone (f), those rows grouped by category,
# model, platform and author (g: a row of f is one distinct project), then the few groups joined to
# the people table. An author is named by their latest known name, else the name stored with their
# feedback, else their id.
_FEEDBACK_IN_PERIOD = (
    "SELECT g.category, g.model, g.author_id, "
    "coalesce(nullif(nullif(people.name, ''), g.author_id), g.stored), g.n, g.projects, g.stated, g.estimated "
    "FROM (SELECT projects.category AS category, projects.model AS model, projects.platform AS platform, "
    "f.author_id AS author_id, max(f.stored) AS stored, sum(f.n) AS n, count(*) AS projects, "
    "sum(f.stated) AS stated, sum(f.estimated) AS estimated "
    "FROM (SELECT feedback.project_id AS project_id, feedback.author_id AS author_id, "
    "max(coalesce(nullif(nullif(feedback.author_name, ''), feedback.author_id), feedback.author_id)) AS stored, "
    "count(*) AS n, sum(feedback.stated_minutes) AS stated, sum(feedback.estimated_minutes) AS estimated "
    "FROM feedback WHERE feedback.created_at >= :since AND feedback.created_at < :until "
    "AND feedback.is_aside = {false} GROUP BY feedback.project_id, feedback.author_id) AS f "
    "JOIN projects ON projects.id = f.project_id "
    "GROUP BY projects.category, projects.model, projects.platform, f.author_id) AS g "
    "LEFT OUTER JOIN people ON people.platform = g.platform AND people.user_id = g.author_id"
)


async def feedback_in_period(*, session: Source, since: datetime, until: datetime, out: Figures) -> list[ExpertFigures]:
    """Feedback given in [since, until): adds expert minutes to `out` and returns the per-author figures.

    Feedback is first summed per (project, author), from the index alone; those rows are grouped by
    (category, model, platform, author), where a row is one distinct project, so no count(DISTINCT)
    (and on PostgreSQL no sort) is needed; only then are the few groups joined to the people table.
    A project has one category and one model, so the distinct projects of an author add up across
    those groups. An author is named by their latest known name (the people table), else the name
    stored with their feedback, else their id: feedback from an event that carried only an id was
    stored with the id, or no name, as its author's name.
    """
    reader = reader_of(session)
    authors: dict[str, ExpertFigures] = {}
    rows = await reader.rows(_sql(reader, _FEEDBACK_IN_PERIOD), {"since": since, "until": until})
    for category, model, author, label, count, projects, stated, estimated in rows:
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


async def decided_minutes(
    *, session: Source, since: datetime, until: datetime, states: StateSets, out: Figures
) -> None:
    """Minutes (stated + estimated) recorded on the projects decided in the period, added to `out`."""
    reader = reader_of(session)
    where, params = _decided_in(since, until, states)
    sql = _sql(
        reader,
        "SELECT projects.category, projects.model, "
        "coalesce(sum(coalesce(feedback.stated_minutes, 0) + coalesce(feedback.estimated_minutes, 0)), 0) "
        "FROM projects JOIN feedback ON feedback.project_id = projects.id "
        f"WHERE {where} AND feedback.is_aside = {{false}} GROUP BY projects.category, projects.model",
    )
    for category, model, total in await reader.rows(sql, params):
        for g in _slot(out, category, model):
            g.decided_minutes += int(total)


async def groups(
    *, session: Source, since: datetime, until: datetime, states: StateSets, dimension: Dimension
) -> dict[str, GroupFigures]:
    """One dimension of `figures` with expert minutes (for callers that want a single table)."""
    out = await figures(session=session, since=since, until=until, states=states)
    await feedback_in_period(session=session, since=since, until=until, out=out)
    return out[dimension]


async def experts(*, session: Source, since: datetime, until: datetime) -> list[ExpertFigures]:
    """Feedback given in the period, per author: replies, projects, minutes stated and estimated."""
    return await feedback_in_period(session=session, since=since, until=until, out=empty())


def _median_where(
    since: datetime, until: datetime, states: StateSets, to: Literal["first_draft", "accept"]
) -> tuple[str, dict[str, Any]]:
    where, params = _decided_in(since, until, states)
    if to == "first_draft":
        return f"{where} AND projects.first_draft_at IS NOT NULL", params
    return f"{where} AND projects.state = :won", {**params, "won": states.accepted}


async def median_seconds(
    *,
    session: Source,
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
    reader = reader_of(session)
    where, params = _median_where(since, until, states, to)
    seconds = _SQL[reader.dialect][f"{to}_s"]
    if reader.dialect == "postgresql":
        rows = await reader.rows(
            f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY {seconds}) FROM projects WHERE {where}", params
        )
        value = rows[0][0]
        return None if value is None else float(value)
    if count is None:
        count = int((await reader.rows(f"SELECT count(*) FROM projects WHERE {where}", params))[0][0])
    if count == 0:
        return None
    # Ordered by the label, so the difference is computed once per row, not again for the sort.
    sql = f"SELECT {seconds} AS s FROM projects WHERE {where} ORDER BY s LIMIT :limit OFFSET :offset"
    rows = await reader.rows(sql, {**params, "limit": 2 - count % 2, "offset": (count - 1) // 2})
    values = [float(v) for (v,) in rows]
    return sum(values) / len(values)


async def medians(
    *, session: Source, since: datetime, until: datetime, states: StateSets, overall: GroupFigures
) -> tuple[float | None, float | None]:
    """`median_seconds` to the first draft and to acceptance, for the period `overall` was counted over
    (`figures(...)["all"]["all"]`): on PostgreSQL one scan for both, on SQLite no counting again."""
    reader = reader_of(session)
    if reader.dialect != "postgresql":
        first = await median_seconds(
            session=reader, since=since, until=until, states=states, to="first_draft", count=overall.drafted
        )
        accept = await median_seconds(
            session=reader, since=since, until=until, states=states, to="accept", count=overall.accepted
        )
        return first, accept
    where, params = _decided_in(since, until, states)
    sql = _sql(
        reader,
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY {first_draft_s}) "
        "FILTER (WHERE projects.first_draft_at IS NOT NULL), "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY {accept_s}) FILTER (WHERE projects.state = :won) "
        f"FROM projects WHERE {where}",
    )
    ((first, accept),) = await reader.rows(sql, {**params, "won": states.accepted})
    return (None if first is None else float(first)), (None if accept is None else float(accept))


async def refresh_statistics(*, session: Source) -> None:
    """SQLite: `PRAGMA optimize` after the digest's queries, so the planner has the statistics it needs
    to read ix_projects_groups in group order. It analyzes only the tables those queries used whose
    statistics are missing or whose size changed tenfold since, so it nearly always does nothing; a
    busy database just leaves it to the next digest. PostgreSQL: nothing (autovacuum analyzes)."""
    reader = reader_of(session)
    if reader.dialect == "sqlite":
        await reader.maintain("PRAGMA optimize")


async def waiting(
    *, session: Source, states: StateSets, limit: int = 10, before: datetime | None = None
) -> tuple[list[Waiting], int]:
    """Projects waiting for review now, oldest first, and how many there are; with `before`, only
    those already in review then (a past period's digest), so the total is exact too."""
    reader = reader_of(session)
    where = "projects.state = :review AND projects.review_since IS NOT NULL"
    params: dict[str, Any] = {"review": states.review}
    if before is not None:
        where += " AND projects.review_since <= :before"
        params["before"] = before
    total = int((await reader.rows(f"SELECT count(*) FROM projects WHERE {where}", params))[0][0])
    sql = (
        "SELECT projects.id, projects.category, projects.model, projects.current_version, projects.review_since, "
        f"projects.nudge_count FROM projects WHERE {where} ORDER BY projects.review_since, projects.id LIMIT :limit"
    )
    items = []
    for i, c, m, v, r, nc in await reader.rows(sql, {**params, "limit": limit}):
        since = moment(r)
        if since is not None:
            items.append(Waiting(int(i or 0), str(c), str(m or ""), int(v), since, int(nc)))
    return items, total


# ------------------------------------------------------------------ one-tap signals and reject reasons


async def signal_counts(*, session: Source, since: datetime, until: datetime) -> dict[str, int]:
    """Signals whose latest tap fell in [since, until): `up`, `down`, and the `projects` they were on."""
    reader = reader_of(session)
    params = {"since": since, "until": until}
    where = "signals.updated_at >= :since AND signals.updated_at < :until"
    out = {"up": 0, "down": 0, "projects": 0}
    for value, count in await reader.rows(
        f"SELECT signals.value, count(*) FROM signals WHERE {where} GROUP BY signals.value", params
    ):
        if str(value) in ("up", "down"):
            out[str(value)] = int(count)
    rows = await reader.rows(f"SELECT count(distinct(signals.project_id)) FROM signals WHERE {where}", params)
    out["projects"] = int(rows[0][0])
    return out


async def reasons_given(*, session: Source, since: datetime, until: datetime, outcome: str) -> dict[str | None, int]:
    """Decisions of `outcome` made in [since, until), counted by reason (None: no reason given)."""
    reader = reader_of(session)
    sql = (
        "SELECT decisions.reason, count(*) FROM decisions WHERE decisions.outcome = :outcome "
        "AND decisions.created_at >= :since AND decisions.created_at < :until GROUP BY decisions.reason"
    )
    rows = await reader.rows(sql, {"outcome": outcome, "since": since, "until": until})
    return {(None if reason is None else str(reason)): int(n) for reason, n in rows}


# ------------------------------------------------------------------ the orchestrator's figures


async def period_figures(
    *, session: Source, since: datetime, until: datetime, decided: Collection[str], accepted: str
) -> dict[str, CategoryFigures]:
    """Routes chosen, checks made, escalations and timeouts in [since, until), per category."""
    reader = reader_of(session)
    out: dict[str, CategoryFigures] = {}

    def slot(category: str) -> CategoryFigures:
        return out.setdefault(category, CategoryFigures({}, dict.fromkeys(("passed", "revised", "flagged"), 0)))

    marks, states = _in("decided", decided)
    period = {"since": since, "until": until}
    tallies = (
        f"sum(CASE WHEN (projects.state IN ({marks})) THEN 1 ELSE 0 END), "
        "sum(CASE WHEN (projects.state = :won) THEN 1 ELSE 0 END)"
    )
    routed = {**period, **states, "won": accepted}
    sql = (
        "SELECT routes.category, routes.agent, count(*), sum(CASE WHEN (routes.policy = 'explore') THEN 1 ELSE 0 END), "
        f"{tallies} FROM routes JOIN projects ON projects.id = routes.project_id "
        "WHERE routes.created_at >= :since AND routes.created_at < :until AND routes.policy != 'fixed' "
        "GROUP BY routes.category, routes.agent"
    )
    for category, agent, n, explored, n_decided, n_accepted in await reader.rows(sql, routed):
        slot(category).routed[agent] = {
            "chosen": int(n),
            "explored": int(explored or 0),
            "decided": int(n_decided or 0),
            "won": int(n_accepted or 0),
        }
    sql = (
        f"SELECT routes.category, routes.review, count(*), {tallies} "
        "FROM routes JOIN projects ON projects.id = routes.project_id "
        "WHERE routes.created_at >= :since AND routes.created_at < :until AND routes.review IS NOT NULL "
        "GROUP BY routes.category, routes.review"
    )
    for category, review, n, n_decided, n_accepted in await reader.rows(sql, routed):
        slot(category).review[review] = {
            "projects": int(n),
            "decided": int(n_decided or 0),
            "won": int(n_accepted or 0),
        }
    sql = (
        "SELECT projects.category, qc_checks.verdict, count(*) "
        "FROM qc_checks JOIN projects ON projects.id = qc_checks.project_id "
        "WHERE qc_checks.created_at >= :since AND qc_checks.created_at < :until "
        "GROUP BY projects.category, qc_checks.verdict"
    )
    for category, verdict, n in await reader.rows(sql, period):
        qc = slot(category).qc
        qc[verdict] = qc.get(verdict, 0) + int(n)
    nudged = (
        "FROM nudges JOIN projects ON projects.id = nudges.project_id "
        "WHERE nudges.kind = :kind AND nudges.created_at >= :since AND nudges.created_at < :until "
    )
    sql = f"SELECT projects.category, nudges.kind, count(*) {nudged}GROUP BY projects.category, nudges.kind"
    for category, _, n in await reader.rows(sql, {**period, "kind": ESCALATE}):
        slot(category).escalations += int(n)
    sql = (
        "SELECT projects.category, decisions.outcome, count(*) "
        "FROM decisions JOIN projects ON projects.id = decisions.project_id "
        "WHERE decisions.via = :via AND decisions.created_at >= :since AND decisions.created_at < :until "
        "GROUP BY projects.category, decisions.outcome"
    )
    for category, outcome, n in await reader.rows(sql, {**period, "via": TIMEOUT}):
        slot(category).timeouts[outcome] = int(n)
    sql = f"SELECT projects.category, count(*) {nudged}GROUP BY projects.category"
    for category, n in await reader.rows(sql, {**period, "kind": REVIEW_ASKED}):
        slot(category).reviews_asked = int(n)
    for side in ("a", "b"):
        sql = (
            f"SELECT projects.category, comparisons.agent_{side}, count(*), "
            "sum(CASE WHEN (comparisons.picked = :side) THEN 1 ELSE 0 END) "
            "FROM comparisons JOIN projects ON projects.id = comparisons.project_id "
            "WHERE comparisons.picked_at >= :since AND comparisons.picked_at < :until "
            f"GROUP BY projects.category, comparisons.agent_{side}"
        )
        for category, name, n, k in await reader.rows(sql, {**period, "side": side.upper()}):
            tally = slot(category).picks.setdefault(name, {"compared": 0, "picked": 0})
            tally["compared"] += int(n)
            tally["picked"] += int(k or 0)
    return out


async def flagged_with_feedback(
    *, session: Source, since: datetime, until: datetime
) -> list[tuple[str, list[str], list[str]]]:
    """(category, gaps shown to experts, expert feedback texts on that version) for the checks of the
    period that flagged gaps: the digest asks how often a flagged gap came back in feedback."""
    reader = reader_of(session)
    sql = _sql(
        reader,
        "SELECT qc_checks.id, projects.category, qc_checks.remaining, feedback.text "
        "FROM qc_checks JOIN projects ON projects.id = qc_checks.project_id "
        "LEFT OUTER JOIN feedback ON feedback.project_id = qc_checks.project_id "
        "AND feedback.on_version = qc_checks.version AND feedback.is_aside {is_false} "
        "WHERE qc_checks.created_at >= :since AND qc_checks.created_at < :until AND qc_checks.remaining != '[]' "
        "ORDER BY qc_checks.id",
    )
    grouped: dict[tuple[int | None, str, str], list[str]] = {}
    for check_id, category, remaining, text in await reader.rows(sql, {"since": since, "until": until}):
        texts = grouped.setdefault((check_id, category, remaining), [])
        if text:
            texts.append(text)
    result: list[tuple[str, list[str], list[str]]] = []
    for (_, category, remaining), texts in grouped.items():
        loaded: Any = json.loads(remaining)
        result.append((category, [str(g) for g in loaded] if isinstance(loaded, list) else [], texts))
    return result
