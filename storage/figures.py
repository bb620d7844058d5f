"""What the digest's queries (storage/metrics.py) return: plain figures, no database types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Dimension = Literal["all", "category", "model"]
DIMENSIONS: tuple[Dimension, ...] = ("all", "category", "model")


@dataclass
class GroupFigures:
    name: str
    decided: int = 0
    accepted: int = 0
    agent_alone: int = 0
    max_version: int = 0
    accepted_at: dict[int, int] = field(default_factory=dict)  # accepted version → projects
    stated_minutes: int = 0
    estimated_minutes: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    # usage of the accepted projects only (tokens and cost per accepted project)
    accepted_tokens: int = 0
    accepted_cost_usd: float = 0.0
    # minutes recorded on the projects decided in the period, whenever given
    decided_minutes: int = 0
    # decided projects that had a first draft (how many values the first-draft median is taken over)
    drafted: int = 0


@dataclass
class ExpertFigures:
    name: str
    feedback: int
    projects: int
    stated_minutes: int
    estimated_minutes: int


@dataclass
class Waiting:
    number: int
    category: str
    model: str
    version: int
    review_since: datetime
    nudges: int


Figures = dict[Dimension, dict[str, GroupFigures]]


@dataclass
class CategoryFigures:
    """The orchestrator's figures for one category and period (bot/report/orchestrator.py)."""

    routed: dict[str, dict[str, int]]  # agent -> chosen, explored, decided, won (accepted)
    qc: dict[str, int]  # verdict -> checks
    review: dict[str, dict[str, int]] = field(default_factory=dict)  # fine / review -> projects, decided, won
    escalations: int = 0
    timeouts: dict[str, int] = field(default_factory=dict)  # outcome -> decisions
    picks: dict[str, dict[str, int]] = field(default_factory=dict)  # agent -> compared, picked
    reviews_asked: int = 0  # projects marked likely fine whose experts someone asked
