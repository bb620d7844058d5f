"""The digest: aggregate queries → one report object → the JSON contract (DESIGN.md) or text.

Rates follow DESIGN.md: agent alone = accepted at v1 with no feedback, over decided; with feedback
= accepted at any version, over decided; by_cycle[c] = accepted by version c+1, over decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.stats import median, rate
from storage import metrics
from storage.engine import Database
from storage.metrics import ExpertFigures, GroupFigures


@dataclass(frozen=True)
class Period:
    since: date
    until: date
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until, time(0), tzinfo=self.tz).astimezone(UTC)

    @classmethod
    def last_days(cls, days: int, *, now: datetime, tz: ZoneInfo) -> Period:
        """The `days` whole local days up to and including today."""
        today = now.astimezone(tz).date()
        return cls(today - timedelta(days=days - 1), today + timedelta(days=1), tz)


@dataclass
class DigestReport:
    period: Period
    opened: int
    overall: GroupFigures
    by_category: list[GroupFigures] = field(default_factory=list)
    by_model: list[GroupFigures] = field(default_factory=list)
    by_expert: list[ExpertFigures] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        g = self.overall
        return {
            "period": {
                "since": self.period.since.isoformat(),
                "until": self.period.until.isoformat(),
                "tz": self.period.tz.key,
            },
            "opened": self.opened,
            "decided": g.decided,
            "accepted": g.accepted,
            "agent_alone": rate(g.agent_alone, g.decided),
            "with_feedback": rate(g.accepted, g.decided),
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
        }


def by_cycle(g: GroupFigures) -> list[dict[str, Any]]:
    top = max(1, g.max_version - 1)
    out = []
    for c in range(top + 1):
        k = sum(n for v, n in g.accepted_at.items() if v <= c + 1)
        out.append({"cycles": c, **rate(k, g.decided)})
    return out


def median_cycles(g: GroupFigures) -> float | None:
    values = [float(v - 1) for v, n in sorted(g.accepted_at.items()) for _ in range(n)]
    return median(values)


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
    }


async def build_report(db: Database, period: Period) -> DigestReport:
    since, until = period.start, period.end
    async with db.session() as session:
        opened = await metrics.opened(session=session, since=since, until=until)
        overall = (await metrics.groups(session=session, since=since, until=until, dimension="all")).get(
            "all", GroupFigures("all")
        )
        cats = await metrics.groups(session=session, since=since, until=until, dimension="category")
        models = await metrics.groups(session=session, since=since, until=until, dimension="model")
        experts = await metrics.experts(session=session, since=since, until=until)
    return DigestReport(period, opened, overall, _ordered(cats), _ordered(models), experts)


def _ordered(groups: dict[str, GroupFigures]) -> list[GroupFigures]:
    return sorted(groups.values(), key=lambda g: (-g.decided, g.name))


def _pct(r: dict[str, Any]) -> str:
    if r["rate"] is None:
        return "—"
    thin = " (thin)" if r["thin"] else ""
    return f"{r['rate'] * 100:.0f}% of {r['n']}{thin}"


def render_text(report: DigestReport) -> str:
    data = report.to_json()
    p = data["period"]
    lines = [
        f"draftloop digest {p['since']} → {p['until']} ({p['tz']})",
        f"Opened {data['opened']}, decided {data['decided']}, accepted {data['accepted']}.",
        f"Agent alone: {_pct(data['agent_alone'])}. With expert feedback: {_pct(data['with_feedback'])}.",
        "After k cycles: " + ", ".join(f"{c['cycles']}: {_pct(c)}" for c in data["by_cycle"]),
        f"Expert minutes: {data['expert_minutes']['stated']} stated, {data['expert_minutes']['estimated']} estimated.",
        f"Tokens: {data['tokens']['input']} in, {data['tokens']['output']} out; cost ${data['cost_usd']:.4f}.",
    ]
    for title, key in (("By category", "by_category"), ("By model", "by_model")):
        if data[key]:
            lines.append(f"{title}:")
            for g in data[key]:
                lines.append(f"  {g['name']}: alone {_pct(g['agent_alone'])}, with feedback {_pct(g['with_feedback'])}")
    if data["by_expert"]:
        lines.append("Experts:")
        for e in data["by_expert"]:
            m = e["expert_minutes"]
            lines.append(
                f"  {e['name']}: {e['feedback']} replies on {e['projects']} projects, "
                f"{m['stated']} min stated, {m['estimated']} min estimated"
            )
    return "\n".join(lines)
