"""One digest, four renderings: Markdown text (console, CLI, chat), Slack Block Kit, Discord embed, JSON.

Every renderer reads the digest's JSON object (the fixed contract in DESIGN.md, plus the extra keys
`bot/report/digest.py` adds: `change`, `medians`, `per_accepted`, `expert_minutes_per_project`, `waiting`),
so all four show the same figures. Slack and Discord shapes are plain dicts; this module imports no
SDK. Order, top to bottom: the headline, per-category and per-model tables, the experts, then the
projects waiting for review. Short enough to read in a minute.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bot import redact

Json = Mapping[str, Any]


class HasJson(Protocol):
    def to_json(self) -> dict[str, Any]: ...


def as_json(report: HasJson | Json) -> Json:
    """The report's JSON object, every string masked by the process's redaction (bot/redact.py)."""
    data = report if isinstance(report, Mapping) else report.to_json()
    masked: Json = redact.active().json(data)
    return masked


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


def title(data: Json) -> str:
    period = data.get("period") or {}
    since, until, tz = period.get("since", "?"), period.get("until", "?"), period.get("tz", "UTC")
    return f"draftloop digest {since} → {until} ({tz})"


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


def _group_rows(groups: Sequence[Json], limit: int = 8, label: str = "") -> list[list[str]]:
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


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def _expert_lines(data: Json, limit: int = 8) -> list[str]:
    experts = sorted(
        data.get("by_expert") or [], key=lambda e: (-_minutes(e.get("expert_minutes")), str(e.get("name")))
    )
    lines = []
    for expert in experts[:limit]:
        em = expert.get("expert_minutes") or {}
        lines.append(
            f"{expert.get('name', '?')}: {expert.get('feedback', 0)} feedback on {expert.get('projects', 0)} "
            f"projects, {em.get('stated', 0)} min stated + {em.get('estimated', 0)} min estimated"
        )
    if len(experts) > limit:
        lines.append(f"… and {len(experts) - limit} more")
    return lines


def _waiting_lines(data: Json, limit: int = 10) -> list[str]:
    waiting = list(data.get("waiting") or [])
    lines = []
    for item in waiting[:limit]:
        hours = item.get("waiting_hours")
        since = f"{float(hours):.0f} h" if hours is not None else "?"
        lines.append(f"#{item.get('number')} {item.get('category', '')} v{item.get('version', '?')}, waiting {since}")
    total = data.get("waiting_total", len(waiting))
    if total > min(len(waiting), limit):
        lines.append(f"… and {total - min(len(waiting), limit)} more")
    return lines


# --------------------------------------------------------------------------- renderers


def render_text(report: HasJson | Json) -> str:
    """Markdown text for the console, the CLI and plain chat messages."""
    data = as_json(report)
    out = [f"**{title(data)}**", headline(data), *summary_lines(data)]
    if data.get("by_category"):
        out += ["", "**By category**", "```", _table(_group_rows(data["by_category"], label="category")), "```"]
    if data.get("by_model"):
        out += ["**By model**", "```", _table(_group_rows(data["by_model"], label="model")), "```"]
    experts = _expert_lines(data)
    if experts:
        out += ["**Experts**", *(f"- {line}" for line in experts)]
    waiting = _waiting_lines(data)
    if waiting:
        out += ["**Waiting for review**", *(f"- {line}" for line in waiting)]
    if any((g.get("agent_alone") or {}).get("thin") for g in [*data.get("by_category", []), *data.get("by_model", [])]):
        out.append("_* fewer than 5 decided projects: read with care. Rates are over decided projects._")
    return "\n".join(out).strip() + "\n"


def _mrkdwn(section: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": section[:3000]}}


def render_slack(report: HasJson | Json) -> list[dict[str, Any]]:
    """Slack Block Kit blocks (plain dicts). Each text stays under Slack's 3000-character section limit."""
    data = as_json(report)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(data)[:150]}},
        _mrkdwn(f"*{headline(data)}*"),
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": line[:300]} for line in summary_lines(data)][:10],
        },
    ]
    for key, label in (("by_category", "By category"), ("by_model", "By model")):
        if data.get(key):
            table = _table(_group_rows(data[key], label=key[3:]))
            blocks.append(_mrkdwn(f"*{label}*\n```{table}```"))
    experts = _expert_lines(data)
    if experts:
        blocks.append({"type": "divider"})
        blocks.append(_mrkdwn("*Experts*\n" + "\n".join(f"• {line}" for line in experts)))
    waiting = _waiting_lines(data)
    if waiting:
        blocks.append(_mrkdwn("*Waiting for review*\n" + "\n".join(f"• {line}" for line in waiting)))
    return blocks


def render_discord(report: HasJson | Json, *, image: str | None = None) -> dict[str, Any]:
    """A Discord embed as a plain dict (`discord.Embed.from_dict` accepts it); `image` e.g. attachment://digest.png."""
    data = as_json(report)
    description = "\n".join([f"**{headline(data)}**", *summary_lines(data)])
    fields: list[dict[str, Any]] = []
    for key, label in (("by_category", "By category"), ("by_model", "By model")):
        if data.get(key):
            table = _table(_group_rows(data[key], label=key[3:]))[:1000]
            fields.append({"name": label, "value": f"```{table}```", "inline": False})
    experts = _expert_lines(data, limit=6)
    if experts:
        fields.append({"name": "Experts", "value": "\n".join(experts)[:1024], "inline": False})
    waiting = _waiting_lines(data, limit=8)
    if waiting:
        fields.append({"name": "Waiting for review", "value": "\n".join(waiting)[:1024], "inline": False})
    embed: dict[str, Any] = {
        "title": title(data)[:256],
        "description": description[:4096],
        "color": 0x2F7ED8,
        "fields": fields[:25],
        "footer": {"text": "* fewer than 5 decided projects. Rates are over decided projects."},
    }
    if image:
        embed["image"] = {"url": image}
    return embed


def render_json(report: HasJson | Json, *, indent: int | None = None) -> str:
    """The digest JSON contract as one object (DESIGN.md "Digest JSON")."""
    return json.dumps(as_json(report), indent=indent, ensure_ascii=False, sort_keys=False)
