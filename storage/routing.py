"""What the orchestrator (bot/orchestrator/) reads and records: each project's route (the agent
chosen and why, the review mode), each version's quality check, and the category history routing
learns from; escalations, timeouts and a `review` asked for recorded once under the `nudges` table's
unique key; each comparison of two agents' drafts and its pick (migration 0007).

The tables live here rather than in storage/models.py so the orchestrator's schema stays in one
place with its queries (migration 0006); they share SQLModel's metadata with the others.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Index, Insert, Text, UniqueConstraint, and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from storage.models import Decision, Nudge, Project, Version
from storage.statements import per_dialect, rowcount, table, upsert
from storage.types import UTCDateTime

ESCALATE, TIMEOUT, REVIEW_ASKED = "escalate", "timeout", "review"
ORCHESTRATOR = "draftloop:orchestrator"  # the actor of a decision no person made


class Route(SQLModel, table=True):
    """How a project was routed: the agent, by which policy and why; whether experts were pinged."""

    __tablename__ = "routes"
    __table_args__ = (Index("ix_routes_category", "category", "created_at"),)

    project_id: int = Field(foreign_key="projects.id", primary_key=True)
    category: str = Field(max_length=64)
    agent: str = Field(max_length=128)
    policy: str = Field(max_length=16)  # fixed, best, explore
    reason: str = Field(default="", max_length=300)
    review: str | None = Field(default=None, max_length=16)  # fine, review; None: no threshold set
    review_reason: str = Field(default="", max_length=300)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class QualityCheck(SQLModel, table=True):
    """One version's check before experts saw it: the verdict, the gaps found, those left after
    the automatic revision (an agent cycle, never feedback)."""

    __tablename__ = "qc_checks"
    __table_args__ = (
        UniqueConstraint("project_id", "version", name="uq_qc_checks"),
        Index("ix_qc_checks_created", "created_at", "verdict"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id")
    version: int
    verdict: str = Field(max_length=16)  # passed, revised, flagged
    checker: str = Field(max_length=128)  # rules, or the qc agent's name
    gaps: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list, as first found
    remaining: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list, as shown
    auto_revisions: int = 0
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Comparison(SQLModel, table=True):
    """One request drafted by two agents: A (the project's v1 as first written) and B, and the pick.

    Both drafts are kept here as written; the picked one is the project's current version (a pick of
    B writes B into that version and makes B's agent the project's), the other stays here, marked
    by `picked`. B's columns are empty until B is written."""

    __tablename__ = "comparisons"
    __table_args__ = (Index("ix_comparisons_picked", "picked_at"),)

    project_id: int = Field(foreign_key="projects.id", primary_key=True)
    version: int = 1  # the version the two drafts compete for
    agent_a: str = Field(max_length=128)
    agent_b: str = Field(max_length=128)
    model_a: str = Field(default="", max_length=128)
    model_b: str = Field(default="", max_length=128)
    text_a: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    text_b: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    cost_a_usd: float = 0.0
    cost_b_usd: float = 0.0
    input_tokens_b: int = 0
    output_tokens_b: int = 0
    picked: str | None = Field(default=None, max_length=1)  # A, B; None: not picked yet
    picked_by: str | None = Field(default=None, max_length=128)
    picked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


_nudges = table(Nudge)
_qc = table(QualityCheck)
_routes = table(Route)


@per_dialect
def _insert_nudge(dialect: str) -> Insert:
    return upsert(dialect, _nudges).on_conflict_do_nothing(index_elements=["project_id", "kind", "seq"])


@per_dialect
def _insert_route(dialect: str) -> Insert:
    return upsert(dialect, _routes).on_conflict_do_nothing(index_elements=["project_id"])


@per_dialect
def _insert_qc(dialect: str) -> Insert:
    return upsert(dialect, _qc).on_conflict_do_nothing(index_elements=["project_id", "version"])


# ---------------------------------------------------------------------------- routes


async def record_route(
    *,
    session: AsyncSession,
    project_id: int,
    category: str,
    agent: str,
    policy: str,
    reason: str,
    review: str | None,
    review_reason: str,
    now: datetime,
) -> None:
    """The route chosen at intake (a replayed request keeps the first)."""
    values = {
        "project_id": project_id,
        "category": category,
        "agent": agent,
        "policy": policy,
        "reason": reason[:300],
        "review": review,
        "review_reason": review_reason[:300],
        "created_at": now,
    }
    await session.execute(_insert_route(session), values)


async def get_route(*, session: AsyncSession, project_id: int) -> Route | None:
    return await session.get(Route, project_id)


@dataclass(frozen=True)
class AgentHistory:
    """One agent's decided projects in a category (drafted at v1 by it), and what they cost."""

    agent: str
    decided: int
    accepted: int
    cost_usd: float


async def history(
    *, session: AsyncSession, category: str, agents: Sequence[str], decided: Collection[str], accepted: str
) -> dict[str, AgentHistory]:
    """Per agent among `agents`: the category's decided projects whose v1 it drafted, how many were
    accepted, and the cost of all their versions. Agents with none are absent."""
    first = (
        select(col(Version.project_id).label("pid"), col(Version.agent).label("agent"))
        .where(col(Version.number) == 1, col(Version.agent).in_(list(agents)))
        .subquery()
    )
    cost = (
        select(col(Version.project_id).label("pid"), func.sum(Version.cost_usd).label("cost"))
        .group_by(col(Version.project_id))
        .subquery()
    )
    stmt = (
        select(
            first.c.agent,
            func.count(),
            func.sum(case((col(Project.state) == accepted, 1), else_=0)),
            func.coalesce(func.sum(cost.c.cost), 0.0),
        )
        .select_from(Project)
        .join(first, first.c.pid == col(Project.id))
        .join(cost, cost.c.pid == col(Project.id))
        .where(col(Project.category) == category, col(Project.state).in_(list(decided)))
        .group_by(first.c.agent)
    )
    out: dict[str, AgentHistory] = {}
    for agent, n, k, usd in (await session.execute(stmt)).all():
        out[agent] = AgentHistory(agent, int(n), int(k or 0), float(usd or 0.0))
    for agent, n, k, usd in await _picks(session, category):
        if agent in agents:
            was = out.get(agent, AgentHistory(agent, 0, 0, 0.0))
            out[agent] = AgentHistory(agent, was.decided + n, was.accepted + k, was.cost_usd + usd)
    return out


async def _picks(session: AsyncSession, category: str) -> list[tuple[str, int, int, float]]:
    """(agent, comparisons picked, won, cost of its unpicked drafts) in the category: a pick is one
    decided trial for each agent and an accepted one for the picked. The picked draft's cost is the
    project's (its version); the other's is counted here."""
    rows = []
    for side, other in (("a", "B"), ("b", "A")):
        agent = col(getattr(Comparison, f"agent_{side}"))
        cost = col(getattr(Comparison, f"cost_{side}_usd"))
        lost = col(Comparison.picked) == other
        rows.append(
            select(
                agent,
                func.count(),
                func.sum(case((lost, 0), else_=1)),
                func.coalesce(func.sum(case((lost, cost), else_=0.0)), 0.0),
            )
            .join(Project, col(Project.id) == col(Comparison.project_id))
            .where(col(Project.category) == category, col(Comparison.picked).is_not(None))
            .group_by(agent)
        )
    out = []
    for stmt in rows:
        for agent, n, k, usd in (await session.execute(stmt)).all():
            out.append((str(agent), int(n), int(k or 0), float(usd or 0.0)))
    return out


async def agent_alone(
    *, session: AsyncSession, category: str, decided: Collection[str], accepted: str
) -> tuple[int, int]:
    """(accepted with no feedback at v1, decided) in the category: the agent-alone history."""
    alone = and_(col(Project.state) == accepted, col(Project.feedback_count) == 0, col(Project.accepted_version) == 1)
    stmt = select(func.count(), func.sum(case((alone, 1), else_=0))).where(
        col(Project.category) == category, col(Project.state).in_(list(decided))
    )
    n, k = (await session.execute(stmt)).one()
    return int(k or 0), int(n or 0)


async def ask_review(*, session: AsyncSession, project_id: int, now: datetime) -> bool:
    """Record that someone asked the experts of a project marked likely fine; False when asked before."""
    return await record_once(session=session, project_id=project_id, kind=REVIEW_ASKED, seq=0, now=now)


async def review_asked(*, session: AsyncSession, project_id: int) -> bool:
    stmt = select(col(Nudge.id)).where(col(Nudge.project_id) == project_id, col(Nudge.kind) == REVIEW_ASKED)
    return (await session.execute(stmt)).first() is not None


# ---------------------------------------------------------------------------- comparisons


async def start_comparison(
    *, session: AsyncSession, project_id: int, agent_a: str, agent_b: str, now: datetime
) -> None:
    session.add(Comparison(project_id=project_id, agent_a=agent_a, agent_b=agent_b, created_at=now))
    await session.flush()


async def get_comparison(*, session: AsyncSession, project_id: int, for_update: bool = False) -> Comparison | None:
    return await session.get(Comparison, project_id, with_for_update=for_update)


async def store_drafts(
    *,
    session: AsyncSession,
    project_id: int,
    a: Version,
    text_b: str,
    model_b: str,
    cost_b_usd: float,
    input_tokens_b: int,
    output_tokens_b: int,
) -> bool:
    """Keep both drafts as written (A from its version); False when the comparison is gone or B is
    there already (a second writer)."""
    moved = await session.execute(
        update(Comparison)
        .where(col(Comparison.project_id) == project_id, col(Comparison.text_b).is_(None))
        .values(
            version=a.number,
            agent_a=a.agent,
            model_a=a.model,
            text_a=a.text,
            cost_a_usd=a.cost_usd,
            text_b=text_b,
            model_b=model_b[:128],
            cost_b_usd=cost_b_usd,
            input_tokens_b=input_tokens_b,
            output_tokens_b=output_tokens_b,
        )
    )
    return rowcount(moved) == 1


async def pick(*, session: AsyncSession, comparison: Comparison, label: str, by: str, now: datetime) -> None:
    """Mark the pick; a pick of B writes B into the compared version and makes B's agent the
    project's (its revisions and its record are B's from now on). A stays as it is."""
    pid = comparison.project_id
    await session.execute(
        update(Comparison)
        .where(col(Comparison.project_id) == pid)
        .values(picked=label, picked_by=by[:128], picked_at=now)
    )
    if label != "B":
        return
    assert comparison.text_b is not None
    await session.execute(
        update(Version)
        .where(col(Version.project_id) == pid, col(Version.number) == comparison.version)
        .values(
            text=comparison.text_b,
            agent=comparison.agent_b,
            model=comparison.model_b,
            cost_usd=comparison.cost_b_usd,
            input_tokens=comparison.input_tokens_b,
            output_tokens=comparison.output_tokens_b,
            cached_tokens=0,
        )
    )
    await session.execute(
        update(Project)
        .where(col(Project.id) == pid)
        .values(agent=comparison.agent_b, model=comparison.model_b, updated_at=now)
    )


# ---------------------------------------------------------------------------- quality checks


async def record_check(
    *,
    session: AsyncSession,
    project_id: int,
    version: int,
    verdict: str,
    checker: str,
    gaps: Sequence[str],
    remaining: Sequence[str],
    auto_revisions: int,
    now: datetime,
) -> None:
    values = {
        "project_id": project_id,
        "version": version,
        "verdict": verdict,
        "checker": checker[:128],
        "gaps": json.dumps(list(gaps)),
        "remaining": json.dumps(list(remaining)),
        "auto_revisions": auto_revisions,
        "created_at": now,
    }
    await session.execute(_insert_qc(session), values)


async def checks(*, session: AsyncSession, project_id: int) -> list[QualityCheck]:
    stmt = select(QualityCheck).where(col(QualityCheck.project_id) == project_id).order_by(col(QualityCheck.version))
    return list((await session.execute(stmt)).scalars().all())


def gaps_of(check: QualityCheck, *, remaining: bool = False) -> list[str]:
    loaded = json.loads(check.remaining if remaining else check.gaps)
    return [str(g) for g in loaded] if isinstance(loaded, list) else []


# ---------------------------------------------------------------------------- escalations and timeouts


async def record_once(*, session: AsyncSession, project_id: int, kind: str, seq: int, now: datetime) -> bool:
    """Insert the `nudges` row (project, kind, seq); False when another run recorded it first."""
    values = {"project_id": project_id, "kind": kind, "seq": seq, "created_at": now}
    return rowcount(await session.execute(_insert_nudge(session), values)) == 1


async def overdue(*, session: AsyncSession, category: str, waiting: str, cutoff: datetime, limit: int) -> list[Project]:
    """The category's projects in review since `cutoff` or longer, longest first."""
    stmt = (
        select(Project)
        .where(col(Project.category) == category, col(Project.state) == waiting, col(Project.review_since) <= cutoff)
        .order_by(col(Project.review_since))
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def unanswered(*, session: AsyncSession, category: str, waiting: str, nudges: int, limit: int) -> list[Project]:
    """The category's projects in review that were nudged at least `nudges` times."""
    stmt = (
        select(Project)
        .where(col(Project.category) == category, col(Project.state) == waiting, col(Project.nudge_count) >= nudges)
        .order_by(col(Project.review_since))
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


async def time_out(
    *,
    session: AsyncSession,
    project: Project,
    waiting: str,
    target: str,
    outcome: str,
    cutoff: datetime,
    now: datetime,
) -> bool:
    """Decide an overdue project as the orchestrator: the state moves (compare-and-set, still in
    review since `cutoff`), the decision and the `nudges(timeout)` row are written; False when it
    moved meanwhile or another run decided it first (the caller rolls back)."""
    assert project.id is not None
    accepted = {"accepted_version": project.current_version} if outcome == "accept" else {}
    moved = await session.execute(
        update(Project)
        .where(col(Project.id) == project.id, col(Project.state) == waiting, col(Project.review_since) <= cutoff)
        .values(state=target, decided_at=now, updated_at=now, lease_owner=None, **accepted)
    )
    if rowcount(moved) != 1:
        return False
    if not await record_once(session=session, project_id=project.id, kind=TIMEOUT, seq=0, now=now):
        return False
    session.add(
        Decision(
            project_id=project.id,
            actor_id=ORCHESTRATOR,
            actor_name="draftloop",
            outcome=outcome,
            version=project.current_version,
            via=TIMEOUT,
            created_at=now,
        )
    )
    await session.flush()
    return True
