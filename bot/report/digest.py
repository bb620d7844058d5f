"""The digest: aggregate queries → one report object → the JSON contract (docs/digest.md) and its renderings.

Rates follow docs/digest.md: agent alone = accepted at v1 with no feedback, over decided; with feedback
= accepted at any version, over decided; by_cycle[c] = accepted by version c+1, over decided,
cumulative, from 0 up to the largest number of cycles among the decided projects (at least 0 and 1).

Beyond the contract's keys, `to_json()` adds (never changing the contract's own keys):
- `mean_cycles_to_accept`: mean feedback cycles of the accepted projects (the headline's figure);
- `expert_minutes_per_project`: minutes stated + estimated on the projects decided in the period,
  over decided projects;
- `medians`: `first_draft_seconds` (request → first draft, decided projects) and `accept_seconds`
  (request → acceptance);
- `per_accepted`: tokens (input + output) and cost of the accepted projects, per accepted project;
- `previous` and `change`: the same headline figures for the period of equal length just before,
  and the differences (rates in percentage points);
- `waiting` / `waiting_total`: projects in review, oldest first, with hours waited up to `now` (for
  a period in the past, up to its end, and only those already in review then);
- `signals`: one-tap feedback (👍 / 👎) whose latest tap fell in the period, `{"up", "down",
  "projects"}`, one per person and version (a second tap replaces the first);
- `reject_reasons`: rejects decided in the period by the reason given, every reason of
  bot/events.py REJECT_REASONS as a key (0 when none) and `unstated` for a reject without one;
- `orchestrator`: per category the orchestrator acted in, routing, review paths, checks before
  experts, escalations and timeouts, compare picks and reviews asked (bot/report/orchestrator.py).

Periods are whole local days (bot/report/period.py). The figures are read through a Reader
(storage/metrics_read.py): `build_report` takes the process's Database, `read_report` any Reader,
such as the bare SQLite connection of a one-shot `draftloop digest`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import redact
from bot.events import REJECT_REASONS, Outcome
from bot.report import render as digest_render
from bot.report.orchestrator import orchestrator_section
from bot.report.period import Period as Period  # re-exported: the digest's callers name periods
from bot.states import STORED
from bot.stats import rate
from storage import metrics
from storage.figures import ExpertFigures, Figures, GroupFigures, Waiting
from storage.metrics_read import Reader, lanes, reader_for

if TYPE_CHECKING:
    from storage import Database


@dataclass
class Headline:
    """The figures compared week over week."""

    decided: int
    accepted: int
    agent_alone: dict[str, Any]
    with_feedback: dict[str, Any]
    mean_cycles_to_accept: float | None
    expert_minutes_per_project: float | None

    @classmethod
    def of(cls, g: GroupFigures) -> Headline:
        return cls(
            g.decided,
            g.accepted,
            rate(g.agent_alone, g.decided),
            rate(g.accepted, g.decided),
            mean_cycles(g),
            (g.decided_minutes / g.decided) if g.decided else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "decided": self.decided,
            "accepted": self.accepted,
            "agent_alone": self.agent_alone,
            "with_feedback": self.with_feedback,
            "mean_cycles_to_accept": self.mean_cycles_to_accept,
            "expert_minutes_per_project": self.expert_minutes_per_project,
        }


@dataclass
class DigestReport:
    period: Period
    opened: int
    overall: GroupFigures
    by_category: list[GroupFigures] = field(default_factory=list)
    by_model: list[GroupFigures] = field(default_factory=list)
    by_expert: list[ExpertFigures] = field(default_factory=list)
    median_first_draft_seconds: float | None = None
    median_accept_seconds: float | None = None
    previous: Headline | None = None
    waiting: list[Waiting] = field(default_factory=list)
    waiting_total: int = 0
    now: datetime | None = None  # what waiting ages are measured to (Period.measured_at)
    signals: dict[str, int] = field(default_factory=lambda: {"up": 0, "down": 0, "projects": 0})
    reject_reasons: dict[str, int] = field(default_factory=lambda: reasons_json({}))
    orchestrator: dict[str, Any] = field(default_factory=dict)

    @property
    def headline(self) -> Headline:
        return Headline.of(self.overall)

    def change(self) -> dict[str, float | int | None]:
        if self.previous is None:
            return {}
        cur, prev = self.headline, self.previous
        return {
            "decided": cur.decided - prev.decided,
            "accepted": cur.accepted - prev.accepted,
            "agent_alone_pts": _pts(cur.agent_alone, prev.agent_alone),
            "with_feedback_pts": _pts(cur.with_feedback, prev.with_feedback),
            "cycles": _diff(cur.mean_cycles_to_accept, prev.mean_cycles_to_accept),
            "expert_minutes_per_project": _diff(cur.expert_minutes_per_project, prev.expert_minutes_per_project),
        }

    def to_json(self) -> dict[str, Any]:
        g = self.overall
        head = self.headline
        data: dict[str, Any] = {
            "period": {
                "since": self.period.since.isoformat(),
                "until": self.period.until.isoformat(),
                "tz": self.period.tz.key,
            },
            "opened": self.opened,
            "decided": g.decided,
            "accepted": g.accepted,
            "agent_alone": head.agent_alone,
            "with_feedback": head.with_feedback,
            "by_cycle": by_cycle(g),
            "median_cycles_to_accept": median_cycles(g),
            "expert_minutes": minutes(g),
            "tokens": {"input": g.input_tokens, "output": g.output_tokens, "cached": g.cached_tokens},
            "cost_usd": round(g.cost_usd, 6),
            "by_category": [group_json(x) for x in self.by_category],
            "by_model": [group_json(x) for x in self.by_model],
            "by_expert": [
                {
                    "name": e.name,
                    "feedback": e.feedback,
                    "projects": e.projects,
                    "expert_minutes": {"stated": e.stated_minutes, "estimated": e.estimated_minutes},
                }
                for e in self.by_expert
            ],
            # extras beyond the contract
            "mean_cycles_to_accept": head.mean_cycles_to_accept,
            "expert_minutes_per_project": head.expert_minutes_per_project,
            "medians": {
                "first_draft_seconds": self.median_first_draft_seconds,
                "accept_seconds": self.median_accept_seconds,
            },
            "per_accepted": {
                "tokens": (g.accepted_tokens / g.accepted) if g.accepted else None,
                "cost_usd": (g.accepted_cost_usd / g.accepted) if g.accepted else None,
            },
            "previous": self.previous.to_json() if self.previous else None,
            "change": self.change(),
            "waiting": [self._waiting_json(w) for w in self.waiting],
            "waiting_total": self.waiting_total,
            "signals": dict(self.signals),
            "reject_reasons": dict(self.reject_reasons),
            "orchestrator": self.orchestrator,
        }
        # Names in it are people's own (display names): masked like any text that leaves.
        masked: dict[str, Any] = redact.active().json(data)
        return masked

    def _waiting_json(self, w: Waiting) -> dict[str, Any]:
        hours = (self.now - w.review_since).total_seconds() / 3600 if self.now else None
        return {
            "number": w.number,
            "category": w.category,
            "model": w.model,
            "version": w.version,
            "review_since": w.review_since.isoformat(),
            "waiting_hours": None if hours is None else round(hours, 1),
            "nudges": w.nudges,
        }


def _pts(cur: dict[str, Any], prev: dict[str, Any]) -> float | None:
    if cur["rate"] is None or prev["rate"] is None:
        return None
    return (float(cur["rate"]) - float(prev["rate"])) * 100.0


def _diff(cur: float | None, prev: float | None) -> float | None:
    if cur is None or prev is None:
        return None
    return cur - prev


def by_cycle(g: GroupFigures, top: int | None = None) -> list[dict[str, Any]]:
    """Cumulative completion after at most c feedback cycles, c = 0 … max(1, largest cycles)."""
    last = max(1, g.max_version - 1) if top is None else top
    out = []
    for c in range(last + 1):
        k = sum(n for v, n in g.accepted_at.items() if v <= c + 1)
        out.append({"cycles": c, **rate(k, g.decided)})
    return out


def median_cycles(g: GroupFigures) -> float | None:
    """Median feedback cycles of the accepted projects, from the accepted-version histogram."""
    n = sum(g.accepted_at.values())
    if n == 0:
        return None
    ordered = sorted(g.accepted_at.items())

    def nth(i: int) -> int:  # the i-th smallest (0-based) accepted version's cycles
        seen = 0
        for version, count in ordered:
            seen += count
            if i < seen:
                return version - 1
        raise IndexError(i)

    if n % 2:
        return float(nth(n // 2))
    return (nth(n // 2 - 1) + nth(n // 2)) / 2


def mean_cycles(g: GroupFigures) -> float | None:
    n = sum(g.accepted_at.values())
    if n == 0:
        return None
    return sum((v - 1) * c for v, c in g.accepted_at.items()) / n


def minutes(g: GroupFigures) -> dict[str, int]:
    return {"stated": g.stated_minutes, "estimated": g.estimated_minutes}


def group_json(g: GroupFigures) -> dict[str, Any]:
    return {
        "name": g.name,
        "decided": g.decided,
        "accepted": g.accepted,
        "agent_alone": rate(g.agent_alone, g.decided),
        "with_feedback": rate(g.accepted, g.decided),
        "by_cycle": by_cycle(g),
        "expert_minutes": minutes(g),
        "cost_usd": round(g.cost_usd, 6),
        "tokens": {"input": g.input_tokens, "output": g.output_tokens, "cached": g.cached_tokens},
        "median_cycles_to_accept": median_cycles(g),
    }


@dataclass
class _Rest:
    """What the digest's second lane reads (`read_report`)."""

    figs: Figures
    experts: list[ExpertFigures] = field(default_factory=list)
    opened: int = 0
    previous: Headline | None = None
    waiting: list[Waiting] = field(default_factory=list)
    waiting_total: int = 0
    taps: dict[str, int] = field(default_factory=dict)
    reasons: dict[str | None, int] = field(default_factory=dict)
    orchestrated: dict[str, Any] = field(default_factory=dict)


async def build_report(
    db: Database, period: Period, *, now: datetime | None = None, compare: bool = True, waiting_limit: int = 10
) -> DigestReport:
    """Run the digest's aggregate queries for `period` on `db` (see `read_report`), through the reader
    `storage.metrics_read.reader_for` picks for it."""
    async with reader_for(db) as reader:
        return await read_report(reader, period, now=now, compare=compare, waiting_limit=waiting_limit)


async def read_report(
    reader: Reader, period: Period, *, now: datetime | None = None, compare: bool = True, waiting_limit: int = 10
) -> DigestReport:
    """Run the digest's aggregate queries for `period` through `reader` (one read transaction).

    The statements fall in two lanes of about equal time: what is counted per project (the decided
    projects' groups, medians, tokens and cost) and what is counted per person or event (feedback
    per author, minutes, the previous period, waiting, taps, reasons, the orchestrator). A reader
    that has lanes (storage/metrics_read.py `lanes`: two connections on one snapshot) runs them at
    once, which halves a year's digest on two cores; any other runs them in turn.

    `now` is the caller's clock; ages are measured to it (capped at the period's end,
    Period.measured_at). Without it, the moment a `Period.last_days` period was cut at.
    """
    since, until = period.start, period.end

    async def per_project(r: Reader) -> tuple[Figures, tuple[float | None, float | None]]:
        figs = await metrics.figures(session=r, since=since, until=until, states=STORED, usage=False, minutes=False)
        times = await metrics.medians(session=r, since=since, until=until, states=STORED, overall=figs["all"]["all"])
        await metrics.spending(session=r, since=since, until=until, states=STORED, out=figs)
        return figs, times

    async def per_person(r: Reader) -> _Rest:
        rest = _Rest(metrics.empty())
        rest.experts = await metrics.feedback_in_period(session=r, since=since, until=until, out=rest.figs)
        await metrics.decided_minutes(session=r, since=since, until=until, states=STORED, out=rest.figs)
        rest.opened = await metrics.opened(session=r, since=since, until=until)
        if compare:
            prev = period.previous()
            prev_figs = await metrics.figures(session=r, since=prev.start, until=prev.end, states=STORED, usage=False)
            rest.previous = Headline.of(prev_figs["all"]["all"])
        rest.waiting, rest.waiting_total = await metrics.waiting(session=r, states=STORED, limit=waiting_limit)
        rest.taps = await metrics.signal_counts(session=r, since=since, until=until)
        rest.reasons = await metrics.reasons_given(session=r, since=since, until=until, outcome=Outcome.REJECT.value)
        rest.orchestrated = await orchestrator_section(reader=r, since=since, until=until)
        return rest

    async with lanes(reader) as readers:
        if len(readers) > 1:
            try:
                async with asyncio.TaskGroup() as group:  # a lane that fails cancels the other
                    first = group.create_task(per_project(readers[0]))
                    second = group.create_task(per_person(readers[1]))
            except BaseExceptionGroup as failed:
                # As one reader would raise it: callers tell a lost database from other errors by type.
                raise failed.exceptions[0] from None
            (figs, (first_draft, accept)), rest = first.result(), second.result()
        else:
            figs, (first_draft, accept) = await per_project(reader)
            rest = await per_person(reader)
        for r in readers:  # SQLite's statistics are kept for the tables each connection read
            await metrics.refresh_statistics(session=r)
    metrics.merge(figs, rest.figs)
    at = period.measured_at(now)
    waiting, waiting_total = _waiting_at(at, rest.waiting, rest.waiting_total)
    return DigestReport(
        period=period,
        opened=rest.opened,
        overall=figs["all"]["all"],
        by_category=_ordered(figs["category"]),
        by_model=_ordered(figs["model"]),
        by_expert=rest.experts,
        median_first_draft_seconds=first_draft,
        median_accept_seconds=accept,
        previous=rest.previous,
        waiting=waiting,
        waiting_total=waiting_total,
        now=at,
        signals=rest.taps,
        reject_reasons=reasons_json(rest.reasons),
        orchestrator=rest.orchestrated,
    )


def reasons_json(counts: dict[str | None, int]) -> dict[str, int]:
    """Every reason as a key, in the order forms offer them, then `unstated`; a stored reason that
    is not (or no longer) offered counts as "other"."""
    out: dict[str, int] = dict.fromkeys(REJECT_REASONS, 0)
    out["unstated"] = 0
    for reason, n in counts.items():
        key = "unstated" if reason is None else (reason if reason in out and reason != "unstated" else "other")
        out[key] += n
    return out


def _waiting_at(at: datetime, waiting: list[Waiting], total: int) -> tuple[list[Waiting], int]:
    """The waiting projects that were already in review at `at` (earlier than now for a past period).

    The list is oldest first, so when one is cut here every later one would be too: the total is
    then exact. (When none of the listed ones is cut, ones beyond the list that entered review
    after `at` may still be counted.)
    """
    kept = [w for w in waiting if w.review_since <= at]
    return (kept, len(kept)) if len(kept) < len(waiting) else (waiting, total)


def _ordered(groups: dict[str, GroupFigures]) -> list[GroupFigures]:
    return sorted(groups.values(), key=lambda g: (-g.decided, g.name))


def render_text(report: DigestReport) -> str:
    """The digest as plain text for a terminal; see bot/report/render.py for the other forms."""
    return digest_render.render_text(report)


def render_chat(report: DigestReport) -> str:
    """The digest as Markdown for a chat message."""
    return digest_render.render_chat(report)
