"""Learned routing and the human-or-agent mark, decided at intake from the category's history.

A category with two or more candidate `agents` is routed by Thompson sampling (bot/orchestrator/
stats.py); one agent (or none) keeps the fixed route. A category with a `review_threshold` marks each
new project "likely fine as is" (experts not pinged) or "needs review" from its agent-alone record.
Both say why in one line of the acknowledgement and are stored with the project (storage/routing.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.agent_spec import AgentSpec
from bot.config import CategoryConfig
from bot.orchestrator.compare import rival_by_fallback
from bot.orchestrator.stats import Candidate, explore_share, leader, percent, thompson
from bot.settings import Settings
from bot.states import STORED
from bot.triage import default_agent_name, resolve_spec
from storage import Session, routing as store
from storage.engine import Database

FINE, REVIEW = "fine", "review"


@dataclass(frozen=True)
class Plan:
    """What the orchestrator decided for one new project, and the line that says why."""

    category: str
    agent: str | None  # None: the fixed route stands
    policy: str  # fixed, best, explore
    reason: str
    review: str | None = None  # fine, review; None: no threshold in this category
    review_reason: str = ""

    @property
    def line(self) -> str:
        """The acknowledgement's line: the agent and why, then the review mark and why."""
        parts = [self.reason] if self.policy != "fixed" else []
        if self.review_reason:
            parts.append(self.review_reason)
        return " · ".join(parts)

    @property
    def quiet(self) -> bool:
        """Experts are not pinged: the category's agents are trusted alone here."""
        return self.review == FINE

    async def record(self, session: Session, project_id: int, agent: str, now: datetime) -> None:
        await store.record_route(
            session=session,
            project_id=project_id,
            category=self.category,
            agent=agent,
            policy=self.policy,
            reason=self.reason,
            review=self.review,
            review_reason=self.review_reason,
            now=now,
        )


def candidates_of(cat: CategoryConfig, settings: Settings) -> tuple[str, ...]:
    """The category's candidate agents: its `agents`, else its one agent (or the default)."""
    if cat.agents:
        return tuple(dict.fromkeys(cat.agents))
    return (cat.agent or default_agent_name(settings),)


def describe(c: Candidate) -> str:
    if not c.decided:
        return f"{c.agent} · no decided projects here yet"
    return f"{c.agent} · accepted {c.accepted}/{c.decided} here, lower bound {c.lower_bound or 0.0:.2f}"


class Router:
    def __init__(self, *, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db

    def active(self, category: str) -> bool:
        """Whether the orchestrator has anything to decide for this category (no query otherwise)."""
        cat = self.settings.category(category)
        return len(set(cat.agents)) > 1 or cat.review_threshold is not None

    def spec(self, name: str) -> AgentSpec:
        return resolve_spec(name, self.settings)

    async def candidates(self, session: Session, category: str) -> list[Candidate]:
        names = candidates_of(self.settings.category(category), self.settings)
        seen = await store.history(
            session=session, category=category, agents=names, decided=STORED.decided, accepted=STORED.accepted
        )
        return [
            Candidate(n, seen[n].decided, seen[n].accepted, seen[n].cost_usd) if n in seen else Candidate(n)
            for n in names
        ]

    async def plan(self, category: str, *, seed: str) -> Plan | None:
        """The route and review mark for a new project in `category`; None when the category has
        neither candidates nor a threshold. `seed` (the request's key) makes the draw repeatable:
        a redelivered request is routed the same way."""
        if not self.active(category):
            return None
        cat = self.settings.category(category)
        async with self.db.session() as session:
            found = await self.candidates(session, category) if len(set(cat.agents)) > 1 else []
            alone = (
                await store.agent_alone(
                    session=session, category=category, decided=STORED.decided, accepted=STORED.accepted
                )
                if cat.review_threshold is not None
                else None
            )
        review, review_reason = _review(cat, alone)
        if not found:
            return Plan(category, None, "fixed", "", review, review_reason)
        top, _ = leader(found)
        picked = thompson(found, random.Random(seed))
        if picked is top:
            return Plan(category, picked.agent, "best", describe(picked), review, review_reason)
        reason = f"{picked.agent} · exploring ({describe(picked).split(' · ', 1)[1]}; best: {describe(top)})"
        return Plan(category, picked.agent, "explore", reason, review, review_reason)

    async def runner_up(self, category: str, agent: str) -> str | None:
        """B of a comparison: the category's best candidate other than `agent` (its lower bound,
        then cost, then the config's order), or its first fallback when it lists no candidates."""
        cat = self.settings.category(category)
        if len(set(cat.agents)) < 2:
            return rival_by_fallback(cat, agent)
        async with self.db.session() as session:
            found = [c for c in await self.candidates(session, category) if c.agent != agent]
        return leader(found)[0].agent if found else None

    async def explain(self, category: str) -> dict[str, Any]:
        """`draftloop route CATEGORY`: the current choice, why, and every candidate's record."""
        cat = self.settings.category(category)
        async with self.db.session() as session:
            found = await self.candidates(session, category)
        names = candidates_of(cat, self.settings)
        if len(names) < 2:
            reason = f"{names[0]} · fixed route (the category lists one agent)"
            return {
                "category": category,
                "agent": names[0],
                "reason": reason,
                "candidates": [c.to_json() for c in found],
            }
        top, by_cost = leader(found)
        reason = describe(top)
        if not any(c.decided for c in found):
            reason += "; Thompson sampling tries every candidate until one leads"
        else:
            if by_cost and top.cost_per_accepted is not None:
                reason += f", cheapest per accepted (${top.cost_per_accepted:.4f})"
            share = explore_share(found, top)
            reason += f"; Thompson sampling tries the others {percent(share)} of the time"
        return {"category": category, "agent": top.agent, "reason": reason, "candidates": [c.to_json() for c in found]}


def _review(cat: CategoryConfig, alone: tuple[int, int] | None) -> tuple[str | None, str]:
    """The human-or-agent mark from the agent-alone record (accepted at v1 with no feedback / decided)."""
    threshold = cat.review_threshold
    if threshold is None or alone is None:
        return None, ""
    k, n = alone
    if n < cat.review_min_decided:
        return REVIEW, f"needs review: {n} decided here, {cat.review_min_decided} needed to trust the agent alone"
    rate = k / n
    if rate >= threshold:
        return FINE, f"likely fine as is: the agent alone was accepted {k}/{n} here ({rate:.0%} ≥ {threshold:.0%})"
    return REVIEW, f"needs review: the agent alone was accepted {k}/{n} here ({rate:.0%} < {threshold:.0%})"


def render_route(explained: dict[str, Any]) -> str:
    """`draftloop route`'s text: the choice and why, then one aligned row per candidate."""

    def number(value: object, spec: str) -> str:
        return "—" if value is None else format(value, spec)

    rows = [("agent", "decided", "accepted", "rate", "lower bound", "cost/accepted")]
    for c in explained["candidates"]:
        cost = c["cost_per_accepted_usd"]
        rows.append(
            (
                c["agent"],
                str(c["decided"]),
                str(c["accepted"]),
                number(c["rate"], ".2f"),
                number(c["lower_bound"], ".2f"),
                "—" if cost is None else f"${cost:.4f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"{explained['category']} → {explained['agent']}: {explained['reason']}", ""]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


async def quiet(db: Database, settings: Settings, project: Any) -> bool:
    """Whether the project was marked likely fine as is and nobody has asked its experts since
    (`review`): its drafts ping no expert. Asks the database only in a category with a review threshold."""
    if settings.category(project.category).review_threshold is None or project.id is None:
        return False
    async with db.session() as session:
        route = await store.get_route(session=session, project_id=project.id)
        if route is None or route.review != FINE:
            return False
        return not await store.review_asked(session=session, project_id=project.id)


async def marked_fine(session: Session, project_id: int) -> bool:
    """Whether the project was marked likely fine as is at intake."""
    route = await store.get_route(session=session, project_id=project_id)
    return route is not None and route.review == FINE
