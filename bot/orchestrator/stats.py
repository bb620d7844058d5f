"""Routing's numbers: each candidate's record, the Wilson lower bound, Thompson sampling.

The policy: a request goes to the candidate whose Beta(1 + accepted, 1 + rejected) draw is highest
(Thompson sampling), so a new or rarely used candidate is still tried, about as often as it could
be the best, and a clearly worse one almost never. The leader shown and explained is the candidate
with the highest 95% Wilson lower bound on its acceptance rate; lower bounds within TIE of the best
are a tie, settled by the lower cost per accepted project (then by the config's order). Draws
within TIE of each other are settled the same way.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from bot.stats import wilson

TIE = 0.02


@dataclass(frozen=True)
class Candidate:
    """One candidate agent's decided history in a category."""

    agent: str
    decided: int = 0
    accepted: int = 0
    cost_usd: float = 0.0

    @property
    def rate(self) -> float | None:
        return self.accepted / self.decided if self.decided else None

    @property
    def lower_bound(self) -> float | None:
        return wilson(self.accepted, self.decided)[0]

    @property
    def cost_per_accepted(self) -> float | None:
        return self.cost_usd / self.accepted if self.accepted else None

    def to_json(self) -> dict[str, object]:
        per, rate, low = self.cost_per_accepted, self.rate, self.lower_bound
        return {
            "agent": self.agent,
            "decided": self.decided,
            "accepted": self.accepted,
            "rate": None if rate is None else round(rate, 4),
            "lower_bound": None if low is None else round(low, 4),
            "cost_per_accepted_usd": None if per is None else round(per, 6),
        }


def _cheaper(group: Sequence[Candidate], order: Sequence[Candidate]) -> Candidate:
    """The lowest cost per accepted among `group` (unknown costs last), then the config's order."""
    return min(group, key=lambda c: (c.cost_per_accepted is None, c.cost_per_accepted or 0.0, order.index(c)))


def leader(candidates: Sequence[Candidate]) -> tuple[Candidate, bool]:
    """The candidate with the best lower bound, and whether cost settled a tie."""
    if not any(c.decided for c in candidates):
        return candidates[0], False
    best = max(c.lower_bound or 0.0 for c in candidates)
    near = [c for c in candidates if (c.lower_bound or 0.0) >= best - TIE]
    return _cheaper(near, candidates), len(near) > 1


def thompson(candidates: Sequence[Candidate], rng: random.Random) -> Candidate:
    """One Thompson-sampling pick: the highest Beta posterior draw (ties within TIE: cheaper)."""
    draws = [(rng.betavariate(1 + c.accepted, 1 + c.decided - c.accepted), c) for c in candidates]
    top = max(d for d, _ in draws)
    return _cheaper([c for d, c in draws if d >= top - TIE], candidates)


def explore_share(candidates: Sequence[Candidate], top: Candidate, *, draws: int = 2000, seed: int = 0) -> float:
    """How often Thompson sampling picks another candidate than `top` now (a fixed-seed estimate)."""
    rng = random.Random(seed)
    others = sum(1 for _ in range(draws) if thompson(candidates, rng) is not top)
    return others / draws


def percent(share: float) -> str:
    """`3%`, `<1%`: a share as people read it."""
    if 0 < share < 0.01:
        return "<1%"
    return f"{math.floor(share * 100 + 0.5)}%"
