"""The digest's orchestrator section: per category, what routing chose and how it fared, the two
review paths, the checks before experts (and how often a flagged gap came back in expert feedback),
escalations and timeouts. Its JSON keys are documented beside the digest's contract.

Kept with the report (it was bot/orchestrator/section.py) so `draftloop digest` imports neither the
orchestrator nor its tables: the figures come from storage/metrics.py's SQL.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.states import STORED
from bot.stats import rate
from storage import metrics
from storage.metrics_read import Reader

# The quality check's verdicts (bot/orchestrator/qc.py PASSED, REVISED, FLAGGED; a test holds them equal).
VERDICTS = ("passed", "revised", "flagged")
TIMEOUT_ACTIONS = ("expire", "accept", "reject")
_QUOTED = re.compile(r"“([^”]+)”")
# What an expert would say about a gap of each kind, when the gap names nothing in quotes.
_KIND_WORDS = {
    "length": ("word", "length", "long", "short"),
    "items": ("item", "more", "list"),
    "format": ("table", "code", "list", "json", "format"),
    "language": ("language", "english", "german", "french", "spanish", "italian", "portuguese", "dutch"),
}


def reappeared(gaps: list[str], feedback: list[str]) -> bool:
    """Whether the expert feedback on a flagged version took up one of its gaps again."""
    said = " ".join(feedback).lower()
    if not said:
        return False
    for gap in gaps:
        named = _QUOTED.search(gap)
        if named and named.group(1).lower() in said:
            return True
        kind = gap.split(":", 1)[0]
        if not named and any(word in said for word in _KIND_WORDS.get(kind, ())):
            return True
    return False


async def orchestrator_section(*, reader: Reader, since: datetime, until: datetime) -> dict[str, Any]:
    """`{category: {"routing", "review", "qc", "escalations", "timeouts", "picks", "reviews_asked"}}`
    for [since, until). `picks`: per agent, the comparisons picked in the period it took part in
    (`compared`) and won (`picked`); `reviews_asked`: projects marked likely fine whose experts
    someone asked (`review`)."""
    figures = await metrics.period_figures(
        session=reader, since=since, until=until, decided=STORED.decided, accepted=STORED.accepted
    )
    flagged = await metrics.flagged_with_feedback(session=reader, since=since, until=until)
    out: dict[str, Any] = {}
    for category, f in sorted(figures.items()):
        qc = {verdict: f.qc.get(verdict, 0) for verdict in VERDICTS}
        shown = [(gaps, said) for cat, gaps, said in flagged if cat == category]
        qc["flagged_shown"] = len(shown)
        qc["gap_reappeared"] = sum(1 for gaps, said in shown if reappeared(gaps, said))
        out[category] = {
            "routing": {agent: _tally(n) for agent, n in sorted(f.routed.items())},
            "review": {path: _tally(n) for path, n in sorted(f.review.items())},
            "qc": qc,
            "escalations": f.escalations,
            "timeouts": {action: f.timeouts.get(action, 0) for action in TIMEOUT_ACTIONS},
            "picks": {agent: dict(n) for agent, n in sorted(f.picks.items())},
            "reviews_asked": f.reviews_asked,
        }
    return out


def _tally(n: dict[str, int]) -> dict[str, Any]:
    """Storage's counts with `won` said as the digest says it, and the acceptance rate."""
    out: dict[str, Any] = {k: v for k, v in n.items() if k != "won"}
    out["accepted"] = n["won"]
    out["acceptance"] = rate(n["won"], n["decided"])
    return out
