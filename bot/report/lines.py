"""The digest's lines and tables, read from its JSON object: what every rendering (render.py) shows.

Plain strings from plain data: the headline, the summary lines, the per-group tables, the experts and
the projects waiting for review, and the small number formats they use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from bot.texts import plural

Json = Mapping[str, Any]


# --------------------------------------------------------------------------- small formatters


def pct(rate: Json | None) -> str:
    """`38%`, or `–` when there is nothing to divide; a thin rate (n < 5) gets a `*`."""
    if not rate or rate.get("rate") is None:
        return "–"
    mark = "*" if rate.get("thin") else ""
    return f"{float(rate['rate']) * 100:.0f}%{mark}"


def pct_ci(rate: Json | None) -> str:
    if not rate or rate.get("rate") is None:
        return "–"
    low, high = rate.get("ci_low"), rate.get("ci_high")
    ci = f" [{low * 100:.0f}–{high * 100:.0f}]" if low is not None and high is not None else ""
    return f"{pct(rate)}{ci} ({rate.get('k', 0)}/{rate.get('n', 0)})"


def _pts(delta: float | None) -> str:
    if delta is None:
        return "n/a"
    return f"{delta:+.0f} pts"


def _num(value: float | None, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}{unit}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def _age(hours: float) -> str:
    """How long something has waited: `under a minute`, `12 min`, `18 h`, `3.5 d`."""
    minutes = hours * 60
    if minutes < 1:
        return "under a minute"
    if minutes < 90:
        return f"{minutes:.0f} min"
    if hours < 48:
        return f"{hours:.0f} h"
    return f"{hours / 24:.1f} d"


def _tokens(n: float | None) -> str:
    if n is None:
        return "–"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return f"{n:.0f}"


def _minutes(em: Json | None) -> float:
    if not em:
        return 0.0
    return float(em.get("stated", 0) or 0) + float(em.get("estimated", 0) or 0)


# --------------------------------------------------------------------------- the pieces


def days_shown(data: Json, *, arrow: str = " → ") -> str:
    """The period as people read it: first and last *included* day (`until` is exclusive), and the zone.

    `2026-11-16 → 2026-11-22 (Europe/Berlin)` for the JSON period {since 2026-11-16, until 2026-11-23};
    one day shows once. A period that is not two ISO dates is shown as given.
    """
    period = data.get("period") or {}
    since, until, tz = str(period.get("since", "?")), str(period.get("until", "?")), period.get("tz", "UTC")
    try:
        first, last = date.fromisoformat(since), date.fromisoformat(until) - timedelta(days=1)
    except (ValueError, OverflowError):
        return f"{since}{arrow}{until} ({tz})"
    if last <= first:
        return f"{first.isoformat()} ({tz})"
    return f"{first.isoformat()}{arrow}{last.isoformat()} ({tz})"


def title(data: Json) -> str:
    return f"draftloop digest {days_shown(data)}"


def headline(data: Json) -> str:
    """The one line a manager reads: alone vs with feedback, the lift, cycles and expert minutes.

    "Agents finished 38% alone; with expert feedback 81% (+43 pts), 1.7 cycles, 14 expert-min per project"
    """
    if not data.get("decided"):
        return f"No project was decided in this period ({data.get('opened', 0)} opened)."
    alone = data.get("agent_alone") or {}
    withf = data.get("with_feedback") or {}
    lift = ""
    if alone.get("rate") is not None and withf.get("rate") is not None:
        lift = f" ({(float(withf['rate']) - float(alone['rate'])) * 100:+.0f} pts)"
    parts = [f"Agents finished {pct(alone)} alone; with expert feedback {pct(withf)}{lift}"]
    cycles = data.get("mean_cycles_to_accept")
    if cycles is None:
        cycles = data.get("median_cycles_to_accept")
    if cycles is not None:
        parts.append(f"{float(cycles):.1f} cycles")
    per_project = data.get("expert_minutes_per_project")
    if per_project is not None:
        parts.append(f"{float(per_project):.0f} expert-min per project")
    return ", ".join(parts)


def summary_lines(data: Json) -> list[str]:
    opened, decided, accepted = data.get("opened", 0), data.get("decided", 0), data.get("accepted", 0)
    lines = [f"{opened} opened · {decided} decided · {accepted} accepted"]
    reactions = reactions_line(data)
    if reactions:
        lines.append(reactions)
    change = data.get("change") or {}
    if change:
        bits = [
            f"alone {_pts(change.get('agent_alone_pts'))}",
            f"with feedback {_pts(change.get('with_feedback_pts'))}",
        ]
        if change.get("cycles") is not None:
            bits.append(f"cycles {change['cycles']:+.1f}")
        if change.get("expert_minutes_per_project") is not None:
            bits.append(f"expert-min {change['expert_minutes_per_project']:+.0f}")
        lines.append("vs previous period: " + ", ".join(bits))
    by_cycle = data.get("by_cycle") or []
    if by_cycle and data.get("decided"):
        lines.append("Completion by cycle: " + " · ".join(f"{e['cycles']}: {pct(e)}" for e in by_cycle))
    medians = data.get("medians") or {}
    em = data.get("expert_minutes") or {}
    facts = []
    if medians:
        facts.append(
            f"median to first draft {_duration(medians.get('first_draft_seconds'))}, "
            f"to acceptance {_duration(medians.get('accept_seconds'))}"
        )
    facts.append(f"expert minutes {em.get('stated', 0)} stated + {em.get('estimated', 0)} estimated")
    per = data.get("per_accepted") or {}
    if per:
        tokens, cost = _tokens(per.get("tokens")), _num(per.get("cost_usd"), digits=2)
        facts.append(f"per accepted project {tokens} tokens, ${cost}")
    else:
        facts.append(f"cost ${float(data.get('cost_usd', 0.0) or 0.0):.2f}")
    lines.append("; ".join(facts).capitalize() + ".")
    return lines


def reactions_line(data: Json) -> str:
    """One-tap feedback and the reasons given for rejects, when there were any:
    "Feedback buttons 👍 5 · 👎 2 on 3 projects; rejected for tone 2, format 1, no reason given 1"."""
    parts = []
    signals = data.get("signals") or {}
    up, down = int(signals.get("up") or 0), int(signals.get("down") or 0)
    if up or down:
        on = int(signals.get("projects") or 0)
        parts.append(f"Feedback buttons 👍 {up} · 👎 {down} on {on} project{'' if on == 1 else 's'}")
    reasons = {k: int(v) for k, v in (data.get("reject_reasons") or {}).items() if v}
    if reasons:
        named = [f"{'no reason given' if k == 'unstated' else k} {n}" for k, n in reasons.items()]
        parts.append(("rejected for " if parts else "Rejected for ") + ", ".join(named))
    return "; ".join(parts)


def group_rows(groups: Sequence[Json], limit: int = 8, label: str = "") -> list[list[str]]:
    rows = [[label, "n", "alone", "feedback", "lift", "cyc1", "exp-min", "cost"]]
    ranked = sorted(groups, key=lambda g: (-int(g.get("decided", 0) or 0), str(g.get("name", ""))))
    for group in ranked[:limit]:
        alone, withf = group.get("agent_alone") or {}, group.get("with_feedback") or {}
        lift = "–"
        if alone.get("rate") is not None and withf.get("rate") is not None:
            lift = f"{(float(withf['rate']) - float(alone['rate'])) * 100:+.0f}"
        cycle1 = next((e for e in group.get("by_cycle", []) or [] if e.get("cycles") == 1), None)
        rows.append(
            [
                str(group.get("name", "") or "?")[:18],
                str(group.get("decided", 0)),
                pct(alone),
                pct(withf),
                lift,
                pct(cycle1),
                f"{_minutes(group.get('expert_minutes')):.0f}",
                f"${float(group.get('cost_usd', 0.0) or 0.0):.2f}",
            ]
        )
    if len(ranked) > limit:
        rows.append([f"+{len(ranked) - limit} more", "", "", "", "", "", "", ""])
    return rows


def text_table(rows: list[list[str]]) -> str:
    """Columns aligned: the first to the left, the others to the right, a thin mark (`25%*`) hanging
    past the figures so that the figures line up."""
    rows = [list(row) for row in rows]
    for i in range(1, len(rows[0])):
        if any(row[i].endswith("*") for row in rows[1:]):
            for row in rows:
                row[i] = row[i] if row[i].endswith("*") else f"{row[i]} "
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def expert_lines(data: Json, limit: int = 8) -> list[str]:
    experts = sorted(
        data.get("by_expert") or [], key=lambda e: (-_minutes(e.get("expert_minutes")), str(e.get("name")))
    )
    lines = []
    for expert in experts[:limit]:
        em = expert.get("expert_minutes") or {}
        feedback = plural(int(expert.get("feedback", 0) or 0), "feedback point")
        projects = plural(int(expert.get("projects", 0) or 0), "project")
        lines.append(
            f"{expert.get('name', '?')}: {feedback} on {projects}, "
            f"{em.get('stated', 0)} min stated + {em.get('estimated', 0)} min estimated"
        )
    if len(experts) > limit:
        lines.append(f"… and {len(experts) - limit} more")
    return lines


def waiting_lines(data: Json, limit: int = 10) -> list[str]:
    waiting = list(data.get("waiting") or [])
    lines = []
    for item in waiting[:limit]:
        hours = item.get("waiting_hours")
        since = _age(float(hours)) if hours is not None else "?"
        lines.append(f"#{item.get('number')} {item.get('category', '')} v{item.get('version', '?')}, waiting {since}")
    total = data.get("waiting_total", len(waiting))
    if total > min(len(waiting), limit):
        lines.append(f"… and {total - min(len(waiting), limit)} more")
    return lines
