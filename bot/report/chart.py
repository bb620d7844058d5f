"""The digest chart: completion after k feedback cycles, and agent-alone vs with-feedback bars.

Input is the digest's JSON contract (`DigestReport.to_json()`, see docs/digest.md), so the
chart depends on nothing but that fixed shape. matplotlib is used through its object API with the
Agg canvas (no pyplot, no global state, no display): safe in a worker thread and headless.

The output is PNG bytes of exactly `width` x `height` pixels. matplotlib is imported on first use.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from bot.report.lines import days_shown

CHART_WIDTH = 1200
CHART_HEIGHT = 600
_DPI = 100
_MAX_SERIES = 8  # more lines than this is unreadable; the largest groups are kept

_ALONE = "#9aa5b1"
_WITH = "#2f7ed8"


def chart_title(data: Mapping[str, Any]) -> str:
    """`draftloop digest 2026-11-16 to 2026-11-22 (UTC)`: the first and last day the period includes."""
    return f"draftloop digest {days_shown(data, arrow=' to ')}"


def _pct(rate: Mapping[str, Any] | None) -> float | None:
    if not rate or rate.get("rate") is None:
        return None
    return float(rate["rate"]) * 100.0


def _series(groups: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    ranked = sorted(groups, key=lambda g: (-int(g.get("decided", 0) or 0), str(g.get("name", ""))))
    return [g for g in ranked if int(g.get("decided", 0) or 0) > 0][:_MAX_SERIES]


def chart_png(
    data: Mapping[str, Any],
    *,
    by: Literal["category", "model"] = "category",
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
) -> bytes:
    """Render the digest chart for `data` (the digest JSON object) as PNG bytes."""
    # imported here: matplotlib costs ~0.5 s to import, and most commands never draw
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = _series(list(data.get(f"by_{by}", []) or []))
    fig = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})

    # Left: cumulative completion after k cycles, one line per group plus the whole team.
    max_k = 1
    overall = list(data.get("by_cycle", []) or [])
    for entry in overall:
        max_k = max(max_k, int(entry.get("cycles", 0)))
    for group in groups:
        for entry in group.get("by_cycle", []) or []:
            max_k = max(max_k, int(entry.get("cycles", 0)))
    for group in groups:
        points = [(int(e["cycles"]), _pct(e)) for e in group.get("by_cycle", []) or []]
        xs = [k for k, v in points if v is not None]
        ys = [v for _, v in points if v is not None]
        if xs:
            thin = int(group.get("decided", 0) or 0) < 5
            left.plot(
                xs,
                ys,
                marker="o",
                linewidth=1.6,
                linestyle=":" if thin else "-",
                label=f"{group.get('name', '?')} (n={group.get('decided', 0)})",
            )
    team = [(int(e["cycles"]), _pct(e)) for e in overall]
    team_xs = [k for k, v in team if v is not None]
    team_ys = [v for _, v in team if v is not None]
    if team_xs:
        left.plot(team_xs, team_ys, color="black", linewidth=2.6, label=f"all (n={data.get('decided', 0)})")
    left.set_xlim(-0.2, max_k + 0.2)
    left.set_xticks(range(max_k + 1))
    left.set_ylim(0, 100)
    left.set_xlabel("feedback cycles")
    left.set_ylabel("accepted (% of decided, cumulative)")
    left.set_title(f"Completion after k cycles, by {by}")
    left.grid(True, alpha=0.3)
    if team_xs or groups:
        left.legend(fontsize=8, loc="lower right")
    else:
        left.text(0.5, 0.5, "no decided projects", ha="center", va="center", transform=left.transAxes)

    # Right: agent alone vs with feedback, per group (plus "all" first).
    names = ["all"] + [str(g.get("name", "?")) for g in groups]
    alone = [_pct(data.get("agent_alone"))] + [_pct(g.get("agent_alone")) for g in groups]
    withf = [_pct(data.get("with_feedback"))] + [_pct(g.get("with_feedback")) for g in groups]
    ys_pos = list(range(len(names)))
    bar = 0.38
    right.barh(
        [y - bar / 2 for y in ys_pos],
        [v or 0.0 for v in alone],
        height=bar,
        color=_ALONE,
        label="agent alone",
    )
    right.barh(
        [y + bar / 2 for y in ys_pos],
        [v or 0.0 for v in withf],
        height=bar,
        color=_WITH,
        label="with feedback",
    )
    for y, a, w in zip(ys_pos, alone, withf, strict=True):
        if a is not None:
            right.text(a + 1, y - bar / 2, f"{a:.0f}%", va="center", fontsize=7)
        if w is not None:
            right.text(w + 1, y + bar / 2, f"{w:.0f}%", va="center", fontsize=7)
    right.set_yticks(ys_pos)
    right.set_yticklabels(names, fontsize=8)
    right.invert_yaxis()
    right.set_xlim(0, 110)
    right.set_title("Accepted: agent alone vs with feedback (%)")
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, frameon=False)
    right.grid(True, axis="x", alpha=0.3)

    if data.get("period"):
        fig.suptitle(chart_title(data), fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()
