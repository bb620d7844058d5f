"""One digest, five renderings: plain text (a terminal), Markdown (a chat message), Slack Block Kit,
a Discord embed, JSON.

Every renderer reads the digest's JSON object (the fixed contract in docs/digest.md, plus the extra keys
`bot/report/digest.py` adds: `change`, `medians`, `per_accepted`, `expert_minutes_per_project`, `waiting`),
so all of them show the same figures, built from the same lines and tables (bot/report/lines.py). Slack
and Discord shapes are plain dicts; this module imports no SDK. Order, top to bottom: the headline,
per-category and per-model tables, the experts, then the projects waiting for review. Short enough
to read in a minute.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from bot import redact
from bot.report.lines import Json, expert_lines, group_rows, headline, summary_lines, text_table, title, waiting_lines


class HasJson(Protocol):
    def to_json(self) -> dict[str, Any]: ...


def as_json(report: HasJson | Json) -> Json:
    """The report's JSON object, every string masked by the process's redaction (bot/redact.py)."""
    data = report if isinstance(report, Mapping) else report.to_json()
    masked: Json = redact.active().json(data)
    return masked


# --------------------------------------------------------------------------- renderers


THIN_NOTE = "* fewer than 5 decided projects: read with care. Rates are over decided projects."
INDENT = "  "


def render_text(report: HasJson | Json) -> str:
    """Plain text for a terminal (the CLI, the console): no markup, sections under plain headings,
    their lines and tables indented and aligned."""
    data = as_json(report)
    out = [title(data), headline(data), *summary_lines(data)]
    for key, label in (("by_category", "By category"), ("by_model", "By model")):
        if data.get(key):
            table = text_table(group_rows(data[key], label=key[3:]))
            out += ["", label, *(INDENT + line for line in table.splitlines())]
    for label, lines in (("Experts", expert_lines(data)), ("Waiting for review", waiting_lines(data))):
        if lines:
            out += ["", label, *(INDENT + line for line in lines)]
    if _thin(data):
        out += ["", THIN_NOTE]
    return "\n".join(out).strip() + "\n"


def render_chat(report: HasJson | Json) -> str:
    """Markdown for a chat message (bold headings, tables in code blocks): the text of the digest a
    platform posts, and its fallback where it renders the digest richly (Slack blocks, Discord embed)."""
    data = as_json(report)
    out = [f"**{title(data)}**", headline(data), *summary_lines(data)]
    if data.get("by_category"):
        out += ["", "**By category**", "```", text_table(group_rows(data["by_category"], label="category")), "```"]
    if data.get("by_model"):
        out += ["**By model**", "```", text_table(group_rows(data["by_model"], label="model")), "```"]
    experts = expert_lines(data)
    if experts:
        out += ["**Experts**", *(f"- {line}" for line in experts)]
    waiting = waiting_lines(data)
    if waiting:
        out += ["**Waiting for review**", *(f"- {line}" for line in waiting)]
    if _thin(data):
        out.append(f"_{THIN_NOTE}_")
    return "\n".join(out).strip() + "\n"


def _thin(data: Json) -> bool:
    groups = [*data.get("by_category", []), *data.get("by_model", [])]
    return any((g.get("agent_alone") or {}).get("thin") for g in groups)


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
            table = text_table(group_rows(data[key], label=key[3:]))
            blocks.append(_mrkdwn(f"*{label}*\n```{table}```"))
    experts = expert_lines(data)
    if experts:
        blocks.append({"type": "divider"})
        blocks.append(_mrkdwn("*Experts*\n" + "\n".join(f"• {line}" for line in experts)))
    waiting = waiting_lines(data)
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
            table = text_table(group_rows(data[key], label=key[3:]))[:1000]
            fields.append({"name": label, "value": f"```{table}```", "inline": False})
    experts = expert_lines(data, limit=6)
    if experts:
        fields.append({"name": "Experts", "value": "\n".join(experts)[:1024], "inline": False})
    waiting = waiting_lines(data, limit=8)
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
    """The digest JSON contract as one object (docs/digest.md)."""
    return json.dumps(as_json(report), indent=indent, ensure_ascii=False, sort_keys=False)
